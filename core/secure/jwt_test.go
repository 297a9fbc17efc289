package secure

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// verificationClaims mirrors Better Auth's email-verification payload order.
type verificationClaims struct {
	Email  string `json:"email"`
	UserID string `json:"userId"`
	Iat    int64  `json:"iat"`
	Exp    int64  `json:"exp"`
}

func TestSignJWTFixture(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	ev := f.EmailVerification

	raw, err := s.SignJWT(json.RawMessage(ev.PayloadJSON))
	if err != nil {
		t.Fatal(err)
	}
	if raw != ev.Token {
		t.Errorf("SignJWT(payloadJSON) = %q\nBetter Auth          %q", raw, ev.Token)
	}

	typed, err := s.SignJWT(verificationClaims(ev.Claims))
	if err != nil {
		t.Fatal(err)
	}
	if typed != ev.Token {
		t.Errorf("SignJWT(struct) = %q\nBetter Auth      %q", typed, ev.Token)
	}

	header, _ := base64.RawURLEncoding.DecodeString(jwtHeader)
	if string(header) != ev.HeaderJSON {
		t.Errorf("header %s, Better Auth %s", header, ev.HeaderJSON)
	}
	if !strings.HasPrefix(ev.Token, ev.SigningInput+".") ||
		!strings.HasSuffix(ev.Token, "."+ev.SignatureB64url) {
		t.Error("fixture token is not signingInput.signature")
	}
}

func TestVerifyJWTFixture(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	ev := f.EmailVerification
	iat := time.Unix(ev.Claims.Iat, 0)
	expiredAt := time.Unix(ev.Expired.Claims.Exp, 0)

	var got verificationClaims
	if err := s.VerifyJWT(ev.Token, time.Now(), &got); err != nil {
		t.Fatalf("VerifyJWT(token) = %v", err)
	}
	if got != verificationClaims(ev.Claims) {
		t.Errorf("claims = %+v, want %+v", got, ev.Claims)
	}

	cases := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{"fresh", ev.Token, iat, nil},
		{"expired token, a second before exp", ev.Expired.Token,
			expiredAt.Add(-time.Second), nil},
		{"expired token at exp", ev.Expired.Token, expiredAt, ErrTokenExpired},
		{"expired token now", ev.Expired.Token, time.Now(), ErrTokenExpired},
		{"tampered", ev.Tampered, iat, ErrInvalidToken},
		{"tampered and expired", ev.Tampered, expiredAt, ErrInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var dst verificationClaims
			err := s.VerifyJWT(c.token, c.now, &dst)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("VerifyJWT = %v, want %v", err, c.want)
			}
			if err != nil && dst != (verificationClaims{}) {
				t.Error("dst filled for a rejected token")
			}
		})
	}
}

func TestVerifyJWTRotation(t *testing.T) {
	f := loadFixture(t)
	rotated := mustSecrets(t, "brand-new-secret", f.Inputs.Secret)
	if err := rotated.VerifyJWT(f.EmailVerification.Token, time.Now(), nil); err != nil {
		t.Fatalf("token from the previous secret rejected: %v", err)
	}
	if err := mustSecrets(t, "brand-new-secret").VerifyJWT(
		f.EmailVerification.Token, time.Now(), nil); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("token verified without its secret: %v", err)
	}
}

// signRaw signs arbitrary header and payload JSON, so that the checks after
// the signature can be reached.
func signRaw(key, header, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

func TestVerifyJWTRejects(t *testing.T) {
	const key = "jwt-test-secret"
	s := mustSecrets(t, key)
	now := time.Unix(2_000_000_000, 0)
	const hs = `{"alg":"HS256"}`
	const ok = `{"email":"a@example.com","exp":2000000100}`
	good := signRaw(key, hs, ok)
	parts := strings.Split(good, ".")

	cases := []struct {
		name, token string
		want        error
	}{
		{"baseline", good, nil},
		{"typ allowed", signRaw(key, `{"alg":"HS256","typ":"JWT"}`, ok), nil},
		{"alg none", signRaw(key, `{"alg":"none"}`, ok), ErrInvalidToken},
		{"alg HS512", signRaw(key, `{"alg":"HS512"}`, ok), ErrInvalidToken},
		{"alg upper-case key", signRaw(key, `{"ALG":"HS256"}`, ok), ErrInvalidToken},
		{"alg not string", signRaw(key, `{"alg":1}`, ok), ErrInvalidToken},
		{"crit", signRaw(key, `{"alg":"HS256","crit":["b64"],"b64":false}`, ok),
			ErrInvalidToken},
		{"header array", signRaw(key, `["alg","HS256"]`, ok), ErrInvalidToken},
		{"header null", signRaw(key, `null`, ok), ErrInvalidToken},
		{"payload array", signRaw(key, hs, `[1]`), ErrInvalidToken},
		{"payload not json", signRaw(key, hs, `{"exp":`), ErrInvalidToken},
		{"no exp", signRaw(key, hs, `{"email":"a"}`), ErrInvalidToken},
		{"exp null", signRaw(key, hs, `{"exp":null}`), ErrInvalidToken},
		{"exp string", signRaw(key, hs, `{"exp":"2000000100"}`), ErrInvalidToken},
		{"exp upper-case key", signRaw(key, hs, `{"EXP":2000000100}`), ErrInvalidToken},
		{"exp past", signRaw(key, hs, `{"exp":1999999999}`), ErrTokenExpired},
		{"exp fractional future", signRaw(key, hs, `{"exp":2000000000.5}`), nil},
		{"nbf future", signRaw(key, hs, `{"exp":2000000100,"nbf":2000000001}`),
			ErrInvalidToken},
		{"nbf now", signRaw(key, hs, `{"exp":2000000100,"nbf":2000000000}`), nil},
		{"iat string", signRaw(key, hs, `{"exp":2000000100,"iat":"x"}`), ErrInvalidToken},
		{"other key", signRaw("other", hs, ok), ErrInvalidToken},
		{"two parts", parts[0] + "." + parts[1], ErrInvalidToken},
		{"four parts", good + ".x", ErrInvalidToken},
		{"empty signature", parts[0] + "." + parts[1] + ".", ErrInvalidToken},
		{"padded signature", good + "=", ErrInvalidToken},
		{"bad base64 signature", good[:len(good)-1] + "*", ErrInvalidToken},
		{"empty", "", ErrInvalidToken},
		{"dots", "..", ErrInvalidToken},
		{"too long", signRaw(key, hs, `{"exp":2000000100,"x":"`+
			strings.Repeat("a", maxJWTLen)+`"}`), ErrInvalidToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := s.VerifyJWT(c.token, now, nil)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("VerifyJWT = %v, want %v", err, c.want)
			}
		})
	}
}

func TestSignJWTLikeJSONStringify(t *testing.T) {
	s := mustSecrets(t, "k")
	cases := []struct {
		name   string
		claims any
		want   string
	}{
		{"html characters", map[string]string{"email": "a&b<c>@example.com"},
			`{"email":"a&b<c>@example.com"}`},
		{"line separators", struct {
			X string `json:"x"`
		}{"a\u2028b\u2029c"}, "{\"x\":\"a\u2028b\u2029c\"}"},
		{"escaped backslash before u2028", struct {
			X string `json:"x"`
		}{`\u2028`}, `{"x":"\\u2028"}`},
		{"raw message compacted", json.RawMessage(`{ "a" : 1 }`), `{"a":1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tok, err := s.SignJWT(c.claims)
			if err != nil {
				t.Fatal(err)
			}
			payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
			if string(payload) != c.want {
				t.Errorf("payload %s, want %s", payload, c.want)
			}
		})
	}

	if _, err := s.SignJWT(func() {}); err == nil {
		t.Error("SignJWT of a func did not fail")
	}
}

// FuzzVerifyJWT checks that no token panics, and that an accepted token's
// payload signs and verifies again.
func FuzzVerifyJWT(f *testing.F) {
	fx := loadFixture(f)
	s := fixtureSecrets(f, fx)
	ev := fx.EmailVerification
	f.Add(ev.Token)
	f.Add(ev.Expired.Token)
	f.Add(ev.Tampered)
	f.Add("a.b.c")
	f.Add("")
	now := time.Unix(ev.Claims.Iat, 0)

	f.Fuzz(func(t *testing.T, token string) {
		var claims map[string]any
		err := s.VerifyJWT(token, now, &claims)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
		again, err := s.SignJWT(json.RawMessage(payload))
		if err != nil {
			t.Fatalf("re-signing accepted payload: %v", err)
		}
		if err := s.VerifyJWT(again, now, nil); err != nil {
			t.Fatalf("re-signed token rejected: %v", err)
		}
	})
}

func BenchmarkSignJWT(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	claims := verificationClaims{"a@example.com", GenerateID(), 1767225600, 4102444800}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.SignJWT(claims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyJWT(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	tok, _ := s.SignJWT(verificationClaims{"a@example.com", GenerateID(), 1, 4102444800})
	now := time.Unix(1767225600, 0)
	b.ReportAllocs()
	for b.Loop() {
		var c verificationClaims
		if err := s.VerifyJWT(tok, now, &c); err != nil {
			b.Fatal(err)
		}
	}
}
