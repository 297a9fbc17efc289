package transport_test

import (
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
)

// TestDatabaseOutage: while PostgreSQL is unreachable, requests answer 503
// quickly and sessions fail closed; when it is back the pool reconnects.
func TestDatabaseOutage(t *testing.T) {
	direct := dbtest.Open(t, db.Postgres)
	pgHost := strings.Split(strings.Split(dbtest.PostgresURL(), "@")[1], "/")[0]
	proxy := apitest.NewCutProxy(t, pgHost)
	viaProxy := dbtest.ReopenVia(t, direct, proxy.Addr)
	env := apitest.New(t, apitest.Options{DB: viaProxy})
	c := env.Client()
	c.SignUp("outage@example.com", pw, "O")

	proxy.Cut()
	start := time.Now()
	g := c.Do("GET", "/api/auth/get-session", nil)
	if g.Status != 503 || g.Code() != "SERVICE_UNAVAILABLE" {
		t.Fatalf("get-session during outage: %d %s", g.Status, g.Body)
	}
	if s := c.SignIn("outage@example.com", pw); s.Status != 503 {
		t.Errorf("sign-in during outage: %d %s", s.Status, s.Body)
	}
	if r := env.Client().Do("GET", "/readyz", nil); r.Status != 503 {
		t.Errorf("readyz during outage: %d", r.Status)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("outage answers took %v", d)
	}

	proxy.Restore()
	var last *apitest.Response
	for range 50 {
		if last = c.Do("GET", "/api/auth/get-session", nil); last.Status == 200 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if last.JSON["session"] == nil {
		t.Fatalf("after the outage: %d %s", last.Status, last.Body)
	}
}
