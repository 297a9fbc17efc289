package integration

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/admin"
	"github.com/mana/mana-auth/plugins/gdpr"
	"github.com/mana/mana-auth/plugins/jwt"
	"github.com/mana/mana-auth/plugins/magiclink"
	"github.com/mana/mana-auth/plugins/mana"
	"github.com/mana/mana-auth/plugins/organization"
	"github.com/mana/mana-auth/plugins/twofactor"
	"github.com/mana/mana-auth/plugins/vault"
)

func allPlugins(cfg *core.Config) []core.Plugin {
	return []core.Plugin{jwt.New(cfg), twofactor.New(cfg), magiclink.New(cfg),
		organization.New(cfg), vault.New(cfg), gdpr.New(cfg), admin.New(cfg), mana.New(cfg)}
}

var hostileBodies = []string{
	`{}`,
	`[]`, `"text"`, `42`, `null`,
	`{"email":123,"password":[],"name":{},"token":true,"code":null,"organizationId":5,` +
		`"callbackURL":7,"newPassword":false,"role":[1],"userId":{},"id":9,"slug":[],` +
		`"permissions":"all","enable":"yes","masterKey":1,"recoveryWrappedMk":[],"tier":{}}`,
	`{"email":"a\u0000@x.co","password":"` + strings.Repeat("p", 5000) + `","name":"\ud800",` +
		`"token":"` + strings.Repeat("t", 3000) + `","code":"1e999","organizationId":"../../x",` +
		`"slug":"' OR 1=1 --","role":"owner,admin,,","permissions":{"x":"y"},` +
		`"masterKey":"!!!","recoveryWrappedMk":"AAAA","recoveryIv":"","teamId":"%00",` +
		`"invitationId":"x","memberIdOrEmail":"@","limit":-1,"offset":1e300}`,
}

var param = regexp.MustCompile(`\{[^}]+\}`)

// TestNoRouteAnswers500 sends hostile bodies to every route of every plugin,
// anonymous and signed in, on SQLite and PostgreSQL: bad input must get a
// 4xx, never a 500.
func TestNoRouteAnswers500(t *testing.T) {
	apitest.Each(t, apitest.Options{Plugins: allPlugins}, func(t *testing.T, env *apitest.Env) {
		routes := env.Engine.Routes()
		for _, p := range env.Engine.Plugins() {
			if rp, ok := p.(core.RouteProvider); ok {
				routes = append(routes, rp.Routes()...)
			}
		}
		anon := env.Client()
		user := env.Client()
		user.SignUp("hostile@example.com", pw, "H")
		user.Do("POST", "/api/v1/me/encryption-vault/init", nil)
		seen := map[int]int{}
		for _, rt := range routes {
			path := param.ReplaceAllString(rt.Path, "x%27%22")
			for _, c := range []*apitest.Client{anon, user} {
				bodies := hostileBodies
				if rt.Method == "GET" {
					bodies = []string{""}
					if !strings.Contains(path, "?") {
						path += "?limit=-5&offset=x&id=%00&token=..&organizationId=%27&page=1e9"
					}
				}
				for _, b := range bodies {
					var body any
					if b != "" {
						body = b
					}
					r := c.Do(rt.Method, path, body)
					seen[r.Status/100]++
					if r.Status >= 500 {
						t.Errorf("%s %s body %.60s: %d %s", rt.Method, rt.Path, b, r.Status, r.Body)
					}
				}
			}
		}
		// The sweep must really reach handlers: most answers are 4xx.
		if seen[4] < 4*len(routes) {
			t.Errorf("only %d 4xx answers over %d routes: %v", seen[4], len(routes), seen)
		}
		t.Logf("%d routes, answers by class: %v", len(routes), seen)
	})
}
