package transport_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
)

// BenchmarkGetSession measures cookie → session over real HTTP on loopback,
// with parallel clients: the load test of issue 3. Variants: SQLite,
// PostgreSQL, and PostgreSQL behind the Redis session cache.
func BenchmarkGetSession(b *testing.B) {
	cases := []struct {
		name  string
		d     db.Dialect
		redis bool
	}{
		{"sqlite", db.SQLite, false},
		{"postgres", db.Postgres, false},
		{"postgres+redis", db.Postgres, true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			o := apitest.Options{Dialect: tc.d}
			if tc.redis {
				o.Redis = apitest.Redis(b)
			}
			env := apitest.New(b, o)
			c := env.Client()
			c.SignUp("bench@example.com", pw, "B")
			cookie := "mana.session_token=" + c.Cookies["mana.session_token"]
			url := env.Server.URL + "/api/auth/get-session"
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			hc := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest("GET", url, nil)
					req.Header.Set("Cookie", cookie)
					resp, err := hc.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}

// BenchmarkSignIn measures a full password sign-in (one scrypt hash, one
// session insert) over HTTP.
func BenchmarkSignIn(b *testing.B) {
	env := apitest.New(b, apitest.Options{})
	env.Client().SignUp("bench@example.com", pw, "B")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c := env.Client()
		if r := c.SignIn("bench@example.com", pw); r.Status != 200 {
			b.Fatalf("sign-in: %d", r.Status)
		}
	}
}
