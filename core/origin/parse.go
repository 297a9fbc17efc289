package origin

import (
	"net/netip"
	"net/url"
	"strings"
)

// maxURLLen bounds every URL and pattern the checker reads; longer input is
// untrusted without further work.
const maxURLLen = 8192

// parsedURL is an absolute "scheme://authority[tail]" URL, split without
// allocating. Scheme and host are lower case; an IPv6 host keeps its
// brackets; port is "" when absent or equal to the scheme's default.
type parsedURL struct {
	scheme string
	host   string
	port   string
	tail   string // path, query and fragment, as written
}

// parseURL reads raw strictly. It refuses, rather than guesses at, anything
// that browsers and Go's net/url might read differently: control characters,
// spaces, backslashes, non-ASCII bytes, bad percent escapes, userinfo,
// percent signs in the authority, malformed ports, and host names that a
// browser would read as an IPv4 number ("1.2.3", "0x7f.1").
func parseURL(raw string) (parsedURL, bool) {
	var u parsedURL
	if len(raw) == 0 || len(raw) > maxURLLen {
		return u, false
	}
	if !printableWithEscapes(raw) {
		return u, false
	}

	i := strings.Index(raw, "://")
	if i <= 0 || !validScheme(raw[:i]) {
		return u, false
	}
	u.scheme = strings.ToLower(raw[:i])

	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	u.tail = rest[end:]

	host, port, ok := splitAuthority(rest[:end])
	if !ok {
		return u, false
	}
	u.host = strings.ToLower(host)
	if u.host == "" {
		if isWebScheme(u.scheme) || port != "" {
			return u, false
		}
	} else if !validHost(u.host) {
		return u, false
	}

	if port != "" {
		if !validPort(port) {
			return u, false
		}
		if port == defaultPort(u.scheme) {
			port = ""
		}
	}
	u.port = port
	return u, true
}

// printableWithEscapes reports whether s is printable ASCII without space or
// backslash, and every '%' starts a valid escape.
func printableWithEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		b := s[i]
		if b <= ' ' || b >= 0x7f || b == '\\' {
			return false
		}
		if b == '%' && (i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2])) {
			return false
		}
	}
	return true
}

// splitAuthority splits "host[:port]" (host possibly a bracketed IPv6
// literal). It refuses userinfo and percent-encoding, and a colon with an
// empty port.
func splitAuthority(auth string) (host, port string, ok bool) {
	if strings.ContainsAny(auth, "@%") {
		return "", "", false
	}

	rest := ""
	if strings.HasPrefix(auth, "[") {
		j := strings.IndexByte(auth, ']')
		if j < 0 {
			return "", "", false
		}
		host, rest = auth[:j+1], auth[j+1:]
	} else if j := strings.IndexByte(auth, ':'); j >= 0 {
		host, rest = auth[:j], auth[j:]
	} else {
		host = auth
	}

	if rest == "" {
		return host, "", true
	}
	if rest[0] != ':' || len(rest) == 1 {
		return "", "", false
	}
	return host, rest[1:], true
}

// validScheme reports whether s is an RFC 3986 scheme.
func validScheme(s string) bool {
	if s == "" || !isAlpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		b := s[i]
		if !isAlpha(b) && !isDigit(b) && b != '+' && b != '-' && b != '.' {
			return false
		}
	}
	return true
}

// validPort reports whether p is a port number 1–65535 written without
// leading zeros.
func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if !isDigit(p[i]) {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n <= 65535
}

// validHost reports whether the lower-case host is a bracketed IPv6 literal
// without zone, a dotted-quad IPv4 address, or a DNS name of labels made of
// [a-z0-9_-]. A name whose last label is numeric must be a valid IPv4
// address, because browsers parse such names as numbers.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	if h[0] == '[' {
		if len(h) < 2 || h[len(h)-1] != ']' {
			return false
		}
		a, err := netip.ParseAddr(h[1 : len(h)-1])
		return err == nil && a.Is6() && a.Zone() == ""
	}

	label := 0
	last := 0
	for i := 0; i < len(h); i++ {
		b := h[i]
		switch {
		case b == '.':
			if label == 0 {
				return false
			}
			label = 0
			last = i + 1
		case isLower(b) || isDigit(b) || b == '-' || b == '_':
			label++
			if label > 63 {
				return false
			}
		default:
			return false
		}
	}
	if label == 0 {
		return false // empty name or a trailing dot
	}

	if endsInNumber(h[last:]) {
		return isIPv4(h)
	}
	return true
}

// endsInNumber reports whether a final label would make a browser parse the
// whole host as an IPv4 number: all digits, or a "0x" hex number.
func endsInNumber(label string) bool {
	if strings.HasPrefix(label, "0x") {
		for i := 2; i < len(label); i++ {
			if !isHex(label[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(label); i++ {
		if !isDigit(label[i]) {
			return false
		}
	}
	return true
}

// isIPv4 reports whether h is a dotted-quad IPv4 address: four decimal
// numbers 0–255 without leading zeros. It does not allocate.
func isIPv4(h string) bool {
	parts, n, digits := 0, 0, 0
	for i := 0; i <= len(h); i++ {
		if i == len(h) || h[i] == '.' {
			if digits == 0 || n > 255 {
				return false
			}
			parts++
			n, digits = 0, 0
			continue
		}
		b := h[i]
		if !isDigit(b) || digits > 0 && n == 0 {
			return false // not a digit, or a leading zero
		}
		n = n*10 + int(b-'0')
		digits++
		if digits > 3 {
			return false
		}
	}
	return parts == 4
}

// cleanPath percent-decodes a custom-scheme path and resolves "." and ".."
// segments, so that a path-pinned pattern cannot be escaped with traversal
// ("/cb/../evil", "/cb/%2e%2e/evil"). Empty segments are dropped; the root
// path is "". ok is false for bad escapes, control characters or
// backslashes, before or after decoding.
func cleanPath(p string) (string, bool) {
	dec, err := url.PathUnescape(p)
	if err != nil {
		return "", false
	}
	for i := 0; i < len(dec); i++ {
		if b := dec[i]; b < ' ' || b == 0x7f || b == '\\' {
			return "", false
		}
	}

	var segs []string
	for s := range strings.SplitSeq(dec, "/") {
		switch s {
		case "", ".":
		case "..":
			if len(segs) > 0 {
				segs = segs[:len(segs)-1]
			}
		default:
			segs = append(segs, s)
		}
	}
	if len(segs) == 0 {
		return "", true
	}
	return "/" + strings.Join(segs, "/"), true
}

// pathOf returns the path part of a URL tail: everything before '?' or '#'.
func pathOf(tail string) string {
	if i := strings.IndexAny(tail, "?#"); i >= 0 {
		return tail[:i]
	}
	return tail
}

func isWebScheme(s string) bool { return s == "http" || s == "https" }

func defaultPort(scheme string) string {
	switch scheme {
	case "http":
		return "80"
	case "https":
		return "443"
	}
	return ""
}

func isAlpha(b byte) bool { return isLower(b) || 'A' <= b && b <= 'Z' }
func isLower(b byte) bool { return 'a' <= b && b <= 'z' }
func isDigit(b byte) bool { return '0' <= b && b <= '9' }

func isHex(b byte) bool {
	return isDigit(b) || 'a' <= b && b <= 'f' || 'A' <= b && b <= 'F'
}
