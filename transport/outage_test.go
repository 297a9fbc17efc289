package transport_test

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
)

// cutProxy forwards TCP to a target until cut; restore listens again on the
// same address.
type cutProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	p := &cutProxy{t: t, target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			go func() { _, _ = io.Copy(c, up); c.Close() }()
		}
	}()
}

func (p *cutProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *cutProxy) restore() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatal(err)
	}
	p.serve(ln)
}

// TestDatabaseOutage: while PostgreSQL is unreachable, requests answer 503
// quickly and sessions fail closed; when it is back the pool reconnects.
func TestDatabaseOutage(t *testing.T) {
	direct := dbtest.Open(t, db.Postgres)
	pgHost := strings.Split(strings.Split(dbtest.PostgresURL(), "@")[1], "/")[0]
	proxy := newCutProxy(t, pgHost)
	viaProxy := dbtest.ReopenVia(t, direct, proxy.addr)
	env := apitest.New(t, apitest.Options{DB: viaProxy})
	c := env.Client()
	c.SignUp("outage@example.com", pw, "O")

	proxy.cut()
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

	proxy.restore()
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
