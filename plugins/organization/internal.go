package organization

import (
	"context"

	"github.com/mana/mana-auth/core"
)

// memberStatus is the internal membership answer.
type memberStatus struct {
	IsMember bool    `json:"isMember"`
	Role     *string `json:"role"`
}

// hInternalMember answers GET /api/v1/internal/org/{orgId}/member/{userId}
// for other services; the route's core.AuthService mode has checked the
// X-Service-Key.
func (p *Plugin) hInternalMember(ctx context.Context, r *core.Request) (*core.Response, error) {
	m, err := p.authorize(ctx, p.e.DB, r.Param("userId"), orgRef{ID: r.Param("orgId")},
		check{notMember: errMemberNotFound})
	if err != nil {
		if ae, ok := core.AsAPIError(err); ok && ae.Is(errMemberNotFound) {
			return core.JSON(memberStatus{}), nil
		}
		return nil, err
	}
	return core.JSON(memberStatus{IsMember: true, Role: &m.Role}), nil
}
