package admin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/admin"
)

const pw = "vivid-otter-quartz-42"

func options(env map[string]string) apitest.Options {
	return apitest.Options{Env: env, Plugins: func(cfg *core.Config) []core.Plugin {
		return []core.Plugin{admin.New(cfg)}
	}}
}

type user = apitest.User

func signUp(t testing.TB, env *apitest.Env, email string) user {
	t.Helper()
	return env.NewUser(t, email, pw, "Test")
}

// signUpAdmin signs a user up and makes it an admin with the command
// operators use.
func signUpAdmin(t testing.TB, env *apitest.Env, email string) user {
	t.Helper()
	u := signUp(t, env, email)
	var out bytes.Buffer
	if err := admin.RunCommand(context.Background(), env.Engine,
		[]string{"set-role", email, "admin"}, &out); err != nil {
		t.Fatalf("set-role: %v", err)
	}
	if got := out.String(); got != email+": role user -> admin\n" {
		t.Errorf("command output %q", got)
	}
	return u
}

func wantError(t testing.TB, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Status != status || r.Code() != code {
		t.Errorf("got %d %s, want %d %s", r.Status, r.Body, status, code)
	}
}

func count(t testing.TB, d db.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := d.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// events counts security events of an actor with a detail fragment.
func events(t testing.TB, env *apitest.Env, actor, event, outcome, detail string) int {
	t.Helper()
	return count(t, env.DB, "SELECT count(*) FROM security_events WHERE user_id = $1 AND "+
		"event = $2 AND outcome = $3 AND COALESCE(detail, '') LIKE $4", actor, event, outcome,
		"%"+detail+"%")
}

func TestAccessControl(t *testing.T) {
	apitest.Each(t, options(nil), func(t *testing.T, env *apitest.Env) {
		eve := signUp(t, env, "eve@example.com")
		routes := []struct{ method, path string }{
			{"GET", "/api/v1/admin/users"},
			{"GET", "/api/v1/admin/users/" + eve.ID + "/tier"},
			{"PUT", "/api/v1/admin/users/" + eve.ID + "/tier"},
		}
		for _, rt := range routes {
			var body any
			if rt.method == "PUT" {
				body = map[string]any{"tier": "founder"}
			}
			wantError(t, env.Client().Do(rt.method, rt.path, body), 401, "UNAUTHORIZED")
			wantError(t, eve.C.Do(rt.method, rt.path, body), 403, "FORBIDDEN")
		}
		if n := events(t, env, eve.ID, "admin_access_denied", "failure", ""); n != 3 {
			t.Errorf("denials logged = %d, want 3", n)
		}
		// Eve did not give herself the founder tier.
		tiered := "SELECT count(*) FROM users WHERE access_tier IS NOT NULL"
		if n := count(t, env.DB, tiered); n != 0 {
			t.Errorf("tiers set by a non-admin: %d", n)
		}

		// Taking the role away counts at once, cached session or not.
		root := signUpAdmin(t, env, "root@example.com")
		if r := root.C.Do("GET", "/api/v1/admin/users", nil); r.Status != 200 {
			t.Fatalf("admin list: %d %s", r.Status, r.Body)
		}
		if _, err := admin.SetRole(context.Background(), env.Engine, root.Email,
			"user"); err != nil {
			t.Fatal(err)
		}
		wantError(t, root.C.Do("GET", "/api/v1/admin/users", nil), 403, "FORBIDDEN")
		// A role list holding admin is an admin.
		if _, err := admin.SetRole(context.Background(), env.Engine, root.Email,
			"user,admin"); err != nil {
			t.Fatal(err)
		}
		if r := root.C.Do("GET", "/api/v1/admin/users", nil); r.Status != 200 {
			t.Errorf("role list: %d %s", r.Status, r.Body)
		}
	})
}

// seed creates users directly (no password hashing) with distinct, known
// creation times: i minutes ago.
func seed(t testing.TB, env *apitest.Env, names map[string]string) {
	t.Helper()
	i := 0
	for email, name := range names {
		i++
		u := &core.User{Email: email, Name: name,
			CreatedAt: time.Now().Add(-time.Duration(100+i) * time.Minute)}
		u.UpdatedAt = u.CreatedAt
		if err := env.Engine.CreateUser(context.Background(), env.DB, u); err != nil {
			t.Fatal(err)
		}
	}
}

func emails(r *apitest.Response) []string {
	var out []string
	us, _ := r.JSON["users"].([]any)
	for _, u := range us {
		m, _ := u.(map[string]any)
		e, _ := m["email"].(string)
		out = append(out, e)
	}
	return out
}

func TestListUsers(t *testing.T) {
	apitest.Each(t, options(nil), func(t *testing.T, env *apitest.Env) {
		root := signUpAdmin(t, env, "root@example.com")
		names := map[string]string{}
		for i := range 23 {
			names[fmt.Sprintf("user%02d@example.com", i)] = fmt.Sprintf("User %02d", i)
		}
		names["alice.smith@example.com"] = "Alice Smith"
		names["promo1@example.com"] = "Promo 50% off"
		names["promo2@example.com"] = "Promo 50x off"
		names["promo3@example.com"] = "Promo 500 off"
		names["under1@example.com"] = "snake_case"
		names["under2@example.com"] = "snakeXcase"
		names["slash1@example.com"] = `back\slash`
		names["slash2@example.com"] = `back\\slash`
		seed(t, env, names)
		total := float64(len(names) + 1)

		r := root.C.Do("GET", "/api/v1/admin/users", nil)
		if r.Status != 200 || r.JSON["total"] != total || r.JSON["page"] != float64(1) ||
			r.JSON["limit"] != float64(20) || len(emails(r)) != 20 {
			t.Fatalf("default page: %d total=%v page=%v limit=%v n=%d", r.Status,
				r.JSON["total"], r.JSON["page"], r.JSON["limit"], len(emails(r)))
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
		}
		if emails(r)[0] != root.Email {
			t.Errorf("newest first: got %v", emails(r)[:3])
		}
		first, _ := r.JSON["users"].([]any)[0].(map[string]any)
		if first["accessTier"] != "public" || first["role"] != "admin" {
			t.Errorf("user entry = %v", first)
		}
		if bytes.Contains(r.Body, []byte("password")) || bytes.Contains(r.Body, []byte("token")) {
			t.Error("secrets in the user list")
		}

		// Paging covers everyone exactly once.
		seen := map[string]bool{}
		for page := 1; page <= 4; page++ {
			p := root.C.Do("GET", fmt.Sprintf("/api/v1/admin/users?page=%d&limit=9", page), nil)
			if p.Status != 200 || p.JSON["total"] != total {
				t.Fatalf("page %d: %d %s", page, p.Status, p.Body)
			}
			for _, e := range emails(p) {
				if seen[e] {
					t.Errorf("%s on two pages", e)
				}
				seen[e] = true
			}
		}
		if len(seen) != int(total) {
			t.Errorf("pages covered %d users, want %v", len(seen), total)
		}
		if p := root.C.Do("GET", "/api/v1/admin/users?page=9&limit=100", nil); p.Status != 200 ||
			len(emails(p)) != 0 || p.JSON["total"] != total {
			t.Errorf("page past the end: %d %s", p.Status, p.Body)
		}

		searches := []struct {
			name, q string
			want    []string
		}{
			{"email, any case", "ALICE", []string{"alice.smith@example.com"}},
			{"name, any case", "smith", []string{"alice.smith@example.com"}},
			{"percent is literal", "50%", []string{"promo1@example.com"}},
			{"underscore is literal", "snake_", []string{"under1@example.com"}},
			{"backslash is literal", `back\s`, []string{"slash1@example.com"}},
			{"prefix of several", "promo", []string{"promo1@example.com",
				"promo2@example.com", "promo3@example.com"}},
			{"no match", "zzz", nil},
			{"blank is no filter", "   ", nil},
		}
		for _, s := range searches {
			t.Run(s.name, func(t *testing.T) {
				p := root.C.Do("GET", "/api/v1/admin/users?limit=100&search="+
					urlQuery(s.q), nil)
				if p.Status != 200 {
					t.Fatalf("%d %s", p.Status, p.Body)
				}
				got := emails(p)
				if strings.TrimSpace(s.q) == "" {
					if len(got) != int(total) {
						t.Errorf("blank search gave %d users", len(got))
					}
					return
				}
				if strings.Join(sorted(got), ",") != strings.Join(s.want, ",") ||
					p.JSON["total"] != float64(len(s.want)) {
					t.Errorf("got %v (total %v), want %v", got, p.JSON["total"], s.want)
				}
			})
		}

		bad := []string{"page=0", "page=-1", "page=abc", "page=1.5", "limit=0",
			"limit=101", "limit=x", "page=99999999999999999999",
			"search=" + strings.Repeat("a", 201)}
		for _, q := range bad {
			wantError(t, root.C.Do("GET", "/api/v1/admin/users?"+q, nil), 400,
				"VALIDATION_ERROR")
		}
		if n := events(t, env, root.ID, "admin_list_users", "success", ""); n < 10 {
			t.Errorf("list events = %d", n)
		}
	})
}

func TestTier(t *testing.T) {
	apitest.Each(t, options(nil), func(t *testing.T, env *apitest.Env) {
		root := signUpAdmin(t, env, "root@example.com")
		bob := signUp(t, env, "bob@example.com")
		path := "/api/v1/admin/users/" + bob.ID + "/tier"

		r := root.C.Do("GET", path, nil)
		if r.Status != 200 || r.JSON["userId"] != bob.ID || r.JSON["tier"] != "public" {
			t.Fatalf("default tier: %d %s", r.Status, r.Body)
		}
		r = root.C.Do("PUT", path, map[string]any{"tier": "beta"})
		if r.Status != 200 || r.JSON["userId"] != bob.ID || r.JSON["tier"] != "beta" {
			t.Fatalf("set tier: %d %s", r.Status, r.Body)
		}
		if r := root.C.Do("GET", path, nil); r.JSON["tier"] != "beta" {
			t.Errorf("tier after set: %s", r.Body)
		}
		// Bob's own session shows the new tier.
		s := bob.C.Do("GET", "/api/auth/get-session", nil)
		if u, _ := s.JSON["user"].(map[string]any); u["accessTier"] != "beta" {
			t.Errorf("bob's session user: %s", s.Body)
		}

		wantError(t, root.C.Do("PUT", path, map[string]any{"tier": "gold"}), 400,
			"INVALID_TIER")
		wantError(t, root.C.Do("PUT", path, map[string]any{"tier": "Beta"}), 400,
			"INVALID_TIER")
		wantError(t, root.C.Do("PUT", path, map[string]any{}), 400, "VALIDATION_ERROR")
		wantError(t, root.C.Do("PUT", path, map[string]any{"tier": 3}), 400,
			"VALIDATION_ERROR")
		wantError(t, root.C.Do("PUT", "/api/v1/admin/users/nobody/tier",
			map[string]any{"tier": "beta"}), 404, "USER_NOT_FOUND")
		wantError(t, root.C.Do("GET", "/api/v1/admin/users/nobody/tier", nil), 404,
			"USER_NOT_FOUND")
		if r := root.C.Do("GET", path, nil); r.JSON["tier"] != "beta" {
			t.Errorf("tier after refused changes: %s", r.Body)
		}

		target := `"target":"` + bob.ID + `"`
		if n := events(t, env, root.ID, "admin_set_tier", "success",
			target); n != 1 {
			t.Errorf("set-tier events = %d", n)
		}
		if n := events(t, env, root.ID, "admin_set_tier", "success",
			`"previous":"public"`); n != 1 {
			t.Errorf("set-tier event lacks the previous tier")
		}
		if n := events(t, env, root.ID, "admin_view_tier", "success", target); n != 3 {
			t.Errorf("view-tier events = %d, want 3", n)
		}
	})
}

func TestCustomTiers(t *testing.T) {
	env := apitest.New(t, options(map[string]string{"ACCESS_TIERS": "free,pro"}))
	root := signUpAdmin(t, env, "root@example.com")
	path := "/api/v1/admin/users/" + root.ID + "/tier"
	if r := root.C.Do("GET", path, nil); r.JSON["tier"] != "free" {
		t.Errorf("default tier: %s", r.Body)
	}
	wantError(t, root.C.Do("PUT", path, map[string]any{"tier": "beta"}), 400, "INVALID_TIER")
	if r := root.C.Do("PUT", path, map[string]any{"tier": "pro"}); r.Status != 200 {
		t.Errorf("pro: %d %s", r.Status, r.Body)
	}
}

func TestSetRoleCommand(t *testing.T) {
	apitest.Each(t, options(nil), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		bob := signUp(t, env, "bob@example.com")
		var out bytes.Buffer
		for _, args := range [][]string{nil, {"set-role"}, {"set-role", "bob@example.com"},
			{"promote", "bob@example.com", "admin"}} {
			if err := admin.RunCommand(ctx, env.Engine, args, &out); err == nil ||
				!strings.Contains(err.Error(), "usage") {
				t.Errorf("%v: %v", args, err)
			}
		}
		err := admin.RunCommand(ctx, env.Engine, []string{"set-role", "nobody@example.com",
			"admin"}, &out)
		if !errors.Is(err, admin.ErrNoSuchUser) {
			t.Errorf("unknown email: %v", err)
		}
		for _, role := range []string{"", "Admin", "admin;drop", "a,", ",admin"} {
			if _, err := admin.SetRole(ctx, env.Engine, bob.Email, role); !errors.Is(err,
				admin.ErrBadRole) {
				t.Errorf("role %q: %v", role, err)
			}
		}
		// Email is normalised as at sign-in.
		if err := admin.RunCommand(ctx, env.Engine, []string{"set-role", " BOB@Example.com ",
			"admin"}, &out); err != nil {
			t.Fatal(err)
		}
		if n := count(t, env.DB, "SELECT count(*) FROM users WHERE id = $1 AND "+
			"role = 'admin'", bob.ID); n != 1 {
			t.Error("role not stored")
		}
		if n := events(t, env, bob.ID, "role_changed", "success", `"via":"cli"`); n != 1 {
			t.Errorf("role_changed events = %d", n)
		}
		if s := bob.C.Do("GET", "/api/auth/get-session", nil); !strings.Contains(
			string(s.Body), `"role":"admin"`) {
			t.Errorf("session user: %s", s.Body)
		}
	})
}

func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "+", "%2B", `\`, "%5C")
	return r.Replace(s)
}

func sorted(s []string) []string {
	out := append([]string{}, s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}
