package organization

import (
	"github.com/mana/mana-auth/core"
)

// Routes implements core.RouteProvider. Read endpoints answer GET (what the
// better-auth client sends for a call without a body) and POST (what it
// sends when the parameters are passed as a body); the others answer POST.
// Team routes exist only with teams, role routes only with run-time roles.
func (p *Plugin) Routes() []core.Route {
	var routes []core.Route
	add := func(name string, auth core.AuthMode, read bool, h core.Handler) {
		methods := []string{"POST"}
		if read {
			methods = []string{"GET", "POST"}
		}
		for _, m := range methods {
			routes = append(routes, core.Route{Method: m,
				Path: p.cfg.BasePath + "/organization/" + name, Name: "organization/" + name,
				Auth: auth, NoStore: true, Handler: h})
		}
	}
	const (
		write = false
		read  = true
	)
	req := core.AuthRequired

	add("create", core.AuthOptional, write, p.hCreate)
	add("update", req, write, p.hUpdate)
	add("delete", req, write, p.hDelete)
	add("set-active", req, write, p.hSetActive)
	add("get-organization", req, read, p.hGetOrganization)
	add("get-full-organization", req, read, p.hGetFullOrganization)
	add("list", req, read, p.hList)
	add("check-slug", req, write, p.hCheckSlug)

	add("invite-member", req, write, p.hInviteMember)
	add("accept-invitation", req, write, p.hAcceptInvitation)
	add("reject-invitation", req, write, p.hRejectInvitation)
	add("cancel-invitation", req, write, p.hCancelInvitation)
	add("get-invitation", core.AuthOptional, read, p.hGetInvitation)
	add("list-invitations", req, read, p.hListInvitations)
	add("list-user-invitations", core.AuthOptional, read, p.hListUserInvitations)

	add("remove-member", req, write, p.hRemoveMember)
	add("update-member-role", req, write, p.hUpdateMemberRole)
	add("get-active-member", req, read, p.hGetActiveMember)
	add("get-active-member-role", req, read, p.hGetActiveMemberRole)
	add("leave", req, write, p.hLeave)
	add("list-members", req, read, p.hListMembers)
	add("has-permission", req, write, p.hHasPermission)

	if p.opts.Teams.Enabled {
		add("create-team", req, write, p.hCreateTeam)
		add("update-team", req, write, p.hUpdateTeam)
		add("remove-team", req, write, p.hRemoveTeam)
		add("list-teams", req, read, p.hListTeams)
		add("set-active-team", req, write, p.hSetActiveTeam)
		add("add-team-member", req, write, p.hAddTeamMember)
		add("remove-team-member", req, write, p.hRemoveTeamMember)
		add("list-team-members", req, read, p.hListTeamMembers)
		add("list-user-teams", req, read, p.hListUserTeams)
	}
	if p.opts.DynamicRoles.Enabled {
		add("create-role", req, write, p.hCreateRole)
		add("update-role", req, write, p.hUpdateRole)
		add("delete-role", req, write, p.hDeleteRole)
		add("list-roles", req, read, p.hListRoles)
		add("get-role", req, read, p.hGetRole)
	}

	routes = append(routes, core.Route{Method: "GET",
		Path: "/api/v1/internal/org/{orgId}/member/{userId}", Name: "internal/org-member",
		Auth: core.AuthService, NoStore: true, Handler: p.hInternalMember})
	return routes
}
