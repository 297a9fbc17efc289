package organization_test

import (
	"context"
	"testing"

	"github.com/mana/mana-auth/internal/apitest"
	"github.com/mana/mana-auth/plugins/organization"
)

func TestTeams(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		eve := signUp(t, env, "Eve", true)
		orgID := owner.createOrg("Acme", "acme")
		eveOrg := eve.createOrg("Eve Corp", "eve")
		bob.join(owner, orgID, "member")
		owner.post("set-active", map[string]any{"organizationId": orgID})

		// The default team, active for the creator.
		teams := asList(t, owner.get("list-teams", "").Body)
		if len(teams) != 1 || teams[0]["name"] != "Acme" {
			t.Fatalf("default team: %v", teams)
		}
		defaultTeam := teams[0]["id"].(string)
		if _, leak := teams[0]["memberCount"]; leak {
			t.Error("memberCount is internal")
		}

		r := owner.post("create-team", map[string]any{"name": "Ops"})
		ops := r.JSON["id"].(string)
		if r.JSON["organizationId"] != orgID || r.JSON["name"] != "Ops" {
			t.Errorf("create-team: %s", r.Body)
		}
		r = owner.post("update-team", map[string]any{"teamId": ops,
			"data": map[string]any{"name": "Operations"}})
		if r.JSON["name"] != "Operations" || r.JSON["updatedAt"] == nil {
			t.Errorf("update-team: %s", r.Body)
		}

		// Members join teams; non-members cannot.
		r = owner.post("add-team-member", map[string]any{"teamId": ops, "userId": bob.ID})
		if r.JSON["teamId"] != ops || r.JSON["userId"] != bob.ID {
			t.Errorf("add-team-member: %s", r.Body)
		}
		again := owner.post("add-team-member", map[string]any{"teamId": ops, "userId": bob.ID})
		if again.JSON["id"] != r.JSON["id"] {
			t.Error("adding twice made a second row")
		}
		expectErr(t, owner.do("POST", "add-team-member", map[string]any{"teamId": ops,
			"userId": eve.ID}), 400, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION", "outsider")
		expectErr(t, bob.do("POST", "add-team-member", map[string]any{"organizationId": orgID,
			"teamId": ops, "userId": bob.ID}), 403,
			"YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER", "member adds")

		// Bob's teams and the team's members.
		bob.post("set-active", map[string]any{"organizationId": orgID})
		r = bob.post("set-active-team", map[string]any{"teamId": ops})
		if r.JSON["id"] != ops || bob.session()["activeTeamId"] != ops {
			t.Errorf("set-active-team: %s", r.Body)
		}
		if l := asList(t, bob.get("list-user-teams", "").Body); len(l) != 1 || l[0]["id"] != ops {
			t.Errorf("list-user-teams = %v", l)
		}
		if l := asList(t, bob.get("list-team-members", "").Body); len(l) != 1 {
			t.Errorf("list-team-members = %v", l)
		}
		expectErr(t, bob.do("POST", "set-active-team", map[string]any{"teamId": defaultTeam}),
			403, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM", "team bob is not in")

		// Teams of other organizations read as missing.
		eveTeam := asList(t, eve.get("list-teams", "organizationId="+eveOrg).Body)[0]["id"]
		expectErr(t, bob.do("GET", "list-team-members?teamId="+eveTeam.(string), nil), 400,
			"TEAM_NOT_FOUND", "foreign team members")
		expectErr(t, bob.do("GET", "list-team-members?teamId=nope", nil), 400,
			"TEAM_NOT_FOUND", "missing team members")
		expectErr(t, owner.do("POST", "update-team", map[string]any{"teamId": eveTeam,
			"data": map[string]any{"name": "mine"}}), 400, "TEAM_NOT_FOUND", "foreign team")
		expectErr(t, eve.do("GET", "list-teams?organizationId="+orgID, nil), 403,
			"YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION", "foreign list-teams")

		// Removing Bob from the team clears his active team.
		owner.post("remove-team-member", map[string]any{"teamId": ops, "userId": bob.ID})
		if v := bob.session()["activeTeamId"]; v != nil {
			t.Errorf("activeTeamId after removal = %v", v)
		}
		expectErr(t, owner.do("POST", "remove-team-member", map[string]any{"teamId": ops,
			"userId": bob.ID}), 400, "USER_IS_NOT_A_MEMBER_OF_THE_TEAM", "remove twice")

		// Team removal; the active team and the last team are protected.
		expectErr(t, owner.do("POST", "remove-team", map[string]any{"teamId": defaultTeam}),
			403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM", "active team")
		r = owner.post("remove-team", map[string]any{"teamId": ops})
		if r.JSON["message"] != "Team removed successfully." {
			t.Errorf("remove-team: %s", r.Body)
		}
		owner.post("set-active-team", map[string]any{"teamId": nil})
		expectErr(t, owner.do("POST", "remove-team", map[string]any{"teamId": defaultTeam}),
			400, "UNABLE_TO_REMOVE_LAST_TEAM", "last team")

		// An invitation into a team puts the invitee in it on accept.
		carol := signUp(t, env, "Carol", true)
		inv := owner.post("invite-member", map[string]any{"email": carol.Email,
			"role": "member", "teamId": defaultTeam})
		if inv.JSON["teamId"] != defaultTeam {
			t.Errorf("invitation teamId = %v", inv.JSON["teamId"])
		}
		carol.post("accept-invitation", map[string]any{"invitationId": inv.JSON["id"]})
		if carol.session()["activeTeamId"] != defaultTeam {
			t.Error("accepting a one-team invitation did not set the active team")
		}
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": "z@example.com",
			"role": "member", "teamId": "a,b"}), 400, "INVALID_TEAM_ID", "comma team id")
		expectErr(t, owner.do("POST", "invite-member", map[string]any{"email": "z@example.com",
			"role": "member", "teamId": eveTeam}), 400, "TEAM_NOT_FOUND", "foreign team id")
	})
}

func TestTeamLimits(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		orgID := owner.createOrg("Acme", "acme")
		bob.join(owner, orgID, "member")
		team := owner.post("create-team", map[string]any{"name": "Ops"}).JSON["id"]
		expectErr(t, owner.do("POST", "create-team", map[string]any{"name": "Dev"}), 400,
			"YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS", "max teams")
		owner.post("add-team-member", map[string]any{"teamId": team, "userId": owner.ID})
		expectErr(t, owner.do("POST", "add-team-member", map[string]any{"teamId": team,
			"userId": bob.ID}), 403, "TEAM_MEMBER_LIMIT_REACHED", "full team")
	}, func(o *organization.Options) {
		o.Teams.MaximumTeams = 2
		o.Teams.MaximumMembersPerTeam = 1
	})
}

func TestTeamsDisabled(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		orgID := owner.createOrg("Acme", "acme")
		if r := owner.do("POST", "create-team", map[string]any{"name": "Ops"}); r.Status != 404 {
			t.Errorf("create-team without teams: %d", r.Status)
		}
		if r := owner.do("GET", "list-roles", nil); r.Status != 404 {
			t.Errorf("list-roles without dynamic roles: %d", r.Status)
		}
		s := owner.session()
		if _, ok := s["activeTeamId"]; ok {
			t.Errorf("activeTeamId present without teams: %v", s)
		}
		if s["activeOrganizationId"] != orgID {
			t.Errorf("activeOrganizationId = %v", s["activeOrganizationId"])
		}
		r := owner.get("get-full-organization", "")
		if _, ok := r.JSON["teams"]; ok {
			t.Error("teams in get-full-organization without teams")
		}
		inv := owner.post("invite-member", map[string]any{"email": "a@example.com",
			"role": "member"})
		if _, ok := inv.JSON["teamId"]; ok {
			t.Error("teamId in an invitation without teams")
		}
		if n := count(t, env, "SELECT count(*) FROM teams"); n != 0 {
			t.Errorf("teams = %d", n)
		}
	}, func(o *organization.Options) {
		o.Teams.Enabled = false
		o.DynamicRoles.Enabled = false
	})
}

func TestRuntimeRoles(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		orgID := owner.createOrg("Acme", "acme")
		bobMember := bob.join(owner, orgID, "member")
		other := owner.createOrg("Other", "other")
		owner.post("set-active", map[string]any{"organizationId": orgID})

		r := owner.post("create-role", map[string]any{"role": "Support",
			"permission": map[string]any{"member": []string{"update"}}})
		data := asMap(t, r.JSON["roleData"])
		if r.JSON["success"] != true || data["role"] != "support" ||
			asMap(t, data["permission"])["member"] == nil {
			t.Fatalf("create-role: %s", r.Body)
		}
		expectErr(t, owner.do("POST", "create-role", map[string]any{"role": "support",
			"permission": map[string]any{}}), 400, "ROLE_NAME_IS_ALREADY_TAKEN", "taken")
		expectErr(t, owner.do("POST", "create-role", map[string]any{"role": "Admin",
			"permission": map[string]any{}}), 400, "ROLE_NAME_IS_ALREADY_TAKEN", "predefined")
		expectErr(t, owner.do("POST", "create-role", map[string]any{"role": "x",
			"permission": map[string]any{"billing": []string{"read"}}}), 400,
			"INVALID_RESOURCE", "unknown resource")
		expectErr(t, owner.do("POST", "create-role", map[string]any{"role": "a,b",
			"permission": map[string]any{}}), 400, "VALIDATION_ERROR", "comma in name")

		owner.post("create-role", map[string]any{"role": "extra",
			"permission": map[string]any{"ac": []string{"read"}}})
		expectErr(t, owner.do("POST", "create-role", map[string]any{"role": "third",
			"permission": map[string]any{}}), 400, "TOO_MANY_ROLES", "maximum roles")
		if l := asList(t, owner.get("list-roles", "").Body); len(l) != 2 {
			t.Errorf("list-roles = %v", l)
		}
		if r := owner.get("get-role", "roleName=support"); r.JSON["role"] != "support" {
			t.Errorf("get-role: %s", r.Body)
		}
		if l := asList(t, owner.get("list-roles", "organizationId="+other).Body); len(l) != 0 {
			t.Errorf("roles leak to another organization: %v", l)
		}

		// Assigned, the run-time role grants its permission on top.
		perm := func() bool {
			return bob.post("has-permission", map[string]any{"organizationId": orgID,
				"permissions": map[string]any{"member": []string{"update"}}}).JSON["success"] == true
		}
		if perm() {
			t.Fatal("member can update members before the role")
		}
		owner.post("update-member-role", map[string]any{"memberId": bobMember,
			"role": []string{"member", "support"}})
		if !perm() {
			t.Error("run-time role not applied")
		}
		// The role exists only in its organization.
		expectErr(t, owner.do("POST", "update-member-role", map[string]any{
			"organizationId": other, "memberId": bobMember, "role": "support"}), 400,
			"MEMBER_NOT_FOUND", "member of another org")
		r = owner.do("POST", "invite-member", map[string]any{"organizationId": other,
			"email": "x@example.com", "role": "support"})
		if r.Status != 400 || r.JSON["message"] != "ROLE_NOT_FOUND: support" {
			t.Errorf("role of another org: %d %s", r.Status, r.Body)
		}

		// Renaming follows the members; deleting needs it unassigned.
		r = owner.post("update-role", map[string]any{"roleName": "support",
			"data": map[string]any{"roleName": "helpdesk",
				"permission": map[string]any{"member": []string{"update", "create"}}}})
		if asMap(t, r.JSON["roleData"])["role"] != "helpdesk" {
			t.Errorf("update-role: %s", r.Body)
		}
		if got := memberRole(t, env, orgID, bob.ID); got != "member,helpdesk" {
			t.Errorf("bob's role after rename = %q", got)
		}
		expectErr(t, owner.do("POST", "delete-role", map[string]any{"roleName": "helpdesk"}),
			400, "ROLE_IS_ASSIGNED_TO_MEMBERS", "assigned")
		expectErr(t, owner.do("POST", "delete-role", map[string]any{"roleName": "owner"}),
			400, "CANNOT_DELETE_A_PRE_DEFINED_ROLE", "predefined")
		owner.post("update-member-role", map[string]any{"memberId": bobMember, "role": "member"})
		owner.post("delete-role", map[string]any{"roleName": "helpdesk"})
		expectErr(t, owner.do("GET", "get-role?roleName=helpdesk", nil), 400, "ROLE_NOT_FOUND",
			"deleted")

		// A member may read roles but not change them.
		if r := bob.do("GET", "list-roles?organizationId="+orgID, nil); r.Status != 200 {
			t.Errorf("member list-roles: %d %s", r.Status, r.Body)
		}
		expectErr(t, bob.do("POST", "delete-role", map[string]any{"organizationId": orgID,
			"roleName": "x"}), 403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE", "member deletes")
	}, func(o *organization.Options) { o.DynamicRoles.MaximumRolesPerOrganization = 2 })
}

// TestCustomRoles: roles are configuration; a deployment's own statements
// and roles replace the defaults.
func TestCustomRoles(t *testing.T) {
	roles, err := organization.ParseRoles([]byte(`{
		"statements": {"organization": ["update", "delete"], "invitation": ["create", "cancel"],
			"member": ["create", "update", "delete"], "project": ["create", "read"]},
		"roles": {"founder": {"organization": ["update", "delete"],
				"invitation": ["create", "cancel"], "member": ["create", "update", "delete"],
				"project": ["create", "read"]},
			"viewer": {"project": ["read"]}},
		"creatorRole": "founder"}`))
	if err != nil {
		t.Fatal(err)
	}
	each(t, func(t *testing.T, env *apitest.Env) {
		f := signUp(t, env, "Fay", true)
		v := signUp(t, env, "Vic", true)
		r := f.post("create", map[string]any{"name": "P", "slug": "p"})
		orgID := r.JSON["id"].(string)
		if asMap(t, r.JSON["members"].([]any)[0])["role"] != "founder" {
			t.Errorf("creator role: %s", r.Body)
		}
		v.join(f, orgID, "viewer")
		can := func(u *user, perms map[string]any) bool {
			return u.post("has-permission", map[string]any{"organizationId": orgID,
				"permissions": perms}).JSON["success"] == true
		}
		if !can(v, map[string]any{"project": []string{"read"}}) ||
			can(v, map[string]any{"project": []string{"create"}}) {
			t.Error("viewer permissions wrong")
		}
		r = f.do("POST", "invite-member", map[string]any{"organizationId": orgID,
			"email": "x@example.com", "role": "admin"})
		if r.JSON["message"] != "ROLE_NOT_FOUND: admin" {
			t.Errorf("default role accepted under custom roles: %s", r.Body)
		}
		expectErr(t, f.do("POST", "leave", map[string]any{"organizationId": orgID}), 400,
			"YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "last founder")
	}, func(o *organization.Options) {
		o.Roles = roles
		o.Teams.Enabled = false
		o.DynamicRoles.Enabled = false
	})
}

func TestUserData(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		alice := signUp(t, env, "Alice", true)
		bob := signUp(t, env, "Bob", true)
		solo := alice.createOrg("Solo", "solo")
		shared := alice.createOrg("Shared", "shared")
		bobsOrg := bob.createOrg("Bobs", "bobs")
		bob.join(alice, shared, "admin")
		alice.invite(shared, "carol@example.com", "member")
		bob.invite(bobsOrg, alice.Email, "member")

		p := env.Engine.Plugin("organization").(*organization.Plugin)
		ctx := context.Background()
		data, err := p.ExportUserData(ctx, env.DB, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		js := exportJSON(t, data)
		if len(js["memberships"].([]any)) != 2 {
			t.Errorf("memberships = %v", js["memberships"])
		}
		m := asMap(t, js["memberships"].([]any)[0])
		if m["name"] != "Solo" || m["slug"] != "solo" || m["role"] != "owner" ||
			m["organizationId"] != solo || m["joinedAt"] == nil {
			t.Errorf("membership = %v", m)
		}
		// Sent: to Bob (accepted) and to Carol; received: Bob's.
		if n := len(js["invitationsSent"].([]any)); n != 2 {
			t.Errorf("invitationsSent = %d", n)
		}
		rec := js["invitationsReceived"].([]any)
		if len(rec) != 1 || asMap(t, rec[0])["organizationName"] != "Bobs" {
			t.Errorf("invitationsReceived = %v", rec)
		}
		if p.UserDataSection() != "organizations" {
			t.Error("section name")
		}

		// Erasure: the solo organization goes, the shared one stays with Bob.
		if err := env.Engine.DeleteUser(ctx, nil, alice.ID, nil); err != nil {
			t.Fatal(err)
		}
		if n := count(t, env, "SELECT count(*) FROM organizations WHERE id = $1", solo); n != 0 {
			t.Error("solo organization kept")
		}
		if n := count(t, env, "SELECT count(*) FROM members WHERE organization_id = $1",
			shared); n != 1 {
			t.Errorf("shared members = %d, want Bob alone", n)
		}
		if n := count(t, env, "SELECT count(*) FROM invitations WHERE email = $1 "+
			"OR inviter_id = $2", alice.Email, alice.ID); n != 0 {
			t.Errorf("alice's invitations left: %d", n)
		}
		if n := count(t, env, "SELECT count(*) FROM organizations"); n != 2 {
			t.Errorf("organizations = %d", n)
		}
	})
}
