package jwt

import (
	"context"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
)

func benchStack(b *testing.B) (*stack, *core.User, *core.Session) {
	s := newStack(b, nil, apitest.Options{})
	u := &core.User{ID: "QpTn3mV8bYx0cRkD2sLfWa7hJ9eGu4Zi", Email: "bench@example.com",
		Role: "user"}
	sess := &core.Session{ID: "Hk2Lw9sNq4Bv7xYt1CmZr8PdFj3Ga6Ue"}
	if _, err := s.p.Mint(context.Background(), u, sess); err != nil {
		b.Fatal(err)
	}
	return s, u, sess
}

func BenchmarkMint(b *testing.B) {
	s, u, sess := benchStack(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.p.Mint(ctx, u, sess); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	s, u, sess := benchStack(b)
	ctx := context.Background()
	tok, _ := s.p.Mint(ctx, u, sess)
	s.clk.Advance(time.Second)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.p.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}
