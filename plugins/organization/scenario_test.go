package organization_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mana/mana-auth/core/mail/mailtest"
	"github.com/mana/mana-auth/internal/apitest"
)

var isoMillis = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

// TestScenario is the end-to-end flow over HTTP: create, set
// active, invite by mail, accept, list, change a role, check permissions
// for owner, admin and member, remove, leave, delete.
func TestScenario(t *testing.T) {
	each(t, func(t *testing.T, env *apitest.Env) {
		owner := signUp(t, env, "Olivia", true)
		bob := signUp(t, env, "Bob", true)
		carol := signUp(t, env, "Carol", true)

		// Create: metadata comes back parsed, the creator is the owner.
		r := owner.post("create", map[string]any{"name": "Acme", "slug": "acme",
			"metadata": map[string]any{"plan": "pro"}})
		orgID, _ := r.JSON["id"].(string)
		if len(orgID) != 32 || r.JSON["slug"] != "acme" || r.JSON["logo"] != nil {
			t.Fatalf("create: %s", r.Body)
		}
		if m := asMap(t, r.JSON["metadata"]); m["plan"] != "pro" {
			t.Errorf("create metadata = %v, want parsed object", r.JSON["metadata"])
		}
		if s, _ := r.JSON["createdAt"].(string); !isoMillis.MatchString(s) {
			t.Errorf("createdAt = %q", s)
		}
		members := r.JSON["members"].([]any)
		if len(members) != 1 || asMap(t, members[0])["role"] != "owner" ||
			asMap(t, members[0])["userId"] != owner.ID {
			t.Errorf("create members = %v", members)
		}
		if owner.session()["activeOrganizationId"] != orgID {
			t.Errorf("create did not set the active organization")
		}

		// set-active: null clears, an id sets; get-session shows it.
		if r := owner.post("set-active", map[string]any{"organizationId": nil}); string(
			r.Body) != "null\n" {
			t.Errorf("set-active null: %s", r.Body)
		}
		if v := owner.session()["activeOrganizationId"]; v != nil {
			t.Errorf("activeOrganizationId after unset = %v", v)
		}
		r = owner.post("set-active", map[string]any{"organizationId": orgID})
		if r.JSON["id"] != orgID || r.JSON["metadata"] != `{"plan":"pro"}` {
			t.Errorf("set-active: %s (metadata must be the stored string)", r.Body)
		}
		if owner.session()["activeOrganizationId"] != orgID {
			t.Fatal("get-session does not show the active organization")
		}

		// Invite Bob; the mail carries the accept link with the id.
		r = owner.post("invite-member", map[string]any{"email": "BOB@example.com",
			"role": "member"})
		invID, _ := r.JSON["id"].(string)
		exp, _ := time.Parse(time.RFC3339, r.JSON["expiresAt"].(string))
		if r.JSON["status"] != "pending" || r.JSON["email"] != bob.Email ||
			r.JSON["role"] != "member" || r.JSON["inviterId"] != owner.ID ||
			r.JSON["organizationId"] != orgID {
			t.Errorf("invitation: %s", r.Body)
		}
		if d := time.Until(exp); d < 47*time.Hour || d > 49*time.Hour {
			t.Errorf("expiresAt in %v, want 48h", d)
		}
		m := env.WaitMail(bob.Email)
		link := mailtest.ExtractURL(m.Text, env.Config.BaseURL+"/accept-invitation/")
		if link == "" || !strings.Contains(m.Subject, "Acme") {
			t.Fatalf("invitation mail: %q\n%s", m.Subject, m.Text)
		}
		mailedID := link[strings.LastIndex(link, "/")+1:]
		if mailedID != invID {
			t.Fatalf("mailed id %q, invitation %q", mailedID, invID)
		}

		// Bob reads and accepts the invitation from the link.
		r = bob.get("get-invitation", "id="+mailedID)
		if r.JSON["organizationName"] != "Acme" || r.JSON["organizationSlug"] != "acme" ||
			r.JSON["inviterEmail"] != owner.Email {
			t.Errorf("get-invitation: %s", r.Body)
		}
		r = bob.post("accept-invitation", map[string]any{"invitationId": mailedID})
		if asMap(t, r.JSON["invitation"])["status"] != "accepted" ||
			asMap(t, r.JSON["member"])["role"] != "member" {
			t.Fatalf("accept: %s", r.Body)
		}
		bobMember := asMap(t, r.JSON["member"])["id"].(string)
		if bob.session()["activeOrganizationId"] != orgID {
			t.Error("accept did not set Bob's active organization")
		}
		carolMember := carol.join(owner, orgID, "member")

		// List members, with users.
		r = owner.get("list-members", "organizationId="+orgID)
		list := r.JSON["members"].([]any)
		if r.JSON["total"] != float64(3) || len(list) != 3 {
			t.Fatalf("list-members: %s", r.Body)
		}
		if u := asMap(t, asMap(t, list[1])["user"]); u["email"] != bob.Email {
			t.Errorf("member user = %v", u)
		}

		// Change Carol's role to admin; the bare member comes back.
		r = owner.post("update-member-role", map[string]any{"memberId": carolMember,
			"role": "admin"})
		if r.JSON["role"] != "admin" || r.JSON["user"] != nil || r.JSON["id"] != carolMember {
			t.Errorf("update-member-role: %s", r.Body)
		}

		// Permissions of owner, admin and member.
		perm := func(u *user, perms any) bool {
			t.Helper()
			r := u.post("has-permission", map[string]any{"organizationId": orgID,
				"permissions": perms})
			if _, ok := r.JSON["error"]; !ok || r.JSON["error"] != nil {
				t.Errorf("has-permission body: %s", r.Body)
			}
			return r.JSON["success"] == true
		}
		cases := []struct {
			name  string
			who   *user
			perms any
			want  bool
		}{
			{"owner deletes org", owner, map[string]any{"organization": []string{"delete"}}, true},
			{"admin deletes org", carol, map[string]any{"organization": []string{"delete"}}, false},
			{"admin updates org", carol, map[string]any{"organization": []string{"update"}}, true},
			{"admin invites and cancels", carol,
				map[string]any{"invitation": []string{"create", "cancel"}}, true},
			{"member creates member", bob, map[string]any{"member": []string{"create"}}, false},
			{"member reads roles", bob, map[string]any{"ac": []string{"read"}}, true},
			{"member AND read+delete", bob, map[string]any{"ac": []string{"read", "delete"}},
				false},
			{"member OR read|delete", bob, map[string]any{"ac": map[string]any{
				"actions": []string{"read", "delete"}, "connector": "OR"}}, true},
			{"unknown resource", owner, map[string]any{"billing": []string{"read"}}, false},
			{"empty actions", owner, map[string]any{"member": []string{}}, false},
		}
		for _, c := range cases {
			if got := perm(c.who, c.perms); got != c.want {
				t.Errorf("%s: success = %v, want %v", c.name, got, c.want)
			}
		}

		// Remove Bob by email; his session loses the organization.
		r = carol.post("remove-member", map[string]any{"organizationId": orgID,
			"memberIdOrEmail": bob.Email})
		if asMap(t, r.JSON["member"])["id"] != bobMember {
			t.Errorf("remove-member: %s", r.Body)
		}
		if v := bob.session()["activeOrganizationId"]; v != nil {
			t.Errorf("removed member keeps activeOrganizationId %v", v)
		}
		if list := asList(t, bob.get("list", "").Body); len(list) != 0 {
			t.Errorf("removed member still lists %v", list)
		}

		// Carol leaves; the only owner cannot.
		carol.post("leave", map[string]any{"organizationId": orgID})
		expectErr(t, owner.do("POST", "leave", map[string]any{"organizationId": orgID}),
			400, "YOU_CANNOT_LEAVE_THE_ORGANIZATION_AS_THE_ONLY_OWNER", "last owner leaves")

		// Delete: the organization and its rows go.
		r = owner.post("delete", map[string]any{"organizationId": orgID})
		if r.JSON["id"] != orgID || r.JSON["metadata"] != `{"plan":"pro"}` {
			t.Errorf("delete: %s", r.Body)
		}
		for _, table := range []string{"members", "invitations", "teams"} {
			if n := count(t, env, "SELECT count(*) FROM "+table+
				" WHERE organization_id = $1", orgID); n != 0 {
				t.Errorf("%d %s left after delete", n, table)
			}
		}
		if v := owner.session()["activeOrganizationId"]; v != nil {
			t.Errorf("activeOrganizationId after delete = %v", v)
		}

		// The security log has the membership story.
		for event, who := range map[string]string{
			"invitation_sent": owner.ID, "invitation_accepted": bob.ID,
			"member_added": bob.ID, "member_role_changed": owner.ID,
			"member_removed": carol.ID, "organization_deleted": owner.ID,
		} {
			if n := count(t, env, "SELECT count(*) FROM security_events WHERE event = $1 "+
				"AND user_id = $2", event, who); n == 0 {
				t.Errorf("no %s event for %s", event, who)
			}
		}
	})
}
