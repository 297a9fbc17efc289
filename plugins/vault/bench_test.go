package vault

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
)

// BenchmarkKey measures the /key hot path through its handler: the
// transaction (with the row-level-security binding on PostgreSQL), one
// indexed read, one AES-GCM open and one audit insert.
func BenchmarkKey(b *testing.B) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		b.Run(string(d), func(b *testing.B) {
			env := apitest.New(b, apitest.Options{Dialect: d,
				Env: map[string]string{
					"MANA_AUTH_KEK": b64(bytes.Repeat([]byte{0x42}, 32))},
				Plugins: func(cfg *core.Config) []core.Plugin {
					return []core.Plugin{New(cfg)}
				}})
			p := env.Engine.Plugin("vault").(*Plugin)
			r := env.Client().SignUp("bench@example.com", "vivid-otter-quartz-42", "B")
			uid := r.JSON["user"].(map[string]any)["id"].(string)
			req := &core.Request{HTTP: httptest.NewRequest("GET", Prefix+"/key", nil),
				User: &core.User{ID: uid}, ClientIP: "203.0.113.7",
				UserAgent: "Mozilla/5.0 (bench)"}
			ctx := context.Background()
			if _, err := p.hInit(ctx, req); err != nil {
				b.Fatal(err)
			}

			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				resp, err := p.hKey(ctx, req)
				if err != nil {
					b.Fatal(err)
				}
				if _, ok := resp.Body.(keyBody); !ok {
					b.Fatalf("body %T", resp.Body)
				}
			}
		})
	}
}
