package transport_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
)

const pw = "vivid-otter-quartz-42"

func signIn(c *apitest.Client, email, xff string) *apitest.Response {
	c.Header.Set("X-Forwarded-For", xff)
	return c.SignIn(email, pw+"-wrong")
}

func TestRateLimitClientIP(t *testing.T) {
	t.Run("untrusted peer cannot pick its bucket", func(t *testing.T) {
		env := apitest.New(t, apitest.Options{RateLimit: true})
		c := env.Client()
		var codes []int
		for i := range 5 {
			codes = append(codes, signIn(c, "x@example.com", "198.51.100."+itoa(i)).Status)
		}
		if codes[3] != 429 || codes[4] != 429 {
			t.Fatalf("spoofed X-Forwarded-For escaped the limit: %v", codes)
		}
		r := signIn(c, "x@example.com", "1.1.1.1")
		if r.Header.Get("X-Retry-After") == "" || string(r.Body) !=
			`{"message":"Too many requests. Please try again later."}`+"\n" {
			t.Errorf("429 shape: %v %s", r.Header, r.Body)
		}
	})
	t.Run("trusted proxy forwards the client", func(t *testing.T) {
		env := apitest.New(t, apitest.Options{RateLimit: true,
			Env: map[string]string{"TRUSTED_PROXIES": "127.0.0.1/32,::1"}})
		c := env.Client()
		for i := range 6 {
			// Distinct emails: the per-account throttle is not under test.
			if r := signIn(c, "x"+itoa(i)+"@example.com", "198.51.100."+itoa(i)); r.Status == 429 {
				t.Fatalf("distinct clients behind the proxy were limited at %d", i)
			}
		}
		var last int
		for range 4 {
			last = signIn(c, "y@example.com", "203.0.113.5").Status
		}
		if last != 429 {
			t.Fatalf("one client behind the proxy was not limited: %d", last)
		}
		// IPv6 clients share their /64.
		for i := range 4 {
			last = signIn(c, "z@example.com", "2001:db8:7:7::"+itoa(i+1)).Status
		}
		if last != 429 {
			t.Fatalf("rotating inside a /64 escaped the limit: %d", last)
		}
	})
}

// twoInstances starts two servers on one database and one Redis.
func twoInstances(t *testing.T, d db.Dialect, limit bool) (*apitest.Env, *apitest.Env) {
	rdb := apitest.Redis(t)
	a := apitest.New(t, apitest.Options{Dialect: d, Redis: rdb, RateLimit: limit})
	b := apitest.New(t, apitest.Options{DB: dbtest.Reopen(t, a.DB), Redis: rdb,
		RateLimit: limit})
	return a, b
}

func TestScaleOutSharedLimits(t *testing.T) {
	a, b := twoInstances(t, db.Postgres, true)
	ca, cb := a.Client(), b.Client()
	codes := []int{
		ca.SignIn("n@example.com", "whatever-123").Status,
		cb.SignIn("n@example.com", "whatever-123").Status,
		ca.SignIn("n@example.com", "whatever-123").Status,
		cb.SignIn("n@example.com", "whatever-123").Status,
	}
	if codes[3] != 429 {
		t.Fatalf("limit did not hold across instances: %v", codes)
	}
}

func TestScaleOutRevocation(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			a, b := twoInstances(t, d, false)
			ca := a.Client()
			ca.SignUp("m@example.com", pw, "M")
			cb := b.Client()
			cb.Cookies = ca.Cookies // the same browser, load-balanced
			for range 2 {           // second read comes from the cache
				if g := cb.Do("GET", "/api/auth/get-session", nil); g.JSON["session"] == nil {
					t.Fatalf("instance b does not see the session: %s", g.Body)
				}
			}
			cb.Origin = b.Server.URL
			if r := ca.Do("POST", "/api/auth/update-user", map[string]any{"name": "Mo"}); r.Status != 200 {
				t.Fatalf("update-user: %d %s", r.Status, r.Body)
			}
			g := cb.Do("GET", "/api/auth/get-session", nil)
			if u, _ := g.JSON["user"].(map[string]any); u["name"] != "Mo" {
				t.Errorf("instance b serves a stale user: %s", g.Body)
			}
			saved := map[string]string{}
			for k, v := range ca.Cookies {
				saved[k] = v
			}
			ca.Do("POST", "/api/auth/sign-out", map[string]any{})
			cb.Cookies = saved
			if g := cb.Do("GET", "/api/auth/get-session", nil); strings.TrimSpace(string(g.Body)) != "null" {
				t.Fatalf("revoked session still served by instance b: %s", g.Body)
			}
		})
	}
}

func TestAccountThrottle(t *testing.T) {
	a, b := twoInstances(t, db.SQLite, false)
	a.Client().SignUp("victim@example.com", pw, "V")
	// Failures from many IPs on two instances count against one account.
	for i := range 5 {
		env := a
		if i%2 == 1 {
			env = b
		}
		if r := env.Client().SignIn("victim@example.com", "guess-"+itoa(i)+"-xyz"); r.Status != 401 {
			t.Fatalf("guess %d: %d %s", i, r.Status, r.Body)
		}
	}
	r := b.Client().SignIn("victim@example.com", pw)
	if r.Status != 429 || r.Header.Get("X-Retry-After") == "" {
		t.Fatalf("sixth attempt not throttled: %d %s", r.Status, r.Body)
	}
}

func TestMetricsAfterTraffic(t *testing.T) {
	env := apitest.New(t, apitest.Options{RateLimit: true})
	c := env.Client()
	c.SignUp("p@example.com", pw, "P")
	c.Do("GET", "/api/auth/get-session", nil)
	env.Client().SignIn("p@example.com", "nope-nope-nope")
	for range 4 {
		env.Client().SignIn("q@example.com", "nope-nope-nope")
	}
	m := env.Client().Do("GET", "/metrics", nil)
	body := string(m.Body)
	for _, want := range []string{
		`mana_auth_http_requests_total{method="POST",route="sign-up/email",status="200"} 1`,
		`mana_auth_http_requests_total{method="GET",route="get-session",status="200"} 1`,
		`mana_auth_http_request_duration_seconds_bucket{route="get-session",le="+Inf"} 1`,
		`mana_auth_sign_ins_total{outcome="failure"}`,
		`mana_auth_sign_ups_total{outcome="success"} 1`,
		`mana_auth_rate_limited_total{rule="/api/auth/sign-in*"}`,
		`mana_auth_password_hashes_in_flight 0`,
		`mana_auth_db_connections_max`,
		`mana_auth_outbox_pending 0`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := env.Client().Do("GET", "/healthz", nil); r.Status != 200 {
		t.Errorf("healthz: %d", r.Status)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestOperatorRateRules(t *testing.T) {
	env := apitest.New(t, apitest.Options{RateLimit: true, Env: map[string]string{
		"RATE_LIMIT_RULES": "/api/auth/sign-in*=1/10s,/api/auth/ok=0/1s"}})
	c := env.Client()
	if a, b := c.SignIn("o@example.com", "x-x-x-x-x").Status,
		c.SignIn("o@example.com", "x-x-x-x-x").Status; a != 401 || b != 429 {
		t.Errorf("operator rule: %d then %d", a, b)
	}
	for i := range 120 {
		if r := c.Do("GET", "/api/auth/ok", nil); r.Status != 200 {
			t.Fatalf("disabled rule still limits at %d: %d", i, r.Status)
		}
	}
}
