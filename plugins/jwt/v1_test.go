package jwt

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/secure"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/transport"
)

// testGate is a stand-in second factor (the two-factor plugin is another
// package): users whose email starts with "2fa" are challenged, and the
// code 123456 completes the challenge through the engine.
type testGate struct {
	e       *core.Engine
	mu      sync.Mutex
	pending map[string]string // challenge token → user id
}

var errInvalidCode = core.NewError(401, "INVALID_CODE", "Invalid code")

func (g *testGate) ID() string { return "testgate" }

func (g *testGate) Init(ctx context.Context, e *core.Engine) error {
	g.e, g.pending = e, map[string]string{}
	return nil
}

func (g *testGate) GateSignIn(ctx context.Context, a *core.SignInAttempt) (*core.Challenge,
	error) {
	if !strings.HasPrefix(a.User.Email, "2fa") {
		return nil, nil
	}
	tok := "2fa-" + secure.GenerateID()
	g.mu.Lock()
	g.pending[tok] = a.User.ID
	g.mu.Unlock()
	return &core.Challenge{Methods: []string{"totp"}, Token: tok}, nil
}

func (g *testGate) VerifyChallenge(ctx context.Context, r *core.Request,
	in core.ChallengeInput) (*core.SignInResult, error) {
	g.mu.Lock()
	uid, ok := g.pending[in.Token]
	if ok && in.Code == "123456" && in.Method == "totp" {
		delete(g.pending, in.Token)
	}
	g.mu.Unlock()
	if !ok || in.Code != "123456" || in.Method != "totp" {
		return nil, errInvalidCode
	}
	u, err := g.e.UserByID(ctx, g.e.DB, uid)
	if err != nil {
		return nil, err
	}
	return g.e.CompleteSignIn(ctx, r, u, "password", true)
}

// validate posts a JWT to /validate.
func (b *bearer) validate(tok string) *apitest.Response {
	return b.do("POST", "/api/v1/auth/validate", map[string]any{"token": tok})
}

func body(email string) map[string]any {
	return map[string]any{"email": email, "password": pw, "name": "Native"}
}

// TestV1Cycle is a mobile app's life: register, login, validate, session,
// refresh after the access token expired, logout, and nothing works after
// — without a cookie ever being sent.
func TestV1Cycle(t *testing.T) {
	env := map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32"}
	each(t, env, func(t *testing.T, s *stack) {
		ctx := context.Background()
		app := s.native()
		app.c.Header.Set("X-Forwarded-For", "203.0.113.7")
		r := app.do("POST", "/api/v1/auth/register", body("app@example.com"))
		if r.Status != 200 || r.JSON["emailVerificationRequired"] != false ||
			len(r.JSON["token"].(string)) != 32 || r.JSON["refreshToken"] != r.JSON["token"] ||
			r.JSON["accessToken"] == "" || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("register: %d %s", r.Status, r.Body)
		}
		uid := r.JSON["user"].(map[string]any)["id"].(string)

		r = app.do("POST", "/api/v1/auth/login", map[string]any{"email": "APP@example.com",
			"password": pw})
		if r.Status != 200 || len(r.JSON) != 4 || r.JSON["refreshToken"] != r.JSON["token"] {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		access, refresh := r.JSON["accessToken"].(string), r.JSON["refreshToken"].(string)
		claims := verifyWith(t, jwks(t, s), access)
		if claims["sub"] != uid || claims["email"] != "app@example.com" {
			t.Errorf("access claims = %v", claims)
		}

		// The login's cookie is the SSO session of a browser.
		browser := s.Client()
		sc := r.Header.Get("Set-Cookie")
		name, rest, _ := strings.Cut(sc, "=")
		val, _, _ := strings.Cut(rest, ";")
		if name != "mana.session_token" {
			t.Fatalf("Set-Cookie = %q", sc)
		}
		browser.Cookies[name] = val
		g := browser.Do("GET", "/api/auth/get-session", nil)
		if sess, _ := g.JSON["session"].(map[string]any); sess == nil || sess["token"] != refresh {
			t.Fatalf("cookie from v1 login on get-session: %s", g.Body)
		}

		v := app.validate(access)
		payload, _ := v.JSON["payload"].(map[string]any)
		if v.Status != 200 || v.JSON["valid"] != true || payload["sub"] != uid ||
			payload["sid"] != claims["sid"] {
			t.Fatalf("validate: %d %s", v.Status, v.Body)
		}

		app.token = refresh
		if r := app.do("GET", "/api/v1/auth/session", nil); r.Status != 200 ||
			r.JSON["user"].(map[string]any)["id"] != uid ||
			r.JSON["session"].(map[string]any)["token"] != refresh {
			t.Fatalf("session: %d %s", r.Status, r.Body)
		}
		app.token = ""
		if r := app.do("GET", "/api/v1/auth/session", nil); r.Status != 401 {
			t.Errorf("session without bearer: %d", r.Status)
		}

		// The access token runs out; the refresh token gets a new one and
		// slides the session.
		s.clk.Advance(16 * time.Minute)
		if v := app.validate(access); v.JSON["valid"] != false ||
			v.JSON["code"] != "TOKEN_EXPIRED" {
			t.Errorf("expired: %s", v.Body)
		}
		rf := app.do("POST", "/api/v1/auth/refresh", map[string]any{"refreshToken": refresh})
		if rf.Status != 200 || rf.JSON["refreshToken"] != refresh ||
			rf.JSON["expiresIn"] != float64(900) || len(rf.JSON) != 3 {
			t.Fatalf("refresh: %d %s", rf.Status, rf.Body)
		}
		access2 := rf.JSON["accessToken"].(string)
		if v := app.validate(access2); v.JSON["valid"] != true {
			t.Fatalf("refreshed token: %s", v.Body)
		}
		want := s.clk.Now().Add(7 * 24 * time.Hour).Truncate(time.Millisecond)
		var exp time.Time
		if err := s.DB.QueryRow(ctx, "SELECT expires_at FROM sessions WHERE token = $1",
			refresh).Scan(&exp); err != nil || !exp.Equal(want) {
			t.Errorf("session expires_at = %v, want %v (%v)", exp, want, err)
		}

		app.token = refresh
		out := app.do("POST", "/api/v1/auth/logout", nil)
		if out.Status != 200 || out.JSON["success"] != true ||
			!strings.Contains(strings.Join(out.Header.Values("Set-Cookie"), "\n"),
				"mana.session_token=; Max-Age=0") {
			t.Fatalf("logout: %d %s %v", out.Status, out.Body, out.Header)
		}
		// Revocation shows at once, though access2 has 15 minutes left.
		if v := app.validate(access2); v.JSON["valid"] != false ||
			v.JSON["code"] != "SESSION_REVOKED" {
			t.Errorf("after logout: %s", v.Body)
		}
		if r := app.do("GET", "/api/v1/auth/session", nil); r.Status != 401 {
			t.Errorf("session after logout: %d", r.Status)
		}
		app.token = ""
		r = app.do("POST", "/api/v1/auth/refresh", map[string]any{"refreshToken": refresh})
		if r.Status != 401 || r.Code() != "INVALID_REFRESH_TOKEN" {
			t.Errorf("refresh after logout: %d %s", r.Status, r.Body)
		}

		// The security log has the v1 events with the client's real IP.
		for _, ev := range []string{"sign_up/success", "sign_in/success",
			"token_refresh/success", "logout/success"} {
			e, o, _ := strings.Cut(ev, "/")
			if n := s.count(t, "SELECT count(*) FROM security_events WHERE event = $1 AND "+
				"outcome = $2 AND user_id = $3 AND ip_address = '203.0.113.7'", e, o, uid); n < 1 {
				t.Errorf("security event %s missing", ev)
			}
		}
		if n := s.count(t, "SELECT count(*) FROM security_events WHERE event = "+
			"'token_refresh' AND outcome = 'failure' AND user_id IS NULL"); n != 1 {
			t.Errorf("token_refresh failures = %d", n)
		}
	})
}

func TestV1Errors(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		app := s.native()
		app.do("POST", "/api/v1/auth/register", body("taken@example.com"))
		cases := []struct {
			name, path string
			body       any
			status     int
			code       string
		}{
			{"register without password", "/register", map[string]any{"email": "a@example.com",
				"name": "A"}, 400, "VALIDATION_ERROR"},
			{"register without name", "/register", map[string]any{"email": "a@example.com",
				"password": pw}, 400, "VALIDATION_ERROR"},
			{"register bad email", "/register", body("not-an-email"), 400, "INVALID_EMAIL"},
			{"register short password", "/register", map[string]any{"email": "b@example.com",
				"password": "short", "name": "B"}, 400, "PASSWORD_TOO_SHORT"},
			{"register taken", "/register", body("taken@example.com"), 422,
				"USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL"},
			{"register bad JSON", "/register", "{", 400, "BAD_REQUEST"},
			{"register wrong type", "/register", map[string]any{"email": 5}, 400,
				"VALIDATION_ERROR"},
			{"login wrong password", "/login", map[string]any{"email": "taken@example.com",
				"password": "wrong-password-1"}, 401, "INVALID_EMAIL_OR_PASSWORD"},
			{"login unknown", "/login", map[string]any{"email": "nobody@example.com",
				"password": "wrong-password-1"}, 401, "INVALID_EMAIL_OR_PASSWORD"},
			{"login without password", "/login", map[string]any{"email": "x@example.com"}, 400,
				"VALIDATION_ERROR"},
			{"two-factor not compiled in", "/two-factor", map[string]any{"twoFactorToken": "x",
				"code": "123456", "method": "totp"}, 400, "TWO_FACTOR_NOT_ENABLED"},
			{"two-factor bad method", "/two-factor", map[string]any{"twoFactorToken": "x",
				"code": "1", "method": "sms"}, 400, "VALIDATION_ERROR"},
			{"two-factor no code", "/two-factor", map[string]any{"twoFactorToken": "x",
				"method": "totp"}, 400, "VALIDATION_ERROR"},
			{"refresh unknown", "/refresh", map[string]any{"refreshToken": secure.GenerateID()},
				401, "INVALID_REFRESH_TOKEN"},
			{"refresh huge", "/refresh", map[string]any{"refreshToken": strings.Repeat("a", 500)},
				401, "INVALID_REFRESH_TOKEN"},
			{"refresh empty", "/refresh", map[string]any{}, 400, "VALIDATION_ERROR"},
			{"validate without token", "/validate", map[string]any{}, 400, "VALIDATION_ERROR"},
			{"validate no body", "/validate", nil, 400, "VALIDATION_ERROR"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := app.do("POST", "/api/v1/auth"+tc.path, tc.body)
				if r.Status != tc.status || r.Code() != tc.code {
					t.Errorf("%d %s, want %d %s", r.Status, r.Body, tc.status, tc.code)
				}
			})
		}
		for _, tok := range []string{"garbage", "a.b.c", strings.Repeat("x", 9000)} {
			v := app.validate(tok)
			if v.Status != 200 || v.JSON["valid"] != false || v.JSON["code"] != "INVALID_TOKEN" ||
				len(v.JSON) != 2 {
				t.Errorf("validate %.10q: %d %s", tok, v.Status, v.Body)
			}
		}
		if r := app.do("POST", "/api/v1/auth/logout", nil); r.Status != 200 ||
			r.JSON["success"] != true {
			t.Errorf("logout without session: %d %s", r.Status, r.Body)
		}
	})
}

func TestV1EmailVerificationRequired(t *testing.T) {
	each(t, map[string]string{"REQUIRE_EMAIL_VERIFICATION": "true"},
		func(t *testing.T, s *stack) {
			app := s.native()
			r := app.do("POST", "/api/v1/auth/register", body("unverified@example.com"))
			if r.Status != 200 || r.JSON["emailVerificationRequired"] != true ||
				len(r.JSON) != 2 || r.Header.Get("Set-Cookie") != "" {
				t.Fatalf("register: %d %s", r.Status, r.Body)
			}
			s.WaitMail("unverified@example.com")
			r = app.do("POST", "/api/v1/auth/login", map[string]any{
				"email": "unverified@example.com", "password": pw})
			if r.Status != 403 || r.Code() != "EMAIL_NOT_VERIFIED" {
				t.Errorf("login: %d %s", r.Status, r.Body)
			}
		})
}

func TestV1TwoFactor(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		app := s.native()
		app.do("POST", "/api/v1/auth/register", body("2fa@example.com"))
		r := app.do("POST", "/api/v1/auth/login", map[string]any{"email": "2fa@example.com",
			"password": pw})
		ch, _ := r.JSON["twoFactorToken"].(string)
		if r.Status != 200 || r.JSON["twoFactorRedirect"] != true || ch == "" ||
			r.JSON["token"] != nil || r.JSON["accessToken"] != nil ||
			r.Header.Get("Set-Cookie") != "" {
			t.Fatalf("login: %d %s", r.Status, r.Body)
		}
		if m, _ := r.JSON["twoFactorMethods"].([]any); len(m) != 1 || m[0] != "totp" {
			t.Errorf("methods = %v", r.JSON["twoFactorMethods"])
		}
		in := map[string]any{"twoFactorToken": ch, "code": "000000", "method": "totp"}
		if r := app.do("POST", "/api/v1/auth/two-factor", in); r.Status != 401 ||
			r.Code() != "INVALID_CODE" {
			t.Errorf("wrong code: %d %s", r.Status, r.Body)
		}
		in["code"] = "123456"
		r = app.do("POST", "/api/v1/auth/two-factor", in)
		if r.Status != 200 || r.JSON["token"] == nil || r.JSON["refreshToken"] != r.JSON["token"] {
			t.Fatalf("two-factor: %d %s", r.Status, r.Body)
		}
		verifyWith(t, jwks(t, s), r.JSON["accessToken"].(string))
		if r := app.do("POST", "/api/v1/auth/two-factor", in); r.Status != 401 {
			t.Errorf("challenge replayed: %d %s", r.Status, r.Body)
		}
	}, &testGate{})
}

// TestV1ValidateRevocationAndCrossUser: revoking from the browser stops a
// token at once, and a token whose sid names another user's session is not
// valid.
func TestV1ValidateRevocationAndCrossUser(t *testing.T) {
	each(t, nil, func(t *testing.T, s *stack) {
		browser, _, _ := s.signUp(t, "both@example.com")
		app := s.native()
		r := app.do("POST", "/api/v1/auth/login", map[string]any{"email": "both@example.com",
			"password": pw})
		access := r.JSON["accessToken"].(string)
		if v := app.validate(access); v.JSON["valid"] != true {
			t.Fatalf("validate: %s", v.Body)
		}
		r = browser.Do("POST", "/api/auth/revoke-other-sessions", map[string]any{})
		if r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if v := app.validate(access); v.JSON["code"] != "SESSION_REVOKED" {
			t.Errorf("after revoke: %s", v.Body)
		}

		_, _, eve := s.signUp(t, "eve@example.com")
		sid := browserSessionID(t, s, browser)
		forged := s.signRaw(t, claimsAt(s, map[string]any{"sub": eve, "sid": sid}))
		if v := app.validate(forged); v.JSON["valid"] != false ||
			v.JSON["code"] != "INVALID_TOKEN" {
			t.Errorf("sid of another user: %s", v.Body)
		}
	})
}

func browserSessionID(t *testing.T, s *stack, c *apitest.Client) string {
	t.Helper()
	g := c.Do("GET", "/api/auth/get-session", nil)
	return g.JSON["session"].(map[string]any)["id"].(string)
}

// TestV1OriginCheckStaysOn: a cookie-bearing request from an untrusted
// origin is refused, as everywhere else.
func TestV1OriginCheckStaysOn(t *testing.T) {
	s := newStack(t, nil, apitest.Options{})
	c, _, _ := s.signUp(t, "csrf@example.com")
	c.Origin = "https://evil.example"
	if r := c.Do("POST", "/api/v1/auth/logout", nil); r.Status != 403 ||
		r.Code() != "INVALID_ORIGIN" {
		t.Errorf("cross-origin logout: %d %s", r.Status, r.Body)
	}
	c.Origin = ""
	if r := c.Do("POST", "/api/v1/auth/logout", nil); r.Status != 403 ||
		r.Code() != "MISSING_OR_NULL_ORIGIN" {
		t.Errorf("cookie without origin: %d %s", r.Status, r.Body)
	}
}

func TestV1RateLimits(t *testing.T) {
	s := newStack(t, nil, apitest.Options{RateLimit: true})
	app := s.native()
	var last int
	for range 4 {
		last = app.do("POST", "/api/v1/auth/login", map[string]any{
			"email": "rl@example.com", "password": "wrong-password-1"}).Status
	}
	if last != 429 {
		t.Errorf("4th login in 10 s: %d", last)
	}
	// The plugin's refresh rule, through the transport's limiter (the test
	// stack mounts only the default rules).
	lim := transport.NewLimiter(transport.NewMemoryCounter(),
		core.RateRule{Pattern: "*", Window: 10 * time.Second, Max: 100}, s.p.RateLimits()...)
	ok := true
	for range 11 {
		ok, _, _, _ = lim.Allow(context.Background(), "ip", "/api/v1/auth/refresh")
	}
	if ok {
		t.Errorf("11th refresh in 10 s allowed")
	}
}
