package gdpr_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
)

func TestSummary(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			credits := startCredits(t)
			sdb, surl := syncDB(t, d)
			notes := newNotes()
			o := stack{credits: credits.srv.URL, sync: surl, notes: notes}.options()
			o.Dialect = d
			env := apitest.New(t, o)

			alice := signUp(t, env, "alice@example.com")
			bob := signUp(t, env, "bob@example.com")
			notes.add(alice.ID, "one", "two", "three")
			addEntities(t, sdb, alice.ID, "todo", 3)
			addEntities(t, sdb, alice.ID, "notes", 2)
			addEntities(t, sdb, bob.ID, "todo", 7)
			// A second session for alice.
			if r := env.Client().SignIn(alice.Email, pw); r.Status != 200 {
				t.Fatalf("sign-in: %d %s", r.Status, r.Body)
			}

			r := alice.C.Do("GET", "/api/v1/me/data", nil)
			if r.Status != 200 {
				t.Fatalf("summary: %d %s", r.Status, r.Body)
			}
			if r.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
			}
			if u := obj(t, r.JSON, "user"); u["email"] != alice.Email || u["id"] != alice.ID {
				t.Errorf("user = %v", u)
			}
			jsonEq(t, "auth", r.JSON["auth"], `{"sessions": 2, "accounts": 1,
				"twoFactorEnabled": false, "securityEvents": 2}`)
			jsonEq(t, "notes", r.JSON["notes"], `{"items": 3, "pinned": true,
				"settings": {"theme": "dark", "tags": 2}}`)
			jsonEq(t, "credits", r.JSON["credits"],
				`{"balance": {"balance": 42, "currency": "credits"}, "transactions": 2}`)
			jsonEq(t, "projects", r.JSON["projects"],
				`{"apps": {"notes": 2, "todo": 3}, "total": 5}`)
			for _, k := range []string{"organizations", "vault"} {
				if v, ok := r.JSON[k]; !ok || v != nil {
					t.Errorf("%s = %v (present %v), want null", k, v, ok)
				}
			}
			if r.JSON["partial"] != false {
				t.Errorf("partial = %v", r.JSON["partial"])
			}
			// Bob's summary is his own.
			rb := bob.C.Do("GET", "/api/v1/me/data", nil)
			jsonEq(t, "bob projects", rb.JSON["projects"],
				`{"apps": {"todo": 7}, "total": 7}`)
			jsonEq(t, "bob notes", rb.JSON["notes"], `{"items": 0, "pinned": false,
				"settings": {"theme": "dark", "tags": 2}}`)

			wantError(t, env.Client().Do("GET", "/api/v1/me/data", nil), 401, "UNAUTHORIZED")
		})
	}
}

func TestSummaryWithoutRemotes(t *testing.T) {
	apitest.Each(t, stack{}.options(), func(t *testing.T, env *apitest.Env) {
		alice := signUp(t, env, "alice@example.com")
		r := alice.C.Do("GET", "/api/v1/me/data", nil)
		if r.Status != 200 {
			t.Fatalf("summary: %d %s", r.Status, r.Body)
		}
		for _, k := range []string{"credits", "projects"} {
			if v, ok := r.JSON[k]; !ok || v != nil {
				t.Errorf("%s = %v (present %v), want null", k, v, ok)
			}
		}
		if r.JSON["partial"] != false {
			t.Errorf("partial = %v", r.JSON["partial"])
		}
	})
}

// TestSummaryRemoteDown: a remote that is set but fails in any way turns
// its section into {"unavailable": true} and the answer partial; it never
// fails the summary.
func TestSummaryRemoteDown(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	status := func(code int, body string) string {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(code)
			_, _ = w.Write([]byte(body))
		}))
		t.Cleanup(s.Close)
		return s.URL
	}
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	redirect := status(http.StatusFound, "")

	cases := []struct {
		name, credits string
	}{
		{"closed server", closed.URL},
		{"server error", status(500, `{"error":"boom"}`)},
		{"invalid JSON", status(200, `{"balance":`)},
		{"redirect not followed", redirect},
		{"too slow", slow.URL},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := stack{credits: c.credits,
				sync: "postgres://postgres@127.0.0.1:1/none?sslmode=disable"}
			env := apitest.New(t, st.options())
			alice := signUp(t, env, "alice@example.com")
			start := time.Now()
			r := alice.C.Do("GET", "/api/v1/me/data", nil)
			if r.Status != 200 {
				t.Fatalf("summary: %d %s", r.Status, r.Body)
			}
			if d := time.Since(start); d > 6*time.Second {
				t.Errorf("summary took %v with a slow remote", d)
			}
			jsonEq(t, "credits", r.JSON["credits"], `{"unavailable": true}`)
			jsonEq(t, "projects", r.JSON["projects"], `{"unavailable": true}`)
			if r.JSON["partial"] != true {
				t.Errorf("partial = %v", r.JSON["partial"])
			}
			if obj(t, r.JSON, "auth")["sessions"] != float64(1) {
				t.Errorf("auth = %v", r.JSON["auth"])
			}
		})
	}
}

func TestSummaryWrongServiceKey(t *testing.T) {
	credits := startCredits(t)
	o := stack{credits: credits.srv.URL}.options()
	o.Env["MANA_SERVICE_KEY"] = "not-the-key"
	env := apitest.New(t, o)
	alice := signUp(t, env, "alice@example.com")
	r := alice.C.Do("GET", "/api/v1/me/data", nil)
	jsonEq(t, "credits", r.JSON["credits"], `{"unavailable": true}`)
	if r.JSON["partial"] != true || credits.badKey == 0 {
		t.Errorf("partial = %v, refused calls = %d", r.JSON["partial"], credits.badKey)
	}
}

var dispositionRE = regexp.MustCompile(
	`^attachment; filename="mana-data-(\d{4}-\d{2}-\d{2})\.json"$`)

func TestExport(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			credits := startCredits(t)
			sdb, surl := syncDB(t, d)
			notes := newNotes()
			o := stack{credits: credits.srv.URL, sync: surl, notes: notes}.options()
			o.Dialect = d
			env := apitest.New(t, o)

			alice := signUp(t, env, "alice@example.com")
			notes.add(alice.ID, "secret plan", "shopping list")
			addEntities(t, sdb, alice.ID, "todo", 4)
			if r := env.Client().SignIn(alice.Email, "wrong-password-123"); r.Status != 401 {
				t.Fatalf("bad sign-in: %d", r.Status)
			}
			var token, hash string
			ctx := context.Background()
			if err := env.DB.QueryRow(ctx, "SELECT token FROM sessions WHERE user_id = $1",
				alice.ID).Scan(&token); err != nil {
				t.Fatal(err)
			}
			if err := env.DB.QueryRow(ctx, "SELECT password FROM accounts WHERE user_id = $1",
				alice.ID).Scan(&hash); err != nil {
				t.Fatal(err)
			}

			r := alice.C.Do("GET", "/api/v1/me/data/export", nil)
			if r.Status != 200 {
				t.Fatalf("export: %d %s", r.Status, r.Body)
			}
			m := dispositionRE.FindStringSubmatch(r.Header.Get("Content-Disposition"))
			if m == nil || m[1] != time.Now().UTC().Format("2006-01-02") {
				t.Errorf("Content-Disposition = %q", r.Header.Get("Content-Disposition"))
			}
			if r.Header.Get("Cache-Control") != "no-store" ||
				!strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				t.Errorf("headers = %v", r.Header)
			}
			body := string(r.Body)
			for _, secret := range []string{token, hash} {
				if strings.Contains(body, secret) {
					t.Error("export contains a session token or password hash")
				}
			}

			var doc struct {
				User struct{ Email string }
				Auth struct {
					Sessions []map[string]any
					Accounts []map[string]any
					Events   []struct{ Event, Outcome string } `json:"securityEvents"`
				}
				Notes      struct{ Items []string }
				Credits    struct{ Transactions []map[string]any }
				Projects   json.RawMessage
				Partial    bool
				ExportedAt string
			}
			if err := json.Unmarshal(r.Body, &doc); err != nil {
				t.Fatalf("export is not JSON: %v", err)
			}
			if doc.User.Email != alice.Email || len(doc.Auth.Sessions) != 1 ||
				len(doc.Auth.Accounts) != 1 || doc.Partial || doc.ExportedAt == "" {
				t.Errorf("export = %s", body)
			}
			if _, ok := doc.Auth.Sessions[0]["token"]; ok {
				t.Error("session token key in export")
			}
			if _, ok := doc.Auth.Accounts[0]["password"]; ok {
				t.Error("password key in export")
			}
			events := map[string]bool{}
			for _, ev := range doc.Auth.Events {
				events[ev.Event+"/"+ev.Outcome] = true
			}
			if !events["sign_up/success"] || !events["sign_in/failure"] {
				t.Errorf("security events = %v", doc.Auth.Events)
			}
			if strings.Join(doc.Notes.Items, ",") != "secret plan,shopping list" {
				t.Errorf("notes = %v", doc.Notes)
			}
			if len(doc.Credits.Transactions) != 2 {
				t.Errorf("credits = %v", doc.Credits)
			}
			jsonEq(t, "projects", json.RawMessage(doc.Projects),
				`{"apps": {"todo": 4}, "total": 4}`)

			if n := count(t, env.DB, "SELECT count(*) FROM security_events WHERE user_id = $1 "+
				"AND event = 'gdpr_export'", alice.ID); n != 1 {
				t.Errorf("gdpr_export events = %d", n)
			}
			wantError(t, env.Client().Do("GET", "/api/v1/me/data/export", nil), 401,
				"UNAUTHORIZED")
		})
	}
}

func TestExportPartial(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	env := apitest.New(t, stack{credits: closed.URL}.options())
	alice := signUp(t, env, "alice@example.com")
	r := alice.C.Do("GET", "/api/v1/me/data/export", nil)
	if r.Status != 200 || r.JSON["partial"] != true {
		t.Fatalf("export: %d %s", r.Status, r.Body)
	}
	jsonEq(t, "credits", r.JSON["credits"], `{"unavailable": true}`)
}
