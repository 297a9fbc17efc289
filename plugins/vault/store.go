package vault

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// record is one row of encryption_vaults.
type record struct {
	WrappedMK     []byte // nil in zero-knowledge mode
	WrapIV        []byte
	KEKID         *string
	FormatVersion int
	MKCheck       []byte
	RecoveryMK    []byte // nil without a recovery wrap
	RecoveryIV    []byte
	RecoverySetAt *time.Time
	ZeroKnowledge bool
}

// hasKEKWrap reports whether the server can unwrap the master key.
func (v *record) hasKEKWrap() bool { return v.WrappedMK != nil && v.KEKID != nil }

// bindUser makes tx act for userID: on PostgreSQL it sets mana.user_id for
// the rest of the transaction, which the row-level security policies of
// both vault tables compare with. SQLite has no row-level security.
func bindUser(ctx context.Context, tx db.Tx, userID string) error {
	if tx.Dialect() != db.Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, "SELECT set_config('mana.user_id', $1, true)",
		userID); err != nil {
		return fmt.Errorf("binding vault user: %w", err)
	}
	return nil
}

// inTx runs fn in a transaction of d bound to userID (see bindUser).
func inTx(ctx context.Context, d db.DB, userID string, fn func(tx db.Tx) error) error {
	return d.Tx(ctx, func(tx db.Tx) error {
		if err := bindUser(ctx, tx, userID); err != nil {
			return err
		}
		return fn(tx)
	})
}

// withUser runs fn on q bound to userID: a db.DB gets a transaction of its
// own; a db.Tx is bound in place (so mana.user_id stays set for the rest
// of the caller's transaction).
func withUser(ctx context.Context, q db.Querier, userID string,
	fn func(q db.Querier) error) error {
	switch q := q.(type) {
	case db.DB:
		return inTx(ctx, q, userID, func(tx db.Tx) error { return fn(tx) })
	case db.Tx:
		if err := bindUser(ctx, q, userID); err != nil {
			return err
		}
	}
	return fn(q)
}

const selectRecord = "SELECT wrapped_mk, wrap_iv, kek_id, format_version, mk_check, " +
	"recovery_wrapped_mk, recovery_iv, recovery_set_at, zero_knowledge " +
	"FROM encryption_vaults WHERE user_id = $1"

// loadRecord reads userID's vault; db.ErrNoRows when there is none.
func loadRecord(ctx context.Context, q db.Querier, userID string) (*record, error) {
	v := &record{}
	err := q.QueryRow(ctx, selectRecord, userID).Scan(&v.WrappedMK, &v.WrapIV, &v.KEKID,
		&v.FormatVersion, &v.MKCheck, &v.RecoveryMK, &v.RecoveryIV, &v.RecoverySetAt,
		&v.ZeroKnowledge)
	if err != nil {
		return nil, err
	}
	return v, nil
}

// vaultStatus is what /status and the data export show: no key material.
type vaultStatus struct {
	Exists          bool
	HasRecoveryWrap bool
	ZeroKnowledge   bool
	RecoverySetAt   *time.Time
}

// loadStatus reads the non-secret state of userID's vault.
func loadStatus(ctx context.Context, q db.Querier, userID string) (vaultStatus, error) {
	var s vaultStatus
	err := q.QueryRow(ctx, "SELECT recovery_wrapped_mk IS NOT NULL, zero_knowledge, "+
		"recovery_set_at FROM encryption_vaults WHERE user_id = $1", userID).
		Scan(&s.HasRecoveryWrap, &s.ZeroKnowledge, &s.RecoverySetAt)
	if errors.Is(err, db.ErrNoRows) {
		return vaultStatus{}, nil
	}
	if err != nil {
		return vaultStatus{}, err
	}
	s.Exists = true
	return s, nil
}

// insertRecord creates userID's vault unless one exists; it reports whether
// this call created it. Racing callers create exactly one row.
func insertRecord(ctx context.Context, q db.Querier, userID string, w wrap, check []byte,
	now time.Time) (bool, error) {
	n, err := q.Exec(ctx, "INSERT INTO encryption_vaults (user_id, wrapped_mk, wrap_iv, "+
		"kek_id, format_version, mk_check, zero_knowledge, created_at, updated_at) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (user_id) DO NOTHING",
		userID, w.sealed, w.iv, w.kekID, FormatVersion, check, false, now)
	return n == 1, err
}

// rewrapRecord replaces a KEK wrap of the same master key, but only while
// the row is still wrapped under oldKEK: a concurrent rotation wins.
func rewrapRecord(ctx context.Context, q db.Querier, userID, oldKEK string, w wrap,
	now time.Time) (int64, error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET wrapped_mk = $1, wrap_iv = $2, "+
		"kek_id = $3, format_version = $4, updated_at = $5 "+
		"WHERE user_id = $6 AND kek_id = $7",
		w.sealed, w.iv, w.kekID, FormatVersion, now, userID, oldKEK)
}

// rotateRecord stores a new master key and drops the recovery wrap, which
// wraps the old key. It changes nothing in zero-knowledge mode.
func rotateRecord(ctx context.Context, q db.Querier, userID string, w wrap, check []byte,
	now time.Time) (int64, error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET wrapped_mk = $1, wrap_iv = $2, "+
		"kek_id = $3, format_version = $4, mk_check = $5, recovery_wrapped_mk = NULL, "+
		"recovery_iv = NULL, recovery_set_at = NULL, updated_at = $6 "+
		"WHERE user_id = $7 AND zero_knowledge = $8",
		w.sealed, w.iv, w.kekID, FormatVersion, check, now, userID, false)
}

// setRecoveryWrap stores (or replaces) the client-built recovery wrap.
func setRecoveryWrap(ctx context.Context, q db.Querier, userID string, sealed, iv []byte,
	now time.Time) (int64, error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET recovery_wrapped_mk = $1, "+
		"recovery_iv = $2, recovery_set_at = $3, updated_at = $3 WHERE user_id = $4",
		sealed, iv, now, userID)
}

// clearRecoveryWrap drops the recovery wrap outside zero-knowledge mode.
func clearRecoveryWrap(ctx context.Context, q db.Querier, userID string,
	now time.Time) (int64, error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET recovery_wrapped_mk = NULL, "+
		"recovery_iv = NULL, recovery_set_at = NULL, updated_at = $1 "+
		"WHERE user_id = $2 AND zero_knowledge = $3", now, userID, false)
}

// enableZK deletes the KEK wrap and turns zero-knowledge mode on, but only
// when a recovery wrap exists.
func enableZK(ctx context.Context, q db.Querier, userID string, now time.Time) (int64,
	error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET zero_knowledge = $1, "+
		"wrapped_mk = NULL, wrap_iv = NULL, kek_id = NULL, updated_at = $2 "+
		"WHERE user_id = $3 AND recovery_wrapped_mk IS NOT NULL", true, now, userID)
}

// disableZK stores a KEK wrap of the master key the client handed back and
// turns zero-knowledge mode off; the recovery wrap stays.
func disableZK(ctx context.Context, q db.Querier, userID string, w wrap, check []byte,
	now time.Time) (int64, error) {
	return q.Exec(ctx, "UPDATE encryption_vaults SET zero_knowledge = $1, "+
		"wrapped_mk = $2, wrap_iv = $3, kek_id = $4, format_version = $5, "+
		"mk_check = $6, updated_at = $7 "+
		"WHERE user_id = $8 AND zero_knowledge = $9",
		false, w.sealed, w.iv, w.kekID, FormatVersion, check, now, userID, true)
}

// insertAudit writes one audit row.
func insertAudit(ctx context.Context, q db.Querier, id, userID, action, outcome, ip,
	ua string, now time.Time) error {
	_, err := q.Exec(ctx, "INSERT INTO encryption_vault_audit (id, user_id, action, "+
		"outcome, ip_address, user_agent, created_at) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7)",
		id, userID, action, outcome, nullable(ip), nullable(ua), now)
	return err
}

// pruneAudit deletes userID's audit rows older than before.
func pruneAudit(ctx context.Context, q db.Querier, userID string,
	before time.Time) error {
	_, err := q.Exec(ctx, "DELETE FROM encryption_vault_audit "+
		"WHERE user_id = $1 AND created_at < $2", userID, before)
	return err
}

// AuditEntry is one audit row as the data export shows it.
type AuditEntry struct {
	Action    string    `json:"action"`
	Outcome   string    `json:"outcome"`
	IPAddress *string   `json:"ipAddress"`
	UserAgent *string   `json:"userAgent"`
	CreatedAt core.Time `json:"createdAt"`
}

// listAudit returns userID's audit rows, newest first.
func listAudit(ctx context.Context, q db.Querier, userID string) ([]AuditEntry, error) {
	rows, err := q.Query(ctx, "SELECT action, outcome, ip_address, user_agent, "+
		"created_at FROM encryption_vault_audit WHERE user_id = $1 "+
		"ORDER BY created_at DESC, id",
		userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var a AuditEntry
		if err := rows.Scan(&a.Action, &a.Outcome, &a.IPAddress, &a.UserAgent,
			&a.CreatedAt.Time); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// eraseUser deletes userID's vault and audit rows and reports how many went.
func eraseUser(ctx context.Context, q db.Querier, userID string) (int64, error) {
	a, err := q.Exec(ctx, "DELETE FROM encryption_vault_audit WHERE user_id = $1", userID)
	if err != nil {
		return 0, err
	}
	v, err := q.Exec(ctx, "DELETE FROM encryption_vaults WHERE user_id = $1", userID)
	return a + v, err
}

// nullable turns "" into NULL.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
