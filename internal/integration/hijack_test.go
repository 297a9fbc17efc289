package integration

import (
	"encoding/base32"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/mail/mailtest"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/magiclink"
	"github.com/mana/mana-auth/plugins/twofactor"
)

const pw = "vivid-otter-quartz-42"

// TestAdoptionDropsSquattersSecondFactor: someone signs up with the
// victim's address (unverified), sets a password and enrolls TOTP. The
// victim signs in by magic link: the squatter's password, sessions and
// second factor are all gone.
func TestAdoptionDropsSquattersSecondFactor(t *testing.T) {
	apitest.Each(t, apitest.Options{Plugins: func(cfg *core.Config) []core.Plugin {
		return []core.Plugin{twofactor.New(cfg), magiclink.New(cfg)}
	}}, func(t *testing.T, env *apitest.Env) {
		squatter := env.Client()
		squatter.SignUp("victim@example.com", pw, "Squatter")
		en := squatter.Do("POST", "/api/auth/two-factor/enable", map[string]any{"password": pw})
		uri, _ := en.JSON["totpURI"].(string)
		u, err := url.Parse(uri)
		if en.Status != 200 || err != nil {
			t.Fatalf("enable: %d %s", en.Status, en.Body)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).
			DecodeString(u.Query().Get("secret"))
		if err != nil {
			t.Fatal(err)
		}
		code, _ := twofactor.GenerateTOTP(string(raw), time.Now())
		if r := squatter.Do("POST", "/api/auth/two-factor/verify-totp",
			map[string]any{"code": code}); r.Status != 200 {
			t.Fatalf("verify-totp: %d %s", r.Status, r.Body)
		}

		victim := env.Client()
		if r := victim.Do("POST", "/api/auth/sign-in/magic-link",
			map[string]any{"email": "victim@example.com"}); r.Status != 200 {
			t.Fatalf("magic link: %d %s", r.Status, r.Body)
		}
		link := mailtest.ExtractURL(env.WaitMail("victim@example.com").Text,
			env.Server.URL+"/api/auth/magic-link/verify?")
		if r := victim.Do("GET", strings.TrimPrefix(link, env.Server.URL), nil); r.Status != 200 &&
			r.Status != 302 {
			t.Fatalf("verify: %d %s", r.Status, r.Body)
		}
		g := victim.Do("GET", "/api/auth/get-session", nil)
		user, _ := g.JSON["user"].(map[string]any)
		if user["twoFactorEnabled"] != false || user["emailVerified"] != true {
			t.Errorf("adopted user: %s", g.Body)
		}
		var n int
		if err := env.DB.QueryRow(t.Context(), "SELECT count(*) FROM two_factors").Scan(&n); err != nil ||
			n != 0 {
			t.Errorf("squatter's two_factors rows: %d %v", n, err)
		}
		if r := env.Client().SignIn("victim@example.com", pw); r.Status != 401 {
			t.Errorf("squatter's password still works: %d %s", r.Status, r.Body)
		}
		if g := squatter.Do("GET", "/api/auth/get-session", nil); strings.TrimSpace(string(g.Body)) != "null" {
			t.Errorf("squatter's session survived: %s", g.Body)
		}
	})
}
