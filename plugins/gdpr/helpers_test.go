package gdpr_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/gdpr"
)

const (
	pw         = "vivid-otter-quartz-42"
	serviceKey = "test-service-key-0123456789"
)

// notesPlugin is a test-only plugin that keeps notes per user in memory
// and provides them through core.UserDataProvider, as a real plugin would
// provide its rows.
type notesPlugin struct {
	mu     sync.Mutex
	notes  map[string][]string
	erased map[string]int
}

func newNotes() *notesPlugin {
	return &notesPlugin{notes: map[string][]string{}, erased: map[string]int{}}
}

func (n *notesPlugin) ID() string              { return "notes" }
func (n *notesPlugin) UserDataSection() string { return "notes" }

func (n *notesPlugin) add(userID string, notes ...string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.notes[userID] = append(n.notes[userID], notes...)
}

func (n *notesPlugin) ExportUserData(_ context.Context, _ db.Querier, userID string) (any,
	error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	items := append([]string{}, n.notes[userID]...)
	return map[string]any{"items": items, "pinned": len(items) > 0,
		"settings": map[string]any{"theme": "dark", "tags": []string{"x", "y"}}}, nil
}

func (n *notesPlugin) EraseUserData(_ context.Context, _ db.Tx, userID string) (int64,
	error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c := len(n.notes[userID])
	delete(n.notes, userID)
	n.erased[userID]++
	return int64(c), nil
}

var _ core.UserDataProvider = (*notesPlugin)(nil)

// fakeCredits is a real HTTP server speaking mana-credits' internal API:
// balance and transactions per user, DELETE to erase. failDeletes makes
// the next n erasures answer 503.
type fakeCredits struct {
	srv *httptest.Server

	mu          sync.Mutex
	failDeletes int
	deletes     map[string]int // every DELETE per user
	erased      map[string]int // successful DELETEs per user
	badKey      int
}

func startCredits(t *testing.T) *fakeCredits {
	t.Helper()
	f := &fakeCredits{deletes: map[string]int{}, erased: map[string]int{}}
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Service-Key") != serviceKey {
				f.mu.Lock()
				f.badKey++
				f.mu.Unlock()
				http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/internal/users/{id}/balance", auth(
		func(w http.ResponseWriter, r *http.Request) {
			if f.isErased(r.PathValue("id")) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"balance": 42, "currency": "credits"}`))
		}))
	mux.HandleFunc("GET /api/v1/internal/users/{id}/transactions", auth(
		func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"id":"t1","amount":50},{"id":"t2","amount":-8}]`))
		}))
	mux.HandleFunc("DELETE /api/v1/internal/users/{id}", auth(
		func(w http.ResponseWriter, r *http.Request) {
			id := r.PathValue("id")
			f.mu.Lock()
			defer f.mu.Unlock()
			f.deletes[id]++
			if f.failDeletes > 0 {
				f.failDeletes--
				http.Error(w, "maintenance", http.StatusServiceUnavailable)
				return
			}
			f.erased[id]++
			w.WriteHeader(http.StatusNoContent)
		}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeCredits) isErased(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.erased[id] > 0
}

func (f *fakeCredits) counts(id string) (deletes, erased int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.deletes[id], f.erased[id]
}

// syncDB makes a mana-sync database of the dialect with the assumed
// sync_entities table, and returns it with its SYNC_DATABASE_URL.
func syncDB(t *testing.T, dialect db.Dialect) (db.DB, string) {
	t.Helper()
	ctx := context.Background()
	var (
		d   db.DB
		url string
	)
	if dialect == db.SQLite {
		url = "sqlite:" + filepath.Join(t.TempDir(), "sync.db")
		var err error
		if d, err = db.Open(ctx, url, db.Options{}); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
	} else {
		d = dbtest.Open(t, db.Postgres)
		var schema string
		if err := d.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
			t.Fatal(err)
		}
		sep := "?"
		if strings.Contains(dbtest.PostgresURL(), "?") {
			sep = "&"
		}
		url = dbtest.PostgresURL() + sep + "search_path=" + schema
	}
	if _, err := d.Exec(ctx, "CREATE TABLE sync_entities (id text PRIMARY KEY, "+
		"user_id text NOT NULL, app text NOT NULL, data text)"); err != nil {
		t.Fatal(err)
	}
	return d, url
}

// addEntities stores n entities of app for a user in the sync database.
func addEntities(t *testing.T, d db.DB, userID, app string, n int) {
	t.Helper()
	for range n {
		if _, err := d.Exec(context.Background(), "INSERT INTO sync_entities (id, user_id, "+
			"app, data) VALUES ($1, $2, $3, 'x')", rand.Text(), userID, app); err != nil {
			t.Fatal(err)
		}
	}
}

// stack describes a test stack: which remotes are configured.
type stack struct {
	credits string // MANA_CREDITS_URL
	sync    string // SYNC_DATABASE_URL
	notes   *notesPlugin
	extra   []core.Plugin
}

func (s stack) options() apitest.Options {
	env := map[string]string{"MANA_SERVICE_KEY": serviceKey}
	if s.credits != "" {
		env["MANA_CREDITS_URL"] = s.credits
	}
	if s.sync != "" {
		env["SYNC_DATABASE_URL"] = s.sync
	}
	return apitest.Options{Env: env, Plugins: func(cfg *core.Config) []core.Plugin {
		ps := []core.Plugin{gdpr.New(cfg)}
		if s.notes != nil {
			ps = append(ps, s.notes)
		}
		return append(ps, s.extra...)
	}}
}

// user is a signed-up user with its cookie client.
type user = apitest.User

func signUp(t testing.TB, env *apitest.Env, email string) user {
	t.Helper()
	return env.NewUser(t, email, pw, "Test "+email)
}

// count runs a COUNT query on the auth database.
func count(t testing.TB, d db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// wantError asserts an error answer.
func wantError(t testing.TB, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Errorf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

// obj returns a nested object of a decoded answer, failing when absent.
func obj(t testing.TB, m map[string]any, keys ...string) map[string]any {
	t.Helper()
	cur := m
	for _, k := range keys {
		next, ok := cur[k].(map[string]any)
		if !ok {
			t.Fatalf("%s: not an object in %v", k, cur)
		}
		cur = next
	}
	return cur
}

// jsonEq compares a decoded value with JSON text.
func jsonEq(t testing.TB, name string, got any, want string) {
	t.Helper()
	var w any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	g, _ := json.Marshal(got)
	wb, _ := json.Marshal(w)
	if string(g) != string(wb) {
		t.Errorf("%s = %s, want %s", name, g, wb)
	}
}

// makeAdmin gives a user the admin role directly in the database (the
// admin plugin's command does the same; tests do not import it).
func makeAdmin(t testing.TB, env *apitest.Env, id string) {
	t.Helper()
	if _, err := env.DB.Exec(context.Background(),
		"UPDATE users SET role = 'admin' WHERE id = $1", id); err != nil {
		t.Fatal(err)
	}
}

// staleSession ages every session of a user past FreshAge.
func staleSession(t testing.TB, env *apitest.Env, id string) {
	t.Helper()
	old := time.Now().Add(-2 * env.Config.Session.FreshAge)
	if _, err := env.DB.Exec(context.Background(),
		"UPDATE sessions SET created_at = $1 WHERE user_id = $2", old, id); err != nil {
		t.Fatal(err)
	}
}
