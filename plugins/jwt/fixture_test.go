package jwt

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// baFixture is the jwt section of testdata/better-auth-1.7.25.json.
type baFixture struct {
	Inputs struct {
		Secret  string `json:"secret"`
		BaseURL string `json:"baseURL"`
	} `json:"inputs"`
	JWT struct {
		Row struct {
			ID         string  `json:"id"`
			PublicKey  string  `json:"publicKey"`
			PrivateKey string  `json:"privateKey"`
			Alg        string  `json:"alg"`
			Crv        string  `json:"crv"`
			CreatedAt  string  `json:"createdAt"`
			ExpiresAt  *string `json:"expiresAt"`
		} `json:"jwksRow"`
		PrivateJWK string `json:"privateJwkJSON"`
		JWKS       struct {
			Status      int    `json:"status"`
			ContentType string `json:"contentType"`
			Body        string `json:"body"`
		} `json:"jwksResponse"`
		Signed struct {
			Claims  map[string]any `json:"claimsInput"`
			Token   string         `json:"token"`
			Payload string         `json:"payloadJSON"`
		} `json:"signedToken"`
		Tampered string `json:"tamperedToken"`
		Session  struct {
			Token   string `json:"token"`
			Payload string `json:"payloadJSON"`
		} `json:"sessionToken"`
	} `json:"jwt"`
}

func loadFixture(t testing.TB) *baFixture {
	t.Helper()
	b, err := os.ReadFile("../../testdata/better-auth-1.7.25.json")
	if err != nil {
		t.Fatal(err)
	}
	var f baFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.JWT.Row.ID == "" || f.JWT.Signed.Token == "" {
		t.Fatal("fixture has no jwt section")
	}
	return &f
}

// TestBetterAuthKeyLoads stores the jwks row Better Auth wrote and checks
// that it serves, verifies and signs exactly as Better Auth does.
func TestBetterAuthKeyLoads(t *testing.T) {
	fx := loadFixture(t)
	env := map[string]string{"AUTH_SECRET": fx.Inputs.Secret,
		"JWT_ISSUER": fx.Inputs.BaseURL, "JWT_AUDIENCE": fx.Inputs.BaseURL}
	each(t, env, func(t *testing.T, s *stack) {
		ctx := context.Background()
		row := fx.JWT.Row
		created, err := time.Parse(time.RFC3339Nano, row.CreatedAt)
		if err != nil || row.ExpiresAt != nil {
			t.Fatalf("fixture row: %v %v", err, row.ExpiresAt)
		}
		s.clk.Set(created.Add(time.Hour))
		if _, err := s.DB.Exec(ctx, "INSERT INTO jwks (id, public_key, private_key, "+
			"created_at, expires_at, alg, crv) VALUES ($1, $2, $3, $4, NULL, $5, $6)",
			row.ID, row.PublicKey, row.PrivateKey, created, row.Alg, row.Crv); err != nil {
			t.Fatal(err)
		}

		r := s.Client().Do("GET", "/api/auth/jwks", nil)
		if r.Status != fx.JWT.JWKS.Status || string(r.Body) != fx.JWT.JWKS.Body ||
			r.Header.Get("Content-Type") != fx.JWT.JWKS.ContentType {
			t.Fatalf("jwks: %d %q %s\nwant %s", r.Status, r.Header.Get("Content-Type"),
				r.Body, fx.JWT.JWKS.Body)
		}
		if n := s.count(t, "SELECT count(*) FROM jwks"); n != 1 {
			t.Fatalf("a key was created next to the fixture key: %d", n)
		}

		c, err := s.p.Verify(ctx, fx.JWT.Signed.Token)
		if err != nil || c.Subject != fx.JWT.Signed.Claims["sub"] ||
			c.Email != fx.JWT.Signed.Claims["email"] || c.SessionID != "" ||
			string(c.Raw) != fx.JWT.Signed.Payload {
			t.Fatalf("signedToken: %+v %v", c, err)
		}
		if _, err := s.p.Verify(ctx, fx.JWT.Tampered); !errors.Is(err, ErrInvalidToken) {
			t.Errorf("tamperedToken: %v", err)
		}
		// The /token JWT is from the generation time: check it at its iat.
		var sp struct{ Iat int64 }
		_ = json.Unmarshal([]byte(fx.JWT.Session.Payload), &sp)
		s.clk.Set(time.Unix(sp.Iat+60, 0))
		if c, err := s.p.Verify(ctx, fx.JWT.Session.Token); err != nil || c.Subject == "" {
			t.Errorf("sessionToken: %v %v", c, err)
		}
		s.clk.Set(created.Add(time.Hour))

		// The private key decrypts to the fixture's JWK, and Ed25519 being
		// deterministic, signing the fixture payload gives the fixture token.
		plain, err := s.p.privateJWK(row.PrivateKey)
		if err != nil || plain != fx.JWT.PrivateJWK {
			t.Errorf("private JWK: %v", err)
		}
		if tok := s.signRaw(t, fx.JWT.Signed.Payload); tok != fx.JWT.Signed.Token {
			t.Errorf("re-signed = %s\nwant      %s", tok, fx.JWT.Signed.Token)
		}

		// New tokens are signed by the Better Auth key and verify against the
		// fixture's own /jwks body.
		client, _, uid := s.signUp(t, "fx@example.com")
		tok := client.Do("GET", "/api/auth/token", nil).JSON["token"].(string)
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(fx.JWT.JWKS.Body), &set); err != nil {
			t.Fatal(err)
		}
		if claims := verifyWith(t, set, tok); claims["sub"] != uid ||
			claims["iss"] != fx.Inputs.BaseURL {
			t.Errorf("claims = %v", claims)
		}
	})
}

// TestForeignSecretKeyIsNotUsed: a key whose private half does not decrypt
// (AUTH_SECRET changed) still verifies but never signs, and no key is
// silently rotated in behind the operator's back.
func TestForeignSecretKeyIsNotUsed(t *testing.T) {
	fx := loadFixture(t)
	each(t, nil, func(t *testing.T, s *stack) {
		ctx := context.Background()
		row := fx.JWT.Row
		created, _ := time.Parse(time.RFC3339Nano, row.CreatedAt)
		s.clk.Set(created.Add(time.Hour))
		if _, err := s.DB.Exec(ctx, "INSERT INTO jwks (id, public_key, private_key, "+
			"created_at, alg, crv) VALUES ($1, $2, $3, $4, $5, $6)",
			row.ID, row.PublicKey, row.PrivateKey, created, row.Alg, row.Crv); err != nil {
			t.Fatal(err)
		}
		c, _, _ := s.signUp(t, "fs@example.com")
		if r := c.Do("GET", "/api/auth/token", nil); r.Status != 500 {
			t.Errorf("token with an undecryptable key: %d %s", r.Status, r.Body)
		}
		if r := s.Client().Do("GET", "/api/auth/jwks", nil); r.Status != 200 ||
			string(r.Body) != fx.JWT.JWKS.Body {
			t.Errorf("jwks: %d %s", r.Status, r.Body)
		}
		// get-session still answers, without the header.
		if r := c.Do("GET", "/api/auth/get-session", nil); r.Status != 200 ||
			r.Header.Get("set-auth-jwt") != "" {
			t.Errorf("get-session: %d %v", r.Status, r.Header)
		}
		// The operator's remedy.
		kid, err := s.p.Rotate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := c.Do("GET", "/api/auth/token", nil)
		if r.Status != 200 || segment(t, r.JSON["token"].(string), 0) !=
			`{"alg":"EdDSA","kid":"`+kid+`"}` {
			t.Errorf("after rotate: %d %s", r.Status, r.Body)
		}
	})
}
