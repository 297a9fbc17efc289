package core_test

import (
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/mail/mailtest"
	"github.com/mana/mana-auth/internal/apitest"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

const pw = "vivid-otter-quartz-42"

func TestSignUpSignInSession(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		r := c.Do("POST", "/api/auth/sign-up/email", map[string]any{
			"email": "  Alice@Example.COM ", "password": pw, "name": "Alice"})
		if r.Status != 200 {
			t.Fatalf("sign-up: %d %s", r.Status, r.Body)
		}
		user := r.JSON["user"].(map[string]any)
		if user["email"] != "alice@example.com" || user["emailVerified"] != false {
			t.Errorf("user = %v", user)
		}
		for _, k := range []string{"createdAt", "updatedAt"} {
			if s, _ := user[k].(string); !isoMillis.MatchString(s) {
				t.Errorf("%s = %q, want ISO with millis", k, s)
			}
		}
		if _, leak := user["password"]; leak {
			t.Error("password in user")
		}
		sc := r.Header.Get("Set-Cookie")
		if !strings.HasPrefix(sc, "mana.session_token=") ||
			!strings.Contains(sc, "; Max-Age=604800; Path=/; HttpOnly; SameSite=Lax") {
			t.Errorf("Set-Cookie = %q", sc)
		}
		if r.Header.Get("Cache-Control") != "no-store" ||
			r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("headers = %v", r.Header)
		}
		tok, _ := r.JSON["token"].(string)
		if len(tok) != 32 {
			t.Errorf("token = %q", tok)
		}

		s := c.Do("GET", "/api/auth/get-session", nil)
		sess, _ := s.JSON["session"].(map[string]any)
		if s.Status != 200 || sess["token"] != tok || sess["userId"] != user["id"] {
			t.Fatalf("get-session: %d %s", s.Status, s.Body)
		}

		dup := env.Client().Do("POST", "/api/auth/sign-up/email", map[string]any{
			"email": "alice@example.com", "password": pw, "name": "A"})
		if dup.Status != 422 || dup.Code() != "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL" {
			t.Errorf("duplicate: %d %s", dup.Status, dup.Body)
		}

		bad := env.Client().SignIn("alice@example.com", "wrong-password-123")
		unknown := env.Client().SignIn("nobody@example.com", "wrong-password-123")
		for _, x := range []*apitest.Response{bad, unknown} {
			if x.Status != 401 || x.Code() != "INVALID_EMAIL_OR_PASSWORD" {
				t.Errorf("bad sign-in: %d %s", x.Status, x.Body)
			}
		}
		if string(bad.Body) != string(unknown.Body) {
			t.Errorf("responses differ: %s vs %s", bad.Body, unknown.Body)
		}

		c2 := env.Client()
		in := c2.SignIn("ALICE@example.com", pw)
		if in.Status != 200 || in.JSON["redirect"] != false {
			t.Fatalf("sign-in: %d %s", in.Status, in.Body)
		}
		list := c.Do("GET", "/api/auth/list-sessions", nil)
		var n int
		if err := jsonLen(list.Body, &n); err != nil || n != 2 {
			t.Fatalf("list-sessions: %d %s", list.Status, list.Body)
		}

		out := c2.Do("POST", "/api/auth/sign-out", map[string]any{})
		if out.Status != 200 || out.JSON["success"] != true || len(c2.Cookies) != 0 {
			t.Errorf("sign-out: %d %s cookies=%v", out.Status, out.Body, c2.Cookies)
		}
		if g := c2.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Errorf("after sign-out: %s", g.Body)
		}
	})
}

func TestSessionRevocation(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		a, b, other := env.Client(), env.Client(), env.Client()
		a.SignUp("bob@example.com", pw, "Bob")
		tokB := b.SignIn("bob@example.com", pw).JSON["token"].(string)
		other.SignUp("eve@example.com", pw, "Eve")
		tokEve := other.Do("GET", "/api/auth/get-session", nil).JSON["session"].(map[string]any)["token"]

		// A foreign token is silently ignored.
		r := a.Do("POST", "/api/auth/revoke-session", map[string]any{"token": tokEve})
		if r.Status != 200 || r.JSON["status"] != true {
			t.Fatalf("revoke foreign: %d %s", r.Status, r.Body)
		}
		if g := other.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
			t.Fatal("foreign session was revoked")
		}
		r = a.Do("POST", "/api/auth/revoke-session", map[string]any{"token": tokB})
		if r.Status != 200 {
			t.Fatalf("revoke: %d %s", r.Status, r.Body)
		}
		if g := b.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Fatalf("revoked session still works: %s", g.Body)
		}

		b.SignIn("bob@example.com", pw)
		if r := a.Do("POST", "/api/auth/revoke-other-sessions", nil); r.Status != 200 {
			t.Fatalf("revoke-other: %d %s", r.Status, r.Body)
		}
		if g := b.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Fatal("other session survived revoke-other-sessions")
		}
		if g := a.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
			t.Fatal("current session revoked by revoke-other-sessions")
		}
		if r := a.Do("POST", "/api/auth/revoke-sessions", nil); r.Status != 200 {
			t.Fatalf("revoke-sessions: %d", r.Status)
		}
		if g := a.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Fatal("session survived revoke-sessions")
		}
		if r := a.Do("GET", "/api/auth/list-sessions", nil); r.Status != 401 ||
			r.Code() != "UNAUTHORIZED" {
			t.Errorf("list without session: %d %s", r.Status, r.Body)
		}
	})
}

func TestRememberMeAndRefresh(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		env.Client().SignUp("carol@example.com", pw, "Carol")
		c := env.Client()
		r := c.Do("POST", "/api/auth/sign-in/email", map[string]any{
			"email": "carol@example.com", "password": pw, "rememberMe": false})
		cookies := strings.Join(r.Header.Values("Set-Cookie"), "\n")
		if strings.Contains(cookies, "Max-Age") || !strings.Contains(cookies, "mana.dont_remember=") {
			t.Errorf("rememberMe=false cookies: %s", cookies)
		}

		// A session last extended more than a day ago slides on get-session.
		d := env.Client()
		tok := d.SignIn("carol@example.com", pw).JSON["token"].(string)
		old := time.Now().UTC().Add(5 * 24 * time.Hour).Truncate(time.Millisecond)
		if _, err := env.DB.Exec(t.Context(), "UPDATE sessions SET expires_at = $1 WHERE token = $2",
			old, tok); err != nil {
			t.Fatal(err)
		}
		g := d.Do("GET", "/api/auth/get-session", nil)
		if !strings.Contains(g.Header.Get("Set-Cookie"), "Max-Age=604800") {
			t.Errorf("no refreshed cookie: %v", g.Header.Values("Set-Cookie"))
		}
		exp, _ := time.Parse(time.RFC3339, g.JSON["session"].(map[string]any)["expiresAt"].(string))
		if time.Until(exp) < 6*24*time.Hour {
			t.Errorf("expiresAt not slid: %v", exp)
		}

		// An expired session reads as none and its cookie is cleared.
		if _, err := env.DB.Exec(t.Context(), "UPDATE sessions SET expires_at = $1 WHERE token = $2",
			time.Now().UTC().Add(-time.Minute), tok); err != nil {
			t.Fatal(err)
		}
		g = d.Do("GET", "/api/auth/get-session", nil)
		if string(g.Body) != "null\n" || !strings.Contains(g.Header.Get("Set-Cookie"), "Max-Age=0") {
			t.Errorf("expired: %s %v", g.Body, g.Header.Values("Set-Cookie"))
		}
	})
}

func TestTamperedCookies(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	c := env.Client()
	c.SignUp("dave@example.com", pw, "Dave")
	good := c.Cookies["mana.session_token"]
	tok := strings.SplitN(good, ".", 2)[0]
	cases := map[string]string{
		"raw token":        tok,
		"other signature":  tok + ".AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA%3D",
		"changed token":    flipFirst(good),
		"truncated":        good[:len(good)-4],
		"empty":            "",
		"garbage encoding": "%zz%",
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			c.Cookies["mana.session_token"] = v
			if g := c.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
				t.Errorf("accepted: %s", g.Body)
			}
		})
	}
}

func TestPasswordReset(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		c.SignUp("erin@example.com", pw, "Erin")
		other := env.Client()
		other.SignIn("erin@example.com", pw)

		for _, email := range []string{"erin@example.com", "nobody@example.com"} {
			r := env.Client().Do("POST", "/api/auth/request-password-reset",
				map[string]any{"email": email, "redirectTo": "/reset"})
			if r.Status != 200 || r.JSON["status"] != true {
				t.Fatalf("request reset %s: %d %s", email, r.Status, r.Body)
			}
		}
		m := env.WaitMail("erin@example.com")
		link := mailtest.ExtractURL(m.Text, env.Server.URL+"/api/auth/reset-password/")
		if link == "" {
			t.Fatalf("no reset link in %q", m.Text)
		}
		g := env.Client().Do("GET", strings.TrimPrefix(link, env.Server.URL), nil)
		loc := g.Header.Get("Location")
		if g.Status != 302 || !strings.HasPrefix(loc, env.Server.URL+"/reset?token=") {
			t.Fatalf("reset link: %d %s", g.Status, loc)
		}
		token := loc[strings.Index(loc, "token=")+6:]

		bad := env.Client().Do("GET", "/api/auth/reset-password/nope?callbackURL=/reset", nil)
		if !strings.Contains(bad.Header.Get("Location"), "error=INVALID_TOKEN") {
			t.Errorf("bad token redirect: %s", bad.Header.Get("Location"))
		}
		weak := env.Client().Do("POST", "/api/auth/reset-password",
			map[string]any{"token": token, "newPassword": "password123"})
		if weak.Status != 400 || weak.Code() != "PASSWORD_COMPROMISED" {
			t.Errorf("weak reset: %d %s", weak.Status, weak.Body)
		}

		// Two racing resets with one token: exactly one wins.
		var wg sync.WaitGroup
		status := make([]int, 2)
		for i := range status {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status[i] = env.Client().Do("POST", "/api/auth/reset-password",
					map[string]any{"token": token, "newPassword": "new-" + pw}).Status
			}()
		}
		wg.Wait()
		if !(status[0] == 200 && status[1] == 400 || status[0] == 400 && status[1] == 200) {
			t.Fatalf("racing resets: %v", status)
		}
		if r := env.Client().SignIn("erin@example.com", pw); r.Status != 401 {
			t.Errorf("old password still works: %d", r.Status)
		}
		if r := env.Client().SignIn("erin@example.com", "new-"+pw); r.Status != 200 {
			t.Errorf("new password: %d %s", r.Status, r.Body)
		}
		if g := other.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Error("session survived password reset")
		}
	})
}

func TestChangePassword(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c, other := env.Client(), env.Client()
		c.SignUp("frank@example.com", pw, "Frank")
		other.SignIn("frank@example.com", pw)
		r := c.Do("POST", "/api/auth/change-password", map[string]any{
			"currentPassword": "not-it-at-all", "newPassword": "next-" + pw})
		if r.Status != 400 || r.Code() != "INVALID_PASSWORD" {
			t.Errorf("wrong current: %d %s", r.Status, r.Body)
		}
		r = c.Do("POST", "/api/auth/change-password", map[string]any{
			"currentPassword": pw, "newPassword": "next-" + pw, "revokeOtherSessions": true})
		if r.Status != 200 || len(r.JSON["token"].(string)) != 32 {
			t.Fatalf("change: %d %s", r.Status, r.Body)
		}
		if g := c.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
			t.Error("new session not usable")
		}
		if g := other.Do("GET", "/api/auth/get-session", nil); string(g.Body) != "null\n" {
			t.Error("other session survived")
		}
		if r := env.Client().SignIn("frank@example.com", "next-"+pw); r.Status != 200 {
			t.Errorf("new password: %d", r.Status)
		}
		la := c.Do("GET", "/api/auth/list-accounts", nil)
		if la.Status != 200 || !strings.Contains(string(la.Body), `"providerId":"credential"`) ||
			strings.Contains(string(la.Body), "password") {
			t.Errorf("list-accounts: %d %s", la.Status, la.Body)
		}
		if r := c.Do("POST", "/api/auth/verify-password", map[string]any{"password": "x1234567"}); r.Status != 400 {
			t.Errorf("verify-password wrong: %d", r.Status)
		}
		if r := c.Do("POST", "/api/auth/verify-password", map[string]any{"password": "next-" + pw}); r.Status != 200 {
			t.Errorf("verify-password: %d %s", r.Status, r.Body)
		}
	})
}

func TestEmailVerificationAndChange(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		c.SignUp("gina@example.com", pw, "Gina")
		r := c.Do("POST", "/api/auth/send-verification-email",
			map[string]any{"email": "gina@example.com", "callbackURL": "/welcome"})
		if r.Status != 200 {
			t.Fatalf("send: %d %s", r.Status, r.Body)
		}
		link := mailtest.ExtractURL(env.WaitMail("gina@example.com").Text,
			env.Server.URL+"/api/auth/verify-email")
		g := env.Client().Do("GET", strings.TrimPrefix(link, env.Server.URL), nil)
		if g.Status != 302 || g.Header.Get("Location") != env.Server.URL+"/welcome" {
			t.Fatalf("verify: %d %v", g.Status, g.Header.Get("Location"))
		}
		u := c.Do("GET", "/api/auth/get-session", nil).JSON["user"].(map[string]any)
		if u["emailVerified"] != true {
			t.Fatalf("not verified: %v", u)
		}
		if r := c.Do("POST", "/api/auth/send-verification-email",
			map[string]any{"email": "gina@example.com"}); r.Code() != "EMAIL_ALREADY_VERIFIED" {
			t.Errorf("already verified: %s", r.Body)
		}
		bad := env.Client().Do("GET", "/api/auth/verify-email?token=abc.def.ghi", nil)
		if bad.Status != 401 || bad.Code() != "INVALID_TOKEN" {
			t.Errorf("bad token: %d %s", bad.Status, bad.Body)
		}

		// Change email: confirm from the old address, then verify the new.
		r = c.Do("POST", "/api/auth/change-email", map[string]any{"newEmail": "gina2@example.com"})
		if r.Status != 200 {
			t.Fatalf("change-email: %d %s", r.Status, r.Body)
		}
		confirm := mailtest.ExtractURL(env.WaitMail("gina@example.com").Text,
			env.Server.URL+"/api/auth/verify-email")
		env.Client().Do("GET", strings.TrimPrefix(confirm, env.Server.URL), nil)
		verify := mailtest.ExtractURL(env.WaitMail("gina2@example.com").Text,
			env.Server.URL+"/api/auth/verify-email")
		env.Client().Do("GET", strings.TrimPrefix(verify, env.Server.URL), nil)
		u = c.Do("GET", "/api/auth/get-session", nil).JSON["user"].(map[string]any)
		if u["email"] != "gina2@example.com" {
			t.Errorf("email not changed: %v", u)
		}
	})
}

func TestUpdateAndDeleteUser(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		c.SignUp("hank@example.com", pw, "Hank")
		cases := []struct {
			name   string
			body   any
			status int
			code   string
		}{
			{"email", map[string]any{"email": "x@example.com"}, 400, "EMAIL_CAN_NOT_BE_UPDATED"},
			{"input false", map[string]any{"emailVerified": true}, 400, "FIELD_NOT_ALLOWED"},
			{"role", map[string]any{"role": "admin"}, 400, "FIELD_NOT_ALLOWED"},
			{"nothing", map[string]any{}, 400, ""},
			{"wrong type", map[string]any{"name": 5}, 400, "VALIDATION_ERROR"},
			{"name", map[string]any{"name": "Henry"}, 200, ""},
		}
		for _, tc := range cases {
			r := c.Do("POST", "/api/auth/update-user", tc.body)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}
		if u := c.Do("GET", "/api/auth/get-session", nil).JSON["user"].(map[string]any); u["name"] != "Henry" {
			t.Errorf("name = %v", u["name"])
		}

		// Without a password deletion goes through the mailbox.
		r := c.Do("POST", "/api/auth/delete-user", map[string]any{})
		if r.Status != 200 || r.JSON["message"] != "Verification email sent" {
			t.Fatalf("delete request: %d %s", r.Status, r.Body)
		}
		link := mailtest.ExtractURL(env.WaitMail("hank@example.com").Text,
			env.Server.URL+"/api/auth/delete-user/callback")
		stranger := env.Client()
		stranger.SignUp("ivy@example.com", pw, "Ivy")
		if r := stranger.Do("GET", strings.TrimPrefix(link, env.Server.URL), nil); r.Status != 404 {
			t.Errorf("someone else's delete link: %d %s", r.Status, r.Body)
		}
		if r := c.Do("GET", strings.TrimPrefix(link, env.Server.URL), nil); r.Status != 302 {
			t.Errorf("delete callback: %d %s", r.Status, r.Body)
		}
		if r := env.Client().SignIn("hank@example.com", pw); r.Status != 401 {
			t.Errorf("deleted user signs in: %d", r.Status)
		}

		r = stranger.Do("POST", "/api/auth/delete-user", map[string]any{"password": "nope-nope-1"})
		if r.Code() != "INVALID_PASSWORD" {
			t.Errorf("wrong password delete: %s", r.Body)
		}
		r = stranger.Do("POST", "/api/auth/delete-user", map[string]any{"password": pw})
		if r.Status != 200 || r.JSON["message"] != "User deleted" {
			t.Errorf("delete: %d %s", r.Status, r.Body)
		}
	})
}

func TestHostileInput(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	cases := []struct {
		name        string
		method      string
		path        string
		body        any
		contentType string
		status      int
		code        string
	}{
		{"bad json", "POST", "/api/auth/sign-in/email", "{not json", "", 400, "BAD_REQUEST"},
		{"array body", "POST", "/api/auth/sign-in/email", "[1,2]", "", 400, "BODY_MUST_BE_AN_OBJECT"},
		{"null body", "POST", "/api/auth/sign-in/email", "null", "", 400, "BODY_MUST_BE_AN_OBJECT"},
		{"wrong type", "POST", "/api/auth/sign-in/email", `{"email":1,"password":"x"}`, "", 400, "VALIDATION_ERROR"},
		{"missing field", "POST", "/api/auth/sign-in/email", `{"email":"a@b.co"}`, "", 400, "VALIDATION_ERROR"},
		{"bad email", "POST", "/api/auth/sign-up/email", `{"email":"a\u0000@b.co","password":"x1234567ab","name":"x"}`, "", 400, "INVALID_EMAIL"},
		{"short password", "POST", "/api/auth/sign-up/email", `{"email":"s@b.co","password":"x1","name":"x"}`, "", 400, "PASSWORD_TOO_SHORT"},
		{"long password", "POST", "/api/auth/sign-up/email", `{"email":"s@b.co","password":"` + strings.Repeat("x", 129) + `","name":"x"}`, "", 400, "PASSWORD_TOO_LONG"},
		{"text/plain", "POST", "/api/auth/sign-in/email", `{}`, "text/plain", 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"huge body", "POST", "/api/auth/sign-in/email", `{"email":"` + strings.Repeat("a", 2<<20) + `"}`, "", 413, "PAYLOAD_TOO_LARGE"},
		{"unknown route", "GET", "/api/auth/nope", nil, "", 404, ""},
		{"double slash", "GET", "/api/auth//ok", nil, "", 404, ""},
		{"dot segment", "GET", "/api/auth/./ok", nil, "", 404, ""},
		{"trailing slash", "GET", "/api/auth/ok/", nil, "", 404, ""},
		{"wrong method", "DELETE", "/api/auth/ok", nil, "", 404, ""},
		{"head", "HEAD", "/api/auth/ok", nil, "", 404, ""},
		{"evil callback", "POST", "/api/auth/sign-in/email", `{"email":"a@b.co","password":"x","callbackURL":"https://evil.example"}`, "", 403, "INVALID_CALLBACK_URL"},
		{"protocol-relative", "POST", "/api/auth/request-password-reset", `{"email":"a@b.co","redirectTo":"//evil.example"}`, "", 403, "INVALID_REDIRECT_URL"},
		{"case-variant callback", "POST", "/api/auth/sign-in/email", `{"email":"a@b.co","password":"x","CallbackURL":"https://evil.example"}`, "", 403, "INVALID_CALLBACK_URL"},
		{"duplicate-case callback", "POST", "/api/auth/sign-in/email", `{"email":"a@b.co","password":"x","callbackURL":"/ok","callbackurl":"https://evil.example"}`, "", 403, "INVALID_CALLBACK_URL"},
		{"js callback", "POST", "/api/auth/sign-in/email", `{"email":"a@b.co","password":"x","callbackURL":"javascript:alert(1)"}`, "", 403, "INVALID_CALLBACK_URL"},
		{"ok", "GET", "/api/auth/ok", nil, "", 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, env.Server.URL+tc.path, nil)
			if s, ok := tc.body.(string); ok {
				req, _ = http.NewRequest(tc.method, env.Server.URL+tc.path, strings.NewReader(s))
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				req.Header.Set("Content-Type", ct)
			}
			req.URL.Path = tc.path
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			r := readResp(resp)
			if r.Status != tc.status || r.Code() != tc.code {
				t.Errorf("got %d %s", r.Status, truncate(string(r.Body), 200))
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("no nosniff header")
			}
		})
	}
}

func TestOriginChecks(t *testing.T) {
	env := apitest.New(t, apitest.Options{Env: map[string]string{
		"TRUSTED_ORIGINS": "https://app.mana.how,*.mana.how,manaapp://"}})
	c := env.Client()
	c.SignUp("jo@example.com", pw, "Jo")
	cases := []struct {
		origin string
		status int
		code   string
	}{
		{"https://evil.example", 403, "INVALID_ORIGIN"},
		{"", 403, "MISSING_OR_NULL_ORIGIN"},
		{"null", 403, "MISSING_OR_NULL_ORIGIN"},
		{"https://app.mana.how.evil.com", 403, "INVALID_ORIGIN"},
		{"https://app.mana.how", 200, ""},
		{"https://todo.mana.how", 200, ""},
	}
	for _, tc := range cases {
		c.Origin = tc.origin
		r := c.Do("POST", "/api/auth/update-user", map[string]any{"name": "Jo"})
		if r.Status != tc.status || r.Code() != tc.code {
			t.Errorf("origin %q: %d %s", tc.origin, r.Status, r.Body)
		}
	}
	// Expo apps send their scheme as expo-origin; it must be trusted.
	c.Origin = ""
	c.Header.Set("Expo-Origin", "manaapp://")
	if r := c.Do("POST", "/api/auth/update-user", map[string]any{"name": "Jo"}); r.Status != 200 {
		t.Errorf("trusted expo-origin: %d %s", r.Status, r.Body)
	}
	c.Header.Set("Expo-Origin", "evilapp://")
	if r := c.Do("POST", "/api/auth/update-user", map[string]any{"name": "Jo"}); r.Code() != "INVALID_ORIGIN" {
		t.Errorf("untrusted expo-origin: %d %s", r.Status, r.Body)
	}
	c.Header.Del("Expo-Origin")
	// CORS: trusted origins get credentials and set-auth-jwt exposed.
	pre, _ := http.NewRequest("OPTIONS", env.Server.URL+"/api/auth/sign-in/email", nil)
	pre.Header.Set("Origin", "https://app.mana.how")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.mana.how" ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "set-auth-jwt") {
		t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
	}
	pre.Header.Set("Origin", "https://evil.example")
	resp, _ = http.DefaultClient.Do(pre)
	resp.Body.Close()
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("untrusted origin got CORS headers")
	}
}

func TestRequireEmailVerification(t *testing.T) {
	apitest.Each(t, apitest.Options{Env: map[string]string{"REQUIRE_EMAIL_VERIFICATION": "true"}},
		func(t *testing.T, env *apitest.Env) {
			c := env.Client()
			r := c.Do("POST", "/api/auth/sign-up/email",
				map[string]any{"email": "kim@example.com", "password": pw, "name": "Kim"})
			if r.Status != 200 || r.JSON["token"] != nil || len(c.Cookies) != 0 {
				t.Fatalf("sign-up: %d %s", r.Status, r.Body)
			}
			dup := env.Client().Do("POST", "/api/auth/sign-up/email",
				map[string]any{"email": "kim@example.com", "password": pw, "name": "Kim"})
			if dup.Status != 200 || dup.JSON["user"].(map[string]any)["id"] ==
				r.JSON["user"].(map[string]any)["id"] {
				t.Errorf("existing email not hidden: %d %s", dup.Status, dup.Body)
			}
			if in := c.SignIn("kim@example.com", pw); in.Status != 403 ||
				in.Code() != "EMAIL_NOT_VERIFIED" {
				t.Errorf("unverified sign-in: %d %s", in.Status, in.Body)
			}
			link := mailtest.ExtractURL(env.WaitMail("kim@example.com").Text,
				env.Server.URL+"/api/auth/verify-email")
			env.Client().Do("GET", strings.TrimPrefix(link, env.Server.URL), nil)
			if in := c.SignIn("kim@example.com", pw); in.Status != 200 {
				t.Errorf("verified sign-in: %d %s", in.Status, in.Body)
			}
		})
}

func flipFirst(s string) string {
	if s[0] == 'X' {
		return "Y" + s[1:]
	}
	return "X" + s[1:]
}

// BenchmarkLookupSession is the engine's hot path without HTTP: signed
// cookie already verified, one indexed join.
func BenchmarkLookupSession(b *testing.B) {
	env := apitest.New(b, apitest.Options{})
	c := env.Client()
	tok := c.SignUp("lookup@example.com", pw, "L").JSON["token"].(string)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		st, err := env.Engine.LookupSession(ctx, tok, true, false)
		if err != nil || st.Session == nil {
			b.Fatal(err)
		}
	}
}

func TestSecurityLog(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		c.Header.Set("User-Agent", "agent/1.0")
		id := c.SignUp("log@example.com", pw, "L").JSON["user"].(map[string]any)["id"].(string)
		c.SignIn("log@example.com", "wrong-wrong-wrong")
		c.SignIn("log@example.com", pw)
		c.Do("POST", "/api/auth/sign-out", map[string]any{})
		evs, err := env.Engine.SecurityEvents(t.Context(), env.DB, id, 50)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, ev := range evs {
			got[ev.Event+"/"+ev.Outcome] = true
			if ev.IPAddress != "127.0.0.1" || ev.UserAgent != "agent/1.0" {
				t.Errorf("event %s: ip %q ua %q", ev.Event, ev.IPAddress, ev.UserAgent)
			}
		}
		for _, want := range []string{"sign_up/success", "sign_in/failure", "sign_in/success",
			"sign_out/success"} {
			if !got[want] {
				t.Errorf("no %s event in %v", want, got)
			}
		}
		// Pruning removes only events past the retention.
		old := time.Now().UTC().Add(-env.Config.SecurityRetention - time.Hour)
		if _, err := env.DB.Exec(t.Context(), "UPDATE security_events SET created_at = $1 "+
			"WHERE event = 'sign_up'", old); err != nil {
			t.Fatal(err)
		}
		n, err := env.Engine.PruneSecurityEvents(t.Context())
		if err != nil || n != 1 {
			t.Fatalf("pruned %d, %v", n, err)
		}
	})
}

// TestThrottleDoesNotRevealAccounts: unknown and known addresses are
// throttled alike, so the 429 cannot be used to find accounts.
func TestThrottleDoesNotRevealAccounts(t *testing.T) {
	env := apitest.New(t, apitest.Options{})
	env.Client().SignUp("known@example.com", pw, "K")
	for _, email := range []string{"known@example.com", "unknown@example.com", "not-an-email"} {
		var last *apitest.Response
		for range 7 {
			last = env.Client().SignIn(email, "wrong-wrong-wrong")
		}
		if last.Status != 429 || last.Header.Get("X-Retry-After") == "" {
			t.Errorf("%s after 7 failures: %d %s", email, last.Status, last.Body)
		}
	}
}

// TestInvalidUTF8UserAgent: header bytes that are not UTF-8 are cleaned
// before they reach a row (PostgreSQL would refuse them and turn a
// sign-in into a 500).
func TestInvalidUTF8UserAgent(t *testing.T) {
	apitest.Each(t, apitest.Options{}, func(t *testing.T, env *apitest.Env) {
		c := env.Client()
		c.Header.Set("User-Agent", "agent\xff\xfe/1.0 "+strings.Repeat("é", 400))
		r := c.Do("POST", "/api/auth/sign-up/email",
			map[string]any{"email": "utf@example.com", "password": pw, "name": "U"})
		if r.Status != 200 {
			t.Fatalf("sign-up: %d %s", r.Status, r.Body)
		}
		ua := c.Do("GET", "/api/auth/get-session", nil).JSON["session"].(map[string]any)["userAgent"].(string)
		if !strings.HasPrefix(ua, "agent/1.0 é") || len(ua) > 512 {
			t.Errorf("stored user agent %q (%d bytes)", ua[:20], len(ua))
		}
	})
}
