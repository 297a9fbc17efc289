package transport_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/mana/mana-auth/internal/apitest"
)

// BenchmarkGetSessionHandler measures the server side of get-session alone
// (no network): middleware, routing, go-kit, session lookup, encoding.
func BenchmarkGetSessionHandler(b *testing.B) {
	env := apitest.New(b, apitest.Options{})
	c := env.Client()
	c.SignUp("h@example.com", pw, "H")
	cookie := "mana.session_token=" + c.Cookies["mana.session_token"]
	h := env.Server.Config.Handler
	req := httptest.NewRequest("GET", "/api/auth/get-session", nil)
	req.Header.Set("Cookie", cookie)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
