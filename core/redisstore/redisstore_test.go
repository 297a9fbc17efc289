package redisstore_test

import (
	"context"
	"io"
	"log/slog"
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

// A revocation that cannot reach Redis: this instance stops serving the
// cache at once, and the delete is retried until Redis has it, so other
// instances stop finding the session too.
func TestSessionCacheFailsClosed(t *testing.T) {
	direct := apitest.Redis(t) // skips without Redis
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	other := redisstore.NewSessionCache(direct, discard)
	px := apitest.NewCutProxy(t, direct.Options().Addr)
	viaProxy := redis.NewClient(&redis.Options{Addr: px.Addr, MaxRetries: -1,
		DialTimeout: 100 * time.Millisecond})
	defer viaProxy.Close()
	c := redisstore.NewSessionCache(viaProxy, discard)
	ctx := context.Background()
	c.Set(ctx, sample("tokA"), time.Hour, time.Now())
	if _, ok := other.Get(ctx, "tokA"); !ok {
		t.Fatal("not cached")
	}

	px.Cut()
	c.Delete(ctx, "u1", "tokA") // fails: Redis unreachable from this instance
	px.Restore()
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
