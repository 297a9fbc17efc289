package core

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/mana/mana-auth/core/db"
)

var userCoreCols = []string{"id", "name", "email", "email_verified", "image", "role",
	"created_at", "updated_at"}

var sessionCoreCols = []string{"id", "token", "user_id", "expires_at", "created_at",
	"updated_at", "COALESCE(%s.ip_address, '')", "COALESCE(%s.user_agent, '')",
	"dont_remember"}

func selectList(alias string, core []string, extra []Field) string {
	var b strings.Builder
	for i, c := range core {
		if i > 0 {
			b.WriteString(", ")
		}
		if strings.Contains(c, "%s") {
			b.WriteString(strings.ReplaceAll(c, "%s", alias))
			continue
		}
		b.WriteString(alias + "." + c)
	}
	for _, f := range extra {
		b.WriteString(", " + alias + "." + f.Column)
	}
	return b.String()
}

// fieldTargets allocates scan targets for plugin columns.
func fieldTargets(fs []Field) []any {
	if len(fs) == 0 {
		return nil
	}
	t := make([]any, len(fs))
	for i, f := range fs {
		switch f.Kind {
		case FieldBool:
			t[i] = new(bool)
		case FieldInt:
			t[i] = new(int64)
		case FieldTime:
			t[i] = new(*time.Time)
		default:
			t[i] = new(*string)
		}
	}
	return t
}

func fieldValues(fs []Field, t []any) map[string]any {
	if len(fs) == 0 {
		return nil
	}
	m := make(map[string]any, len(fs))
	for i, f := range fs {
		switch v := t[i].(type) {
		case *bool:
			m[f.JSON] = *v
		case *int64:
			m[f.JSON] = *v
		case **time.Time:
			if *v == nil {
				m[f.JSON] = nil
			} else {
				m[f.JSON] = Time{**v}
			}
		case **string:
			if *v == nil {
				m[f.JSON] = nil
			} else {
				m[f.JSON] = **v
			}
		}
	}
	return m
}

func (e *Engine) userDest(u *User) ([]any, []any) {
	ext := fieldTargets(e.userCols)
	d := []any{&u.ID, &u.Name, &u.Email, &u.EmailVerified, &u.Image, &u.Role,
		&u.CreatedAt, &u.UpdatedAt}
	return append(d, ext...), ext
}

func (e *Engine) sessionDest(s *Session) ([]any, []any) {
	ext := fieldTargets(e.sessCols)
	d := []any{&s.ID, &s.Token, &s.UserID, &s.ExpiresAt, &s.CreatedAt, &s.UpdatedAt,
		&s.IPAddress, &s.UserAgent, &s.DontRemember}
	return append(d, ext...), ext
}

func (e *Engine) scanUser(row db.Row) (*User, error) {
	u := &User{}
	dest, ext := e.userDest(u)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	u.Fields = fieldValues(e.userCols, ext)
	return u, nil
}

// UserByID loads a user; it returns db.ErrNoRows when there is none.
func (e *Engine) UserByID(ctx context.Context, q db.Querier, id string) (*User, error) {
	return e.scanUser(q.QueryRow(ctx, "SELECT "+e.userSel+" FROM users u WHERE u.id = $1", id))
}

// UserByEmail loads a user by normalised email; db.ErrNoRows when none.
func (e *Engine) UserByEmail(ctx context.Context, q db.Querier, email string) (*User, error) {
	return e.scanUser(q.QueryRow(ctx,
		"SELECT "+e.userSel+" FROM users u WHERE u.email = $1", email))
}

// userWithPassword loads a user and the hash of its credential account
// (nil when it has none).
func (e *Engine) userWithPassword(ctx context.Context, email string) (*User, *string, error) {
	u := &User{}
	dest, ext := e.userDest(u)
	var hash *string
	dest = append(dest, &hash)
	err := e.DB.QueryRow(ctx, "SELECT "+e.userSel+", a.password FROM users u "+
		"LEFT JOIN accounts a ON a.user_id = u.id AND a.provider_id = 'credential' "+
		"AND a.account_id = u.id WHERE u.email = $1", email).Scan(dest...)
	if err != nil {
		return nil, nil, err
	}
	u.Fields = fieldValues(e.userCols, ext)
	return u, hash, nil
}

// passwordHash returns the credential hash of a user, db.ErrNoRows without one.
func (e *Engine) passwordHash(ctx context.Context, q db.Querier, userID string) (string, error) {
	var hash *string
	err := q.QueryRow(ctx, "SELECT password FROM accounts WHERE user_id = $1 "+
		"AND provider_id = 'credential' AND account_id = $1", userID).Scan(&hash)
	if err != nil {
		return "", err
	}
	if hash == nil {
		return "", db.ErrNoRows
	}
	return *hash, nil
}

func (e *Engine) insertUser(ctx context.Context, q db.Querier, u *User) error {
	_, err := q.Exec(ctx, "INSERT INTO users (id, name, email, email_verified, image, role, "+
		"created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		u.ID, u.Name, u.Email, u.EmailVerified, u.Image, u.Role, u.CreatedAt, u.UpdatedAt)
	return err
}

func (e *Engine) insertCredential(ctx context.Context, q db.Querier, userID, hash string,
	now time.Time) error {
	_, err := q.Exec(ctx, "INSERT INTO accounts (id, account_id, provider_id, user_id, "+
		"password, created_at, updated_at) VALUES ($1, $2, 'credential', $2, $3, $4, $4)",
		e.NewID(), userID, hash, now)
	return err
}

// setPassword stores a new hash, creating the credential account if absent.
func (e *Engine) setPassword(ctx context.Context, q db.Querier, userID, hash string) error {
	now := e.Now()
	n, err := q.Exec(ctx, "UPDATE accounts SET password = $1, updated_at = $2 "+
		"WHERE user_id = $3 AND provider_id = 'credential' AND account_id = $3",
		hash, now, userID)
	if err != nil || n > 0 {
		return err
	}
	return e.insertCredential(ctx, q, userID, hash, now)
}

// Accounts lists a user's linked accounts.
func (e *Engine) Accounts(ctx context.Context, q db.Querier, userID string) ([]Account, error) {
	rows, err := q.Query(ctx, "SELECT id, account_id, provider_id, user_id, scope, "+
		"created_at, updated_at FROM accounts WHERE user_id = $1 ORDER BY created_at", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.AccountID, &a.ProviderID, &a.UserID, &a.Scope,
			&a.CreatedAt, &a.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// --- sessions ---

func (e *Engine) insertSession(ctx context.Context, q db.Querier, s *Session) error {
	_, err := q.Exec(ctx, "INSERT INTO sessions (id, token, user_id, expires_at, created_at, "+
		"updated_at, ip_address, user_agent, dont_remember) "+
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		s.ID, s.Token, s.UserID, s.ExpiresAt, s.CreatedAt, s.UpdatedAt, s.IPAddress,
		s.UserAgent, s.DontRemember)
	return err
}

// sessionByToken loads a session and its user in one query.
func (e *Engine) sessionByToken(ctx context.Context, q db.Querier, token string) (
	*Session, *User, error) {
	s, u := &Session{}, &User{}
	sd, sext := e.sessionDest(s)
	ud, uext := e.userDest(u)
	err := q.QueryRow(ctx, "SELECT "+e.sessSel+", "+e.userSel+
		" FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token = $1", token).
		Scan(append(sd, ud...)...)
	if err != nil {
		return nil, nil, err
	}
	s.Fields = fieldValues(e.sessCols, sext)
	u.Fields = fieldValues(e.userCols, uext)
	return s, u, nil
}

// ListSessions returns the unexpired sessions of a user, newest first.
func (e *Engine) ListSessions(ctx context.Context, q db.Querier, userID string) (
	[]*Session, error) {
	rows, err := q.Query(ctx, "SELECT "+e.sessSel+" FROM sessions s WHERE s.user_id = $1 "+
		"AND s.expires_at > $2 ORDER BY s.created_at DESC", userID, e.Now())
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Session{}
	for rows.Next() {
		s := &Session{}
		d, ext := e.sessionDest(s)
		if err := rows.Scan(d...); err != nil {
			return nil, err
		}
		s.Fields = fieldValues(e.sessCols, ext)
		out = append(out, s)
	}
	return out, rows.Err()
}

// deleteSessions deletes sessions of a user matching an optional extra
// condition and returns their tokens (for cache invalidation).
func (e *Engine) deleteSessions(ctx context.Context, q db.Querier, userID, cond string,
	args ...any) ([]string, error) {
	all := append([]any{userID}, args...)
	rows, err := q.Query(ctx, "DELETE FROM sessions WHERE user_id = $1"+cond+
		" RETURNING token", all...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var tokens []string
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		tokens = append(tokens, t)
	}
	return tokens, rows.Err()
}

// --- verifications ---

// CreateVerification stores a one-time secret under identifier.
func (e *Engine) CreateVerification(ctx context.Context, q db.Querier, identifier,
	value string, ttl time.Duration) error {
	now := e.Now()
	_, err := q.Exec(ctx, "INSERT INTO verifications (id, identifier, value, expires_at, "+
		"created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
		e.NewID(), identifier, value, now.Add(ttl), now)
	return err
}

// ErrVerificationNotFound means the one-time secret is unknown, used or
// expired.
var ErrVerificationNotFound = errors.New("verification not found or expired")

// ConsumeVerification deletes an unexpired verification and returns its
// value, in one conditional statement: of two racing callers, one wins.
func (e *Engine) ConsumeVerification(ctx context.Context, q db.Querier, identifier string) (
	string, error) {
	var v string
	err := q.QueryRow(ctx, "DELETE FROM verifications WHERE identifier = $1 "+
		"AND expires_at > $2 RETURNING value", identifier, e.Now()).Scan(&v)
	if errors.Is(err, db.ErrNoRows) {
		return "", ErrVerificationNotFound
	}
	return v, err
}

// PeekVerification reads an unexpired verification without consuming it.
func (e *Engine) PeekVerification(ctx context.Context, q db.Querier, identifier string) (
	string, error) {
	var v string
	err := q.QueryRow(ctx, "SELECT value FROM verifications WHERE identifier = $1 "+
		"AND expires_at > $2", identifier, e.Now()).Scan(&v)
	if errors.Is(err, db.ErrNoRows) {
		return "", ErrVerificationNotFound
	}
	return v, err
}

// DeleteVerification removes a verification whatever its state.
func (e *Engine) DeleteVerification(ctx context.Context, q db.Querier, identifier string) error {
	_, err := q.Exec(ctx, "DELETE FROM verifications WHERE identifier = $1", identifier)
	return err
}
