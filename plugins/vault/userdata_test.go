package vault_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/vault"
)

// TestUserData: the export shows the vault's state and audit trail and no
// key material; erasure removes every row of the user and only those.
func TestUserData(t *testing.T) {
	_, k := newKEK(t)
	apitest.Each(t, options(k), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		p := env.Engine.Plugin("vault").(*vault.Plugin)
		if p.UserDataSection() != "vault" {
			t.Errorf("section = %q", p.UserDataSection())
		}
		u, other := signUp(t, env, "gdpr@example.com"), signUp(t, env, "keep@example.com")

		empty, err := p.ExportUserData(ctx, env.DB, u.ID)
		const none = `{"vaultExists":false,"zeroKnowledge":false,` +
			`"hasRecoveryWrap":false,"recoverySetAt":null,"audit":[]}`
		if j, _ := json.Marshal(empty); err != nil || string(j) != none {
			t.Errorf("empty export: %s, %v", j, err)
		}

		mk := mustKey(t, u.C.Do("POST", base+"/init", nil))
		mustKey(t, other.C.Do("POST", base+"/init", nil))
		sealed, iv := recoveryWrap(t, "code", mk)
		u.C.Do("POST", base+"/recovery-wrap", map[string]any{
			"recoveryWrappedMk": b64(sealed), "recoveryIv": b64(iv)})
		u.C.Do("GET", base+"/key", nil)

		// Through the pool and inside a caller's transaction alike.
		var inTx any
		err = env.DB.Tx(ctx, func(tx db.Tx) error {
			var err error
			inTx, err = p.ExportUserData(ctx, tx, u.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range []any{must(p.ExportUserData(ctx, env.DB, u.ID)), inTx} {
			j, _ := json.Marshal(data)
			var m map[string]any
			_ = json.Unmarshal(j, &m)
			audit, _ := m["audit"].([]any)
			if m["vaultExists"] != true || m["hasRecoveryWrap"] != true ||
				!isoMillis.MatchString(str(m["recoverySetAt"])) || len(audit) != 3 {
				t.Fatalf("export: %s", j)
			}
			actions := map[string]bool{}
			for _, e := range audit {
				e, _ := e.(map[string]any)
				actions[str(e["action"])] = e["outcome"] == "success" &&
					e["ipAddress"] == "127.0.0.1" &&
					isoMillis.MatchString(str(e["createdAt"]))
			}
			if !actions["init"] || !actions["recovery_wrap_set"] || !actions["key"] {
				t.Errorf("audit entries: %v", audit)
			}
			var wrapped []byte
			_ = env.DB.QueryRow(ctx, "SELECT wrapped_mk FROM encryption_vaults "+
				"WHERE user_id = $1", u.ID).Scan(&wrapped)
			for _, secret := range [][]byte{mk, sealed, wrapped} {
				if bytes.Contains(j, []byte(b64(secret))) || bytes.Contains(j, secret) {
					t.Errorf("export leaks key material: %s", j)
				}
			}
		}

		var n int64
		err = env.DB.Tx(ctx, func(tx db.Tx) error {
			var err error
			n, err = p.EraseUserData(ctx, tx, u.ID)
			return err
		})
		if err != nil || n != 4 { // the vault and three audit rows
			t.Fatalf("erase: %d, %v", n, err)
		}
		if c := count(t, env.DB, "SELECT count(*) FROM encryption_vaults"); c != 1 {
			t.Errorf("%d vaults left, want the other user's", c)
		}
		if c := count(t, env.DB, "SELECT count(*) FROM encryption_vault_audit "+
			"WHERE user_id = $1", u.ID); c != 0 {
			t.Errorf("%d audit rows left", c)
		}
		mustKey(t, other.C.Do("GET", base+"/key", nil))
		wantError(t, u.C.Do("GET", base+"/key", nil), 404, "VAULT_NOT_INITIALIZED")
	})
}

func must(v any, err error) any {
	if err != nil {
		panic(err)
	}
	return v
}

// TestInitKEKChecks: the all-zero development KEK starts with a loud
// warning; production refuses it.
func TestInitKEKChecks(t *testing.T) {
	for _, tc := range []struct {
		name       string
		kek        string
		production bool
		warn, fail bool
	}{
		{"development zero KEK", "", false, true, false},
		{"production zero KEK", b64(make([]byte, 32)), true, false, true},
		{"real KEK", b64(bytes.Repeat([]byte{7}, 32)), false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := core.LoadConfig(func(k string) string {
				return map[string]string{"MANA_AUTH_KEK": tc.kek}[k]
			})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Production = tc.production
			var logs bytes.Buffer
			e, err := core.New(cfg, dbtest.Open(t, db.SQLite), core.Options{
				Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
				Plugins: []core.Plugin{vault.New(cfg)}})
			if err != nil {
				t.Fatal(err)
			}
			err = e.Init(context.Background())
			var ce *core.ConfigError
			if tc.fail != (errors.As(err, &ce) && ce.Var == "MANA_AUTH_KEK") {
				t.Errorf("Init: %v", err)
			}
			if warned := strings.Contains(logs.String(), "level=WARN") &&
				strings.Contains(logs.String(), "ALL ZEROS"); warned != tc.warn {
				t.Errorf("warned = %v: %s", warned, logs.String())
			}
		})
	}
}
