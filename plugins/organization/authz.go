package organization

import (
	"context"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// check is what an endpoint needs of the caller in one organization, and
// how it answers when the caller falls short.
type check struct {
	// perm is the permission needed; nil means membership is enough.
	perm      Permissions
	connector Connector
	// creatorAll lets a holder of the creator role pass any perm.
	creatorAll bool
	// notMember answers both a missing organization and one the caller is
	// not in: the two must be indistinguishable.
	notMember *core.APIError
	// denied answers a member without perm; nil returns errDenied.
	denied *core.APIError
}

// errDenied is authorize's answer for a member without the permission when
// the check has no denied error of its own (has-permission).
var errDenied = errors.New("organization: permission denied")

// authorize is the one place that decides whether userID is a member of
// the referenced organization and, when c.perm is set, holds that
// permission through any of their roles (static roles merged with the
// organization's run-time roles). Every endpoint that acts in an
// organization goes through it. A missing organization and one userID is
// not in get the same answer, c.notMember.
//
// Inside a transaction (q is not the pool) the organization row is locked
// on PostgreSQL, so the decision holds until commit.
func (p *Plugin) authorize(ctx context.Context, q db.Querier, userID string, ref orgRef,
	c check) (*Member, error) {
	if userID == "" || ref.empty() {
		p.metrics.denied.WithLabelValues("not_member").Inc()
		return nil, c.notMember
	}
	_, pool := q.(db.DB)
	lock := !pool && p.e.DB.Dialect() == db.Postgres
	m, err := memberOf(ctx, q, userID, ref, lock)
	if errors.Is(err, db.ErrNoRows) {
		p.metrics.denied.WithLabelValues("not_member").Inc()
		return nil, c.notMember
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "organization membership", err)
	}
	if c.perm == nil {
		return m, nil
	}
	var extra map[string]Statements
	if p.opts.DynamicRoles.Enabled {
		if extra, err = p.runtimeRoles(ctx, q, m.OrganizationID); err != nil {
			return nil, p.e.DBError(ctx, "organization roles", err)
		}
	}
	if p.opts.Roles.Allows(m.Role, c.perm, c.connector, extra, c.creatorAll) {
		return m, nil
	}
	p.metrics.denied.WithLabelValues("no_permission").Inc()
	if c.denied == nil {
		return m, errDenied
	}
	return nil, c.denied
}

// runtimeRoles returns an organization's run-time roles by name.
func (p *Plugin) runtimeRoles(ctx context.Context, q db.Querier, orgID string) (
	map[string]Statements, error) {
	roles, err := orgRoles(ctx, q, orgID)
	if err != nil || len(roles) == 0 {
		return nil, err
	}
	out := make(map[string]Statements, len(roles))
	for _, r := range roles {
		out[r.Role] = r.Permission
	}
	return out, nil
}

// Check reports whether userID is a member of orgID and, when perms is not
// empty, holds those permissions (resources combined with AND). It returns
// the member's role ("" for a non-member). It is the same decision every
// endpoint makes.
func (p *Plugin) Check(ctx context.Context, userID, orgID string, perms Permissions) (
	role string, allowed bool, err error) {
	c := check{perm: perms, notMember: errMemberNotFound}
	if len(perms) == 0 {
		c.perm = nil
	}
	m, err := p.authorize(ctx, p.e.DB, userID, orgRef{ID: orgID}, c)
	switch {
	case errors.Is(err, errDenied):
		return m.Role, false, nil
	case errors.Is(err, errMemberNotFound):
		return "", false, nil
	case err != nil:
		return "", false, err
	}
	return m.Role, true, nil
}

// unknownRoleNames returns the names in roles that are neither static roles
// nor run-time roles of the organization.
func (p *Plugin) unknownRoleNames(ctx context.Context, q db.Querier, orgID string,
	roles []string) ([]string, error) {
	var unknown []string
	for _, r := range roles {
		if _, ok := p.opts.Roles.Roles[r]; !ok {
			unknown = append(unknown, r)
		}
	}
	if len(unknown) == 0 || !p.opts.DynamicRoles.Enabled {
		return unknown, nil
	}
	extra, err := p.runtimeRoles(ctx, q, orgID)
	if err != nil {
		return nil, err
	}
	var still []string
	for _, r := range unknown {
		if _, ok := extra[r]; !ok {
			still = append(still, r)
		}
	}
	return still, nil
}
