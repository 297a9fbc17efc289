package gdpr_test

import (
	"testing"

	"github.com/mana/mana-auth/internal/apitest"
)

// TestAdminUserData: admins see another user's summary and erase it; other
// users are refused; every action is on the security log under the admin.
func TestAdminUserData(t *testing.T) {
	credits := startCredits(t)
	notes := newNotes()
	opts := stack{credits: credits.srv.URL, notes: notes}.options()
	apitest.Each(t, opts, func(t *testing.T, env *apitest.Env) {
		root := signUp(t, env, "root@example.com")
		bob := signUp(t, env, "bob@example.com")
		eve := signUp(t, env, "eve@example.com")
		makeAdmin(t, env, root.ID)
		notes.add(bob.ID, "n1")
		path := "/api/v1/admin/users/" + bob.ID + "/data"

		// Who may not.
		wantError(t, env.Client().Do("GET", path, nil), 401, "UNAUTHORIZED")
		wantError(t, eve.C.Do("GET", path, nil), 403, "FORBIDDEN")
		wantError(t, eve.C.Do("DELETE", path, nil), 403, "FORBIDDEN")
		if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE user_id = $1 "+
			"AND event = 'admin_access_denied' AND outcome = 'failure'", eve.ID); n != 2 {
			t.Errorf("denials logged = %d, want 2", n)
		}

		// The summary of bob, as bob would see it.
		r := root.C.Do("GET", path, nil)
		if r.Status != 200 {
			t.Fatalf("admin summary: %d %s", r.Status, r.Body)
		}
		if obj(t, r.JSON, "user")["email"] != bob.Email {
			t.Errorf("user = %v", r.JSON["user"])
		}
		jsonEq(t, "notes", r.JSON["notes"], `{"items": 1, "pinned": true,
			"settings": {"theme": "dark", "tags": 2}}`)
		jsonEq(t, "credits", r.JSON["credits"],
			`{"balance": {"balance": 42, "currency": "credits"}, "transactions": 2}`)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
		}
		wantError(t, root.C.Do("GET", "/api/v1/admin/users/nobody/data", nil), 404,
			"USER_NOT_FOUND")
		wantError(t, root.C.Do("DELETE", "/api/v1/admin/users/nobody/data", nil), 404,
			"USER_NOT_FOUND")

		// A stale admin session must confirm with the admin's password.
		staleSession(t, env, root.ID)
		wantError(t, root.C.Do("DELETE", path, nil), 403, "SESSION_NOT_FRESH")
		wantError(t, root.C.Do("DELETE", path, map[string]any{"password": "bob-s-password"}),
			400, "INVALID_PASSWORD")
		d := root.C.Do("DELETE", path, map[string]any{"password": pw})
		if d.Status != 200 {
			t.Fatalf("admin erase: %d %s", d.Status, d.Body)
		}
		jsonEq(t, "credits status", obj(t, d.JSON, "services", "credits"),
			`{"status": "pending"}`)
		if len(d.Header.Values("Set-Cookie")) != 0 {
			t.Errorf("admin's cookies touched: %v", d.Header.Values("Set-Cookie"))
		}
		if s := env.Client().SignIn(bob.Email, pw); s.Status != 401 {
			t.Errorf("bob signs in after erasure: %d", s.Status)
		}
		if g := root.C.Do("GET", "/api/auth/get-session", nil); g.JSON["user"] == nil {
			t.Errorf("admin signed out: %s", g.Body)
		}
		if n := count(t, env.DB, "SELECT count(*) FROM outbox WHERE payload LIKE $1",
			"%"+bob.ID+"%"); n != 1 {
			t.Errorf("outbox jobs for bob = %d", n)
		}

		// The log: who did what to whom.
		for _, ev := range []struct {
			event, outcome string
			want           int
		}{
			{"admin_view_user_data", "success", 1},
			{"admin_erase_user_data", "failure", 2},
			{"admin_erase_user_data", "success", 1},
		} {
			if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE "+
				"user_id = $1 AND event = $2 AND outcome = $3 AND detail LIKE $4", root.ID,
				ev.event, ev.outcome, `%"target":"`+bob.ID+`"%`); n != ev.want {
				t.Errorf("%s/%s events = %d, want %d", ev.event, ev.outcome, n, ev.want)
			}
		}

		// A demoted admin is refused at once (the role is read from the
		// database, not a cached session).
		if _, err := env.DB.Exec(t.Context(), "UPDATE users SET role = 'user' WHERE id = $1",
			root.ID); err != nil {
			t.Fatal(err)
		}
		wantError(t, root.C.Do("GET", "/api/v1/admin/users/"+eve.ID+"/data", nil), 403,
			"FORBIDDEN")
	})
}
