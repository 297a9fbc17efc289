package organization_test

import (
	"fmt"
	"testing"

	"github.com/mana/mana-auth/internal/apitest"
)

// TestWireShapes checks Better Auth's methods, status codes and shapes,
// including the metadata string/parsed quirk.
func TestWireShapes(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		// No session: create answers a bodiless 401, others the usual one.
		anon := env.Client()
		r := anon.Do("POST", orgPath+"create", map[string]any{"name": "A", "slug": "a"})
		if r.Status != 401 || len(r.Body) != 0 {
			t.Errorf("anonymous create: %d %q", r.Status, r.Body)
		}
		expectErr(t, anon.Do("GET", orgPath+"list", nil), 401, "UNAUTHORIZED", "anonymous list")

		owner := signUp(t, env, "Olivia", true)
		expectErr(t, owner.do("POST", "create", map[string]any{"slug": "a"}), 400,
			"VALIDATION_ERROR", "create without name")
		r = owner.do("POST", "create", map[string]any{"name": "", "slug": "a"})
		if r.JSON["message"] != "[body.name] Too small: expected string to have >=1 characters" {
			t.Errorf("empty name: %s", r.Body)
		}
		r = owner.do("POST", "create", map[string]any{"name": "A", "slug": "a",
			"metadata": "x"})
		if r.JSON["message"] != "[body.metadata] Invalid input: expected record, received string" {
			t.Errorf("string metadata: %s", r.Body)
		}

		r = owner.post("create", map[string]any{"name": "Acme", "slug": "acme",
			"logo": "https://x/logo.png", "metadata": map[string]any{"n": 1}})
		orgID := r.JSON["id"].(string)
		if asMap(t, r.JSON["metadata"])["n"] != float64(1) || r.JSON["logo"] != "https://x/logo.png" {
			t.Errorf("create: %s", r.Body)
		}

		// update answers parsed metadata; list and get-full the stored string.
		r = owner.post("update", map[string]any{"data": map[string]any{"name": "Acme Inc",
			"metadata": map[string]any{"n": 2}, "logo": nil}})
		if r.JSON["name"] != "Acme Inc" || asMap(t, r.JSON["metadata"])["n"] != float64(2) ||
			r.JSON["logo"] != nil {
			t.Errorf("update: %s", r.Body)
		}
		list := asList(t, owner.get("list", "").Body)
		if len(list) != 1 || list[0]["metadata"] != `{"n":2}` {
			t.Errorf("list: %v", list)
		}
		for _, q := range []string{"", "organizationId=" + orgID, "organizationSlug=acme"} {
			r = owner.get("get-full-organization", q)
			if r.JSON["id"] != orgID || r.JSON["metadata"] != `{"n":2}` {
				t.Errorf("get-full-organization?%s: %s", q, r.Body)
			}
			if len(r.JSON["members"].([]any)) != 1 || r.JSON["teams"] == nil {
				t.Errorf("get-full-organization?%s members/teams: %s", q, r.Body)
			}
		}

		// Read endpoints answer GET and POST (client calls with a body);
		// write endpoints only POST.
		r = owner.post("get-full-organization", map[string]any{"organizationId": orgID})
		if r.JSON["id"] != orgID {
			t.Errorf("POST get-full-organization: %s", r.Body)
		}
		r = owner.post("list-members", map[string]any{"organizationId": orgID, "limit": 5})
		if r.JSON["total"] != float64(1) {
			t.Errorf("POST list-members: %s", r.Body)
		}
		for _, name := range []string{"create", "leave", "invite-member", "has-permission"} {
			if r := owner.do("GET", name, nil); r.Status != 404 {
				t.Errorf("GET %s: %d", name, r.Status)
			}
		}

		// has-permission accepts the deprecated "permission" name.
		r = owner.post("has-permission", map[string]any{
			"permission": map[string]any{"member": []string{"create"}}})
		if r.JSON["success"] != true {
			t.Errorf("deprecated permission: %s", r.Body)
		}
		expectErr(t, owner.do("POST", "has-permission", map[string]any{}), 400,
			"VALIDATION_ERROR", "no permissions")

		// get-active-member(-role).
		r = owner.get("get-active-member", "")
		if r.JSON["role"] != "owner" || asMap(t, r.JSON["user"])["email"] != owner.Email {
			t.Errorf("get-active-member: %s", r.Body)
		}
		if r = owner.get("get-active-member-role", ""); r.JSON["role"] != "owner" {
			t.Errorf("get-active-member-role: %s", r.Body)
		}

		// Without an active organization.
		owner.post("set-active", map[string]any{"organizationId": nil})
		if r := owner.get("get-full-organization", ""); string(r.Body) != "null\n" {
			t.Errorf("get-full without active: %s", r.Body)
		}
		expectErr(t, owner.do("GET", "get-active-member", nil), 400, "NO_ACTIVE_ORGANIZATION",
			"get-active-member")
		expectErr(t, owner.do("POST", "has-permission", map[string]any{
			"permissions": map[string]any{"ac": []string{"read"}}}), 400,
			"NO_ACTIVE_ORGANIZATION", "has-permission")
		if r := owner.post("set-active", map[string]any{}); string(r.Body) != "null\n" {
			t.Errorf("set-active {}: %s", r.Body)
		}
		r = owner.post("set-active", map[string]any{"organizationSlug": "acme"})
		if r.JSON["id"] != orgID {
			t.Errorf("set-active by slug: %s", r.Body)
		}

		// delete without an id is a validation error.
		expectErr(t, owner.do("POST", "delete", map[string]any{}), 400, "VALIDATION_ERROR",
			"delete without id")
	})
}

// TestListMembersQuery checks paging, sorting and filters.
func TestListMembersQuery(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		orgID := owner.createOrg("Acme", "acme")
		var ids []string
		for i := range 3 {
			u := signUp(t, env, fmt.Sprintf("M%d", i), true)
			role := "member"
			if i == 2 {
				role = "admin"
			}
			u.join(owner, orgID, role)
			ids = append(ids, u.ID)
		}
		page := func(q string) (int, []map[string]any) {
			t.Helper()
			r := owner.get("list-members", "organizationId="+orgID+"&"+q)
			var out []map[string]any
			for _, m := range r.JSON["members"].([]any) {
				out = append(out, asMap(t, m))
			}
			return int(r.JSON["total"].(float64)), out
		}
		if total, ms := page("limit=2&offset=1"); total != 4 || len(ms) != 2 ||
			ms[0]["userId"] != ids[0] {
			t.Errorf("paging: %d %v", total, ms)
		}
		if _, ms := page("sortBy=createdAt&sortDirection=desc"); ms[0]["userId"] != ids[2] {
			t.Errorf("sort desc: %v", ms[0])
		}
		if total, ms := page("filterField=role&filterValue=member"); total != 2 || len(ms) != 2 {
			t.Errorf("filter eq: %d", total)
		}
		if total, _ := page("filterField=role&filterOperator=ne&filterValue=member"); total != 2 {
			t.Errorf("filter ne: %d", total)
		}
		if total, _ := page("filterField=role&filterOperator=in&filterValue=owner&" +
			"filterValue=admin"); total != 2 {
			t.Errorf("filter in: %d", total)
		}
		if total, _ := page("filterField=role&filterOperator=contains&filterValue=dmi"); total != 1 {
			t.Errorf("filter contains: %d", total)
		}
		if total, _ := page("filterField=role&filterOperator=starts_with&filterValue=mem"); total != 2 {
			t.Errorf("filter starts_with: %d", total)
		}
		if total, _ := page("filterField=role&filterOperator=ends_with&filterValue=ner"); total != 1 {
			t.Errorf("filter ends_with: %d", total)
		}
		for _, q := range []string{"sortBy=password", "filterField=email&filterValue=x",
			"sortDirection=up", "filterField=role&filterOperator=regex&filterValue=x"} {
			expectErr(t, owner.do("GET", "list-members?organizationId="+orgID+"&"+q, nil), 400,
				"VALIDATION_ERROR", q)
		}
	})
}
