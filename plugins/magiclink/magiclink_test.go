package magiclink_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/mail/mailtest"
	"github.com/mana/mana-auth/core/secure"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/magiclink"
	"github.com/mana/mana-auth/transport"
)

const pw = "vivid-otter-quartz-42"

// each runs fn on SQLite and PostgreSQL with the magic-link plugin.
func each(t *testing.T, set *magiclink.Settings, fn func(t *testing.T, env *apitest.Env)) {
	t.Helper()
	apitest.Each(t, apitest.Options{
		Env: map[string]string{"TRUSTED_ORIGINS": "https://app.example.com"},
		Plugins: func(cfg *core.Config) []core.Plugin {
			s := magiclink.DefaultSettings()
			if set != nil {
				s = *set
			}
			return []core.Plugin{magiclink.New(cfg, magiclink.WithSettings(s))}
		},
	}, fn)
}

// requestLink asks for a link and returns its path and query (relative to
// the server) as received over SMTP.
func requestLink(t *testing.T, env *apitest.Env, body map[string]any) string {
	t.Helper()
	r := sendLink(env.Client(), body)
	if r.Status != 200 || r.JSON["status"] != true || len(r.JSON) != 1 {
		t.Fatalf("sign-in/magic-link: %d %s", r.Status, r.Body)
	}
	m := env.WaitMail(body["email"].(string))
	link := mailtest.ExtractURL(m.Text, env.Server.URL+"/api/auth/magic-link/verify?")
	if link == "" {
		t.Fatalf("no link in %q", m.Text)
	}
	return strings.TrimPrefix(link, env.Server.URL)
}

func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

func count(t *testing.T, env *apitest.Env, q string, args ...any) int {
	t.Helper()
	var n int
	if err := env.DB.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// sendLink posts to /sign-in/magic-link.
func sendLink(c *apitest.Client, body any) *apitest.Response {
	return c.Do("POST", "/api/auth/sign-in/magic-link", body)
}

// verifyURL is the verify path with a query.
func verifyURL(token string, q ...string) string {
	v := url.Values{"token": {token}}
	for i := 0; i+1 < len(q); i += 2 {
		v.Set(q[i], q[i+1])
	}
	return "/api/auth/magic-link/verify?" + v.Encode()
}

// location returns where a 302 sends the browser, or "<status>".
func location(r *apitest.Response) string {
	if r.Status != 302 {
		return fmt.Sprintf("status %d %s", r.Status, r.Body)
	}
	return r.Header.Get("Location")
}

const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func userID(t *testing.T, env *apitest.Env, email string) string {
	t.Helper()
	u, err := env.Engine.UserByEmail(context.Background(), env.DB, email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}

func TestLinkWorksOnce(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		link := requestLink(t, env, map[string]any{"email": "Amy@Example.com",
			"callbackURL": "/home"})
		tok := tokenOf(t, link)
		if len(tok) != 32 || strings.Trim(tok, letters) != "" {
			t.Fatalf("token %q", tok)
		}
		if !strings.Contains(link, "&callbackURL=%2Fhome") {
			t.Errorf("link %s", link)
		}
		// Stored hashed only.
		if n := count(t, env, "SELECT COUNT(*) FROM verifications WHERE identifier = $1",
			"magic-link:"+secure.HashToken(tok)); n != 1 {
			t.Fatalf("hashed rows = %d", n)
		}
		if n := count(t, env, "SELECT COUNT(*) FROM verifications "+
			"WHERE identifier LIKE $1 OR value LIKE $1", "%"+tok+"%"); n != 0 {
			t.Fatal("raw token stored")
		}

		c := env.Client()
		r := c.Do("GET", link, nil)
		if r.Status != 302 || r.Header.Get("Location") != env.Server.URL+"/home" {
			t.Fatalf("verify: %d %v", r.Status, r.Header)
		}
		if !strings.Contains(r.Header.Get("Set-Cookie"), "mana.session_token=") {
			t.Fatalf("no session cookie: %v", r.Header.Values("Set-Cookie"))
		}
		g := c.Do("GET", "/api/auth/get-session", nil)
		u := g.JSON["user"].(map[string]any)
		if u["email"] != "amy@example.com" || u["emailVerified"] != true {
			t.Fatalf("session user: %s", g.Body)
		}
		// Reuse fails, without a session.
		c2 := env.Client()
		r = c2.Do("GET", link, nil)
		if location(r) != env.Server.URL+"/home?error=INVALID_TOKEN" || len(c2.Cookies) != 0 {
			t.Fatalf("reuse: %d %v", r.Status, r.Header)
		}
		evs, _ := env.Engine.SecurityEvents(context.Background(), env.DB,
			u["id"].(string), 50)
		var signIn bool
		for _, e := range evs {
			signIn = signIn || (e.Event == "sign_in" && e.Outcome == "success" &&
				e.Detail["method"] == "magic-link")
		}
		if !signIn {
			t.Errorf("no magic-link sign-in event: %+v", evs)
		}
	})
}

func TestVerifyWithoutCallbackAnswersJSON(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		link := requestLink(t, env, map[string]any{"email": "bob@example.com"})
		tok := tokenOf(t, link)
		if !strings.Contains(link, "&callbackURL=%2F") {
			t.Errorf("default callbackURL missing: %s", link)
		}
		c := env.Client()
		r := c.Do("GET", "/api/auth/magic-link/verify?token="+tok, nil)
		if r.Status != 200 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		sess := r.JSON["session"].(map[string]any)
		if r.JSON["token"] == nil || r.JSON["token"] != sess["token"] ||
			r.JSON["user"].(map[string]any)["emailVerified"] != true {
			t.Fatalf("body %s", r.Body)
		}
		if !strings.Contains(r.Header.Get("Set-Cookie"), "mana.session_token=") {
			t.Error("no session cookie")
		}
		// Errors without any callback redirect to the server root.
		r = env.Client().Do("GET", "/api/auth/magic-link/verify?token="+tok, nil)
		if location(r) != env.Server.URL+"/?error=INVALID_TOKEN" {
			t.Fatalf("reuse: %s", location(r))
		}
	})
}

func TestExpiredLink(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		link := requestLink(t, env, map[string]any{"email": "cy@example.com",
			"callbackURL": "/home", "errorCallbackURL": "/oops"})
		if !strings.Contains(link, "&errorCallbackURL=%2Foops") {
			t.Errorf("link %s", link)
		}
		ident := "magic-link:" + secure.HashToken(tokenOf(t, link))
		var exp time.Time
		ctx := context.Background()
		if err := env.DB.QueryRow(ctx, "SELECT expires_at FROM verifications "+
			"WHERE identifier = $1", ident).Scan(&exp); err != nil {
			t.Fatal(err)
		}
		if d := time.Until(exp); d < 4*time.Minute || d > 5*time.Minute+time.Second {
			t.Errorf("lifetime %v, want 5 minutes", d)
		}
		if _, err := env.DB.Exec(ctx, "UPDATE verifications SET expires_at = $1 "+
			"WHERE identifier = $2", time.Now().Add(-time.Second), ident); err != nil {
			t.Fatal(err)
		}
		c := env.Client()
		r := c.Do("GET", link, nil)
		if location(r) != env.Server.URL+"/oops?error=EXPIRED_TOKEN" || len(c.Cookies) != 0 {
			t.Fatalf("expired: %s", location(r))
		}
		if n := count(t, env, "SELECT COUNT(*) FROM verifications WHERE identifier = $1",
			ident); n != 0 {
			t.Error("expired link kept")
		}
		if n := count(t, env, "SELECT COUNT(*) FROM users"); n != 0 {
			t.Error("user created by an expired link")
		}
	})
}

func TestCallbackURLs(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		cases := []struct {
			name   string
			field  string
			value  string
			status int
			code   string
		}{
			{"untrusted callback", "callbackURL", "https://evil.example/x",
				403, "INVALID_CALLBACK_URL"},
			{"protocol-relative", "callbackURL", "//evil.example/x",
				403, "INVALID_CALLBACK_URL"},
			{"untrusted new-user", "newUserCallbackURL", "https://evil.example/",
				403, "INVALID_NEW_USER_CALLBACK_URL"},
			{"untrusted error", "errorCallbackURL", "https://evil.example/",
				403, "INVALID_ERROR_CALLBACK_URL"},
			{"javascript", "callbackURL", "javascript:alert(1)",
				403, "INVALID_CALLBACK_URL"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				r := sendLink(env.Client(),
					map[string]any{"email": "dee@example.com", tc.field: tc.value})
				if r.Status != tc.status || r.Code() != tc.code {
					t.Errorf("POST: %d %s", r.Status, r.Body)
				}
				r = env.Client().Do("GET", verifyURL(strings.Repeat("a", 32),
					tc.field, tc.value), nil)
				if r.Status != tc.status || r.Code() != tc.code {
					t.Errorf("GET: %d %s", r.Status, r.Body)
				}
			})
		}
		if n := len(env.Mail.Messages()); n != 0 {
			t.Errorf("%d mails sent for refused requests", n)
		}
		// A trusted absolute URL is kept as it is.
		link := requestLink(t, env, map[string]any{"email": "dee@example.com",
			"callbackURL": "https://app.example.com/in?x=1"})
		r := env.Client().Do("GET", link, nil)
		if r.Status != 302 || r.Header.Get("Location") != "https://app.example.com/in?x=1" {
			t.Fatalf("trusted absolute: %d %s", r.Status, r.Header.Get("Location"))
		}
	})
}

func TestNewUserSignUp(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		link := requestLink(t, env, map[string]any{"email": "eli@example.com", "name": "Eli",
			"callbackURL": "/home", "newUserCallbackURL": "/welcome"})
		c := env.Client()
		r := c.Do("GET", link, nil)
		if r.Status != 302 || r.Header.Get("Location") != env.Server.URL+"/welcome" {
			t.Fatalf("new user: %d %s", r.Status, r.Header.Get("Location"))
		}
		u := c.Do("GET", "/api/auth/get-session", nil).JSON["user"].(map[string]any)
		if u["name"] != "Eli" || u["emailVerified"] != true ||
			u["email"] != "eli@example.com" {
			t.Fatalf("user %v", u)
		}
		if n := count(t, env, "SELECT COUNT(*) FROM accounts WHERE user_id = $1",
			u["id"]); n != 0 {
			t.Errorf("a magic-link user has %d accounts (no password)", n)
		}
		// The second link of the same user is not "new".
		link = requestLink(t, env, map[string]any{"email": "eli@example.com",
			"callbackURL": "/home", "newUserCallbackURL": "/welcome"})
		r = env.Client().Do("GET", link, nil)
		if r.Header.Get("Location") != env.Server.URL+"/home" {
			t.Fatalf("existing user: %s", r.Header.Get("Location"))
		}
	})
}

func TestSignUpDisabled(t *testing.T) {
	set := magiclink.DefaultSettings()
	set.DisableSignUp = true
	each(t, &set, func(t *testing.T, env *apitest.Env) {
		r := sendLink(env.Client(), map[string]any{"email": "nobody@example.com"})
		if r.Status != 200 || r.JSON["status"] != true {
			t.Fatalf("unknown email: %d %s", r.Status, r.Body)
		}
		// A known user still gets a link; the answers look the same.
		env.Client().SignUp("fox@example.com", pw, "Fox")
		link := requestLink(t, env, map[string]any{"email": "fox@example.com"})
		if len(env.Mail.Messages()) != 1 {
			t.Fatalf("mails: %d (one expected, none for the unknown address)",
				len(env.Mail.Messages()))
		}
		if r := env.Client().Do("GET", link, nil); r.Status != 302 ||
			r.Header.Get("Location") != env.Server.URL+"/" {
			t.Fatalf("known user: %d %s", r.Status, r.Header.Get("Location"))
		}
		// A link for an address that has no account (issued before sign-up
		// was turned off) does not create one.
		tok := strings.Repeat("Q", 32)
		if err := env.Engine.CreateVerification(context.Background(), env.DB,
			"magic-link:"+secure.HashToken(tok), `{"email":"late@example.com"}`,
			time.Minute); err != nil {
			t.Fatal(err)
		}
		r = env.Client().Do("GET", verifyURL(tok, "callbackURL", "/home"), nil)
		if location(r) != env.Server.URL+"/home?error=new_user_signup_disabled" {
			t.Fatalf("sign-up disabled: %s", location(r))
		}
		if n := count(t, env, "SELECT COUNT(*) FROM users WHERE email = $1",
			"late@example.com"); n != 0 {
			t.Error("user created")
		}
	})
}

func TestPreAccountHijacking(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		attacker := env.Client()
		attacker.SignUp("victim@example.com", pw, "Not the victim")
		uid := userID(t, env, "victim@example.com")
		if g := attacker.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
			t.Fatal("attacker not signed in")
		}
		second := env.Client()
		if r := second.SignIn("victim@example.com", pw); r.Status != 200 {
			t.Fatalf("attacker second sign-in: %d", r.Status)
		}

		victim := env.Client()
		link := requestLink(t, env, map[string]any{"email": "victim@example.com",
			"callbackURL": "/home"})
		r := victim.Do("GET", link, nil)
		if r.Status != 302 || r.Header.Get("Location") != env.Server.URL+"/home" {
			t.Fatalf("victim: %d %s", r.Status, r.Header.Get("Location"))
		}
		g := victim.Do("GET", "/api/auth/get-session", nil)
		if g.JSON["user"].(map[string]any)["id"] != uid ||
			g.JSON["user"].(map[string]any)["emailVerified"] != true {
			t.Fatalf("victim session: %s", g.Body)
		}
		for _, c := range []*apitest.Client{attacker, second} {
			if g := c.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
				t.Fatalf("attacker session survived: %s", g.Body)
			}
		}
		if r := env.Client().SignIn("victim@example.com", pw); r.Status != 401 ||
			r.Code() != "INVALID_EMAIL_OR_PASSWORD" {
			t.Fatalf("attacker password still works: %d %s", r.Status, r.Body)
		}
		q := "SELECT COUNT(*) FROM %s WHERE user_id = $1"
		if n := count(t, env, fmt.Sprintf(q, "accounts"), uid); n != 0 {
			t.Errorf("accounts left: %d", n)
		}
		if n := count(t, env, fmt.Sprintf(q, "sessions"), uid); n != 1 {
			t.Errorf("sessions = %d, want only the victim's", n)
		}
		evs, _ := env.Engine.SecurityEvents(ctx, env.DB, uid, 50)
		var adopted bool
		for _, e := range evs {
			adopted = adopted || (e.Event == "magic_link_adopt" &&
				e.Detail["sessionsRevoked"] == float64(2))
		}
		if !adopted {
			t.Errorf("no adoption event: %+v", evs)
		}

		// A verified account keeps its password and other sessions.
		owner := env.Client()
		owner.SignUp("kept@example.com", pw, "Kept")
		if _, err := env.DB.Exec(ctx, "UPDATE users SET email_verified = true "+
			"WHERE email = $1", "kept@example.com"); err != nil {
			t.Fatal(err)
		}
		link = requestLink(t, env, map[string]any{"email": "kept@example.com"})
		env.Client().Do("GET", link, nil)
		if g := owner.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
			t.Error("verified owner lost its session")
		}
		if r := env.Client().SignIn("kept@example.com", pw); r.Status != 200 {
			t.Errorf("verified owner lost its password: %d", r.Status)
		}
	})
}

func TestLinkRacedOnce(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		link := requestLink(t, env, map[string]any{"email": "gil@example.com",
			"callbackURL": "/home"})
		const n = 8
		var wg sync.WaitGroup
		locs := make([]string, n)
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c := env.Client()
				<-start
				locs[i] = c.Do("GET", link, nil).Header.Get("Location")
			}()
		}
		close(start)
		wg.Wait()
		ok := 0
		for _, l := range locs {
			if l == env.Server.URL+"/home" {
				ok++
			} else if !strings.HasSuffix(l, "?error=INVALID_TOKEN") {
				t.Errorf("location %q", l)
			}
		}
		if ok != 1 {
			t.Fatalf("%d sign-ins from one link: %v", ok, locs)
		}
		if c := count(t, env, "SELECT COUNT(*) FROM users"); c != 1 {
			t.Errorf("users = %d", c)
		}
		if c := count(t, env, "SELECT COUNT(*) FROM sessions"); c != 1 {
			t.Errorf("sessions = %d", c)
		}
	})
}

func TestRequestValidation(t *testing.T) {
	each(t, nil, func(t *testing.T, env *apitest.Env) {
		const post = "/api/auth/sign-in/magic-link"
		valid := map[string]any{"email": "h@example.com"}
		crossSite := map[string]string{"Sec-Fetch-Site": "cross-site",
			"Sec-Fetch-Mode": "navigate"}
		cases := []struct {
			name   string
			method string
			path   string
			body   any
			header map[string]string
			origin string
			status int
			code   string
		}{
			{"no email", "POST", post, map[string]any{}, nil, "",
				400, "VALIDATION_ERROR"},
			{"bad email", "POST", post, map[string]any{"email": "not-an-email"}, nil, "",
				400, "VALIDATION_ERROR"},
			{"email not a string", "POST", post, map[string]any{"email": 7}, nil, "",
				400, "VALIDATION_ERROR"},
			{"cross-site navigation", "POST", post, valid, crossSite, "",
				403, "CROSS_SITE_NAVIGATION_LOGIN_BLOCKED"},
			{"foreign origin", "POST", post, valid, nil, "https://evil.example",
				403, "INVALID_ORIGIN"},
			{"no token", "GET", "/api/auth/magic-link/verify", nil, nil, "",
				400, "VALIDATION_ERROR"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				c := env.Client()
				for k, v := range tc.header {
					c.Header.Set(k, v)
				}
				if tc.origin != "" {
					c.Origin = tc.origin
				}
				r := c.Do(tc.method, tc.path, tc.body)
				if r.Status != tc.status || r.Code() != tc.code {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			})
		}
		if n := len(env.Mail.Messages()); n != 0 {
			t.Errorf("%d mails for refused requests", n)
		}
		for _, tok := range []string{"short", strings.Repeat("a", 31) + "1",
			"<script>" + strings.Repeat("a", 24)} {
			r := env.Client().Do("GET", verifyURL(tok), nil)
			if !strings.HasSuffix(location(r), "/?error=INVALID_TOKEN") {
				t.Errorf("token %q: %s", tok, location(r))
			}
		}
	})
}

func TestRateLimitRules(t *testing.T) {
	p := magiclink.New(&core.Config{BasePath: "/api/auth"})
	lim := transport.NewLimiter(transport.NewMemoryCounter(),
		core.RateRule{Pattern: "*", Window: 10 * time.Second, Max: 100},
		append(p.RateLimits(), transport.DefaultRules("/api/auth")...)...)
	ctx := context.Background()
	for _, path := range []string{"/api/auth/sign-in/magic-link",
		"/api/auth/magic-link/verify"} {
		for i := 1; i <= 6; i++ {
			ok, _, rule, err := lim.Allow(ctx, "203.0.113.9", path)
			if err != nil || ok != (i <= 5) || rule != path+"*" {
				t.Fatalf("%s request %d: ok=%v rule=%s err=%v", path, i, ok, rule, err)
			}
		}
	}
}

func TestSettingsFromEnv(t *testing.T) {
	get := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	s, err := magiclink.SettingsFromEnv(get(nil))
	if err != nil || s.DisableSignUp || s.ExpiresIn != 5*time.Minute {
		t.Fatalf("defaults %+v %v", s, err)
	}
	s, err = magiclink.SettingsFromEnv(get(map[string]string{
		"MAGIC_LINK_DISABLE_SIGN_UP": "true", "MAGIC_LINK_EXPIRES_IN": "600"}))
	if err != nil || !s.DisableSignUp || s.ExpiresIn != 10*time.Minute {
		t.Fatalf("parsed %+v %v", s, err)
	}
	for _, bad := range []map[string]string{{"MAGIC_LINK_DISABLE_SIGN_UP": "sometimes"},
		{"MAGIC_LINK_EXPIRES_IN": "0"}, {"MAGIC_LINK_EXPIRES_IN": "1h"}} {
		if _, err := magiclink.SettingsFromEnv(get(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
