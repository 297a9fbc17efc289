package organization

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/mana/mana-auth/core"
)

func perms(t testing.TB, s string) Permissions {
	t.Helper()
	p, err := ParsePermissions([]byte(s))
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	return p
}

func TestStatementsAllows(t *testing.T) {
	st := Statements{"member": {"create", "update"}, "ac": {"read"}, "team": {}}
	cases := []struct {
		name string
		req  string
		c    Connector
		want bool
	}{
		{"one action", `{"member":["create"]}`, And, true},
		{"all actions", `{"member":["create","update"]}`, And, true},
		{"missing action", `{"member":["create","delete"]}`, And, false},
		{"OR actions", `{"member":{"actions":["delete","update"],"connector":"OR"}}`, And, true},
		{"OR none held", `{"member":{"actions":["delete"],"connector":"OR"}}`, And, false},
		{"unknown connector is AND", `{"member":{"actions":["create","delete"],
			"connector":"XOR"}}`, And, false},
		{"two resources AND", `{"member":["create"],"ac":["read"]}`, And, true},
		{"two resources AND one fails", `{"member":["create"],"ac":["delete"]}`, And, false},
		{"two resources OR one fails", `{"member":["create"],"ac":["delete"]}`, Or, true},
		{"unknown resource AND", `{"billing":["read"]}`, And, false},
		{"unknown resource AND with known", `{"billing":["read"],"ac":["read"]}`, And, false},
		{"unknown resource OR with known", `{"billing":["read"],"ac":["read"]}`, Or, true},
		{"unknown resource OR alone", `{"billing":["read"]}`, Or, false},
		{"empty action list", `{"member":[]}`, And, false},
		{"empty grant", `{"team":["create"]}`, And, false},
		{"empty request", `{}`, And, false},
		{"empty request OR", `{}`, Or, false},
		{"object without actions", `{"member":{"connector":"OR"}}`, And, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := st.Allows(perms(t, c.req), c.c); got != c.want {
				t.Errorf("Allows(%s, %s) = %v, want %v", c.req, c.c, got, c.want)
			}
		})
	}
}

func TestRolesAllows(t *testing.T) {
	r := DefaultRoles()
	extra := map[string]Statements{"support": {"member": {"update"}},
		"admin": {"organization": {"delete"}}}
	cases := []struct {
		name       string
		role       string
		req        string
		extra      map[string]Statements
		creatorAll bool
		want       bool
	}{
		{"owner deletes", "owner", `{"organization":["delete"]}`, nil, false, true},
		{"admin cannot delete", "admin", `{"organization":["delete"]}`, nil, false, false},
		{"admin updates", "admin", `{"organization":["update"]}`, nil, false, true},
		{"member reads ac", "member", `{"ac":["read"]}`, nil, false, true},
		{"member invites", "member", `{"invitation":["create"]}`, nil, false, false},
		{"multi-role any", "member, admin", `{"member":["delete"]}`, nil, false, true},
		{"multi-role none", "member,viewer", `{"member":["delete"]}`, nil, false, false},
		{"unknown role", "ghost", `{"ac":["read"]}`, nil, false, false},
		{"empty role", "", `{"ac":["read"]}`, nil, false, false},
		{"runtime role", "member,support", `{"member":["update"]}`, extra, false, true},
		{"runtime role elsewhere", "member,support", `{"member":["update"]}`, nil, false, false},
		{"runtime merges into static", "admin", `{"organization":["delete","update"]}`, extra,
			false, true},
		{"creatorAll", "owner", `{"billing":["x"]}`, nil, true, true},
		{"creatorAll not creator", "admin", `{"billing":["x"]}`, nil, true, false},
		{"creator without creatorAll", "owner", `{"billing":["x"]}`, nil, false, false},
		{"no request", "owner", `{}`, nil, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := r.Allows(c.role, perms(t, c.req), And, c.extra, c.creatorAll)
			if got != c.want {
				t.Errorf("Allows(%q, %s) = %v, want %v", c.role, c.req, got, c.want)
			}
		})
	}
	// The merge does not change the configured role.
	if len(r.Roles["admin"]["organization"]) != 1 {
		t.Error("merging changed the static role")
	}
}

func TestRoleLists(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"admin", []string{"admin"}},
		{"admin, owner", []string{"admin", "owner"}},
		{" ,admin,, owner ,", []string{"admin", "owner"}},
		{"", nil},
	}
	for _, c := range cases {
		if got := ParseRoleList(c.in); !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseRoleList(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if got := JoinRoles([]string{" admin", "owner, member", ""}); got != "admin,owner,member" {
		t.Errorf("JoinRoles = %q", got)
	}
	if !DefaultRoles().IsCreator("admin, owner") || DefaultRoles().IsCreator("owners") {
		t.Error("IsCreator")
	}
}

func TestParseRoles(t *testing.T) {
	cases := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"valid", `{"statements":{"p":["r"]},"roles":{"boss":{"p":["r"]}},
			"creatorRole":"boss"}`, true},
		{"default creator missing", `{"statements":{"p":["r"]},"roles":{"boss":{"p":["r"]}}}`,
			false},
		{"grants undeclared", `{"statements":{"p":["r"]},"roles":{"owner":{"p":["w"]}}}`, false},
		{"comma in name", `{"statements":{"p":["r"]},"roles":{"owner":{},"a,b":{}}}`, false},
		{"padded name", `{"statements":{"p":["r"]},"roles":{"owner":{}," x":{}}}`, false},
		{"no statements", `{"roles":{"owner":{}}}`, false},
		{"unknown key", `{"statements":{"p":["r"]},"roles":{"owner":{}},"extra":1}`, false},
		{"not json", `{`, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseRoles([]byte(c.doc))
			if (err == nil) != c.ok {
				t.Errorf("err = %v, want ok=%v", err, c.ok)
			}
		})
	}
	if err := DefaultRoles().Validate(); err != nil {
		t.Errorf("default roles: %v", err)
	}
}

func TestActionsJSON(t *testing.T) {
	for _, in := range []string{`["a","b"]`, `{"actions":["a"],"connector":"OR"}`} {
		var a Actions
		if err := json.Unmarshal([]byte(in), &a); err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(a)
		var back Actions
		if err := json.Unmarshal(out, &back); err != nil || !reflect.DeepEqual(a, back) {
			t.Errorf("%s: round trip %s → %+v", in, out, back)
		}
	}
	for _, bad := range []string{`"a"`, `1`, `null`, `{"actions":"a"}`, `[1]`} {
		if _, err := ParsePermissions([]byte(`{"r":` + bad + `}`)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
	if _, err := ParsePermissions([]byte(`null`)); err == nil {
		t.Error("accepted null")
	}
}

func TestLoadOptions(t *testing.T) {
	env := func(m map[string]string) func(string) string {
		return func(k string) string { return m[k] }
	}
	o, err := LoadOptions(env(nil))
	if err != nil || !reflect.DeepEqual(o, DefaultOptions()) {
		t.Fatalf("defaults: %v %+v", err, o)
	}
	o, err = LoadOptions(env(map[string]string{
		"INVITATION_URL":                     "https://app.example.com/invite/{id}",
		"ORGANIZATION_TEAMS":                 "false",
		"ORGANIZATION_MEMBERSHIP_LIMIT":      "5",
		"ORGANIZATION_INVITATION_EXPIRES_IN": "3600",
		"ORGANIZATION_DELETION":              "off",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if o.Teams.Enabled || o.MembershipLimit != 5 || o.InvitationExpiresIn.Hours() != 1 ||
		!o.DisableDeletion {
		t.Errorf("options = %+v", o)
	}
	if got := o.invitationLink("http://x", "abc"); got != "https://app.example.com/invite/abc" {
		t.Errorf("link = %q", got)
	}
	o.InvitationURL = ""
	if got := o.invitationLink("http://auth.test", "abc"); got !=
		"http://auth.test/accept-invitation/abc" {
		t.Errorf("default link = %q", got)
	}

	bad := map[string]string{
		"ORGANIZATION_TEAMS":                 "maybe",
		"ORGANIZATION_LIMIT":                 "-1",
		"ORGANIZATION_INVITATION_EXPIRES_IN": "soon",
		"ORGANIZATION_ROLES":                 `{"roles":{}}`,
	}
	for k, v := range bad {
		_, err := LoadOptions(env(map[string]string{k: v}))
		var ce *core.ConfigError
		if !errors.As(err, &ce) || ce.Var != k {
			t.Errorf("%s=%q: err = %v", k, v, err)
		}
	}
	o = DefaultOptions()
	o.InvitationURL = "ftp://nope"
	if err := o.validate(); err == nil {
		t.Error("ftp INVITATION_URL accepted")
	}
}

func FuzzParsePermissions(f *testing.F) {
	for _, s := range []string{`{"member":["create"]}`, `{"a":{"actions":["x"],
		"connector":"OR"}}`, `{}`, `[]`, `{"a":null}`, `{"a":{"actions":null}}`} {
		f.Add([]byte(s))
	}
	roles := DefaultRoles()
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePermissions(b)
		if err != nil {
			return
		}
		// Any parsed request can be evaluated without panicking, and an
		// unknown role is never granted anything.
		roles.Allows("owner,admin", p, And, nil, false)
		roles.Allows("owner", p, Or, nil, true)
		if roles.Allows("nobody", p, Or, nil, false) {
			t.Fatalf("unknown role granted %s", b)
		}
	})
}

func FuzzParseRoles(f *testing.F) {
	f.Add([]byte(`{"statements":{"p":["r"]},"roles":{"owner":{"p":["r"]}}}`))
	f.Add([]byte(`{"statements":{},"roles":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRoles(b)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRoles accepted what Validate refuses: %v", err)
		}
		for name := range r.Roles {
			if len(ParseRoleList(name)) != 1 {
				t.Fatalf("role name %q is not one list entry", name)
			}
		}
	})
}

func BenchmarkRolesAllows(b *testing.B) {
	r := DefaultRoles()
	req := Need("invitation", "create")
	extra := map[string]Statements{"support": {"member": {"update"}}}
	b.ReportAllocs()
	for b.Loop() {
		if !r.Allows("member,support,admin", req, And, extra, false) {
			b.Fatal("denied")
		}
	}
}
