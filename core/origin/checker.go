package origin

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

var (
	// ErrInvalidBaseURL is returned by New when the base URL is not an
	// absolute http or https URL with a host.
	ErrInvalidBaseURL = errors.New("invalid base URL")

	// ErrInvalidPattern is returned by New for a trusted-origin entry that is
	// malformed, can never match, or would trust too much. The error text
	// names the entry.
	ErrInvalidPattern = errors.New("invalid trusted origin")
)

// blockedSchemes can run script or read local data when navigated to; no
// entry may trust them.
var blockedSchemes = []string{
	"javascript", "data", "vbscript", "file", "blob", "about", "filesystem",
	"view-source",
}

// Checker decides whether an origin or a redirect target is trusted. Build
// it with New; the zero value trusts nothing. It is immutable and safe for
// concurrent use.
type Checker struct {
	canon   map[string]struct{}    // Origins(), for a parse-free fast path
	exact   map[webOrigin]struct{} // exact http and https origins
	hosts   []hostPattern          // http and https wildcards
	custom  []customPattern        // custom schemes
	origins []string               // exact origins, canonical, config order
}

// webOrigin is an exact http or https origin in canonical form.
type webOrigin struct{ scheme, host, port string }

// authPattern matches a host and port with globs. ipv4Only patterns match
// only dotted-quad IPv4 hosts.
type authPattern struct {
	host, port string
	ipv4Only   bool
}

// hostPattern is a wildcard on http and https; scheme "" means both.
type hostPattern struct {
	scheme string
	auth   authPattern
}

// customPattern trusts a custom scheme. anyAuthority patterns ("myapp://")
// match every authority; path, when set, is a cleaned path prefix.
type customPattern struct {
	scheme       string
	anyAuthority bool
	auth         authPattern
	path         string
}

// New builds a Checker that trusts the origin of baseURL and every entry of
// trusted (see the package documentation for the pattern language). Entries
// are trimmed of spaces; empty entries are skipped, so a trailing comma in a
// list is harmless. A bad base URL returns ErrInvalidBaseURL; the first bad
// entry returns ErrInvalidPattern with the entry and the reason.
func New(baseURL string, trusted []string) (*Checker, error) {
	c := &Checker{
		canon: make(map[string]struct{}),
		exact: make(map[webOrigin]struct{}),
	}

	base, ok := parseURL(strings.TrimSpace(baseURL))
	if !ok || !isWebScheme(base.scheme) {
		return nil, fmt.Errorf("%w %q", ErrInvalidBaseURL, baseURL)
	}
	c.addExact(webOrigin{base.scheme, base.host, base.port})

	for _, entry := range trusted {
		e := strings.TrimSpace(entry)
		if e == "" {
			continue
		}
		if err := c.add(e); err != nil {
			return nil, fmt.Errorf("%w %q: %s", ErrInvalidPattern, entry, err)
		}
	}
	return c, nil
}

// TrustedOrigin reports whether origin, the value of an Origin or Referer
// header, is trusted. A full URL is reduced to its origin for http and https;
// for custom schemes its path must satisfy the pattern's path. "null", the
// empty string and anything malformed are untrusted. TrustedOrigin does not
// allocate unless the input has upper-case letters.
func (c *Checker) TrustedOrigin(origin string) bool {
	if c == nil || origin == "" || origin == "null" {
		return false
	}
	if _, ok := c.canon[origin]; ok {
		return true // already in canonical form: no need to parse
	}
	u, ok := parseURL(origin)
	if !ok {
		return false
	}
	if isWebScheme(u.scheme) {
		return c.matchWeb(u)
	}
	return c.matchCustom(u, true)
}

// CORSAllowed reports whether origin may be echoed in
// Access-Control-Allow-Origin. origin must be a bare origin as browsers send
// it ("https://app.mana.how", no path, not even "/"); it matches like
// TrustedOrigin, except that custom-scheme entries with a path never allow
// CORS.
func (c *Checker) CORSAllowed(origin string) bool {
	if c == nil || origin == "" || origin == "null" {
		return false
	}
	if _, ok := c.canon[origin]; ok {
		return true
	}
	u, ok := parseURL(origin)
	if !ok || u.tail != "" {
		return false
	}
	if isWebScheme(u.scheme) {
		return c.matchWeb(u)
	}
	return c.matchCustom(u, false)
}

// TrustedURL reports whether raw may be used as a redirect target
// (callbackURL, redirectTo, errorCallbackURL, newUserCallbackURL). An
// absolute URL is trusted when its origin is trusted, or for custom schemes
// when it matches a custom entry including its path. A relative URL is
// trusted only when allowRelative is set and SafeRelativePath accepts it.
// Script-capable URLs (javascript:, data:, …) are never trusted.
func (c *Checker) TrustedURL(raw string, allowRelative bool) bool {
	if c == nil || raw == "" {
		return false
	}
	if !hasSchemePrefix(raw) {
		return allowRelative && SafeRelativePath(raw)
	}

	u, ok := parseURL(raw)
	if !ok {
		return false
	}
	if isWebScheme(u.scheme) {
		ok = c.matchWeb(u)
	} else {
		ok = c.matchCustom(u, true)
	}
	if !ok {
		return false
	}

	// Belt and braces: net/url, which redirect code may use next, must see
	// the same host and no userinfo.
	pu, err := url.Parse(raw)
	if err != nil || pu.User != nil || pu.Opaque != "" {
		return false
	}
	return strings.EqualFold(pu.Hostname(), strings.Trim(u.host, "[]"))
}

// Origins returns the exact trusted origins in canonical form (lower case,
// default port omitted), the base URL's first, for CORS configuration.
// Wildcard entries and custom-scheme entries with a path are not included.
// The slice is a copy.
func (c *Checker) Origins() []string {
	if c == nil {
		return nil
	}
	return slices.Clone(c.origins)
}

// SafeRelativePath reports whether p is a same-origin relative path that is
// safe to redirect to: it starts with exactly one '/', and holds only
// printable ASCII (no spaces, no control characters, no backslash, so
// non-ASCII must be percent-encoded), with valid percent escapes. Its path
// part (before '?' or '#') may not contain "//" or an encoded '/' or '\'
// (%2f, %5c, any case), which some servers and browsers turn into a
// protocol-relative URL.
func SafeRelativePath(p string) bool {
	if len(p) == 0 || len(p) > maxURLLen || p[0] != '/' {
		return false
	}
	if !printableWithEscapes(p) {
		return false
	}

	path := pathOf(p)
	if strings.Contains(path, "//") {
		return false
	}
	for i := 0; i+2 < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		hi, lo := path[i+1], path[i+2]|0x20
		if hi == '2' && lo == 'f' || hi == '5' && lo == 'c' {
			return false
		}
	}
	return true
}

// matchWeb matches an http or https URL against exact origins and wildcards.
func (c *Checker) matchWeb(u parsedURL) bool {
	if _, ok := c.exact[webOrigin{u.scheme, u.host, u.port}]; ok {
		return true
	}
	for i := range c.hosts {
		p := &c.hosts[i]
		if p.scheme != "" && p.scheme != u.scheme {
			continue
		}
		if p.auth.match(u.scheme, u.host, u.port) {
			return true
		}
	}
	return false
}

// matchCustom matches a custom-scheme URL. withPaths allows entries that pin
// a path; the URL's path is then cleaned and must equal the entry's path or
// lie beneath it.
func (c *Checker) matchCustom(u parsedURL, withPaths bool) bool {
	cleaned, cleanedOK := "", false
	for i := range c.custom {
		p := &c.custom[i]
		if p.scheme != u.scheme {
			continue
		}
		if !p.anyAuthority && !p.auth.match(u.scheme, u.host, u.port) {
			continue
		}
		if p.path == "" {
			return true
		}
		if !withPaths {
			continue
		}

		if !cleanedOK {
			var ok bool
			if cleaned, ok = cleanPath(pathOf(u.tail)); !ok {
				return false
			}
			cleanedOK = true
		}
		if cleaned == p.path || strings.HasPrefix(cleaned, p.path+"/") {
			return true
		}
	}
	return false
}

// match reports whether host and port (port "" for the scheme's default)
// satisfy the pattern. A pattern port is also tried against the default
// port, so "https://*.x.com:443" matches "https://a.x.com".
func (a *authPattern) match(scheme, host, port string) bool {
	if a.ipv4Only && !isIPv4(host) {
		return false
	}
	portOK := glob(a.port, port) ||
		port == "" && a.port != "" && glob(a.port, defaultPort(scheme))
	return portOK && glob(a.host, host)
}

// add parses one trimmed, non-empty entry.
func (c *Checker) add(e string) error {
	if len(e) > maxURLLen {
		return errors.New("too long")
	}
	for i := 0; i < len(e); i++ {
		if b := e[i]; b <= ' ' || b >= 0x7f || b == '\\' {
			return errors.New("spaces, control characters, backslashes " +
				"and non-ASCII are not allowed (write IDN hosts as xn--)")
		}
	}

	i := strings.Index(e, "://")
	if i < 0 {
		if strings.Contains(e, ":/") {
			return errors.New(`write the scheme as "scheme://"`)
		}
		if !hasGlob(e) {
			return errors.New("missing scheme: write https://host " +
				"or a wildcard such as *.example.com")
		}
		a, err := parseAuthPattern(e, "")
		if err != nil {
			return err
		}
		c.hosts = append(c.hosts, hostPattern{auth: a})
		return nil
	}

	scheme := e[:i]
	if !validScheme(scheme) {
		return fmt.Errorf("bad scheme %q (wildcards are not allowed there)", scheme)
	}
	scheme = strings.ToLower(scheme)
	if slices.Contains(blockedSchemes, scheme) {
		return fmt.Errorf("scheme %q is never trusted", scheme)
	}
	if isWebScheme(scheme) {
		return c.addWeb(scheme, e[i+3:])
	}
	return c.addCustom(scheme, e[i+3:])
}

// addWeb adds an exact origin or a wildcard on one of http and https.
func (c *Checker) addWeb(scheme, rest string) error {
	rest = strings.TrimSuffix(rest, "/")
	if strings.ContainsAny(rest, "/#@%") {
		return errors.New("an origin has no path, fragment or userinfo")
	}

	a, err := parseAuthPattern(rest, scheme)
	if err != nil {
		return err
	}
	if hasGlob(rest) {
		c.hosts = append(c.hosts, hostPattern{scheme: scheme, auth: a})
		return nil
	}
	c.addExact(webOrigin{scheme, a.host, a.port})
	return nil
}

// addCustom adds a custom-scheme entry: "scheme://", "scheme://authority",
// "scheme://authority/path" or "scheme:///path"; a trailing "/**" on the
// path means any path.
func (c *Checker) addCustom(scheme, rest string) error {
	if strings.ContainsAny(rest, "#@%") {
		return errors.New("custom-scheme entries take no fragment, userinfo " +
			"or percent-encoding")
	}

	auth, path := rest, ""
	if j := strings.IndexByte(rest, '/'); j >= 0 {
		auth, path = rest[:j], rest[j:]
	}
	path = strings.TrimSuffix(path, "/**")
	if hasGlob(path) {
		return errors.New(`wildcards are not allowed in a path, except a ` +
			`trailing "/**"`)
	}
	cleaned, ok := cleanPath(path)
	if !ok {
		return errors.New("bad path")
	}

	p := customPattern{scheme: scheme, path: cleaned, anyAuthority: auth == ""}
	if !p.anyAuthority {
		a, err := parseAuthPattern(auth, scheme)
		if err != nil {
			return err
		}
		p.auth = a
	}
	c.custom = append(c.custom, p)

	if !p.anyAuthority && cleaned == "" && !hasGlob(auth) {
		c.addOrigin(scheme + "://" + hostPort(parsedURL{
			scheme: scheme, host: p.auth.host, port: p.auth.port,
		}))
	}
	return nil
}

// parseAuthPattern reads "host[:port]" where host and port may hold globs.
// scheme is "" for scheme-less wildcards (http and https).
func parseAuthPattern(s, scheme string) (authPattern, error) {
	host, port, ok := splitAuthority(s)
	if !ok || host == "" {
		return authPattern{}, errors.New("bad host or port")
	}
	host = strings.ToLower(host)

	if !hasGlob(host) {
		if !validHost(host) {
			return authPattern{}, errors.New("bad host")
		}
	} else if err := checkHostGlob(host); err != nil {
		return authPattern{}, err
	}

	switch {
	case port == "":
	case hasGlob(port):
		for i := 0; i < len(port); i++ {
			if b := port[i]; !isDigit(b) && b != '*' && b != '?' {
				return authPattern{}, errors.New("bad port")
			}
		}
	case !validPort(port):
		return authPattern{}, errors.New("bad port")
	case port == defaultPort(scheme):
		port = ""
	}

	return authPattern{host: host, port: port, ipv4Only: digitsOnly(host)}, nil
}

// checkHostGlob validates a host wildcard: DNS characters and globs only,
// and at least one literal character other than '.', so that no entry
// trusts every host.
func checkHostGlob(h string) error {
	literal := false
	for i := 0; i < len(h); i++ {
		b := h[i]
		switch {
		case b == '*' || b == '?' || b == '.':
		case isLower(b) || isDigit(b) || b == '-' || b == '_':
			literal = true
		default:
			return errors.New("bad character in host wildcard")
		}
	}
	if !literal {
		return errors.New("wildcard would trust every host")
	}
	if digitsOnly(h) {
		return nil
	}

	// After the last glob, at least two whole labels must be fixed, so
	// that "*.com", "*mana.how" (evilmana.how) and "app.mana.*" are refused.
	fixed := h[strings.LastIndexAny(h, "*?")+1:]
	dot := strings.IndexByte(fixed, '.')
	if dot < 0 {
		return errors.New(wildcardTooBroad)
	}
	fixed = fixed[dot+1:]
	if !validHost(fixed) || !strings.Contains(fixed, ".") && fixed != "localhost" {
		return errors.New(wildcardTooBroad)
	}
	return nil
}

const wildcardTooBroad = "a host wildcard must end in a fixed domain of at " +
	"least two labels, such as *.example.com"

// digitsOnly reports whether a host wildcard is made of digits, dots and
// globs, like "192.168.*.*"; such patterns match IPv4 literals only, so
// that "192.168.*.*" cannot match "192.168.evil.com".
func digitsOnly(h string) bool {
	if !hasGlob(h) {
		return false
	}
	for i := 0; i < len(h); i++ {
		if b := h[i]; !isDigit(b) && b != '.' && b != '*' && b != '?' {
			return false
		}
	}
	return true
}

// hasSchemePrefix reports whether raw starts with "scheme:".
func hasSchemePrefix(raw string) bool {
	i := strings.IndexByte(raw, ':')
	return i > 0 && validScheme(raw[:i])
}

func (c *Checker) addExact(o webOrigin) {
	if _, ok := c.exact[o]; ok {
		return
	}
	c.exact[o] = struct{}{}
	c.addOrigin(o.scheme + "://" + hostPort(parsedURL{
		scheme: o.scheme, host: o.host, port: o.port,
	}))
}

func (c *Checker) addOrigin(o string) {
	if _, ok := c.canon[o]; ok {
		return
	}
	c.canon[o] = struct{}{}
	c.origins = append(c.origins, o)
}

// hostPort returns "host" or "host:port".
func hostPort(u parsedURL) string {
	if u.port == "" {
		return u.host
	}
	return u.host + ":" + u.port
}
