package secure

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// Errors returned by VerifyJWT.
var (
	// ErrInvalidToken covers every token that is malformed, not HS256, or not
	// signed by a configured secret.
	ErrInvalidToken = errors.New("secure: invalid token")
	// ErrTokenExpired is returned for an authentic token whose exp has passed;
	// Better Auth answers it with TOKEN_EXPIRED instead of INVALID_TOKEN.
	ErrTokenExpired = errors.New("secure: token expired")
)

// jwtHeader is base64url({"alg":"HS256"}), the only header Better Auth's
// signJWT writes (no "typ").
const jwtHeader = "eyJhbGciOiJIUzI1NiJ9"

// maxJWTLen bounds the tokens VerifyJWT looks at; ours are a few hundred bytes.
const maxJWTLen = 8 << 10

// SignJWT returns an HS256 JWT of claims keyed with the current secret, laid
// out as Better Auth's signJWT (jose) writes it: header {"alg":"HS256"},
// payload JSON as JavaScript's JSON.stringify would print it, base64url
// without padding. Claims are encoded with encoding/json in the order given
// (struct field order; a json.RawMessage is kept as is, compacted), so the
// caller controls key order. Callers set iat and exp themselves.
func (s *Secrets) SignJWT(claims any) (string, error) {
	payload, err := marshalJS(claims)
	if err != nil {
		return "", fmt.Errorf("encoding jwt claims: %w", err)
	}

	enc := base64.RawURLEncoding
	size := len(jwtHeader) + 1 + enc.EncodedLen(len(payload)) + 1 + 43
	out := make([]byte, 0, size)
	out = append(out, jwtHeader...)
	out = append(out, '.')
	out = enc.AppendEncode(out, payload)

	var mac [sha256.Size]byte
	s.keys[0].macBytes(out, &mac)
	out = append(out, '.')
	out = enc.AppendEncode(out, mac[:])
	return string(out), nil
}

// VerifyJWT checks an HS256 token and decodes its payload into dst (skipped
// when dst is nil). The header must be a JSON object with alg "HS256" and no
// "crit"; the signature is compared in constant time under the current, then
// the previous secrets; exp is required and must be after now (a token is
// expired when exp <= now, in whole seconds, as jose counts); nbf, when
// present, must not be after now. An authentic but expired token gives
// ErrTokenExpired and leaves dst alone; anything else wrong is
// ErrInvalidToken.
func (s *Secrets) VerifyJWT(token string, now time.Time, dst any) error {
	if len(token) > maxJWTLen {
		return ErrInvalidToken
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payloadPart, sigPart, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sigPart, '.') >= 0 {
		return ErrInvalidToken
	}
	if !checkHeader(header) {
		return ErrInvalidToken
	}

	if len(sigPart) != 43 { // base64url, no padding, of 32 bytes
		return ErrInvalidToken
	}
	var given [sha256.Size + 1]byte
	n, err := base64.RawURLEncoding.Decode(given[:], readOnlyBytes(sigPart))
	if err != nil || n != sha256.Size {
		return ErrInvalidToken
	}

	signed := token[:len(header)+1+len(payloadPart)]
	var want [sha256.Size]byte
	authentic := false
	for _, k := range s.keys {
		k.mac(signed, &want)
		if hmac.Equal(want[:], given[:n]) {
			authentic = true
			break
		}
	}
	if !authentic {
		return ErrInvalidToken
	}

	payload, err := base64.RawURLEncoding.DecodeString(payloadPart)
	if err != nil {
		return ErrInvalidToken
	}
	if err := checkTimes(payload, now); err != nil {
		return err
	}
	if dst != nil {
		if err := json.Unmarshal(payload, dst); err != nil {
			return ErrInvalidToken
		}
	}
	return nil
}

// checkHeader accepts a base64url JSON object whose alg is HS256 and that
// names no critical extension. Member names match exactly, as in JavaScript
// (encoding/json's struct matching would ignore case).
func checkHeader(part string) bool {
	if part == jwtHeader {
		return true
	}
	raw, err := base64.RawURLEncoding.DecodeString(part)
	if err != nil {
		return false
	}
	var h map[string]json.RawMessage
	if !isJSONObject(raw) || json.Unmarshal(raw, &h) != nil {
		return false
	}
	if _, crit := h["crit"]; crit {
		return false
	}
	var alg string
	return json.Unmarshal(h["alg"], &alg) == nil && alg == "HS256"
}

// checkTimes applies jose's claim-set rules: the payload is a JSON object;
// exp (required here), nbf and iat, when present, are numbers.
func checkTimes(payload []byte, now time.Time) error {
	var c map[string]json.RawMessage
	if !isJSONObject(payload) || json.Unmarshal(payload, &c) != nil {
		return ErrInvalidToken
	}

	exp, ok := jsonNumber(c["exp"])
	if !ok {
		// Shortcoming by choice: jose accepts tokens without exp; we never
		// mint one and refuse them rather than accept a token forever.
		return ErrInvalidToken
	}
	rawNbf, nbfSet := c["nbf"]
	rawIat, iatSet := c["iat"]
	nbf, nbfOK := jsonNumber(rawNbf)
	_, iatOK := jsonNumber(rawIat)
	if (nbfSet && !nbfOK) || (iatSet && !iatOK) {
		return ErrInvalidToken
	}

	sec := float64(now.Unix())
	if nbfSet && nbf > sec {
		return ErrInvalidToken
	}
	if exp <= sec {
		return ErrTokenExpired
	}
	return nil
}

// jsonNumber parses raw as a finite JSON number (null is not one).
func jsonNumber(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || raw[0] == 'n' {
		return 0, false
	}
	var f float64
	if json.Unmarshal(raw, &f) != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func isJSONObject(raw []byte) bool {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	return len(raw) > 0 && raw[0] == '{'
}

// marshalJS encodes v like JavaScript's JSON.stringify: no HTML escaping, and
// U+2028/U+2029 left raw (encoding/json always escapes those two).
func marshalJS(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	out := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	return unescapeLineSeparators(out), nil
}

// unescapeLineSeparators turns the escapes \u2028 and \u2029 that
// encoding/json writes back into raw UTF-8. An escape is real only when the
// backslash that starts it is not itself escaped (an odd-length run).
func unescapeLineSeparators(in []byte) []byte {
	if !bytes.Contains(in, []byte(`\u202`)) {
		return in
	}
	out := make([]byte, 0, len(in))
	run := 0 // backslashes just before i
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '\\' && run%2 == 0 && i+5 < len(in) &&
			string(in[i+1:i+5]) == "u202" && (in[i+5] == '8' || in[i+5] == '9') {
			out = append(out, 0xE2, 0x80, 0xA8+(in[i+5]-'8'))
			i += 5
			run = 0
			continue
		}
		out = append(out, c)
		if c == '\\' {
			run++
		} else {
			run = 0
		}
	}
	return out
}
