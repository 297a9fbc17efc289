package organization_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/organization"
)

const (
	pw         = "vivid-otter-quartz-42"
	serviceKey = "svc-key-0123456789abcdef0123456789"
	orgPath    = "/api/auth/organization/"
)

// each runs fn on SQLite and PostgreSQL with the organization plugin,
// options changed by opts.
func each(t *testing.T, fn func(t *testing.T, env *apitest.Env),
	opts ...organization.Option) {
	t.Helper()
	apitest.Each(t, options(opts...), fn)
}

func options(opts ...organization.Option) apitest.Options {
	return apitest.Options{
		Env: map[string]string{"MANA_SERVICE_KEY": serviceKey},
		Plugins: func(cfg *core.Config) []core.Plugin {
			return []core.Plugin{organization.New(cfg, opts...)}
		},
	}
}

// user is a signed-in test user.
type user struct {
	t     *testing.T
	env   *apitest.Env
	c     *apitest.Client
	ID    string
	Email string
}

// signUp creates a user with a verified email (unless unverified) and
// keeps its session.
func signUp(t *testing.T, env *apitest.Env, name string, verified bool) *user {
	t.Helper()
	c := env.Client()
	email := strings.ToLower(name) + "@example.com"
	r := c.SignUp(email, pw, name)
	id := r.JSON["user"].(map[string]any)["id"].(string)
	if verified {
		if err := env.Engine.MarkEmailVerified(context.Background(), env.DB, id); err != nil {
			t.Fatal(err)
		}
	}
	return &user{t: t, env: env, c: c, ID: id, Email: email}
}

// do calls an organization endpoint (name relative to /organization/).
func (u *user) do(method, name string, body any) *apitest.Response {
	u.t.Helper()
	return u.c.Do(method, orgPath+name, body)
}

// post calls a POST endpoint and requires 200.
func (u *user) post(name string, body any) *apitest.Response {
	u.t.Helper()
	r := u.do("POST", name, body)
	if r.Status != 200 {
		u.t.Fatalf("%s: %d %s", name, r.Status, r.Body)
	}
	return r
}

// get calls a GET endpoint with a query and requires 200.
func (u *user) get(name, query string) *apitest.Response {
	u.t.Helper()
	if query != "" {
		name += "?" + query
	}
	r := u.do("GET", name, nil)
	if r.Status != 200 {
		u.t.Fatalf("%s: %d %s", name, r.Status, r.Body)
	}
	return r
}

// session returns the user's get-session session object.
func (u *user) session() map[string]any {
	u.t.Helper()
	r := u.c.Do("GET", "/api/auth/get-session", nil)
	s, _ := r.JSON["session"].(map[string]any)
	if s == nil {
		u.t.Fatalf("get-session: %d %s", r.Status, r.Body)
	}
	return s
}

// createOrg creates an organization and returns its id.
func (u *user) createOrg(name, slug string) string {
	u.t.Helper()
	r := u.post("create", map[string]any{"name": name, "slug": slug})
	return r.JSON["id"].(string)
}

// invite invites email with role and returns the invitation id.
func (u *user) invite(orgID, email, role string) string {
	u.t.Helper()
	r := u.post("invite-member", map[string]any{"organizationId": orgID, "email": email,
		"role": role})
	return r.JSON["id"].(string)
}

// join makes u a member of orgID with role through an invitation from
// inviter, and returns u's member id.
func (u *user) join(inviter *user, orgID, role string) string {
	u.t.Helper()
	id := inviter.invite(orgID, u.Email, role)
	u.env.WaitMail(u.Email)
	r := u.post("accept-invitation", map[string]any{"invitationId": id})
	return r.JSON["member"].(map[string]any)["id"].(string)
}

// expectErr asserts an error status and code.
func expectErr(t *testing.T, r *apitest.Response, status int, code, what string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Errorf("%s: got %d %s, want %d %s", what, r.Status, r.Body, status, code)
	}
}

// count runs a count query.
func count(t *testing.T, env *apitest.Env, query string, args ...any) int {
	t.Helper()
	var n int64
	if err := env.DB.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return int(n)
}

// memberRole reads a member's stored role.
func memberRole(t *testing.T, env *apitest.Env, orgID, userID string) string {
	t.Helper()
	var role string
	err := env.DB.QueryRow(context.Background(), "SELECT role FROM members "+
		"WHERE organization_id = $1 AND user_id = $2", orgID, userID).Scan(&role)
	if err != nil {
		t.Fatalf("member role: %v", err)
	}
	return role
}

func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("not an object: %#v", v)
	}
	return m
}

func asList(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("not a list: %s", body)
	}
	return out
}

// exportJSON round-trips an export section through JSON.
func exportJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
