package origin

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

const testBase = "https://auth.mana.how/api/auth"

// testTrusted exercises every kind of entry.
var testTrusted = []string{
	"https://app.mana.how",
	"http://localhost:3000",
	"*.preview.mana.how",
	"https://*.apps.mana.how",
	"192.168.*.*:*",
	"myapp://",
	"exp://192.168.*.*:*/**",
	"mobile://callback/auth",
	"chrome-extension://abcdefghijklmnop",
}

func newTestChecker(t testing.TB) *Checker {
	t.Helper()
	c, err := New(testBase, testTrusted)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func TestTrustedOrigin(t *testing.T) {
	c := newTestChecker(t)
	cases := []struct {
		name   string
		origin string
		want   bool
	}{
		// The base URL and exact origins.
		{"base origin", "https://auth.mana.how", true},
		{"base as referer with path", "https://auth.mana.how/api/auth/x", true},
		{"exact", "https://app.mana.how", true},
		{"exact upper case", "HTTPS://APP.MANA.HOW", true},
		{"exact explicit default port", "https://app.mana.how:443", true},
		{"exact trailing slash", "https://app.mana.how/", true},
		{"referer with query", "https://app.mana.how/p?q=1#f", true},
		{"exact other port", "https://app.mana.how:8443", false},
		{"port with leading zero", "https://app.mana.how:0443", false},
		{"port out of range", "https://app.mana.how:65536", false},
		{"empty port", "https://app.mana.how:", false},
		{"http instead of https", "http://app.mana.how", false},
		{"localhost exact", "http://localhost:3000", true},
		{"localhost default port", "http://localhost", false},
		{"localhost other port", "http://localhost:3001", false},

		// Hostile spellings of a trusted origin.
		{"empty", "", false},
		{"null", "null", false},
		{"no scheme", "app.mana.how", false},
		{"scheme-relative", "//app.mana.how", false},
		{"userinfo before trusted host", "https://evil@app.mana.how", false},
		{"trusted host as userinfo", "https://app.mana.how@evil.com", false},
		{"trusted host and port as userinfo", "https://app.mana.how:443@evil.com",
			false},
		{"suffix domain", "https://app.mana.how.evil.com", false},
		{"prefix domain", "https://evilapp.mana.how", false},
		{"trailing dot", "https://app.mana.how.", false},
		{"backslash userinfo", `https://evil.com\@app.mana.how`, false},
		{"percent-encoded host", "https://app%2emana.how", false},
		{"space inside", "https://app.mana.how evil", false},
		{"leading space", " https://app.mana.how", false},
		{"tab inside", "https://app.\tmana.how", false},
		{"newline", "https://app.mana.how\n", false},
		{"NUL", "https://app.mana.how\x00", false},
		{"unicode host", "https://аpp.mana.how", false},
		{"fragment hides host", "https://evil.com#@app.mana.how", false},
		{"query hides host", "https://evil.com?@app.mana.how", false},
		{"path hides host", "https://evil.com/app.mana.how", false},
		{"no slashes", "https:app.mana.how", false},
		{"one slash", "https:/app.mana.how", false},
		{"ipv6 zone", "http://[fe80::1%25eth0]", false},

		// Scheme-less host wildcard: http and https only.
		{"host wildcard https", "https://pr-12.preview.mana.how", true},
		{"host wildcard http", "http://pr-12.preview.mana.how", true},
		{"host wildcard deep", "https://a.b.preview.mana.how", true},
		{"host wildcard upper", "https://PR-1.Preview.Mana.How", true},
		{"host wildcard not apex", "https://preview.mana.how", false},
		{"host wildcard non-default port", "https://x.preview.mana.how:8080",
			false},
		{"host wildcard suffix attack", "https://x.preview.mana.how.evil.com",
			false},
		{"host wildcard glued", "https://xpreview.mana.how", false},
		{"host wildcard javascript", "javascript://x.preview.mana.how", false},
		{"host wildcard custom scheme", "other://x.preview.mana.how", false},

		// Scheme wildcard.
		{"scheme wildcard", "https://foo.apps.mana.how", true},
		{"scheme wildcard wrong scheme", "http://foo.apps.mana.how", false},
		{"scheme wildcard apex", "https://apps.mana.how", false},

		// Digits-only wildcard: IPv4 literals only.
		{"ipv4 wildcard", "http://192.168.1.20:5173", true},
		{"ipv4 wildcard default port", "https://192.168.1.20", true},
		{"ipv4 wildcard dns name", "http://192.168.evil.com", false},
		{"ipv4 wildcard longer name", "http://192.168.1.20.evil.com", false},
		{"ipv4 hex label", "http://192.168.1.0x10", false},
		{"ipv4 octal label", "http://192.168.0300.1", false},
		{"ipv4 as integer", "http://3232235777", false},
		{"ipv4 short form", "http://192.168.1", false},
		{"ipv4 other range", "http://10.0.0.1", false},

		// Custom schemes.
		{"custom any", "myapp://anything/x", true},
		{"custom any empty authority", "myapp://", true},
		{"custom upper scheme", "MYAPP://x", true},
		{"custom wildcard authority", "exp://192.168.1.5:8081", true},
		{"custom wildcard authority path", "exp://192.168.1.5:8081/--/cb", true},
		{"custom wildcard wrong host", "exp://evil.com:8081", false},
		{"custom pinned path", "mobile://callback/auth", true},
		{"custom pinned subpath", "mobile://callback/auth/done", true},
		{"custom pinned upper authority", "MOBILE://CALLBACK/auth", true},
		{"custom pinned path is case sensitive", "mobile://callback/AUTH", false},
		{"custom pinned glued path", "mobile://callback/authx", false},
		{"custom pinned no path", "mobile://callback", false},
		{"custom traversal", "mobile://callback/auth/../evil", false},
		{"custom encoded traversal", "mobile://callback/auth/%2e%2e/evil", false},
		{"custom encoded slash traversal", "mobile://callback/auth%2f..%2fevil",
			false},
		{"custom encoded backslash", "mobile://callback/auth/%5c", false},
		{"custom bad escape", "mobile://callback/auth/%zz", false},
		{"custom other authority", "mobile://callback.attacker.tld/auth", false},
		{"custom userinfo", "mobile://x@callback/auth", false},
		{"extension exact", "chrome-extension://abcdefghijklmnop", true},
		{"extension other id", "chrome-extension://ponmlkjihgfedcba", false},
		{"unlisted scheme", "other://app.mana.how", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.TrustedOrigin(tc.origin); got != tc.want {
				t.Errorf("TrustedOrigin(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}

func TestCORSAllowed(t *testing.T) {
	c := newTestChecker(t)
	cases := []struct {
		name   string
		origin string
		want   bool
	}{
		{"base", "https://auth.mana.how", true},
		{"exact", "https://app.mana.how", true},
		{"exact default port", "https://app.mana.how:443", true},
		{"wildcard", "https://pr-1.preview.mana.how", true},
		{"ipv4 wildcard", "http://192.168.0.7:5173", true},
		{"trailing slash is not an origin", "https://app.mana.how/", false},
		{"path is not an origin", "https://app.mana.how/x", false},
		{"query is not an origin", "https://app.mana.how?x", false},
		{"untrusted", "https://evil.com", false},
		{"userinfo", "https://evil@app.mana.how", false},
		{"null", "null", false},
		{"empty", "", false},
		{"custom scheme without path entry", "myapp://x", true},
		{"extension", "chrome-extension://abcdefghijklmnop", true},
		{"custom entry with path never allows CORS", "mobile://callback", false},
		{"custom path origin", "mobile://callback/auth", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.CORSAllowed(tc.origin); got != tc.want {
				t.Errorf("CORSAllowed(%q) = %v, want %v", tc.origin, got, tc.want)
			}
		})
	}
}

func TestTrustedURL(t *testing.T) {
	c := newTestChecker(t)
	cases := []struct {
		name     string
		raw      string
		relative bool // result with allowRelative
		absolute bool // result without
	}{
		{"trusted absolute", "https://app.mana.how/dashboard?x=1", true, true},
		{"base absolute", "https://auth.mana.how/done", true, true},
		{"trusted absolute upper", "HTTPS://APP.MANA.HOW/x", true, true},
		{"wildcard absolute", "https://pr-1.preview.mana.how/cb", true, true},
		{"localhost absolute", "http://localhost:3000/cb", true, true},
		{"custom pinned", "mobile://callback/auth/done?code=1", true, true},
		{"custom any", "myapp://callback", true, true},
		{"untrusted absolute", "https://evil.com/cb", false, false},
		{"userinfo", "https://app.mana.how@evil.com/", false, false},
		{"userinfo before trusted", "https://evil@app.mana.how/", false, false},
		{"backslash authority", `https://evil.com\@app.mana.how/`, false, false},
		{"fragment at", "https://evil.com#@app.mana.how", false, false},
		{"no slashes", "https:app.mana.how/x", false, false},
		{"one slash", "https:/app.mana.how/x", false, false},
		{"trailing dot host", "https://app.mana.how./x", false, false},

		{"relative", "/dashboard", true, false},
		{"relative root", "/", true, false},
		{"relative query", "/ok?next=%2Fsettings", true, false},
		{"relative query with slashes", "/ok?next=//x", true, false},
		{"relative fragment", "/ok#top", true, false},
		{"relative colon", "/a:b", true, false},
		{"protocol-relative", "//evil.com", false, false},
		{"protocol-relative triple", "///evil.com", false, false},
		{"slash backslash", `/\evil.com`, false, false},
		{"backslashes", `\\evil.com`, false, false},
		{"backslash later", `/a\b`, false, false},
		{"double slash later", "/foo//bar", false, false},
		{"encoded slash", "/%2fevil.com", false, false},
		{"encoded slash upper", "/%2Fevil.com", false, false},
		{"encoded backslash", "/%5cevil.com", false, false},
		{"encoded backslash upper", "/%5Cevil.com", false, false},
		{"encoded slash later", "/a/%2F/b", false, false},
		{"bad escape", "/%zz", false, false},
		{"truncated escape", "/a%2", false, false},
		{"tab", "/\tfoo", false, false},
		{"newline", "/foo\n", false, false},
		{"carriage return", "/foo\r\nSet-Cookie: x", false, false},
		{"NUL", "/\x00", false, false},
		{"DEL", "/\x7f", false, false},
		{"space", "/a b", false, false},
		{"non-ASCII", "/ünïcode", false, false},
		{"no leading slash", "dashboard", false, false},
		{"dot relative", "./dashboard", false, false},
		{"query only", "?x=1", false, false},
		{"fragment only", "#x", false, false},
		{"empty", "", false, false},

		{"javascript", "javascript:alert(1)", false, false},
		{"javascript upper", "JavaScript:alert(1)", false, false},
		{"javascript with trusted host", "javascript://app.mana.how/%0aalert(1)",
			false, false},
		{"javascript leading space", " javascript:alert(1)", false, false},
		{"javascript tab", "java\tscript:alert(1)", false, false},
		{"data", "data:text/html,<script>alert(1)</script>", false, false},
		{"vbscript", "vbscript:msgbox(1)", false, false},
		{"leading space absolute", " https://app.mana.how", false, false},
		{"trailing tab absolute", "https://app.mana.how\t", false, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.TrustedURL(tc.raw, true); got != tc.relative {
				t.Errorf("TrustedURL(%q, true) = %v, want %v", tc.raw, got,
					tc.relative)
			}
			if got := c.TrustedURL(tc.raw, false); got != tc.absolute {
				t.Errorf("TrustedURL(%q, false) = %v, want %v", tc.raw, got,
					tc.absolute)
			}
		})
	}
}

func TestNewRejects(t *testing.T) {
	cases := []struct {
		name  string
		entry string
	}{
		{"star", "*"},
		{"star dot star", "*.*"},
		{"https star", "https://*"},
		{"question marks", "?.??"},
		{"origin with path", "https://app.mana.how/path"},
		{"origin with query", "https://app.mana.how/?x=1"},
		{"origin with fragment", "https://app.mana.how#x"},
		{"bare host", "app.mana.how"},
		{"bare host and port", "localhost:3000"},
		{"javascript", "javascript://"},
		{"data", "data://text"},
		{"file", "file:///etc"},
		{"userinfo", "https://user@app.mana.how"},
		{"port too big", "https://app.mana.how:99999"},
		{"empty port", "https://app.mana.how:"},
		{"port letters", "*.mana.how:8x"},
		{"glob in scheme", "ht*p://x.mana.how"},
		{"glob in custom path", "myapp://host/cb/*"},
		{"single-slash custom", "myapp:/cb"},
		{"space in host", "https://app mana.how"},
		{"unicode host", "https://bücher.de"},
		{"empty label", "https://a..b"},
		{"numeric last label", "https://a.123"},
		{"empty host", "https://"},
		{"port only", "https://:8080"},
		{"percent", "https://app%2emana.how"},
		{"bad glob char", "*.mana_how!"},
		{"glob suffix too short", "*e"},
		{"glob on top-level domain", "*.com"},
		{"glob glued to domain", "*mana.how"},
		{"glob at end", "app.mana.*"},
		{"glob at end of scheme wildcard", "https://app.mana.*"},
		{"glob before one label", "*-mana.how"},
		{"glob with empty label", "*.mana..how"},
		{"custom traversal escape", "myapp://h/%zz"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(testBase, []string{"https://ok.mana.how", tc.entry})
			if !errors.Is(err, ErrInvalidPattern) {
				t.Fatalf("New(%q) error = %v, want ErrInvalidPattern", tc.entry, err)
			}
			if !strings.Contains(err.Error(), tc.entry) {
				t.Errorf("error %q does not name the entry %q", err, tc.entry)
			}
		})
	}
}

func TestNewBadBaseURL(t *testing.T) {
	for _, base := range []string{
		"", "app.mana.how", "ftp://app.mana.how", "https://", "myapp://x",
		"https://evil@app.mana.how", "https://app.mana.how:0",
	} {
		t.Run(base, func(t *testing.T) {
			if _, err := New(base, nil); !errors.Is(err, ErrInvalidBaseURL) {
				t.Errorf("New(%q) error = %v, want ErrInvalidBaseURL", base, err)
			}
		})
	}
}

func TestNewSkipsEmptyEntries(t *testing.T) {
	c, err := New(testBase, []string{"", "  ", " https://app.mana.how "})
	if err != nil {
		t.Fatal(err)
	}
	if !c.TrustedOrigin("https://app.mana.how") {
		t.Error("trimmed entry not trusted")
	}
}

func TestOrigins(t *testing.T) {
	c, err := New("HTTPS://Auth.Mana.How:443/api/auth", []string{
		"https://App.Mana.How:443/",
		"https://app.mana.how",
		"http://localhost:3000",
		"http://127.0.0.1:80",
		"https://[::1]:8443",
		"*.mana.how",
		"https://*.apps.mana.how",
		"mobile://callback/auth",
		"chrome-extension://abcdefghijklmnop",
		"myapp://",
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"https://auth.mana.how",
		"https://app.mana.how",
		"http://localhost:3000",
		"http://127.0.0.1",
		"https://[::1]:8443",
		"chrome-extension://abcdefghijklmnop",
	}
	got := c.Origins()
	if !slices.Equal(got, want) {
		t.Errorf("Origins() = %q, want %q", got, want)
	}

	got[0] = "https://evil.com"
	if c.Origins()[0] != want[0] {
		t.Error("Origins returned the internal slice")
	}
	if !c.TrustedOrigin("https://[::1]:8443") || !c.CORSAllowed("http://127.0.0.1") {
		t.Error("canonical exact origins not trusted")
	}
}

func TestWildcardPortAndDefaults(t *testing.T) {
	c, err := New("http://localhost:3001", []string{
		"localhost:*",
		"*.localhost:*",
		"app-*-team.vercel.app",
		"https://*.mana.how:443",
		"https://*.dev.mana.how:8???",
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		origin string
		want   bool
	}{
		{"http://localhost:5173", true},
		{"http://localhost", true},
		{"https://localhost:1", true},
		{"http://localhost.evil.com:5173", false},
		{"http://app.localhost:5173", true},
		{"https://app-git-main-team.vercel.app", true},
		{"https://app-git-main-team.vercel.app.evil.com", false},
		{"https://app-team.vercel.app", false},
		{"https://a.mana.how", true},
		{"https://a.mana.how:443", true},
		{"https://a.mana.how:8443", false},
		{"https://x.dev.mana.how:8443", true},
		{"https://x.dev.mana.how:80", false},
		{"https://x.dev.mana.how:84430", false},
	}
	for _, tc := range cases {
		if got := c.TrustedOrigin(tc.origin); got != tc.want {
			t.Errorf("TrustedOrigin(%q) = %v, want %v", tc.origin, got, tc.want)
		}
	}
}

func TestZeroAndNilChecker(t *testing.T) {
	var nilC *Checker
	var zero Checker
	for _, c := range []*Checker{nilC, &zero} {
		if c.TrustedOrigin("https://a.com") || c.CORSAllowed("https://a.com") ||
			c.TrustedURL("https://a.com", true) || c.TrustedURL("/x", false) {
			t.Error("an empty Checker trusted something")
		}
		if len(c.Origins()) != 0 {
			t.Error("an empty Checker has origins")
		}
	}
}

func TestSafeRelativePath(t *testing.T) {
	cases := []struct {
		name string
		p    string
		want bool
	}{
		{"root", "/", true},
		{"path", "/a/b-c_d.e~f", true},
		{"query", "/a?b=c&d=%2F%5C", true},
		{"fragment", "/a#/b//c", true},
		{"percent", "/caf%C3%A9", true},
		{"at sign", "/@evil.com", true},
		{"empty", "", false},
		{"no slash", "a", false},
		{"double", "//a", false},
		{"double later", "/a//b", false},
		{"backslash", `/\a`, false},
		{"backslash in query", `/a?b=\c`, false},
		{"encoded slash", "/a%2fb", false},
		{"encoded backslash", "/a%5Cb", false},
		{"bad escape", "/a%g0", false},
		{"escape at end", "/a%", false},
		{"control", "/a\x01", false},
		{"space", "/a b", false},
		{"non-ASCII", "/é", false},
		{"too long", "/" + strings.Repeat("a", maxURLLen), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := SafeRelativePath(tc.p); got != tc.want {
				t.Errorf("SafeRelativePath(%q) = %v, want %v", tc.p, got, tc.want)
			}
		})
	}
}

func TestGlob(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything.at.all", true},
		{"*.a.com", "x.a.com", true},
		{"*.a.com", "x.y.a.com", true},
		{"*.a.com", "a.com", false},
		{"*.a.com", ".a.com", true},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
		{"**", "x", true},
		{"*a", strings.Repeat("b", 1000), false},
	}
	for _, tc := range cases {
		if got := glob(tc.pattern, tc.s); got != tc.want {
			t.Errorf("glob(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestTrustedOriginDoesNotAllocate(t *testing.T) {
	c := newTestChecker(t)
	for _, o := range []string{
		"https://app.mana.how",
		"https://pr-1.preview.mana.how",
		"http://192.168.1.2:5173",
		"https://evil.com",
	} {
		n := testing.AllocsPerRun(100, func() { c.TrustedOrigin(o) })
		if n != 0 {
			t.Errorf("TrustedOrigin(%q) allocates %v times", o, n)
		}
	}
}

func BenchmarkTrustedOrigin(b *testing.B) {
	c := newTestChecker(b)
	for _, bc := range []struct{ name, origin string }{
		{"exact", "https://app.mana.how"},
		{"base", "https://auth.mana.how"},
		{"upper", "HTTPS://APP.MANA.HOW"},
		{"wildcard", "https://pr-12.preview.mana.how"},
		{"ipv4", "http://192.168.1.20:5173"},
		{"miss", "https://app.mana.how.evil.com"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				c.TrustedOrigin(bc.origin)
			}
		})
	}
}
