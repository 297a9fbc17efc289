package jwt

import (
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

// The functions below are the README's "verifying our tokens" example for
// a Go service; the test keeps them honest.

// fetchKeys loads mana-auth's JWKS. Cache the set for a few minutes and
// fetch it again when a token names a kid the set lacks.
func fetchKeys(jwksURL string) (*jose.JSONWebKeySet, error) {
	resp, err := http.Get(jwksURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	return &set, json.NewDecoder(resp.Body).Decode(&set)
}

// manaClaims are the claims of a mana access token.
type manaClaims struct {
	josejwt.Claims
	Email string `json:"email"`
	Role  string `json:"role"`
	SID   string `json:"sid"`
}

// verifyManaToken checks the signature (EdDSA only, key by kid), iss, aud
// and exp; issuer is mana-auth's BASE_URL origin.
func verifyManaToken(set *jose.JSONWebKeySet, token, issuer string) (*manaClaims, error) {
	tok, err := josejwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		return nil, err
	}
	var c manaClaims
	if err := tok.Claims(set, &c); err != nil {
		return nil, err
	}
	if c.Expiry == nil || c.Subject == "" {
		return nil, errors.New("token without exp or sub")
	}
	err = c.ValidateWithLeeway(josejwt.Expected{Issuer: issuer,
		AnyAudience: josejwt.Audience{issuer}, Time: time.Now()}, 30*time.Second)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func TestDownstreamExample(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		c, _, uid := s.signUp(t, "svc@example.com")
		tok := c.Do("GET", "/api/auth/token", nil).JSON["token"].(string)
		set, err := fetchKeys(s.Server.URL + "/api/auth/jwks")
		if err != nil {
			t.Fatal(err)
		}
		claims, err := verifyManaToken(set, tok, s.Server.URL)
		if err != nil || claims.Subject != uid || claims.Role != "user" || claims.SID == "" {
			t.Fatalf("claims %+v, %v", claims, err)
		}
		if _, err := verifyManaToken(set, tok, "https://other.example"); err == nil {
			t.Error("foreign issuer accepted")
		}
	})
}
