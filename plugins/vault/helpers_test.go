package vault_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/vault"
)

const (
	pw   = "vivid-otter-quartz-42"
	base = vault.Prefix
)

// newKEK returns a fresh random KEK, raw and in base64 for MANA_AUTH_KEK.
func newKEK(t testing.TB) ([]byte, string) {
	t.Helper()
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k, base64.StdEncoding.EncodeToString(k)
}

// options returns a stack with the vault plugin and the given KEKs.
func options(kek string, previous ...string) apitest.Options {
	env := map[string]string{"MANA_AUTH_KEK": kek}
	if len(previous) > 0 {
		env["MANA_AUTH_KEK_PREVIOUS"] = strings.Join(previous, ",")
	}
	return apitest.Options{Env: env, Plugins: func(cfg *core.Config) []core.Plugin {
		return []core.Plugin{vault.New(cfg)}
	}}
}

// user is a signed-up user with its cookie client.
type user = apitest.User

func signUp(t testing.TB, env *apitest.Env, email string) user {
	t.Helper()
	return env.NewUser(t, email, pw, "Test")
}

// mustKey decodes a standard-mode key answer and returns the master key.
func mustKey(t testing.TB, r *apitest.Response) []byte {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("key answer: %d %s", r.Status, r.Body)
	}
	s, _ := r.JSON["masterKey"].(string)
	mk, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(mk) != 32 {
		t.Fatalf("masterKey %q: %v", s, err)
	}
	if r.JSON["formatVersion"] != float64(1) {
		t.Errorf("formatVersion = %v", r.JSON["formatVersion"])
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	return mk
}

// wantError asserts an error answer.
func wantError(t testing.TB, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Errorf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

// count runs a COUNT query on the test database (superuser on PostgreSQL,
// so row-level security does not apply).
func count(t testing.TB, d db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// audits counts a user's audit rows with an action and outcome.
func audits(t testing.TB, d db.DB, userID, action, outcome string) int {
	t.Helper()
	return count(t, d, "SELECT count(*) FROM encryption_vault_audit WHERE user_id = $1 "+
		"AND action = $2 AND outcome = $3", userID, action, outcome)
}

// opsMetric reads mana_auth_vault_operations_total for action and outcome.
func opsMetric(t testing.TB, reg *prometheus.Registry, action, outcome string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "mana_auth_vault_operations_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label(m, "action") == action && label(m, "outcome") == outcome {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
