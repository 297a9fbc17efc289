package transport

import (
	"bytes"
	"net/http/httptest"
	"testing"

	"github.com/mana/mana-auth/core"
)

// FuzzReadBody feeds arbitrary bodies and content types through the body
// decoder: it never panics, and it either yields an object or a 4xx
// APIError.
func FuzzReadBody(f *testing.F) {
	for _, s := range []string{`{}`, `{"email":"a@b.co"}`, `[]`, `null`, `{"a":`, "\x00",
		`email=a%40b.co&rememberMe=on`, `{"callbackURL":1}`, `"str"`} {
		f.Add([]byte(s), "application/json")
		f.Add([]byte(s), "application/x-www-form-urlencoded")
	}
	f.Add([]byte(`{}`), "text/plain; charset=utf-8")
	rt := &core.Route{Form: true}
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		hr := httptest.NewRequest("POST", "/api/auth/sign-in/email", bytes.NewReader(body))
		hr.Header.Set("Content-Type", ct)
		r := &core.Request{HTTP: hr}
		err := readBody(r, rt)
		if err != nil {
			ae, ok := core.AsAPIError(err)
			if !ok || ae.Status < 400 || ae.Status >= 500 {
				t.Fatalf("error %v is not a 4xx APIError", err)
			}
			return
		}
		if len(bytes.TrimSpace(body)) > 0 && r.Body == nil {
			t.Fatal("non-empty body accepted without an object")
		}
		var v struct {
			Email string `json:"email"`
		}
		if err := r.Bind(&v); err != nil {
			if ae, ok := core.AsAPIError(err); !ok || ae.Status != 400 {
				t.Fatalf("Bind error %v", err)
			}
		}
	})
}
