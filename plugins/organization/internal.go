package organization

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"

	"github.com/mana/mana-auth/core"
)

// serviceKeyOK compares the X-Service-Key header with the configured key in
// constant time (over SHA-256 digests, so the length is not revealed). An
// empty configured key accepts nothing.
func serviceKeyOK(configured, presented string) bool {
	if configured == "" || presented == "" {
		return false
	}
	a, b := sha256.Sum256([]byte(configured)), sha256.Sum256([]byte(presented))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// memberStatus is the internal membership answer.
type memberStatus struct {
	IsMember bool    `json:"isMember"`
	Role     *string `json:"role"`
}

// hInternalMember answers GET /api/v1/internal/org/{orgId}/member/{userId}
// for other services, authenticated by X-Service-Key.
func (p *Plugin) hInternalMember(ctx context.Context, r *core.Request) (*core.Response, error) {
	if !serviceKeyOK(p.cfg.ServiceKey, r.Header("X-Service-Key")) {
		return nil, core.ErrUnauthorized
	}
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
