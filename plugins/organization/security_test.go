package organization_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/organization"
)

// TestMemberCannotEscalate: a member cannot raise their own role, invite or
// delete; an admin cannot make themselves owner or delete.
func TestMemberCannotEscalate(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		ada := signUp(t, env, "Ada", true)
		orgID := owner.createOrg("Acme", "acme")
		bobMember := bob.join(owner, orgID, "member")
		adaMember := ada.join(owner, orgID, "admin")

		cases := []struct {
			name   string
			who    *user
			path   string
			body   map[string]any
			status int
			code   string
		}{
			{"member raises own role", bob, "update-member-role",
				map[string]any{"memberId": bobMember, "role": "admin"},
				403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"},
			{"member makes self owner", bob, "update-member-role",
				map[string]any{"memberId": bobMember, "role": []string{"member", "owner"}},
				403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"},
			{"admin makes self owner", ada, "update-member-role",
				map[string]any{"memberId": adaMember, "role": "owner"},
				403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER"},
			{"member invites", bob, "invite-member",
				map[string]any{"email": "x@example.com", "role": "member"},
				403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"},
			{"admin invites an owner", ada, "invite-member",
				map[string]any{"email": "x@example.com", "role": "owner"},
				403, "YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE"},
			{"member deletes", bob, "delete", map[string]any{},
				403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"},
			{"admin deletes", ada, "delete", map[string]any{},
				403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"},
			{"member removes admin", bob, "remove-member",
				map[string]any{"memberIdOrEmail": adaMember},
				401, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER"},
			{"admin removes owner", ada, "remove-member",
				map[string]any{"memberIdOrEmail": owner.Email},
				401, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER"},
			{"member updates org", bob, "update",
				map[string]any{"data": map[string]any{"name": "Mine"}},
				403, "YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"},
			{"member creates team", bob, "create-team", map[string]any{"name": "Ops"},
				403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION"},
			{"member creates role", bob, "create-role",
				map[string]any{"role": "boss", "permission": map[string]any{}},
				403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE"},
			{"admin grants what it lacks", ada, "create-role",
				map[string]any{"role": "deleter",
					"permission": map[string]any{"organization": []string{"delete"}}},
				403, "YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE"},
			{"member lists invitations", bob, "list-invitations", map[string]any{},
				403, "YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS"},
		}
		for _, c := range cases {
			body := map[string]any{"organizationId": orgID}
			for k, v := range c.body {
				body[k] = v
			}
			expectErr(t, c.who.do("POST", c.path, body), c.status, c.code, c.name)
		}
		if r := memberRole(t, env, orgID, bob.ID); r != "member" {
			t.Errorf("bob's role = %q", r)
		}
		if r := memberRole(t, env, orgID, ada.ID); r != "admin" {
			t.Errorf("ada's role = %q", r)
		}
		if n := count(t, env, "SELECT count(*) FROM organizations WHERE id = $1", orgID); n != 1 {
			t.Error("organization deleted")
		}
		if n := count(t, env, "SELECT count(*) FROM invitations WHERE email = $1",
			"x@example.com"); n != 0 {
			t.Errorf("%d invitations created by refused calls", n)
		}
		// A member sees no invitations in the full organization.
		r := bob.get("get-full-organization", "organizationId="+orgID)
		if invs := r.JSON["invitations"].([]any); len(invs) != 0 {
			t.Errorf("member sees invitations: %v", invs)
		}
	})
}

// TestForeignOrganizationLooksMissing: for every endpoint, an organization
// the caller is not in answers exactly like one that does not exist.
func TestForeignOrganizationLooksMissing(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		eve := signUp(t, env, "Eve", true)
		eve.createOrg("Eve Corp", "eve-corp") // Eve is someone, somewhere
		orgID := owner.createOrg("Acme", "acme")
		invID := owner.invite(orgID, "bob@example.com", "member")
		ownerMember := owner.get("get-active-member", "").JSON["id"].(string)
		const missing = "00000000000000000000000000000000"
		missingInv := "11111111111111111111111111111111"

		type call struct {
			name   string
			method string
			path   func(org string) string
			body   func(org string) any
		}
		q := func(name, key string) func(string) string {
			return func(org string) string { return name + "?" + key + "=" + org }
		}
		p := func(name string) func(string) string { return func(string) string { return name } }
		b := func(extra map[string]any) func(string) any {
			return func(org string) any {
				m := map[string]any{"organizationId": org}
				for k, v := range extra {
					m[k] = v
				}
				return m
			}
		}
		calls := []call{
			{"get-full-organization", "GET", q("get-full-organization", "organizationId"), nil},
			{"get-full by slug", "GET", q("get-full-organization", "organizationSlug"), nil},
			{"get-organization", "GET", q("get-organization", "organizationId"), nil},
			{"set-active", "POST", p("set-active"), b(nil)},
			{"update", "POST", p("update"), b(map[string]any{"data": map[string]any{"name": "X"}})},
			{"delete", "POST", p("delete"), b(nil)},
			{"invite-member", "POST", p("invite-member"),
				b(map[string]any{"email": "z@example.com", "role": "member"})},
			{"list-invitations", "GET", q("list-invitations", "organizationId"), nil},
			{"list-members", "GET", q("list-members", "organizationId"), nil},
			{"list-members by slug", "GET", q("list-members", "organizationSlug"), nil},
			{"get-active-member-role", "GET", q("get-active-member-role", "organizationId"), nil},
			{"has-permission", "POST", p("has-permission"),
				b(map[string]any{"permissions": map[string]any{"member": []string{"create"}}})},
			{"remove-member", "POST", p("remove-member"),
				b(map[string]any{"memberIdOrEmail": ownerMember})},
			{"update-member-role", "POST", p("update-member-role"),
				b(map[string]any{"memberId": ownerMember, "role": "member"})},
			{"leave", "POST", p("leave"), b(nil)},
			{"create-team", "POST", p("create-team"), b(map[string]any{"name": "T"})},
			{"list-teams", "GET", q("list-teams", "organizationId"), nil},
			{"create-role", "POST", p("create-role"),
				b(map[string]any{"role": "r", "permission": map[string]any{}})},
			{"list-roles", "GET", q("list-roles", "organizationId"), nil},
		}
		for _, c := range calls {
			var real, fake *apitest.Response
			for i, org := range []string{orgID, missing} {
				id := org
				if c.name == "get-full by slug" || c.name == "list-members by slug" {
					id = map[bool]string{true: "acme", false: "no-such-slug"}[i == 0]
				}
				var body any
				if c.body != nil {
					body = c.body(id)
				}
				r := eve.do(c.method, c.path(id), body)
				if i == 0 {
					real = r
				} else {
					fake = r
				}
			}
			if real.Status < 400 || real.Status != fake.Status ||
				!bytes.Equal(real.Body, fake.Body) {
				t.Errorf("%s: foreign %d %s, missing %d %s", c.name, real.Status, real.Body,
					fake.Status, fake.Body)
			}
		}

		// An invitation of a foreign organization reads as missing too.
		real := eve.do("POST", "cancel-invitation", map[string]any{"invitationId": invID})
		fake := eve.do("POST", "cancel-invitation", map[string]any{"invitationId": missingInv})
		if real.Status != 400 || !bytes.Equal(real.Body, fake.Body) {
			t.Errorf("cancel foreign invitation: %d %s vs %d %s", real.Status, real.Body,
				fake.Status, fake.Body)
		}

		// Nothing of Acme changed.
		if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
			orgID); n != 1 {
			t.Errorf("members of acme = %d", n)
		}
		if n := count(t, env, "SELECT count(*) FROM invitations WHERE organization_id = $1 "+
			"AND status = 'pending'", orgID); n != 1 {
			t.Errorf("pending invitations of acme = %d", n)
		}
		var name string
		_ = env.DB.QueryRow(context.Background(), "SELECT name FROM organizations WHERE id = $1",
			orgID).Scan(&name)
		if name != "Acme" {
			t.Errorf("name = %q", name)
		}
	})
}

// TestCrossOrganizationMemberIDs: a member id of another organization
// cannot be changed or removed through one's own organization.
func TestCrossOrganizationMemberIDs(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		alice := signUp(t, env, "Alice", true)
		eve := signUp(t, env, "Eve", true)
		a := alice.createOrg("A", "a")
		eve.createOrg("E", "e")
		aliceMember := alice.get("list-members", "organizationId="+a).JSON["members"].([]any)
		id := asMap(t, aliceMember[0])["id"].(string)

		expectErr(t, eve.do("POST", "update-member-role", map[string]any{"memberId": id,
			"role": "member"}), 400, "MEMBER_NOT_FOUND", "update foreign member")
		expectErr(t, eve.do("POST", "remove-member", map[string]any{"memberIdOrEmail": id}),
			400, "MEMBER_NOT_FOUND", "remove foreign member")
		expectErr(t, eve.do("POST", "remove-member", map[string]any{
			"memberIdOrEmail": alice.Email}), 400, "MEMBER_NOT_FOUND", "remove by email")
		if r := memberRole(t, env, a, alice.ID); r != "owner" {
			t.Errorf("alice's role = %q", r)
		}
	})
}

// TestLastOwner: the only owner cannot leave, be removed or demote
// themselves; with a second owner they can.
func TestLastOwner(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		otto := signUp(t, env, "Otto", true)
		orgID := owner.createOrg("Acme", "acme")
		ownerMember := owner.get("get-active-member", "").JSON["id"].(string)

		expectErr(t, owner.do("POST", "leave", map[string]any{"organizationId": orgID}),
			400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "leave")
		expectErr(t, owner.do("POST", "update-member-role", map[string]any{
			"memberId": ownerMember, "role": "admin"}),
			400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_WITHOUT_AN_OWNER", "demote self")
		expectErr(t, owner.do("POST", "remove-member", map[string]any{
			"memberIdOrEmail": ownerMember}),
			400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "remove self")

		// Keeping owner among several roles is fine.
		r := owner.post("update-member-role", map[string]any{"memberId": ownerMember,
			"role": []string{"admin", " owner"}})
		if r.JSON["role"] != "admin,owner" {
			t.Errorf("multi-role = %v", r.JSON["role"])
		}

		otto.join(owner, orgID, "owner")
		owner.post("update-member-role", map[string]any{"memberId": ownerMember,
			"role": "admin"})
		expectErr(t, otto.do("POST", "leave", map[string]any{"organizationId": orgID}),
			400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "new only owner leaves")
		owner.post("leave", map[string]any{"organizationId": orgID})
		if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
			orgID); n != 1 {
			t.Errorf("members = %d, want 1", n)
		}
	})
}

// TestLastOwnerRace: two owners leaving at once never leave the
// organization without an owner.
func TestLastOwnerRace(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		a := signUp(t, env, "Alice", true)
		b := signUp(t, env, "Bruno", true)
		for round := range 5 { // a race shows only sometimes; try a few
			orgID := a.createOrg("Acme", fmt.Sprintf("acme-%d", round))
			b.join(a, orgID, "owner")
			statuses := race(2, func(i int) int {
				return []*user{a, b}[i].do("POST", "leave",
					map[string]any{"organizationId": orgID}).Status
			})
			if statuses[200] != 1 || statuses[400] != 1 {
				t.Errorf("statuses = %v, want one 200 and one 400", statuses)
			}
			if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
				orgID); n != 1 {
				t.Fatalf("owners left = %d, want 1", n)
			}
		}
	})
}

// race runs fn n times at once and counts the returned statuses.
func race(n int, fn func(i int) int) map[int]int {
	var wg sync.WaitGroup
	var mu sync.Mutex
	out := map[int]int{}
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			s := fn(i)
			mu.Lock()
			out[s]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// TestInvitationRecipient: only the verified recipient accepts, rejects or
// reads an invitation.
func TestInvitationRecipient(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		eve := signUp(t, env, "Eve", true)
		bob := signUp(t, env, "Bob", false) // unverified
		orgID := owner.createOrg("Acme", "acme")
		invID := owner.invite(orgID, bob.Email, "member")
		body := map[string]any{"invitationId": invID}

		expectErr(t, eve.do("POST", "accept-invitation", body), 403,
			"YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION", "other user accepts")
		expectErr(t, eve.do("POST", "reject-invitation", body), 403,
			"YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION", "other user rejects")
		expectErr(t, eve.do("GET", "get-invitation?id="+invID, nil), 403,
			"YOU_ARE_NOT_THE_RECIPIENT_OF_THE_INVITATION", "other user reads")
		expectErr(t, bob.do("POST", "accept-invitation", body), 403,
			"EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION",
			"unverified accepts")
		expectErr(t, bob.do("POST", "reject-invitation", body), 403,
			"EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION",
			"unverified rejects")
		expectErr(t, bob.do("GET", "get-invitation?id="+invID, nil), 403,
			"EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION", "unverified reads")
		expectErr(t, bob.do("GET", "list-user-invitations", nil), 403,
			"EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION", "unverified lists")
		if r := env.Client().Do("GET", orgPath+"get-invitation?id="+invID, nil); r.Status != 401 {
			t.Errorf("anonymous get-invitation: %d %s", r.Status, r.Body)
		}
		if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
			orgID); n != 1 {
			t.Errorf("members = %d", n)
		}

		// Verified, Bob sees it listed and rejects it; then it is gone.
		if err := env.Engine.MarkEmailVerified(context.Background(), env.DB, bob.ID); err != nil {
			t.Fatal(err)
		}
		list := asList(t, bob.get("list-user-invitations", "").Body)
		if len(list) != 1 || list[0]["organizationName"] != "Acme" {
			t.Errorf("list-user-invitations = %v", list)
		}
		r := bob.post("reject-invitation", body)
		if asMap(t, r.JSON["invitation"])["status"] != "rejected" || r.JSON["member"] != nil {
			t.Errorf("reject: %s", r.Body)
		}
		expectErr(t, bob.do("POST", "accept-invitation", body), 400, "INVITATION_NOT_FOUND",
			"accept after reject")
		if r := bob.do("GET", "list-user-invitations?email=x@example.com", nil); r.Status != 400 {
			t.Errorf("email query: %d", r.Status)
		}
	})
}

// TestConcurrentAccept: one invitation accepted by many requests at once
// makes one member.
func TestConcurrentAccept(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		orgID := owner.createOrg("Acme", "acme")
		invID := owner.invite(orgID, bob.Email, "member")
		statuses := race(8, func(int) int {
			return bob.do("POST", "accept-invitation",
				map[string]any{"invitationId": invID}).Status
		})
		if statuses[200] != 1 || statuses[400] != 7 {
			t.Errorf("statuses = %v, want one 200 and seven 400", statuses)
		}
		if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1 "+
			"AND user_id = $2", orgID, bob.ID); n != 1 {
			t.Errorf("member rows = %d", n)
		}
	})
}

// TestMembershipLimitRace: at the limit, of two invitations accepted at
// once only one gets in.
func TestMembershipLimitRace(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		users := []*user{signUp(t, env, "Bob", true), signUp(t, env, "Carol", true)}
		for round := range 4 { // a race shows only sometimes; try a few
			orgID := owner.createOrg("Acme", fmt.Sprintf("acme-%d", round))
			ids := []string{owner.invite(orgID, users[0].Email, "member"),
				owner.invite(orgID, users[1].Email, "member")}
			statuses := race(2, func(i int) int {
				r := users[i].do("POST", "accept-invitation",
					map[string]any{"invitationId": ids[i]})
				if r.Status == 403 && r.Code() != "ORGANIZATION_MEMBERSHIP_LIMIT_REACHED" {
					t.Errorf("code = %s", r.Code())
				}
				return r.Status
			})
			if statuses[200] != 1 || statuses[403] != 1 {
				t.Errorf("statuses = %v", statuses)
			}
			if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
				orgID); n != 2 {
				t.Fatalf("members = %d, want 2", n)
			}
			// The refused invitation is still pending.
			if n := count(t, env, "SELECT count(*) FROM invitations "+
				"WHERE organization_id = $1 AND status = 'pending'", orgID); n != 1 {
				t.Errorf("pending = %d", n)
			}
		}
	}, func(o *organization.Options) { o.MembershipLimit = 2 })
}

// TestInternalMembership checks the service endpoint's key handling.
func TestInternalMembership(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		eve := signUp(t, env, "Eve", true)
		orgID := owner.createOrg("Acme", "acme")
		call := func(userID, key string, set bool) *apitest.Response {
			c := env.Client()
			c.Origin = ""
			if set {
				c.Header.Set("X-Service-Key", key)
			}
			return c.Do("GET", "/api/v1/internal/org/"+orgID+"/member/"+userID, nil)
		}
		cases := []struct {
			name   string
			user   string
			key    string
			set    bool
			status int
			body   string
		}{
			{"missing key", owner.ID, "", false, 401, ""},
			{"empty key", owner.ID, "", true, 401, ""},
			{"wrong key", owner.ID, serviceKey + "x", true, 401, ""},
			{"prefix of key", owner.ID, serviceKey[:10], true, 401, ""},
			{"member", owner.ID, serviceKey, true, 200, `{"isMember":true,"role":"owner"}`},
			{"non-member", eve.ID, serviceKey, true, 200, `{"isMember":false,"role":null}`},
			{"unknown user", "nobody", serviceKey, true, 200,
				`{"isMember":false,"role":null}`},
		}
		for _, c := range cases {
			r := call(c.user, c.key, c.set)
			if r.Status != c.status {
				t.Errorf("%s: %d %s", c.name, r.Status, r.Body)
				continue
			}
			if c.status == 401 && r.Code() != "UNAUTHORIZED" {
				t.Errorf("%s: body %s", c.name, r.Body)
			}
			if c.body != "" && string(bytes.TrimSpace(r.Body)) != c.body {
				t.Errorf("%s: body %s, want %s", c.name, r.Body, c.body)
			}
		}
		// A session cookie is no substitute for the key.
		if r := owner.c.Do("GET", "/api/v1/internal/org/"+orgID+"/member/"+owner.ID,
			nil); r.Status != 401 {
			t.Errorf("with a session only: %d", r.Status)
		}
	})
}

// TestInternalMembershipWithoutKey: with no MANA_SERVICE_KEY configured,
// the endpoint refuses everything.
func TestInternalMembershipWithoutKey(t *testing.T) {
	o := options()
	o.Env = nil
	env := apitest.New(t, o)
	owner := signUp(t, env, "Olivia", true)
	orgID := owner.createOrg("Acme", "acme")
	for _, key := range []string{"", "anything", serviceKey} {
		req, _ := http.NewRequest("GET", env.Server.URL+"/api/v1/internal/org/"+orgID+
			"/member/"+owner.ID, nil)
		req.Header.Set("X-Service-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 401 {
			t.Errorf("key %q: %d", key, resp.StatusCode)
		}
	}
}

// TestSlugUniqueness: check-slug tells, and of racing creates one wins.
func TestSlugUniqueness(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		if r := owner.post("check-slug", map[string]any{"slug": "acme"}); r.JSON["status"] != true {
			t.Errorf("free slug: %s", r.Body)
		}
		const n = 6
		users := make([]*user, n)
		for i := range users {
			users[i] = signUp(t, env, fmt.Sprintf("U%d", i), true)
		}
		statuses := race(n, func(i int) int {
			r := users[i].do("POST", "create", map[string]any{"name": "Acme", "slug": "acme"})
			if r.Status == 400 && r.Code() != "ORGANIZATION_ALREADY_EXISTS" {
				t.Errorf("loser code: %s", r.Body)
			}
			return r.Status
		})
		if statuses[200] != 1 || statuses[400] != n-1 {
			t.Errorf("statuses = %v", statuses)
		}
		if c := count(t, env, "SELECT count(*) FROM organizations WHERE slug = 'acme'"); c != 1 {
			t.Errorf("organizations with the slug = %d", c)
		}
		if c := count(t, env, "SELECT count(*) FROM members"); c != 1 {
			t.Errorf("members = %d (losers left rows)", c)
		}
		expectErr(t, owner.do("POST", "check-slug", map[string]any{"slug": "acme"}), 400,
			"ORGANIZATION_SLUG_ALREADY_TAKEN", "taken slug")
		expectErr(t, owner.do("POST", "create", map[string]any{"name": "B", "slug": "acme"}),
			400, "ORGANIZATION_ALREADY_EXISTS", "create taken")
		other := owner.createOrg("Other", "other")
		expectErr(t, owner.do("POST", "update", map[string]any{"organizationId": other,
			"data": map[string]any{"slug": "acme"}}), 400, "ORGANIZATION_SLUG_ALREADY_TAKEN",
			"update to taken slug")
	})
}

// TestInvitationLifecycle covers the re-invite rule, resend, limits,
// expiry, cancellation and unknown roles.
func TestInvitationLifecycle(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		ada := signUp(t, env, "Ada", true)
		orgID := owner.createOrg("Acme", "acme")
		ada.join(owner, orgID, "admin")

		first := owner.invite(orgID, bob.Email, "member")
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": bob.Email,
			"role": "member"}), 400, "USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION", "re-invite")
		if _, err := env.DB.Exec(context.Background(), "UPDATE invitations SET expires_at = $1 "+
			"WHERE id = $2", time.Now().Add(time.Hour).UTC(), first); err != nil {
			t.Fatal(err)
		}
		r := owner.post("invite-member", map[string]any{"email": bob.Email, "role": "member",
			"resend": true})
		exp, _ := time.Parse(time.RFC3339, r.JSON["expiresAt"].(string))
		if r.JSON["id"] != first || time.Until(exp) < 47*time.Hour {
			t.Errorf("resend: %s", r.Body)
		}
		// Mail leaves in the background: wait for both.
		deadline := time.Now().Add(5 * time.Second)
		for len(env.Mail.Messages()) < 2 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if n := len(env.Mail.Messages()); n < 2 {
			t.Errorf("mails = %d", n)
		}

		// Unknown roles, and the invalid email.
		r = owner.do("POST", "invite-member", map[string]any{"email": "c@example.com",
			"role": []string{"member", "pilot", "chef"}})
		if r.Status != 400 || r.Code() != "ROLE_NOT_FOUND" ||
			r.JSON["message"] != "ROLE_NOT_FOUND: pilot, chef" {
			t.Errorf("unknown roles: %d %s", r.Status, r.Body)
		}
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": "not-an-email",
			"role": "member"}), 400, "INVALID_EMAIL", "bad email")
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": ada.Email,
			"role": "member"}), 400, "USER_IS_ALREADY_A_MEMBER_OF_THIS_ORGANIZATION", "member")

		// Admins do not see invitations granting the owner role. (The list
		// holds every status: Ada's accepted one, Bob's, the boss's.)
		owner.invite(orgID, "boss@example.com", "owner")
		if n := len(asList(t, owner.get("list-invitations", "organizationId="+orgID).Body)); n != 3 {
			t.Errorf("owner sees %d invitations, want 3", n)
		}
		adaList := asList(t, ada.get("list-invitations", "organizationId="+orgID).Body)
		for _, inv := range adaList {
			if inv["role"] == "owner" {
				t.Error("admin sees the owner invitation")
			}
		}
		if len(adaList) != 2 {
			t.Errorf("admin sees %d invitations, want 2", len(adaList))
		}

		// Expired: cannot be accepted.
		if _, err := env.DB.Exec(context.Background(), "UPDATE invitations SET expires_at = $1 "+
			"WHERE id = $2", time.Now().Add(-time.Minute).UTC(), first); err != nil {
			t.Fatal(err)
		}
		expectErr(t, bob.do("POST", "accept-invitation", map[string]any{"invitationId": first}),
			400, "INVITATION_NOT_FOUND", "expired")

		// A fresh invitation, canceled by the admin, cannot be accepted.
		second := owner.invite(orgID, bob.Email, "member")
		r = ada.post("cancel-invitation", map[string]any{"invitationId": second})
		if r.JSON["status"] != "canceled" {
			t.Errorf("cancel: %s", r.Body)
		}
		expectErr(t, bob.do("POST", "accept-invitation", map[string]any{"invitationId": second}),
			400, "INVITATION_NOT_FOUND", "canceled")
	}, func(o *organization.Options) { o.InvitationLimit = 3 })
}

// TestInvitationLimitAndReInviteCancel covers the pending limit and the
// cancel-on-re-invite setting.
func TestInvitationLimitAndReInviteCancel(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		orgID := owner.createOrg("Acme", "acme")
		first := owner.invite(orgID, "a@example.com", "member")
		second := owner.invite(orgID, "a@example.com", "admin")
		if first == second {
			t.Fatal("re-invite returned the old invitation")
		}
		var status string
		_ = env.DB.QueryRow(context.Background(), "SELECT status FROM invitations WHERE id = $1",
			first).Scan(&status)
		if status != "canceled" {
			t.Errorf("old invitation status = %q", status)
		}
		owner.invite(orgID, "b@example.com", "member")
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": "c@example.com",
			"role": "member"}), 403, "INVITATION_LIMIT_REACHED", "limit")
	}, func(o *organization.Options) {
		o.InvitationLimit = 2
		o.CancelPendingOnReInvite = true
	})
}
