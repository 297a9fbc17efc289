package jwt

import (
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/mana/mana-auth/internal/apitest"
)

// claimsAt builds a payload like ours with overrides.
func claimsAt(s *stack, over map[string]any) string {
	now := s.clk.Now().Unix()
	m := map[string]any{"sub": "u1", "email": "a@example.com", "role": "user", "sid": "s1",
		"iat": now, "exp": now + 900, "iss": s.p.set.Issuer, "aud": s.p.set.Audience}
	for k, v := range over {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestVerifyRejects(t *testing.T) {
	s := newStack(t, nil, apitest.Options{})
	ctx := context.Background()
	good := s.signRaw(t, claimsAt(s, nil))
	if _, err := s.p.Verify(ctx, good); err != nil {
		t.Fatalf("good token: %v", err)
	}
	ks := s.p.keys.Load()
	kid := ks.signing.kid
	pub := ks.public[kid].pub
	parts := strings.Split(good, ".")
	hdr := func(h string) string { return b64(h) }
	hs256 := func(key []byte, h, payload string) string {
		in := hdr(h) + "." + b64(payload)
		m := hmac.New(sha256.New, key)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	payload := claimsAt(s, nil)
	jwkJSON := `{"crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(pub) +
		`","kty":"OKP"}`
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	foreign := func(kid string) string {
		k := jose.JSONWebKey{Key: otherPriv, KeyID: kid}
		sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: k}, nil)
		obj, _ := sg.Sign([]byte(payload))
		tok, _ := obj.CompactSerialize()
		return tok
	}
	// A header naming our kid but embedding the attacker's key, signed by it.
	embedded := func() string {
		x := base64.RawURLEncoding.EncodeToString(otherPriv.Public().(ed25519.PublicKey))
		in := hdr(`{"alg":"EdDSA","jwk":{"crv":"Ed25519","kty":"OKP","x":"`+x+`"},"kid":"`+
			kid+`"}`) + "." + b64(payload)
		return in + "." + base64.RawURLEncoding.EncodeToString(
			ed25519.Sign(otherPriv, []byte(in)))
	}
	// s + L: the classic Ed25519 malleability; must not verify.
	malleable := func() string {
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		sBytes := make([]byte, 32)
		for i := range 32 {
			sBytes[i] = sig[63-i] // little endian → big endian
		}
		l, _ := new(big.Int).SetString("7237005577332262213973186563042994240857116359379907606"+
			"001950938285454250989", 10)
		v := new(big.Int).Add(new(big.Int).SetBytes(sBytes), l).FillBytes(make([]byte, 32))
		out := append([]byte{}, sig[:32]...)
		for i := range 32 {
			out = append(out, v[31-i])
		}
		return parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(out)
	}

	inv, now := ErrInvalidToken, s.clk.Now().Unix()
	sign := func(over map[string]any) string { return s.signRaw(t, claimsAt(s, over)) }
	none := hdr(`{"alg":"none","kid":"` + kid + `"}`)
	hsHdr := `{"alg":"HS256","kid":"` + kid + `"}`
	x := []byte(base64.RawURLEncoding.EncodeToString(pub))
	cases := []struct {
		name  string
		token string
		want  error
		why   string
	}{
		{"alg none", none + "." + b64(payload) + ".", inv, "not an EdDSA"},
		{"alg none with signature", none + "." + b64(payload) + "." + parts[2], inv,
			"not an EdDSA"},
		{"HS256 keyed with the raw public key", hs256(pub, hsHdr, payload), inv,
			"not an EdDSA"},
		{"HS256 keyed with the public JWK", hs256([]byte(jwkJSON), hsHdr, payload), inv,
			"not an EdDSA"},
		{"HS256 keyed with x", hs256(x, hsHdr, payload), inv, "not an EdDSA"},
		{"unknown kid", foreign("nobodyKnowsThisKid0000000000000"), inv, "unknown kid"},
		{"our kid, another key", foreign(kid), inv, "signature"},
		{"embedded attacker jwk", embedded(), inv, "signature"},
		{"no kid", hdr(`{"alg":"EdDSA"}`) + "." + parts[1] + "." + parts[2], inv, "header"},
		{"changed payload", parts[0] + "." + b64(claimsAt(s, map[string]any{"sub": "admin"})) +
			"." + parts[2], inv, "signature"},
		{"changed header", hdr(`{"alg":"EdDSA","kid":"`+kid+`","typ":"JWT"}`) + "." +
			parts[1] + "." + parts[2], inv, "signature"},
		{"s + L", malleable(), inv, "signature"},
		{"truncated signature", good[:len(good)-4], inv, "signature"},
		{"four parts", good + ".x", inv, "not an EdDSA"},
		{"JSON serialization", `{"payload":"` + parts[1] + `","protected":"` + parts[0] +
			`","signature":"` + parts[2] + `"}`, inv, "not an EdDSA"},
		{"empty", "", inv, "empty"},
		{"huge", strings.Repeat("a", maxTokenLen+1), inv, "too long"},
		{"wrong iss", sign(map[string]any{"iss": "https://evil.example"}), inv, "issuer"},
		{"wrong aud", sign(map[string]any{"aud": "https://evil.example"}), inv, "audience"},
		{"aud list without us", sign(map[string]any{"aud": []string{"a", "b"}}), inv,
			"audience"},
		{"no aud", sign(map[string]any{"aud": nil}), inv, "audience"},
		{"no sub", sign(map[string]any{"sub": nil}), inv, "no subject"},
		{"no exp", sign(map[string]any{"exp": nil}), inv, "no expiry"},
		{"exp as string", sign(map[string]any{"exp": fmt.Sprint(now + 900)}), inv, "payload"},
		{"payload not an object", s.signRaw(t, `["sub"]`), inv, "payload"},
		{"iat in the future", sign(map[string]any{"iat": now + 120}), inv,
			"issued in the future"},
		{"nbf in the future", sign(map[string]any{"nbf": now + 120}), inv, "not yet valid"},
		{"expired", sign(map[string]any{"exp": now - 31}), ErrTokenExpired, "expired"},
		{"expired and foreign", sign(map[string]any{"exp": now - 3600, "iss": "x"}), inv,
			"issuer"},
		{"within leeway", sign(map[string]any{"exp": now - 29}), nil, ""},
		{"aud list with us", sign(map[string]any{"aud": []string{"x", s.p.set.Audience}}),
			nil, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := s.p.Verify(ctx, tc.token)
			if tc.want == nil {
				if err != nil || c == nil {
					t.Fatalf("Verify = %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || c != nil ||
				!strings.Contains(err.Error(), tc.why) {
				t.Fatalf("Verify = %v, %v; want %v (%s)", c, err, tc.want, tc.why)
			}
		})
	}

	// The go-jose parse step really is alg-restricted: the same HS256 token
	// parses when HS256 is allowed, so the rejection above is the allow-list.
	tok := hs256(pub, hsHdr, payload)
	_, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.HS256})
	if err != nil {
		t.Fatalf("control: %v", err)
	}
}

// TestWycheproofEd25519 runs every Ed25519 vector through the two steps of
// our verification: the public key is imported as a JWK by parsePublicJWK
// (the same path as jwks rows), and the signature is checked by
// crypto/ed25519.Verify, the function go-jose's EdDSA verifier calls
// (go-jose asymmetric.go, edEncrypterVerifier.verifyPayload).
func TestWycheproofEd25519(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/wycheproof/ed25519_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Key struct {
				PK string `json:"pk"`
			} `json:"publicKey"`
			JWK   json.RawMessage `json:"publicKeyJwk"`
			Tests []struct {
				ID     int      `json:"tcId"`
				Msg    string   `json:"msg"`
				Sig    string   `json:"sig"`
				Result string   `json:"result"`
				Flags  []string `json:"flags"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	if err := json.Unmarshal(raw, &file); err != nil {
		t.Fatal(err)
	}
	var valid, invalid, total int
	for _, g := range file.Groups {
		pk, _ := hex.DecodeString(g.Key.PK)
		pub, err := parsePublicJWK(string(g.JWK))
		if err == nil && !ed25519.PublicKey(pk).Equal(pub) {
			t.Fatalf("JWK import gave another key than pk %s", g.Key.PK)
		}
		for _, tc := range g.Tests {
			total++
			msg, _ := hex.DecodeString(tc.Msg)
			sig, _ := hex.DecodeString(tc.Sig)
			ok := err == nil && ed25519.Verify(pub, msg, sig)
			switch tc.Result {
			case "valid":
				valid++
				if !ok {
					t.Errorf("tc %d (%v): valid signature rejected (import: %v)", tc.ID,
						tc.Flags, err)
				}
			case "invalid":
				invalid++
				if ok {
					t.Errorf("tc %d (%v): invalid signature accepted", tc.ID, tc.Flags)
				}
			default:
				t.Errorf("tc %d: result %q", tc.ID, tc.Result)
			}
		}
	}
	if total < 150 || valid == 0 || invalid == 0 {
		t.Fatalf("only %d vectors (%d valid, %d invalid)", total, valid, invalid)
	}
}

// FuzzVerify feeds arbitrary strings to Verify: no panic, and nothing
// verifies unless it is a genuine token.
func FuzzVerify(f *testing.F) {
	s := newStack(f, nil, apitest.Options{})
	good := s.signRaw(f, claimsAt(s, nil))
	parts := strings.Split(good, ".")
	f.Add(good)
	f.Add(parts[0] + "." + parts[1] + ".")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add(`{"payload":"e30","signatures":[]}`)
	f.Add("..")
	f.Fuzz(func(t *testing.T, tok string) {
		c, err := s.p.Verify(context.Background(), tok)
		if err == nil && tok != good {
			// Only a re-encoding of the same signed bytes may pass.
			if c.Subject != "u1" {
				t.Fatalf("forged token verified: %q", tok)
			}
		}
		if err != nil && c != nil {
			t.Fatal("claims returned with an error")
		}
	})
}
