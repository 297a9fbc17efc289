package jwt

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
)

func kidOf(t testing.TB, tok string) string {
	t.Helper()
	h := segment(t, tok, 0)
	_, kid, ok := strings.Cut(h, `"kid":"`)
	if !ok {
		t.Fatalf("no kid in %s", h)
	}
	return strings.TrimSuffix(kid, `"}`)
}

// TestRotationGracePeriod: a token minted just before a rotation verifies
// during the grace period; the retired key stops verifying after it and
// leaves /jwks and the table.
func TestRotationGracePeriod(t *testing.T) {
	env := map[string]string{"JWT_ROTATION_INTERVAL": "2h", "JWT_GRACE_PERIOD": "20m"}
	each(t, env, func(t *testing.T, s *stack) {
		ctx := context.Background()
		c, _, uid := s.signUp(t, "rot@example.com")
		token := func() string {
			r := c.Do("GET", "/api/auth/token", nil)
			if r.Status != 200 {
				t.Fatalf("token: %d %s", r.Status, r.Body)
			}
			return r.JSON["token"].(string)
		}
		start := s.clk.Now()
		k1 := kidOf(t, token())
		s.clk.Set(start.Add(2*time.Hour - 5*time.Minute))
		before := token()
		// A far-future token of the old key isolates the key's own lifetime
		// from the token's exp.
		longLived := s.signRaw(t, claimsAt(s, map[string]any{"sub": uid,
			"exp": s.clk.Now().Add(48 * time.Hour).Unix()}))
		if kidOf(t, before) != k1 || kidOf(t, longLived) != k1 {
			t.Fatal("rotated too early")
		}

		s.clk.Set(start.Add(2 * time.Hour))
		after := token()
		k2 := kidOf(t, after)
		if k2 == k1 {
			t.Fatal("no rotation after the interval")
		}
		var exp *time.Time
		if err := s.DB.QueryRow(ctx, "SELECT expires_at FROM jwks WHERE id = $1",
			k1).Scan(&exp); err != nil || exp == nil ||
			!exp.Equal(s.clk.Now().Add(20*time.Minute).Truncate(time.Millisecond)) {
			t.Fatalf("retired key expires_at = %v (%v)", exp, err)
		}
		set := jwks(t, s)
		if len(set.Keys) != 2 || set.Keys[0].KeyID != k2 || set.Keys[1].KeyID != k1 {
			t.Fatalf("jwks during grace = %+v", set.Keys)
		}
		// Verified by a downstream service with the published set, and by us.
		verifyWith(t, set, before)
		for _, tok := range []string{before, longLived, after} {
			if _, err := s.p.Verify(ctx, tok); err != nil {
				t.Errorf("during grace: %v", err)
			}
		}

		// Grace over: the old key is refused even before the next reload.
		s.clk.Set(start.Add(2*time.Hour + 20*time.Minute))
		if _, err := s.p.Verify(ctx, longLived); !errors.Is(err, ErrInvalidToken) ||
			!strings.Contains(err.Error(), "retired key") {
			t.Errorf("after grace: %v", err)
		}
		if _, err := s.p.Verify(ctx, before); err == nil {
			t.Error("old token still verifies")
		}
		set = jwks(t, s)
		if len(set.Keys) != 1 || set.Keys[0].KeyID != k2 {
			t.Errorf("jwks after grace = %+v", set.Keys)
		}
		if n := s.count(t, "SELECT count(*) FROM jwks"); n != 1 {
			t.Errorf("rows after grace = %d", n)
		}
		if _, err := s.p.Verify(ctx, longLived); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("after prune: %v", err)
		}
		if _, err := s.p.Verify(ctx, token()); err != nil {
			t.Errorf("new key: %v", err)
		}
	})
}

func TestRotateNow(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		ctx := context.Background()
		k1, err := s.p.Rotate(ctx) // on an empty table: the first key
		if err != nil || !kidShape.MatchString(k1) {
			t.Fatalf("first rotate: %q %v", k1, err)
		}
		tok := s.signRaw(t, claimsAt(s, nil))
		k2, err := s.p.Rotate(ctx)
		if err != nil || k2 == k1 {
			t.Fatalf("rotate: %q %v", k2, err)
		}
		if got := kidOf(t, s.signRaw(t, claimsAt(s, nil))); got != k2 {
			t.Errorf("signing with %s after rotation, want %s", got, k2)
		}
		if _, err := s.p.Verify(ctx, tok); err != nil {
			t.Errorf("pre-rotation token: %v", err)
		}
		if n := s.count(t, "SELECT count(*) FROM jwks WHERE expires_at IS NULL"); n != 1 {
			t.Errorf("signing keys = %d", n)
		}
		if n := s.count(t, "SELECT count(*) FROM jwks WHERE id = $1 AND expires_at > $2",
			k1, s.clk.Now().Add(7*24*time.Hour-time.Second)); n != 1 {
			t.Errorf("default grace not applied to %s", k1)
		}
	})
}

// TestOneSigningKeyInvariant: the database refuses a second key without
// expiry, whatever the code does.
func TestOneSigningKeyInvariant(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		ctx := context.Background()
		if _, err := s.p.Rotate(ctx); err != nil {
			t.Fatal(err)
		}
		row, err := s.p.newKeyRow(s.clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := insertKey(ctx, s.DB, row); !errors.Is(err, db.ErrConflict) {
			t.Errorf("second signing key: %v", err)
		}
		_, err = s.DB.Exec(ctx, "UPDATE jwks SET expires_at = created_at")
		if !errors.Is(err, db.ErrConstraint) {
			t.Errorf("expiry before creation: %v", err)
		}
	})
}

// TestMintReadsNoDatabase: once loaded, minting works with the jwks table
// gone.
func TestMintReadsNoDatabase(t *testing.T) {
	s := newStack(t, nil, apitest.Options{})
	c, _, _ := s.signUp(t, "nodb@example.com")
	first := c.Do("GET", "/api/auth/token", nil)
	if _, err := s.DB.Exec(context.Background(), "DROP TABLE jwks"); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := c.Do("GET", "/api/auth/token", nil); r.Status != 200 ||
			kidOf(t, r.JSON["token"].(string)) != kidOf(t, first.JSON["token"].(string)) {
			t.Fatalf("mint without the table: %d %s", r.Status, r.Body)
		}
	}
}

// pair starts two instances on one database, behind one issuer name.
func pair(t *testing.T, d db.Dialect, env map[string]string) (*stack, *stack) {
	env["JWT_ISSUER"], env["JWT_AUDIENCE"] = "https://auth.mana.test", "https://auth.mana.test"
	a := newStack(t, env, apitest.Options{Dialect: d})
	b := newStack(t, env, apitest.Options{Dialect: d, DB: dbtest.Reopen(t, a.DB)})
	return a, b
}

func dialects(t *testing.T, fn func(t *testing.T, d db.Dialect)) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) { fn(t, d) })
	}
}

// TestRotationByAnotherInstance: instance a verifies tokens of a key that
// instance b created (unknown kid → reload), and its periodic reload makes
// it sign with b's new key.
func TestRotationByAnotherInstance(t *testing.T) {
	env := map[string]string{"JWT_KEY_RELOAD_INTERVAL": "50ms"}
	dialects(t, func(t *testing.T, d db.Dialect) {
		ctx := context.Background()
		a, b := pair(t, d, env)
		_, sessTok, uid := a.signUp(t, "multi@example.com")
		na := a.native()
		na.token = sessTok
		tokA := na.do("GET", "/api/auth/token", nil).JSON["token"].(string)
		k1 := kidOf(t, tokA)

		k2, err := b.p.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		nb := b.native()
		nb.token = sessTok
		tokB := nb.do("GET", "/api/auth/token", nil).JSON["token"].(string)
		if kidOf(t, tokB) != k2 || k2 == k1 {
			t.Fatalf("b signs with %s, want %s", kidOf(t, tokB), k2)
		}
		if c, err := a.p.Verify(ctx, tokB); err != nil || c.Subject != uid {
			t.Fatalf("a verifying b's new key: %v", err)
		}
		if _, err := b.p.Verify(ctx, tokA); err != nil {
			t.Errorf("b verifying a's retired key: %v", err)
		}

		// b rotates again; a's reload loop switches a to the new key.
		k3, err := b.p.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.p.Start(ctx); err != nil {
			t.Fatal(err)
		}
		defer a.p.Stop(ctx)
		deadline := time.Now().Add(5 * time.Second)
		for {
			tok := na.do("GET", "/api/auth/token", nil).JSON["token"].(string)
			if kidOf(t, tok) == k3 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a still signs with %s, want %s", kidOf(t, tok), k3)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// TestConcurrentFirstUseAndRotation: two instances and many goroutines
// racing for the first key, then for a due rotation, end with exactly one
// signing key that every racer uses.
func TestConcurrentFirstUseAndRotation(t *testing.T) {
	env := map[string]string{"JWT_ROTATION_INTERVAL": "1h"}
	dialects(t, func(t *testing.T, d db.Dialect) {
		ctx := context.Background()
		a, b := pair(t, d, env)
		u := &core.User{ID: "u1", Email: "r@example.com", Role: "user"}
		sess := &core.Session{ID: "s1"}
		race := func() map[string]int {
			var mu sync.Mutex
			kids := map[string]int{}
			var wg sync.WaitGroup
			for i := range 16 {
				p := a.p
				if i%2 == 1 {
					p = b.p
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					tok, err := p.Mint(ctx, u, sess)
					if err != nil {
						t.Errorf("mint: %v", err)
						return
					}
					mu.Lock()
					kids[kidOf(t, tok)]++
					mu.Unlock()
				}()
			}
			wg.Wait()
			return kids
		}
		kids := race()
		if len(kids) != 1 || a.count(t, "SELECT count(*) FROM jwks") != 1 {
			t.Fatalf("first use: kids %v, rows %d", kids, a.count(t, "SELECT count(*) FROM jwks"))
		}
		a.clk.Advance(time.Hour + time.Second)
		b.clk.Advance(time.Hour + time.Second)
		kids = race()
		if n := a.count(t, "SELECT count(*) FROM jwks WHERE expires_at IS NULL"); n != 1 ||
			a.count(t, "SELECT count(*) FROM jwks") != 2 || len(kids) != 1 {
			t.Fatalf("rotation race: kids %v, signing rows %d", kids, n)
		}
	})
}

func TestSettings(t *testing.T) {
	cfg, err := core.LoadConfig(func(k string) string {
		return map[string]string{"BASE_URL": "https://auth.mana.how/base"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		env    map[string]string
		badVar string
		check  func(s Settings) bool
	}{
		{"defaults", nil, "", func(s Settings) bool {
			return s.Issuer == "https://auth.mana.how" && s.Audience == s.Issuer &&
				s.RotationInterval == 30*24*time.Hour && s.GracePeriod == 7*24*time.Hour &&
				s.ReloadInterval == time.Minute
		}},
		{"overrides", map[string]string{"JWT_ISSUER": "mana", "JWT_AUDIENCE": "apps",
			"JWT_ROTATION_INTERVAL": "90d", "JWT_GRACE_PERIOD": "3600",
			"JWT_KEY_RELOAD_INTERVAL": "10s"}, "", func(s Settings) bool {
			return s.Issuer == "mana" && s.Audience == "apps" &&
				s.RotationInterval == 90*24*time.Hour && s.GracePeriod == time.Hour &&
				s.ReloadInterval == 10*time.Second
		}},
		{"grace shorter than a token", map[string]string{"JWT_GRACE_PERIOD": "10m"},
			"JWT_GRACE_PERIOD", nil},
		{"garbage interval", map[string]string{"JWT_ROTATION_INTERVAL": "soon"},
			"JWT_ROTATION_INTERVAL", nil},
		{"zero interval", map[string]string{"JWT_ROTATION_INTERVAL": "0"},
			"JWT_ROTATION_INTERVAL", nil},
		{"negative reload", map[string]string{"JWT_KEY_RELOAD_INTERVAL": "-1s"},
			"JWT_KEY_RELOAD_INTERVAL", nil},
		{"absurd days", map[string]string{"JWT_GRACE_PERIOD": "99999999d"},
			"JWT_GRACE_PERIOD", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := New(cfg, WithGetenv(func(k string) string { return tc.env[k] }))
			var ce *core.ConfigError
			if tc.badVar != "" {
				err := p.Init(context.Background(), nil)
				if !errors.As(err, &ce) || ce.Var != tc.badVar {
					t.Fatalf("Init = %v, want a ConfigError for %s", err, tc.badVar)
				}
				return
			}
			if p.setErr != nil || !tc.check(p.Settings()) {
				t.Fatalf("settings = %+v (%v)", p.Settings(), p.setErr)
			}
		})
	}
}
