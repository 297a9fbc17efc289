package twofactor

import (
	"context"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

var _ core.AccountAdoptHook = (*Plugin)(nil)

// OnAccountAdopted drops a second factor that the earlier, unproven owner
// of an adopted account enrolled, with its trusted devices, so the real
// owner is never challenged with the other party's authenticator.
func (p *Plugin) OnAccountAdopted(ctx context.Context, q db.Querier, userID string) error {
	if _, err := q.Exec(ctx, "DELETE FROM two_factors WHERE user_id = $1", userID); err != nil {
		return err
	}
	if _, err := deleteTrust(ctx, q, userID); err != nil {
		return err
	}
	return p.setUserEnabled(ctx, q, userID, false)
}
