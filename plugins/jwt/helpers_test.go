package jwt

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
)

const pw = "vivid-otter-quartz-42"

// stack is a running server with the plugin and a controllable clock.
type stack struct {
	*apitest.Env
	p   *Plugin
	clk *clock
}

// clock is a settable engine clock, safe for concurrent readers.
type clock struct{ ns atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func options(env map[string]string, o apitest.Options, out **Plugin,
	extra ...core.Plugin) apitest.Options {
	o.Env = env
	o.Plugins = func(cfg *core.Config) []core.Plugin {
		*out = New(cfg, WithGetenv(func(k string) string { return env[k] }))
		return append([]core.Plugin{*out}, extra...)
	}
	return o
}

// newStack starts one stack; the clock starts at the real time.
func newStack(t testing.TB, env map[string]string, o apitest.Options,
	extra ...core.Plugin) *stack {
	t.Helper()
	var p *Plugin
	e := apitest.New(t, options(env, o, &p, extra...))
	s := &stack{Env: e, p: p, clk: &clock{}}
	s.clk.Set(time.Now())
	e.Engine.Now = s.clk.Now
	return s
}

// each runs fn on SQLite and PostgreSQL.
func each(t *testing.T, env map[string]string, fn func(t *testing.T, s *stack),
	extra ...core.Plugin) {
	t.Helper()
	var p *Plugin
	apitest.Each(t, options(env, apitest.Options{}, &p, extra...),
		func(t *testing.T, e *apitest.Env) {
			s := &stack{Env: e, p: p, clk: &clock{}}
			s.clk.Set(time.Now())
			e.Engine.Now = s.clk.Now
			fn(t, s)
		})
}

// bearer is a native-app client: no cookie jar, no Origin, a bearer token.
type bearer struct {
	c     *apitest.Client
	token string
}

func (s *stack) native() *bearer {
	c := s.Client()
	c.Origin = ""
	return &bearer{c: c}
}

func (b *bearer) do(method, path string, body any) *apitest.Response {
	b.c.Cookies = map[string]string{}
	b.c.Header.Del("Authorization")
	if b.token != "" {
		b.c.Header.Set("Authorization", "Bearer "+b.token)
	}
	r := b.c.Do(method, path, body)
	b.c.Cookies = map[string]string{}
	return r
}

// jwks fetches /api/auth/jwks and parses it with go-jose, as a verifying
// service would.
func jwks(t testing.TB, s *stack) jose.JSONWebKeySet {
	t.Helper()
	r := s.Client().Do("GET", "/api/auth/jwks", nil)
	if r.Status != 200 {
		t.Fatalf("jwks: %d %s", r.Status, r.Body)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(r.Body, &set); err != nil {
		t.Fatalf("jwks body %s: %v", r.Body, err)
	}
	return set
}

// verifyWith checks a token against a JWKS independently of Plugin.Verify
// and returns its claims.
func verifyWith(t testing.TB, set jose.JSONWebKeySet, tok string) map[string]any {
	t.Helper()
	obj, err := jose.ParseSignedCompact(tok, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil {
		t.Fatalf("parse %q: %v", tok, err)
	}
	keys := set.Key(obj.Signatures[0].Header.KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %q not in the JWKS", obj.Signatures[0].Header.KeyID)
	}
	payload, err := obj.Verify(keys[0])
	if err != nil {
		t.Fatalf("verify against JWKS: %v", err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

// segment decodes part i (0 header, 1 payload) of a compact token as JSON
// text, unverified.
func segment(t testing.TB, tok string, i int) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d parts", tok, len(parts))
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signRaw signs an arbitrary payload with the current signing key.
func (s *stack) signRaw(t testing.TB, payload string) string {
	t.Helper()
	k, err := s.p.currentSigner(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	obj, err := k.signer.Sign([]byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// signUp creates a user through the native API and returns its client,
// session token and user id.
func (s *stack) signUp(t testing.TB, email string) (*apitest.Client, string, string) {
	t.Helper()
	c := s.Client()
	r := c.SignUp(email, pw, "User")
	return c, r.JSON["token"].(string), r.JSON["user"].(map[string]any)["id"].(string)
}

func (s *stack) count(t testing.TB, sql string, args ...any) int {
	t.Helper()
	var n int
	if err := s.DB.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}
