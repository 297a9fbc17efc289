//go:build !race

package secure

import "testing"

// The race detector drops sync.Pool entries at random, so allocation counts
// are only meaningful without it.
func TestHotPathAllocations(t *testing.T) {
	s := mustSecrets(t, "alloc-secret-0123456789abcdef0123456789")
	token := GenerateID()
	cookie := s.SignCookie(token)
	raw, _ := unescapeComponent(cookie)

	cases := []struct {
		name string
		max  float64
		fn   func()
	}{
		{"VerifyCookie escaped", 1, func() { s.VerifyCookie(cookie) }},
		{"VerifyCookie raw", 0, func() { s.VerifyCookie(raw) }},
		{"SignCookie", 1, func() { s.SignCookie(token) }},
		{"GenerateID", 2, func() { GenerateID() }},
		{"Equal", 0, func() { Equal(cookie, raw) }},
	}
	for _, c := range cases {
		if got := testing.AllocsPerRun(200, c.fn); got > c.max {
			t.Errorf("%s: %.1f allocs per call, want <= %.0f", c.name, got, c.max)
		}
	}
}
