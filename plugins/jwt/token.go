package jwt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/mana/mana-auth/core"
)

// Errors returned by Verify. Every failure wraps one of them; the wrapped
// detail is for logs, never for clients.
var (
	// ErrInvalidToken covers malformed tokens, other algorithms, unknown or
	// retired key ids, bad signatures and wrong iss, aud or sub.
	ErrInvalidToken = errors.New("jwt: invalid token")
	// ErrTokenExpired is an authentic token whose exp (plus Leeway) passed.
	ErrTokenExpired = errors.New("jwt: token expired")
)

// maxTokenLen bounds what Verify parses; our tokens are about 400 bytes.
const maxTokenLen = 8 << 10

// allowedAlgs is the only algorithm a token may name.
var allowedAlgs = []jose.SignatureAlgorithm{jose.EdDSA}

// Claims are the verified claims of a token.
type Claims struct {
	Subject   string
	Email     string
	Role      string
	SessionID string // sid; empty in tokens minted by Better Auth
	Issuer    string
	Audience  []string
	IssuedAt  time.Time // zero when absent
	Expiry    time.Time
	// Raw is the verified payload exactly as signed.
	Raw json.RawMessage
}

var payloadPool = sync.Pool{New: func() any { b := make([]byte, 0, 384); return &b }}

// Mint signs an access token for a session: sub, email, role, sid, iat,
// exp (iat + TokenLifetime), iss and aud, with header {"alg":"EdDSA","kid"}.
// It reads no database once the signing key is loaded.
func (p *Plugin) Mint(ctx context.Context, u *core.User, s *core.Session) (string, error) {
	k, err := p.currentSigner(ctx)
	if err != nil {
		return "", err
	}
	buf := payloadPool.Get().(*[]byte)
	now := p.e.Now().Unix()
	b := appendClaims((*buf)[:0], u, s, now, &p.set)
	obj, err := k.signer.Sign(b)
	var tok string
	if err == nil {
		tok, err = obj.CompactSerialize()
	}
	*buf = b
	payloadPool.Put(buf)
	if err != nil {
		return "", fmt.Errorf("jwt: signing: %w", err)
	}
	p.metrics.minted.Inc()
	return tok, nil
}

// appendClaims writes the payload JSON in a fixed order.
func appendClaims(b []byte, u *core.User, s *core.Session, iat int64,
	set *Settings) []byte {
	b = append(b, `{"sub":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"email":`...)
	b = appendString(b, u.Email)
	b = append(b, `,"role":`...)
	b = appendString(b, u.Role)
	b = append(b, `,"sid":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"iat":`...)
	b = strconv.AppendInt(b, iat, 10)
	b = append(b, `,"exp":`...)
	b = strconv.AppendInt(b, iat+int64(TokenLifetime/time.Second), 10)
	b = append(b, `,"iss":`...)
	b = appendString(b, set.Issuer)
	b = append(b, `,"aud":`...)
	b = appendString(b, set.Audience)
	return append(b, '}')
}

// appendString writes a JSON string. Invalid UTF-8 goes through
// encoding/json, which replaces it.
func appendString(b []byte, s string) []byte {
	if !utf8.ValidString(s) {
		j, _ := json.Marshal(s)
		return append(b, j...)
	}
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// Verify checks a token: compact JWS, alg EdDSA only, a kid we publish
// (an unknown kid reloads the keys once), the signature, then iss, aud, sub,
// nbf and iat, and exp with Leeway. It does not check that the session is
// still alive; /api/v1/auth/validate does.
func (p *Plugin) Verify(ctx context.Context, token string) (*Claims, error) {
	c, err := p.verify(ctx, token)
	p.metrics.validated(outcome(err))
	return c, err
}

func outcome(err error) string {
	switch {
	case err == nil:
		return "valid"
	case errors.Is(err, ErrTokenExpired):
		return "expired"
	}
	return "invalid"
}

func invalid(why string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, why) }

func (p *Plugin) verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" || len(token) > maxTokenLen {
		return nil, invalid("empty or too long")
	}
	obj, err := jose.ParseSignedCompact(token, allowedAlgs)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, invalid("not an EdDSA compact JWS")
	}
	h := obj.Signatures[0].Protected
	if h.Algorithm != algEdDSA || h.KeyID == "" {
		return nil, invalid("header")
	}
	k := p.keyForKID(ctx, h.KeyID)
	if k == nil {
		return nil, invalid("unknown kid")
	}
	now := p.e.Now()
	if !k.expiresAt.IsZero() && !now.Before(k.expiresAt) {
		return nil, invalid("retired key")
	}
	payload, err := obj.Verify(k.pub)
	if err != nil {
		return nil, invalid("signature")
	}
	return p.checkClaims(payload, now)
}

// wireClaims is the payload as sent; pointers tell absent from zero.
type wireClaims struct {
	Sub   string       `json:"sub"`
	Email string       `json:"email"`
	Role  string       `json:"role"`
	Sid   string       `json:"sid"`
	Iss   string       `json:"iss"`
	Aud   audience     `json:"aud"`
	Iat   *numericDate `json:"iat"`
	Exp   *numericDate `json:"exp"`
	Nbf   *numericDate `json:"nbf"`
}

func (p *Plugin) checkClaims(payload []byte, now time.Time) (*Claims, error) {
	var w wireClaims
	if len(payload) == 0 || payload[0] != '{' || json.Unmarshal(payload, &w) != nil {
		return nil, invalid("payload")
	}
	switch {
	case w.Iss != p.set.Issuer:
		return nil, invalid("issuer")
	case !w.Aud.contains(p.set.Audience):
		return nil, invalid("audience")
	case w.Sub == "":
		return nil, invalid("no subject")
	case w.Exp == nil:
		return nil, invalid("no expiry")
	case w.Nbf != nil && now.Add(Leeway).Before(w.Nbf.t):
		return nil, invalid("not yet valid")
	case w.Iat != nil && w.Iat.t.After(now.Add(Leeway)):
		return nil, invalid("issued in the future")
	case now.After(w.Exp.t.Add(Leeway)):
		return nil, ErrTokenExpired
	}
	c := &Claims{Subject: w.Sub, Email: w.Email, Role: w.Role, SessionID: w.Sid,
		Issuer: w.Iss, Audience: w.Aud, Expiry: w.Exp.t, Raw: bytes.Clone(payload)}
	if w.Iat != nil {
		c.IssuedAt = w.Iat.t
	}
	return c, nil
}

// numericDate is a JWT NumericDate: a JSON number of seconds.
type numericDate struct{ t time.Time }

func (n *numericDate) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] == '"' {
		return errors.New("numeric date is not a number")
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.Abs(f) > 1e11 {
		return errors.New("numeric date out of range")
	}
	sec, frac := math.Modf(f)
	n.t = time.Unix(int64(sec), int64(frac*1e9))
	return nil
}

// audience is aud: one string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*a = audience{s}
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*a = list
	return nil
}

func (a audience) contains(v string) bool {
	for _, s := range a {
		if s == v {
			return true
		}
	}
	return false
}
