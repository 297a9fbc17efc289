package jwt

import (
	"context"
	"embed"
	"io/fs"
	"time"

	"github.com/mana/mana-auth/core/db"
)

//go:embed migrations/postgres migrations/sqlite
var embedded embed.FS

// migrationFiles holds postgres/ and sqlite/ at its root, as db.Migrate
// expects.
var migrationFiles, _ = fs.Sub(embedded, "migrations")

// keyRow is one row of the jwks table, as Better Auth's jwks model stores
// it: PrivateKey is a JSON string literal around the encrypted private JWK.
type keyRow struct {
	ID         string
	PublicKey  string
	PrivateKey string
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil: the signing key
	Alg        *string
	Crv        *string
}

// pruneKeys deletes the keys whose publication ended.
func pruneKeys(ctx context.Context, q db.Querier, now time.Time) (int64, error) {
	return q.Exec(ctx, "DELETE FROM jwks WHERE expires_at IS NOT NULL "+
		"AND expires_at <= $1", now)
}

// loadRows returns the keys still published at now, newest first.
func loadRows(ctx context.Context, q db.Querier, now time.Time) ([]keyRow, error) {
	rows, err := q.Query(ctx, "SELECT id, public_key, private_key, created_at, expires_at, "+
		"alg, crv FROM jwks WHERE expires_at IS NULL OR expires_at > $1 "+
		"ORDER BY created_at DESC, id", now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []keyRow
	for rows.Next() {
		var r keyRow
		if err := rows.Scan(&r.ID, &r.PublicKey, &r.PrivateKey, &r.CreatedAt, &r.ExpiresAt,
			&r.Alg, &r.Crv); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// insertKey stores a key. A second signing key (expires_at NULL) violates
// jwks_one_signing_key and returns an error wrapping db.ErrConflict.
func insertKey(ctx context.Context, q db.Querier, r *keyRow) error {
	_, err := q.Exec(ctx, "INSERT INTO jwks (id, public_key, private_key, created_at, "+
		"expires_at, alg, crv) VALUES ($1, $2, $3, $4, $5, $6, $7)",
		r.ID, r.PublicKey, r.PrivateKey, r.CreatedAt, r.ExpiresAt, r.Alg, r.Crv)
	return err
}

// retireKey gives the signing key id an expiry. It reports false when id is
// no longer the signing key (another instance rotated first).
func retireKey(ctx context.Context, q db.Querier, id string, at time.Time) (bool, error) {
	n, err := q.Exec(ctx, "UPDATE jwks SET expires_at = $1 "+
		"WHERE id = $2 AND expires_at IS NULL", at, id)
	return n == 1, err
}
