// Package organization is mana-auth's organization plugin: multi-tenant
// organizations with members, invitations, teams and roles, wire-compatible
// with Better Auth's organization plugin (reference §11), plus the internal
// membership endpoint other services call with the service key.
//
// Access control is data: Roles holds the grantable statements, the roles
// and the creator role (DefaultRoles is Better Auth's owner, admin and
// member). A member's role column is a comma-joined list; any one role
// granting a request is enough. Organizations may add run-time roles,
// merged with the static ones per request.
//
// One function, Plugin.authorize, decides whether a user is a member of an
// organization and holds a permission; every endpoint goes through it, and
// an organization the caller is not in answers exactly like one that does
// not exist. Changes to one organization's members, invitations, teams and
// roles run in transactions that lock the organization row first, so
// limits and the last-owner rules hold under concurrency.
//
// Files: plugin.go (lifecycle), options.go (settings), access.go (the
// access-control model), authz.go (the one decision), routes.go and
// endpoints_*.go (HTTP), store.go (SQL), userdata.go (export and erasure),
// internal.go (the service endpoint), metrics.go.
package organization
