package redisstore_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/redisstore"
	"github.com/mana/mana-auth/internal/apitest"
)

func sample(token string) *core.SessionWithUser {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &core.SessionWithUser{
		Session: &core.Session{ID: "s1", Token: token, UserID: "u1", ExpiresAt: now.Add(time.Hour),
			CreatedAt: now, UpdatedAt: now, Fields: map[string]any{"activeOrganizationId": "o1"}},
		User: &core.User{ID: "u1", Email: "u@example.com", Role: "user", CreatedAt: now,
			UpdatedAt: now, Fields: map[string]any{"twoFactorEnabled": true}},
	}
}

func TestSessionCacheRoundTripAndRaces(t *testing.T) {
	rdb := apitest.Redis(t)
	c := redisstore.NewSessionCache(rdb, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx := context.Background()
	loaded := time.Now()
	c.Set(ctx, sample("tok1"), time.Hour, loaded)
	got, ok := c.Get(ctx, "tok1")
	want := sample("tok1")
	if !ok || got.Session.Fields["activeOrganizationId"] != "o1" ||
		got.User.Fields["twoFactorEnabled"] != true || got.User.Email != want.User.Email ||
		got.Session.ExpiresAt.Sub(want.Session.ExpiresAt).Abs() > time.Second {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	// A Set of data loaded before a revocation is refused.
	c.Delete(ctx, "u1", "tok1")
	c.Set(ctx, sample("tok1"), time.Hour, loaded)
	if _, ok := c.Get(ctx, "tok1"); ok {
		t.Error("revoked token came back through a late Set")
	}
	c.Set(ctx, sample("tok2"), time.Hour, time.Now())
	c.DeleteUser(ctx, "u1")
	if _, ok := c.Get(ctx, "tok2"); ok {
		t.Error("DeleteUser left a session")
	}
	c.Set(ctx, sample("tok3"), time.Hour, loaded)
	if _, ok := c.Get(ctx, "tok3"); ok {
		t.Error("a Set loaded before DeleteUser was accepted")
	}
}

// proxy forwards TCP to Redis until cut; restore listens again.
type proxy struct {
	addr  string
	mu    sync.Mutex
	ln    net.Listener
	conns []net.Conn
}

func newProxy(t *testing.T) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: ln.Addr().String()}
	p.serve(ln)
	t.Cleanup(p.cut)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", "127.0.0.1:6379")
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

func (p *proxy) cut() {
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

func (p *proxy) restore(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// A revocation that cannot reach Redis: this instance stops serving the
// cache at once, and the delete is retried until Redis has it, so other
// instances stop finding the session too.
func TestSessionCacheFailsClosed(t *testing.T) {
	direct := apitest.Redis(t) // skips without Redis
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	other := redisstore.NewSessionCache(direct, discard)
	px := newProxy(t)
	viaProxy := redis.NewClient(&redis.Options{Addr: px.addr, MaxRetries: -1,
		DialTimeout: 100 * time.Millisecond})
	defer viaProxy.Close()
	c := redisstore.NewSessionCache(viaProxy, discard)
	ctx := context.Background()
	c.Set(ctx, sample("tokA"), time.Hour, time.Now())
	if _, ok := other.Get(ctx, "tokA"); !ok {
		t.Fatal("not cached")
	}

	px.cut()
	c.Delete(ctx, "u1", "tokA") // fails: Redis unreachable from this instance
	px.restore(t)
	if _, ok := c.Get(ctx, "tokA"); ok {
		t.Error("this instance served a session whose revocation failed")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := other.Get(ctx, "tokA"); !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the failed revocation was never retried")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
