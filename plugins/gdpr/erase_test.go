package gdpr_test

import (
	"context"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/gdpr"
)

// TestErase walks an erasure end to end: refused from a stale session,
// done with the password, the auth rows gone in one step, the remote
// erasures owed in the outbox, then delivered by the outbox worker, with
// a retry when mana-credits fails once.
func TestErase(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			credits := startCredits(t)
			sdb, surl := syncDB(t, d)
			notes := newNotes()
			o := stack{credits: credits.srv.URL, sync: surl, notes: notes}.options()
			o.Dialect = d
			env := apitest.New(t, o)

			alice := signUp(t, env, "alice@example.com")
			bob := signUp(t, env, "bob@example.com")
			notes.add(alice.ID, "a", "b")
			addEntities(t, sdb, alice.ID, "todo", 3)
			addEntities(t, sdb, bob.ID, "todo", 2)
			staleSession(t, env, alice.ID)

			// Stale session, no password: refused, nothing touched.
			wantError(t, alice.C.Do("DELETE", "/api/v1/me/data", nil), 403,
				"SESSION_NOT_FRESH")
			wantError(t, alice.C.Do("DELETE", "/api/v1/me/data",
				map[string]any{"password": "wrong-password-123"}), 400, "INVALID_PASSWORD")
			wantError(t, alice.C.Do("DELETE", "/api/v1/me/data",
				map[string]any{"password": 12}), 400, "VALIDATION_ERROR")
			if n := count(t, env.DB, "SELECT count(*) FROM users WHERE id = $1",
				alice.ID); n != 1 {
				t.Fatal("user erased without proof")
			}
			if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 0 {
				t.Fatalf("outbox has %d jobs after refusals", n)
			}
			if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE "+
				"user_id = $1 AND event = 'gdpr_erase' AND outcome = 'failure'",
				alice.ID); n != 2 {
				t.Errorf("refusals logged = %d, want 2", n)
			}
			coreRows := 1 + count(t, env.DB, "SELECT count(*) FROM sessions WHERE "+
				"user_id = $1", alice.ID) + count(t, env.DB, "SELECT count(*) FROM accounts "+
				"WHERE user_id = $1", alice.ID) + count(t, env.DB, "SELECT count(*) FROM "+
				"security_events WHERE user_id = $1", alice.ID)

			// With the password: erased.
			r := alice.C.Do("DELETE", "/api/v1/me/data", map[string]any{"password": pw})
			if r.Status != 200 {
				t.Fatalf("erase: %d %s", r.Status, r.Body)
			}
			jsonEq(t, "erase answer", r.JSON, `{"erased": true, "services": {
				"auth": {"status": "erased", "rows": `+itoa(coreRows)+`,
					"sections": ["notes"]},
				"credits": {"status": "pending"},
				"sync": {"status": "pending"}}}`)
			if sc := strings.Join(r.Header.Values("Set-Cookie"), "\n"); !strings.Contains(sc,
				"mana.session_token=; Max-Age=0") {
				t.Errorf("session cookie not cleared: %s", sc)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
			}

			// Auth data gone in that one step.
			if s := env.Client().SignIn(alice.Email, pw); s.Status != 401 {
				t.Errorf("sign-in after erasure: %d", s.Status)
			}
			for _, tbl := range []string{"sessions", "accounts", "security_events"} {
				if n := count(t, env.DB, "SELECT count(*) FROM "+tbl+" WHERE user_id = $1",
					alice.ID); n != 0 {
					t.Errorf("%s rows left: %d", tbl, n)
				}
			}
			if n := count(t, env.DB, "SELECT count(*) FROM users WHERE id = $1",
				alice.ID); n != 0 {
				t.Error("user row left")
			}
			if notes.erased[alice.ID] != 1 {
				t.Errorf("notes provider erased %d times", notes.erased[alice.ID])
			}
			wantError(t, alice.C.Do("GET", "/api/v1/me/data", nil), 401, "UNAUTHORIZED")
			// The erasure is on record, without a user id that would tie it
			// to anything left.
			if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE "+
				"user_id IS NULL AND event = 'gdpr_erase' AND outcome = 'success' "+
				"AND detail LIKE $1", "%"+alice.ID+"%"); n != 1 {
				t.Errorf("erasure events = %d, want 1", n)
			}

			// Remote erasures owed, not yet done.
			for _, kind := range []string{gdpr.KindEraseCredits, gdpr.KindEraseSync} {
				if n := count(t, env.DB, "SELECT count(*) FROM outbox WHERE kind = $1 "+
					"AND payload LIKE $2 AND attempts = 0", kind, "%"+alice.ID+"%"); n != 1 {
					t.Errorf("outbox %s jobs = %d, want 1", kind, n)
				}
			}
			if n := count(t, sdb, "SELECT count(*) FROM sync_entities WHERE user_id = $1",
				alice.ID); n != 3 {
				t.Errorf("sync rows before the worker ran = %d, want 3", n)
			}

			// First run: mana-credits fails, the sync erasure succeeds.
			credits.mu.Lock()
			credits.failDeletes = 1
			credits.mu.Unlock()
			ran, err := env.Engine.DrainOutbox(ctx)
			if ran != 2 || err == nil || !strings.Contains(err.Error(), "503") {
				t.Fatalf("first drain: ran %d, err %v", ran, err)
			}
			if n := count(t, sdb, "SELECT count(*) FROM sync_entities WHERE user_id = $1",
				alice.ID); n != 0 {
				t.Errorf("alice's sync rows left: %d", n)
			}
			if n := count(t, sdb, "SELECT count(*) FROM sync_entities WHERE user_id = $1",
				bob.ID); n != 2 {
				t.Errorf("bob's sync rows = %d, want 2", n)
			}
			var attempts int
			var lastErr string
			var next time.Time
			if err := env.DB.QueryRow(ctx, "SELECT attempts, last_error, next_attempt_at "+
				"FROM outbox WHERE kind = $1", gdpr.KindEraseCredits).Scan(&attempts, &lastErr,
				&next); err != nil {
				t.Fatalf("credits job after failure: %v", err)
			}
			if attempts != 1 || !strings.Contains(lastErr, "503") ||
				!next.After(time.Now().Add(5*time.Second)) {
				t.Errorf("credits job: attempts %d, last_error %q, next %v", attempts, lastErr,
					next)
			}
			if strings.Contains(lastErr, serviceKey) {
				t.Error("service key in last_error")
			}
			if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 1 {
				t.Errorf("outbox jobs after first drain = %d, want 1", n)
			}

			// Not due yet: nothing runs.
			if ran, err := env.Engine.DrainOutbox(ctx); ran != 0 || err != nil {
				t.Errorf("early drain: ran %d, err %v", ran, err)
			}
			// Due again: it succeeds and is gone.
			if _, err := env.DB.Exec(ctx, "UPDATE outbox SET next_attempt_at = $1",
				time.Now().Add(-time.Second)); err != nil {
				t.Fatal(err)
			}
			if ran, err := env.Engine.DrainOutbox(ctx); ran != 1 || err != nil {
				t.Fatalf("retry drain: ran %d, err %v", ran, err)
			}
			if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 0 {
				t.Errorf("outbox jobs after success = %d", n)
			}
			if all, ok := credits.counts(alice.ID); all != 2 || ok != 1 {
				t.Errorf("credits saw %d DELETEs, %d successful; want 2, 1", all, ok)
			}
			if all, _ := credits.counts(bob.ID); all != 0 {
				t.Errorf("bob erased at credits")
			}
		})
	}
}

// TestEraseFreshSession: a fresh session needs no password; without remote
// services the answer names only auth and nothing is queued.
func TestEraseFreshSession(t *testing.T) {
	apitest.Each(t, stack{}.options(), func(t *testing.T, env *apitest.Env) {
		alice := signUp(t, env, "alice@example.com")
		bob := signUp(t, env, "bob@example.com")
		r := alice.C.Do("DELETE", "/api/v1/me/data", nil)
		if r.Status != 200 {
			t.Fatalf("erase: %d %s", r.Status, r.Body)
		}
		svc := obj(t, r.JSON, "services")
		if len(svc) != 1 || obj(t, svc, "auth")["status"] != "erased" {
			t.Errorf("services = %v", svc)
		}
		if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 0 {
			t.Errorf("outbox jobs = %d", n)
		}
		// Bob is untouched and still signed in.
		if g := bob.C.Do("GET", "/api/auth/get-session", nil); g.Status != 200 ||
			g.JSON["user"] == nil {
			t.Errorf("bob's session: %d %s", g.Status, g.Body)
		}
		// A wrong password fails even on a fresh session.
		wantError(t, bob.C.Do("DELETE", "/api/v1/me/data",
			map[string]any{"password": "wrong-password-123"}), 400, "INVALID_PASSWORD")
	})
}

// TestEraseBearer: a client without cookies (bearer token) erases too.
func TestEraseBearer(t *testing.T) {
	env := apitest.New(t, stack{}.options())
	c := env.Client()
	r := c.SignUp("carol@example.com", pw, "Carol")
	tok, _ := r.JSON["token"].(string)
	b := env.Client()
	b.Header.Set("Authorization", "Bearer "+tok)
	if e := b.Do("DELETE", "/api/v1/me/data", nil); e.Status != 200 {
		t.Fatalf("erase: %d %s", e.Status, e.Body)
	}
	wantError(t, b.Do("GET", "/api/v1/me/data", nil), 401, "UNAUTHORIZED")
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

// TestEraseRace: concurrent erasures of one user erase it once and queue
// each remote erasure once.
func TestEraseRace(t *testing.T) {
	credits := startCredits(t)
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			o := stack{credits: credits.srv.URL}.options()
			o.Dialect = d
			env := apitest.New(t, o)
			alice := signUp(t, env, "alice@example.com")
			const n = 20
			codes := make(chan int, n)
			for range n {
				go func() {
					c := env.Client()
					c.Cookies = maps.Clone(alice.C.Cookies)
					codes <- c.Do("DELETE", "/api/v1/me/data", nil).Status
				}()
			}
			ok := 0
			for range n {
				switch code := <-codes; code {
				case 200:
					ok++
				case 401, 404:
				default:
					t.Errorf("racing erase answered %d", code)
				}
			}
			if ok != 1 {
				t.Errorf("%d erasures succeeded, want 1", ok)
			}
			if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 1 {
				t.Errorf("outbox jobs = %d, want 1", n)
			}
		})
	}
}
