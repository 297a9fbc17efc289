package twofactor

import (
	"context"
	"errors"

	"github.com/mana/mana-auth/core/db"
)

// UserDataSection implements core.UserDataProvider.
func (p *Plugin) UserDataSection() string { return "twoFactor" }

// Export is a user's two-factor data as the GDPR export shows it. Secrets
// and codes never leave: only whether they exist.
type Export struct {
	Enabled              bool `json:"enabled"`
	Verified             bool `json:"verified"`
	BackupCodesRemaining int  `json:"backupCodesRemaining"`
}

// ExportUserData implements core.UserDataProvider.
func (p *Plugin) ExportUserData(ctx context.Context, q db.Querier, userID string) (any,
	error) {
	var out Export
	err := q.QueryRow(ctx, "SELECT two_factor_enabled FROM users WHERE id = $1", userID).
		Scan(&out.Enabled)
	if err != nil && !errors.Is(err, db.ErrNoRows) {
		return nil, err
	}
	w, err := loadRow(ctx, q, userID)
	if errors.Is(err, db.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out.Verified = w.Verified
	codes, err := p.decodeCodes(w.BackupCodes)
	if err != nil {
		// Unreadable (rotated-away secret): report none rather than fail
		// the whole export.
		p.log.WarnContext(ctx, "backup codes unreadable for export", "user_id", userID)
	}
	out.BackupCodesRemaining = len(codes)
	return out, nil
}

// EraseUserData implements core.UserDataProvider: the two_factors row and
// the user's trusted devices. Open challenges expire within ChallengeTTL and
// fail once the user is gone.
func (p *Plugin) EraseUserData(ctx context.Context, tx db.Tx, userID string) (int64,
	error) {
	n, err := tx.Exec(ctx, "DELETE FROM two_factors WHERE user_id = $1", userID)
	if err != nil {
		return 0, err
	}
	m, err := deleteTrust(ctx, tx, userID)
	return n + m, err
}
