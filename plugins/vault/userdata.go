package vault

import (
	"context"
	"fmt"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// UserData is the vault's section of a user's data export. It never holds
// key material: not the master key, not a wrap, not a key check value.
type UserData struct {
	VaultExists     bool         `json:"vaultExists"`
	ZeroKnowledge   bool         `json:"zeroKnowledge"`
	HasRecoveryWrap bool         `json:"hasRecoveryWrap"`
	RecoverySetAt   *core.Time   `json:"recoverySetAt"`
	Audit           []AuditEntry `json:"audit"`
}

// UserDataSection implements core.UserDataProvider.
func (p *Plugin) UserDataSection() string { return "vault" }

// ExportUserData implements core.UserDataProvider. On PostgreSQL it binds
// q to userID first (a db.Tx stays bound for the rest of the caller's
// transaction).
func (p *Plugin) ExportUserData(ctx context.Context, q db.Querier, userID string) (any,
	error) {
	var out UserData
	err := withUser(ctx, q, userID, func(q db.Querier) error {
		st, err := loadStatus(ctx, q, userID)
		if err != nil {
			return err
		}
		sb := statusOf(st)
		out = UserData{VaultExists: sb.VaultExists, ZeroKnowledge: sb.ZeroKnowledge,
			HasRecoveryWrap: sb.HasRecoveryWrap, RecoverySetAt: sb.RecoverySetAt}
		out.Audit, err = listAudit(ctx, q, userID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("exporting vault data: %w", err)
	}
	return out, nil
}

// EraseUserData implements core.UserDataProvider: it deletes the user's
// vault and audit rows inside tx, bound to userID, and reports how many
// rows went. The master key is gone for good.
func (p *Plugin) EraseUserData(ctx context.Context, tx db.Tx, userID string) (int64,
	error) {
	if err := bindUser(ctx, tx, userID); err != nil {
		return 0, err
	}
	n, err := eraseUser(ctx, tx, userID)
	if err != nil {
		return 0, fmt.Errorf("erasing vault data: %w", err)
	}
	return n, nil
}
