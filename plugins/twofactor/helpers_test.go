package twofactor_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/twofactor"
)

const pw = "vivid-otter-quartz-42"

// clock is a settable clock for TOTP steps and lockouts.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *clock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// harness is one running stack with the plugin and its clock.
type harness struct {
	*apitest.Env
	clk *clock
	p   *twofactor.Plugin
}

// each runs fn on SQLite and PostgreSQL with the two-factor plugin.
func each(t *testing.T, set *twofactor.Settings, fn func(t *testing.T, h *harness)) {
	t.Helper()
	var clk *clock
	var plug *twofactor.Plugin
	o := apitest.Options{Plugins: func(cfg *core.Config) []core.Plugin {
		clk = newClock()
		opts := []twofactor.Option{twofactor.WithClock(clk.Now)}
		if set != nil {
			opts = append(opts, twofactor.WithSettings(*set))
		}
		plug = twofactor.New(cfg, opts...)
		return []core.Plugin{plug}
	}}
	apitest.Each(t, o, func(t *testing.T, env *apitest.Env) {
		fn(t, &harness{Env: env, clk: clk, p: plug})
	})
}

// hotp is an independent RFC 4226/6238 implementation (not pquerna/otp):
// HMAC-SHA1 of the 8-byte counter, dynamic truncation, 6 digits.
func hotp(key []byte, counter int64) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	return fmt.Sprintf("%06d", v%1_000_000)
}

// code returns the TOTP code of key at the harness clock, offset by steps.
func (h *harness) code(key []byte, steps int64) string {
	return hotp(key, h.clk.Now().Unix()/30+steps)
}

// keyFromURI extracts the HMAC key from an otpauth URI.
func keyFromURI(t testing.TB, uri string) []byte {
	t.Helper()
	u, err := url.Parse(uri)
	if err != nil {
		t.Fatal(err)
	}
	k, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(
		u.Query().Get("secret"))
	if err != nil || len(k) != 32 {
		t.Fatalf("secret in %s: %v", uri, err)
	}
	return k
}

// enrolled is a user with verified TOTP.
type enrolled struct {
	c      *apitest.Client
	email  string
	id     string
	key    []byte
	backup []string
}

// enrol signs a user up, enables and verifies TOTP, then moves the clock to
// the next step so that the following code is fresh.
func (h *harness) enrol(t *testing.T, email string) *enrolled {
	t.Helper()
	c := h.Client()
	up := c.SignUp(email, pw, "User")
	id := up.JSON["user"].(map[string]any)["id"].(string)
	r := tf(c, "enable", password(pw))
	expectOK(t, r, "enable")
	key := keyFromURI(t, r.JSON["totpURI"].(string))
	var codes []string
	for _, bc := range r.JSON["backupCodes"].([]any) {
		codes = append(codes, bc.(string))
	}
	expectOK(t, tf(c, "verify-totp", codeReq(h.code(key, 0))), "first verify-totp")
	h.clk.Advance(30 * time.Second)
	return &enrolled{c: c, email: email, id: id, key: key, backup: codes}
}

// challenge signs in with the password and expects a challenge.
func (h *harness) challenge(t *testing.T, email string) *apitest.Client {
	t.Helper()
	c := h.Client()
	r := c.SignIn(email, pw)
	if r.Status != 200 || r.JSON["twoFactorRedirect"] != true {
		t.Fatalf("sign-in: %d %s", r.Status, r.Body)
	}
	if c.Cookies["mana.two_factor"] == "" {
		t.Fatalf("no two_factor cookie: %v", r.Header.Values("Set-Cookie"))
	}
	return c
}

// sessions counts a user's session rows.
func (h *harness) sessions(t *testing.T, userID string) int {
	t.Helper()
	var n int
	if err := h.DB.QueryRow(context.Background(),
		"SELECT COUNT(*) FROM sessions WHERE user_id = $1", userID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// securityEvents lists a user's security events as "event/outcome".
func (h *harness) securityEvents(t *testing.T, userID string) []string {
	t.Helper()
	evs, err := h.Engine.SecurityEvents(context.Background(), h.DB, userID, 200)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		out = append(out, e.Event+"/"+e.Outcome)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// setCookies returns the Set-Cookie lines of a response by cookie name.
func setCookies(r *apitest.Response) map[string]string {
	out := map[string]string{}
	for _, sc := range r.Header.Values("Set-Cookie") {
		name, _, _ := strings.Cut(sc, "=")
		out[name] = sc
	}
	return out
}

// clone returns a second client with a copy of c's cookies (the same
// browser session sending in parallel).
func (h *harness) clone(c *apitest.Client) *apitest.Client {
	n := h.Client()
	for k, v := range c.Cookies {
		n.Cookies[k] = v
	}
	return n
}

// httptestRequest is the HTTP request behind a v1-style engine call.
func httptestRequest() *http.Request {
	return httptest.NewRequest("POST", "http://127.0.0.1/api/v1/auth/login", nil)
}

// tf posts to a /two-factor endpoint.
func tf(c *apitest.Client, path string, body any) *apitest.Response {
	return c.Do("POST", "/api/auth/two-factor/"+path, body)
}

// codeReq is the body of a verify request.
func codeReq(s string) map[string]any { return map[string]any{"code": s} }

// password is the body of the password-confirmed endpoints.
func password(p string) map[string]any { return map[string]any{"password": p} }

// expectErr fails the test unless r is the error status/code.
func expectErr(t *testing.T, r *apitest.Response, status int, code, what string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// expectOK fails the test unless r is a 200.
func expectOK(t *testing.T, r *apitest.Response, what string) {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("%s: %d %s", what, r.Status, r.Body)
	}
}

// userOf returns the "user" object of a response.
func userOf(r *apitest.Response) map[string]any {
	u, _ := r.JSON["user"].(map[string]any)
	return u
}

// session returns the client's get-session answer.
func session(c *apitest.Client) *apitest.Response {
	return c.Do("GET", "/api/auth/get-session", nil)
}
