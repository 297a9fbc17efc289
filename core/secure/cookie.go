package secure

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"unicode/utf8"
)

// sigLen is the length of a cookie signature: standard base64 with padding of
// a 32-byte HMAC, always ending in '='.
const sigLen = 44

// SignCookie returns the wire value of a signed cookie as better-call writes
// it: encodeURIComponent(value + "." + base64(HMAC-SHA256(current, value))).
// Session tokens, dont_remember, two_factor and trust_device cookies all use
// this envelope.
func (s *Secrets) SignCookie(value string) string {
	var mac [sha256.Size]byte
	s.keys[0].mac(value, &mac)

	var sig [sigLen]byte
	base64.StdEncoding.Encode(sig[:], mac[:])

	var b strings.Builder
	b.Grow(escapedLen(value) + 1 + sigLen + 2*escapedSig(&sig))
	writeEscaped(&b, value)
	b.WriteByte('.')
	for _, c := range sig {
		writeEscapedByte(&b, c)
	}
	return b.String()
}

// VerifyCookie reads a signed cookie value the way better-call does and
// returns the signed value. The value is URL-decoded only when it contains
// '%'; it is split at the last '.'; the signature must be 44 characters ending
// in '='; the HMAC is checked in constant time against the current secret,
// then the previous ones. Anything else gives "", false, which callers treat
// exactly like a missing cookie.
func (s *Secrets) VerifyCookie(cookieValue string) (string, bool) {
	raw := cookieValue
	if strings.IndexByte(raw, '%') >= 0 {
		var ok bool
		if raw, ok = unescapeComponent(raw); !ok {
			return "", false
		}
	}

	dot := strings.LastIndexByte(raw, '.')
	if dot < 0 {
		return "", false
	}
	value, sig := raw[:dot], raw[dot+1:]
	if len(sig) != sigLen || sig[sigLen-1] != '=' {
		return "", false
	}

	var given [sha256.Size]byte
	if !decodeSig(&given, sig) {
		return "", false
	}

	var want [sha256.Size]byte
	for _, k := range s.keys {
		k.mac(value, &want)
		if hmac.Equal(want[:], given[:]) {
			return value, true
		}
	}
	return "", false
}

// decodeSig decodes a 44-character standard base64 signature into dst. Like
// the browser's atob, it ignores non-zero bits in the final padding group.
func decodeSig(dst *[sha256.Size]byte, sig string) bool {
	var src [sigLen]byte
	copy(src[:], sig)

	var out [sha256.Size + 1]byte
	n, err := base64.StdEncoding.Decode(out[:], src[:])
	if err != nil || n != sha256.Size {
		return false
	}
	copy(dst[:], out[:n])
	return true
}

// HMACBase64URL returns base64url without padding of HMAC-SHA256 keyed with
// the current secret: the inner MAC of Better Auth's trust_device cookie
// (message userId + "!" + trustId) and of its cookie-cache signature.
func (s *Secrets) HMACBase64URL(msg string) string {
	var mac [sha256.Size]byte
	s.keys[0].mac(msg, &mac)
	return base64.RawURLEncoding.EncodeToString(mac[:])
}

// VerifyHMACBase64URL reports whether mac is HMACBase64URL(msg) under the
// current or a previous secret, comparing in constant time.
func (s *Secrets) VerifyHMACBase64URL(msg, mac string) bool {
	const encLen = 43 // base64url, no padding, of 32 bytes
	if len(mac) != encLen {
		return false
	}

	var want [sha256.Size]byte
	var enc [encLen]byte
	ok := false
	for _, k := range s.keys {
		k.mac(msg, &want)
		base64.RawURLEncoding.Encode(enc[:], want[:])
		// No early exit: every key costs the same whatever matched.
		if subtle.ConstantTimeCompare(enc[:], readOnlyBytes(mac)) == 1 {
			ok = true
		}
	}
	return ok
}

// unreserved reports whether encodeURIComponent leaves c as it is:
// A-Z a-z 0-9 - _ . ! ~ * ' ( ).
func unreserved(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '_', '.', '!', '~', '*', '\'', '(', ')':
		return true
	}
	return false
}

func escapedLen(s string) int {
	n := len(s)
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n += 2
		}
	}
	return n
}

// writeEscaped writes encodeURIComponent(s), percent-encoding each UTF-8 byte
// outside the unreserved set with upper-case hex.
func writeEscaped(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		writeEscapedByte(b, s[i])
	}
}

func writeEscapedByte(b *strings.Builder, c byte) {
	const hexUpper = "0123456789ABCDEF"
	if unreserved(c) {
		b.WriteByte(c)
		return
	}
	b.WriteByte('%')
	b.WriteByte(hexUpper[c>>4])
	b.WriteByte(hexUpper[c&15])
}

// unescapeComponent is decodeURIComponent: every %XX is decoded, '+' stays,
// and the result must be valid UTF-8. A malformed escape fails.
func unescapeComponent(s string) (string, bool) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, ok1 := unhex(s[i+1])
		lo, ok2 := unhex(s[i+2])
		if !ok1 || !ok2 {
			return "", false
		}
		b.WriteByte(hi<<4 | lo)
		i += 2
	}

	out := b.String()
	if !utf8.ValidString(out) {
		return "", false
	}
	return out, true
}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// escapedSig counts the base64 characters that encodeURIComponent escapes.
func escapedSig(sig *[sigLen]byte) int {
	n := 0
	for _, c := range sig {
		if c == '+' || c == '/' || c == '=' {
			n++
		}
	}
	return n
}
