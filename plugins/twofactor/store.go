package twofactor

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// row is a user's two_factors row. Secret and BackupCodes hold ciphertext.
type row struct {
	ID          string
	UserID      string
	Secret      *string
	BackupCodes string
	Verified    bool
	Failed      int64
	LockedUntil *time.Time
	LastStep    int64
}

// totpReady reports whether the row has a verified TOTP secret.
func (w *row) totpReady() bool { return w != nil && w.Verified && w.Secret != nil }

const rowCols = "id, user_id, secret, backup_codes, verified, failed_verification_count, " +
	"locked_until, last_totp_step"

// loadRow reads a user's row; db.ErrNoRows when there is none.
func loadRow(ctx context.Context, q db.Querier, userID string) (*row, error) {
	w := &row{}
	err := q.QueryRow(ctx, "SELECT "+rowCols+" FROM two_factors WHERE user_id = $1",
		userID).Scan(&w.ID, &w.UserID, &w.Secret, &w.BackupCodes, &w.Verified, &w.Failed,
		&w.LockedUntil, &w.LastStep)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// setUserEnabled writes users.two_factor_enabled.
func (p *Plugin) setUserEnabled(ctx context.Context, q db.Querier, userID string,
	on bool) error {
	_, err := q.Exec(ctx, "UPDATE users SET two_factor_enabled = $1, updated_at = $2 "+
		"WHERE id = $3", on, p.e.Now(), userID)
	return err
}

// putTOTP stores a new, unverified (or, with verified, active) TOTP secret
// and backup codes. It refuses to replace a verified secret: the update is
// conditional, so an enable racing a verification cannot undo it.
func (p *Plugin) putTOTP(ctx context.Context, q db.Querier, userID, secret, codes string,
	verified bool) error {
	now := p.now()
	n, err := q.Exec(ctx, "INSERT INTO two_factors (id, user_id, secret, backup_codes, "+
		"verified, last_totp_step, created_at, updated_at) "+
		"VALUES ($1, $2, $3, $4, $5, 0, $6, $6) "+
		"ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, "+
		"backup_codes = excluded.backup_codes, verified = excluded.verified, "+
		"last_totp_step = 0, updated_at = excluded.updated_at "+
		"WHERE NOT two_factors.verified", p.e.NewID(), userID, secret, codes, verified, now)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrTOTPAlreadyEnabled
	}
	return nil
}

// putOTPOnly makes sure an emailed-code user has a row (for backup codes and
// the lockout counters); an existing row is kept.
func (p *Plugin) putOTPOnly(ctx context.Context, q db.Querier, userID string) error {
	empty, err := p.e.Secrets.Encrypt("[]")
	if err != nil {
		return err
	}
	now := p.now()
	_, err = q.Exec(ctx, "INSERT INTO two_factors (id, user_id, backup_codes, created_at, "+
		"updated_at) VALUES ($1, $2, $3, $4, $4) ON CONFLICT (user_id) DO NOTHING",
		p.e.NewID(), userID, empty, now)
	return err
}

// acceptStep records step as the last accepted TOTP step, only if it is
// later than the stored one and the secret is still the one checked: of two
// requests with the same code, one wins. With activate the row becomes
// verified. errReplay when nothing matched.
func (p *Plugin) acceptStep(ctx context.Context, q db.Querier, userID, secretCT string,
	s int64, activate bool) error {
	act := ""
	if activate {
		act = ", verified = true"
	}
	n, err := q.Exec(ctx, "UPDATE two_factors SET last_totp_step = $1, "+
		"failed_verification_count = 0, locked_until = NULL, updated_at = $2"+act+
		" WHERE user_id = $3 AND last_totp_step < $1 AND secret = $4",
		s, p.now(), userID, secretCT)
	if err != nil {
		return err
	}
	if n == 0 {
		return errReplay
	}
	return nil
}

// swapBackupCodes replaces the stored backup codes if they are still old
// (compare-and-swap on the ciphertext); errCASConflict otherwise.
func (p *Plugin) swapBackupCodes(ctx context.Context, q db.Querier, userID, old,
	next string) error {
	n, err := q.Exec(ctx, "UPDATE two_factors SET backup_codes = $1, "+
		"failed_verification_count = 0, locked_until = NULL, updated_at = $2 "+
		"WHERE user_id = $3 AND backup_codes = $4", next, p.now(), userID, old)
	if err != nil {
		return err
	}
	if n == 0 {
		return errCASConflict
	}
	return nil
}

// resetFailures clears the consecutive-failure count after a success.
func (p *Plugin) resetFailures(ctx context.Context, q db.Querier, userID string) error {
	_, err := q.Exec(ctx, "UPDATE two_factors SET failed_verification_count = 0, "+
		"locked_until = NULL WHERE user_id = $1 AND "+
		"(failed_verification_count <> 0 OR locked_until IS NOT NULL)", userID)
	return err
}

// addFailure counts one failed code, in one statement so concurrent
// failures are all counted, and locks the account when the count reaches
// the threshold. It reports whether this failure set the lock.
func (p *Plugin) addFailure(ctx context.Context, userID string) (bool, error) {
	now := p.now()
	until := now.Add(p.set.LockoutDuration)
	var n int64
	err := p.e.DB.QueryRow(ctx, "UPDATE two_factors SET "+
		"failed_verification_count = failed_verification_count + 1, "+
		"locked_until = CASE WHEN failed_verification_count + 1 >= $2 THEN $3 "+
		"ELSE locked_until END, updated_at = $4 WHERE user_id = $1 "+
		"RETURNING failed_verification_count", userID, p.set.LockoutThreshold, until, now).
		Scan(&n)
	if errors.Is(err, db.ErrNoRows) {
		return false, nil
	}
	return err == nil && n == int64(p.set.LockoutThreshold), err
}

// checkLock answers 429 ACCOUNT_TEMPORARILY_LOCKED while the row is locked
// and clears a lock that has run out (guarded, so a lock set meanwhile by a
// concurrent failure stays).
func (p *Plugin) checkLock(ctx context.Context, w *row) error {
	if w == nil || w.LockedUntil == nil {
		return nil
	}
	now := p.now()
	if w.LockedUntil.After(now) {
		secs := int(w.LockedUntil.Sub(now).Round(time.Second).Seconds())
		err := *ErrAccountLocked
		err.Header = map[string][]string{"X-Retry-After": {strconv.Itoa(max(secs, 1))}}
		return &err
	}
	_, err := p.e.DB.Exec(ctx, "UPDATE two_factors SET failed_verification_count = 0, "+
		"locked_until = NULL WHERE user_id = $1 AND locked_until IS NOT NULL "+
		"AND locked_until <= $2", w.UserID, now)
	if err != nil {
		return p.e.DBError(ctx, "clear 2fa lock", err)
	}
	w.LockedUntil, w.Failed = nil, 0
	return nil
}

// spend counts one use of a counter verification row (value "<n>") and
// returns the new count, in one conditional statement; core's
// ErrVerificationNotFound when the row is gone or expired.
func (p *Plugin) spend(ctx context.Context, identifier string) (int, error) {
	var v string
	err := p.e.DB.QueryRow(ctx, "UPDATE verifications SET "+
		"value = CAST(CAST(value AS INTEGER) + 1 AS TEXT), updated_at = $2 "+
		"WHERE identifier = $1 AND expires_at > $2 RETURNING value",
		identifier, p.e.Now()).Scan(&v)
	if errors.Is(err, db.ErrNoRows) {
		return 0, core.ErrVerificationNotFound
	}
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// challengeValue is what a challenge's verification row holds.
type challengeValue struct {
	UserID     string `json:"userId"`
	RememberMe bool   `json:"rememberMe"`
}

// parseChallenge reads a challenge row; a bare user id (what Better Auth
// stores) counts as rememberMe.
func parseChallenge(v string) (challengeValue, bool) {
	if !strings.HasPrefix(v, "{") {
		return challengeValue{UserID: v, RememberMe: true}, v != ""
	}
	var c challengeValue
	if err := json.Unmarshal([]byte(v), &c); err != nil || c.UserID == "" {
		return c, false
	}
	return c, true
}

// Verification identifiers.
func attemptsID(challenge string) string { return "2fa-attempts-" + challenge }
func otpID(key string) string            { return "2fa-otp-" + key }
func otpAttemptsID(key string) string    { return "2fa-otp-attempts-" + key }

const trustPrefix = "trust-device-"

// deleteTrust removes every trusted device of a user.
func deleteTrust(ctx context.Context, q db.Querier, userID string) (int64, error) {
	return q.Exec(ctx, "DELETE FROM verifications WHERE identifier LIKE 'trust-device-%' "+
		"AND value = $1", userID)
}

// decodeCodes decrypts and parses stored backup codes.
func (p *Plugin) decodeCodes(ct string) ([]string, error) {
	pt, err := p.e.Secrets.Decrypt(ct)
	if err != nil {
		return nil, err
	}
	var codes []string
	if err := json.Unmarshal([]byte(pt), &codes); err != nil {
		return nil, err
	}
	return codes, nil
}

// encodeCodes serializes and encrypts backup codes (a JSON array, as Better
// Auth stores them).
func (p *Plugin) encodeCodes(codes []string) (string, error) {
	if codes == nil {
		codes = []string{}
	}
	b, err := json.Marshal(codes)
	if err != nil {
		return "", err
	}
	return p.e.Secrets.Encrypt(string(b))
}
