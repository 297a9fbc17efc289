package twofactor

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
)

// TestBetterAuthRows runs the plugin on rows and cookies written by Better
// Auth 1.7.25 itself (the fixture's ciphertexts and signed cookies, under
// the fixture's secret): an existing deployment keeps working after the
// switch.
func TestBetterAuthRows(t *testing.T) {
	f := loadFixture(t)
	const pw = "fixture-password-123"
	at := f.TOTP.Codes[3] // 2000000000
	var ciphers = map[string]string{}
	var codes []string
	for _, c := range f.Symmetric.Cases {
		ciphers[c.Label] = c.Ciphertext
		if c.Label == "backup-codes" {
			_ = json.Unmarshal([]byte(c.Plaintext), &codes)
		}
	}
	apitest.Each(t, apitest.Options{
		Env: map[string]string{"AUTH_SECRET": f.Inputs.Secret},
		Plugins: func(cfg *core.Config) []core.Plugin {
			return []core.Plugin{New(cfg, WithSettings(DefaultSettings()),
				WithClock(func() time.Time { return time.Unix(at.UnixTime, 0) }))}
		},
	}, func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		e := env.Engine
		uid := f.Inputs.UserID
		if err := e.CreateUser(ctx, env.DB, &core.User{ID: uid, Name: "A",
			Email: f.Inputs.Email, EmailVerified: true}); err != nil {
			t.Fatal(err)
		}
		hash, err := e.Passwords.Hash(ctx, pw)
		if err != nil {
			t.Fatal(err)
		}
		now := e.Now()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := env.DB.Exec(ctx, q, args...); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec("INSERT INTO accounts (id, account_id, provider_id, user_id, password, "+
			"created_at, updated_at) VALUES ($1, $2, 'credential', $2, $3, $4, $4)",
			e.NewID(), uid, hash, now)
		exec("INSERT INTO two_factors (id, user_id, secret, backup_codes, verified) "+
			"VALUES ($1, $2, $3, $4, true)", e.NewID(), uid, ciphers["totp-secret"],
			ciphers["backup-codes"])
		exec("UPDATE users SET two_factor_enabled = true WHERE id = $1", uid)

		c := env.Client()
		in := c.SignIn(f.Inputs.Email, pw)
		var got, want any
		_ = json.Unmarshal(in.Body, &got)
		_ = json.Unmarshal(f.Cookies.TwoFactor.SignIn, &want)
		if b1, _ := json.Marshal(got); string(b1) != mustJSON(want) {
			t.Fatalf("sign-in body %s, Better Auth answered %s", in.Body, mustJSON(want))
		}
		body := map[string]any{"password": pw}
		uri := c.Do("POST", "/api/auth/two-factor/get-totp-uri", body)
		if uri.Status != 401 {
			t.Fatalf("get-totp-uri without session: %d", uri.Status)
		}

		// Better Auth's own challenge cookie and row (value: bare user id).
		tf := f.Cookies.TwoFactor
		err = e.CreateVerification(ctx, env.DB, tf.Identifier, uid, ChallengeTTL)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.CreateVerification(ctx, env.DB, attemptsID(tf.Identifier), "0",
			ChallengeTTL); err != nil {
			t.Fatal(err)
		}
		n := env.Client()
		n.Cookies["mana.two_factor"] = tf.CookieValue
		r := n.Do("POST", "/api/auth/two-factor/verify-totp",
			map[string]any{"code": at.Code})
		if r.Status != 200 || r.JSON["token"] == nil {
			t.Fatalf("verify-totp with Better Auth's cookie and secret: %d %s",
				r.Status, r.Body)
		}
		uri = n.Do("POST", "/api/auth/two-factor/get-totp-uri", body)
		if uri.Status != 200 || uri.JSON["totpURI"] != f.TOTP.URI {
			t.Fatalf("get-totp-uri: %d %s, want %s", uri.Status, uri.Body, f.TOTP.URI)
		}

		// A backup code from Better Auth's encrypted list.
		b := env.Client()
		b.SignIn(f.Inputs.Email, pw)
		r = b.Do("POST", "/api/auth/two-factor/verify-backup-code",
			map[string]any{"code": codes[4]})
		if r.Status != 200 {
			t.Fatalf("fixture backup code: %d %s", r.Status, r.Body)
		}

		// Better Auth's trust_device cookie skips the challenge and rotates.
		td := f.Cookies.TrustDevice
		err = e.CreateVerification(ctx, env.DB, td.TrustID, uid, TrustDeviceTTL)
		if err != nil {
			t.Fatal(err)
		}
		d := env.Client()
		d.Cookies["mana.trust_device"] = td.CookieValue
		r = d.SignIn(f.Inputs.Email, pw)
		if r.Status != 200 || r.JSON["token"] == nil ||
			d.Cookies["mana.trust_device"] == td.CookieValue {
			t.Fatalf("trusted sign-in: %d %s", r.Status, r.Body)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
