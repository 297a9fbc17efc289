package origin

import (
	"net/netip"
	"net/url"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"/", "/dashboard", "//evil.com", `/\evil.com`, "/%2fevil", "/a?b=//c",
	"https://app.mana.how/x", "https://evil@app.mana.how", "HTTPS://APP.MANA.HOW",
	"https://app.mana.how.evil.com", "javascript:alert(1)", "data:,x",
	"mobile://callback/auth/../x", "exp://192.168.1.1:8081/--/", "myapp://",
	"http://[::1]:3000", "http://192.168.0x1.1", "https:app.mana.how", "/%zz",
	"http://pr-1.preview.mana.how:443", "\x00", "",
}

// FuzzTrustedURL checks that no input panics, that whatever is accepted
// only as a relative URL is a safe relative path with no host for net/url,
// and that accepted absolute URLs have a trusted origin and no userinfo.
func FuzzTrustedURL(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	c := newTestChecker(f)

	f.Fuzz(func(t *testing.T, raw string) {
		abs := c.TrustedURL(raw, false)
		rel := c.TrustedURL(raw, true)
		if abs && !rel {
			t.Fatalf("%q trusted as absolute but not with relatives allowed", raw)
		}

		if rel && !abs {
			if !SafeRelativePath(raw) {
				t.Fatalf("%q accepted as relative but not a safe relative path", raw)
			}
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%q accepted as relative but url.Parse: %v", raw, err)
			}
			if u.Host != "" || u.Scheme != "" || u.User != nil {
				t.Fatalf("%q accepted as relative but has host %q scheme %q",
					raw, u.Host, u.Scheme)
			}
		}

		if abs {
			u, err := url.Parse(raw)
			if err != nil {
				t.Fatalf("%q accepted but url.Parse: %v", raw, err)
			}
			if u.User != nil {
				t.Fatalf("%q accepted with userinfo", raw)
			}
			s := strings.ToLower(u.Scheme)
			if s == "javascript" || s == "data" || s == "vbscript" {
				t.Fatalf("%q accepted with scheme %q", raw, s)
			}
			if !c.TrustedOrigin(raw) {
				t.Fatalf("%q accepted but its origin is not trusted", raw)
			}
		}
	})
}

// FuzzTrustedOrigin checks that no input panics and that CORS never allows
// more than TrustedOrigin.
func FuzzTrustedOrigin(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	c := newTestChecker(f)

	f.Fuzz(func(t *testing.T, origin string) {
		trusted := c.TrustedOrigin(origin)
		if c.CORSAllowed(origin) && !trusted {
			t.Fatalf("%q allowed for CORS but not trusted", origin)
		}
		if !trusted {
			return
		}
		u, err := url.Parse(origin)
		if err != nil || u.User != nil {
			t.Fatalf("%q trusted but url.Parse: %v, user %v", origin, err, u)
		}
	})
}

// FuzzNew checks that building a Checker from any entry never panics, and
// that an accepted entry does not trust an unrelated origin.
func FuzzNew(f *testing.F) {
	for _, s := range testTrusted {
		f.Add(s, "https://unrelated.example")
	}
	f.Add("*", "https://x.com")
	f.Add("https://*:*", "https://x.com:1")

	f.Fuzz(func(t *testing.T, entry, origin string) {
		c, err := New(testBase, []string{entry})
		if err != nil {
			return
		}
		c.TrustedOrigin(origin)
		c.TrustedURL(origin, true)
		c.CORSAllowed(origin)
		if c.TrustedOrigin("https://unrelated-zz9.example") &&
			!strings.Contains(entry, "unrelated-zz9") &&
			!strings.Contains(entry, "example") {
			t.Fatalf("entry %q trusts an unrelated origin", entry)
		}
	})
}

// FuzzIsIPv4 checks the allocation-free IPv4 reader against net/netip.
func FuzzIsIPv4(f *testing.F) {
	for _, s := range []string{
		"1.2.3.4", "255.255.255.255", "256.1.1.1", "01.2.3.4", "0.0.0.0",
		"1.2.3", "1.2.3.4.5", "1..2.3", "::1", "1.2.3.4%x", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := netip.ParseAddr(s)
		want := err == nil && a.Is4()
		if got := isIPv4(s); got != want {
			t.Fatalf("isIPv4(%q) = %v, netip says %v", s, got, want)
		}
	})
}
