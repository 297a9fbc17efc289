package jwt

import (
	"context"
	"encoding/json"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/internal/apitest"
)

func TestTokenEndpoint(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		c, sessTok, uid := s.signUp(t, "tok@example.com")
		r := c.Do("GET", "/api/auth/token", nil)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("token: %d %s %v", r.Status, r.Body, r.Header)
		}
		tok, _ := r.JSON["token"].(string)
		if len(r.JSON) != 1 || tok == "" {
			t.Fatalf("body = %s", r.Body)
		}

		// Header: alg and kid only, as Better Auth writes it.
		set := jwks(t, s)
		kid := set.Keys[0].KeyID
		if h := segment(t, tok, 0); h != `{"alg":"EdDSA","kid":"`+kid+`"}` {
			t.Errorf("header = %s", h)
		}
		claims := verifyWith(t, set, tok)
		var keys []string
		for k := range claims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if got := strings.Join(keys, ","); got != "aud,email,exp,iat,iss,role,sid,sub" {
			t.Errorf("claims = %s", got)
		}
		var sessID string
		if err := s.DB.QueryRow(context.Background(),
			"SELECT id FROM sessions WHERE token = $1", sessTok).Scan(&sessID); err != nil {
			t.Fatal(err)
		}
		origin := s.Server.URL
		want := map[string]any{"sub": uid, "email": "tok@example.com", "role": "user",
			"sid": sessID, "iss": origin, "aud": origin}
		for k, v := range want {
			if claims[k] != v {
				t.Errorf("%s = %v, want %v", k, claims[k], v)
			}
		}
		iat, exp := claims["iat"].(float64), claims["exp"].(float64)
		if exp-iat != 900 || int64(iat) != s.clk.Now().Unix() {
			t.Errorf("iat %v exp %v now %d", iat, exp, s.clk.Now().Unix())
		}

		if r := s.Client().Do("GET", "/api/auth/token", nil); r.Status != 401 ||
			r.Code() != "UNAUTHORIZED" {
			t.Errorf("no session: %d %s", r.Status, r.Body)
		}
	})
}

var kidShape = regexp.MustCompile(`^[A-Za-z0-9]{32}$`)

func TestJWKSAndStorageFormat(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		if n := s.count(t, "SELECT count(*) FROM jwks"); n != 0 {
			t.Fatalf("keys before first use: %d", n)
		}
		r := s.Client().Do("GET", "/api/auth/jwks", nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "application/json" ||
			r.Header.Get("Cache-Control") != "public, max-age=300" {
			t.Fatalf("jwks: %d %v %s", r.Status, r.Header, r.Body)
		}
		var row keyRow
		err := s.DB.QueryRow(context.Background(), "SELECT id, public_key, private_key, "+
			"created_at, expires_at, alg, crv FROM jwks").Scan(&row.ID, &row.PublicKey,
			&row.PrivateKey, &row.CreatedAt, &row.ExpiresAt, &row.Alg, &row.Crv)
		if err != nil {
			t.Fatal(err)
		}
		x := regexp.MustCompile(`^\{"crv":"Ed25519","x":"([A-Za-z0-9_-]{43})","kty":"OKP"\}$`).
			FindStringSubmatch(row.PublicKey)
		if x == nil || !kidShape.MatchString(row.ID) || row.ExpiresAt != nil ||
			*row.Alg != "EdDSA" || *row.Crv != "Ed25519" {
			t.Fatalf("row = %+v", row)
		}
		want := `{"keys":[{"alg":"EdDSA","crv":"Ed25519","x":"` + x[1] +
			`","kty":"OKP","kid":"` + row.ID + `"}]}`
		if string(r.Body) != want {
			t.Errorf("body = %s, want %s", r.Body, want)
		}

		// private_key is a JSON string around Better Auth's hex envelope, and
		// it decrypts with the secret to a private JWK matching the public one.
		if !regexp.MustCompile(`^"[0-9a-f]{200,}"$`).MatchString(row.PrivateKey) {
			t.Errorf("private_key = %.40s…", row.PrivateKey)
		}
		if strings.Contains(row.PrivateKey, `"d"`) {
			t.Error("private key stored in clear")
		}
		var sealed string
		_ = json.Unmarshal([]byte(row.PrivateKey), &sealed)
		plain, err := s.Engine.Secrets.Decrypt(sealed)
		if err != nil || !regexp.MustCompile(`^\{"crv":"Ed25519","d":"[A-Za-z0-9_-]{43}","x":"`+
			x[1]+`","kty":"OKP"\}$`).MatchString(plain) {
			t.Errorf("decrypted private key has the wrong shape (err %v)", err)
		}

		// A second request serves the same key and creates none.
		if r2 := s.Client().Do("GET", "/api/auth/jwks", nil); string(r2.Body) != want {
			t.Errorf("second jwks = %s", r2.Body)
		}
		if n := s.count(t, "SELECT count(*) FROM jwks"); n != 1 {
			t.Errorf("keys = %d", n)
		}
	})
}

func TestGetSessionSetsAuthJWT(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		c, _, uid := s.signUp(t, "hdr@example.com")
		r := c.Do("GET", "/api/auth/get-session", nil)
		tok := r.Header.Get("set-auth-jwt")
		if r.Status != 200 || tok == "" {
			t.Fatalf("get-session: %d %v", r.Status, r.Header)
		}
		if !strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "set-auth-jwt") {
			t.Errorf("expose = %q", r.Header.Get("Access-Control-Expose-Headers"))
		}
		if claims := verifyWith(t, jwks(t, s), tok); claims["sub"] != uid {
			t.Errorf("claims = %v", claims)
		}
		if c, err := s.p.Verify(context.Background(), tok); err != nil || c.Subject != uid {
			t.Errorf("Verify: %v %v", c, err)
		}

		// Bearer clients get it too; no session, no header.
		_, sessTok, _ := s.signUp(t, "hdr2@example.com")
		b := s.native()
		b.token = sessTok
		if r := b.do("GET", "/api/auth/get-session", nil); r.Header.Get("set-auth-jwt") == "" {
			t.Errorf("bearer get-session: no header")
		}
		anon := s.Client().Do("GET", "/api/auth/get-session", nil)
		if anon.Header.Get("set-auth-jwt") != "" || string(anon.Body) != "null\n" {
			t.Errorf("anonymous: %v %s", anon.Header, anon.Body)
		}
	})
}

func TestMetrics(t *testing.T) {
	s := newStack(t, nil, apitest.Options{})
	c, _, _ := s.signUp(t, "m@example.com")
	tok := c.Do("GET", "/api/auth/token", nil).JSON["token"].(string)
	ctx := context.Background()
	_, _ = s.p.Verify(ctx, tok)
	_, _ = s.p.Verify(ctx, tok+"x")
	s.clk.Advance(time.Hour)
	_, _ = s.p.Verify(ctx, tok)
	m := s.Client().Do("GET", "/metrics", nil)
	for _, line := range []string{
		"mana_auth_jwt_tokens_minted_total 1",
		`mana_auth_jwt_validations_total{outcome="valid"} 1`,
		`mana_auth_jwt_validations_total{outcome="invalid"} 1`,
		`mana_auth_jwt_validations_total{outcome="expired"} 1`,
		"mana_auth_jwt_key_rotations_total 1",
	} {
		if !strings.Contains(string(m.Body), line+"\n") {
			t.Errorf("metrics lack %q", line)
		}
	}
}
