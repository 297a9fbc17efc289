package core

import (
	"context"
	"errors"
	"net/url"

	"github.com/mana/mana-auth/core/db"
)

// This file holds the engine functions plugins build on.

// ChallengeVerifier completes a sign-in challenge (a second factor) for a
// client that holds the challenge token rather than the two_factor cookie:
// the v1 token API. The two-factor plugin implements it.
type ChallengeVerifier interface {
	VerifyChallenge(ctx context.Context, r *Request, in ChallengeInput) (*SignInResult, error)
}

// ChallengeInput is one answer to a challenge.
type ChallengeInput struct {
	Token       string
	Method      string // "totp", "otp" or "backup"
	Code        string
	TrustDevice bool
}

// ChallengeVerifier returns the plugin that completes challenges, or nil.
func (e *Engine) ChallengeVerifier() ChallengeVerifier {
	for _, p := range e.plugins {
		if cv, ok := p.(ChallengeVerifier); ok {
			return cv
		}
	}
	return nil
}

// CreateUser stores a new user (no credential account) and runs the
// UserCreateHooks in q's transaction. ID, Role and the timestamps are
// filled in when empty. A taken email returns an error wrapping
// db.ErrConflict. Call Emit(UserCreated) after commit.
func (e *Engine) CreateUser(ctx context.Context, q db.Querier, u *User) error {
	email, err := NormalizeEmail(u.Email)
	if err != nil {
		return err
	}
	u.Email = email
	if u.ID == "" {
		u.ID = e.NewID()
	}
	if u.Role == "" {
		u.Role = "user"
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = e.Now()
		u.UpdatedAt = u.CreatedAt
	}
	if err := e.insertUser(ctx, q, u); err != nil {
		return err
	}
	return e.afterInsertUser(ctx, q, u)
}

// MarkEmailVerified sets email_verified on a user.
func (e *Engine) MarkEmailVerified(ctx context.Context, q db.Querier, userID string) error {
	_, err := q.Exec(ctx, "UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3",
		true, e.Now(), userID)
	e.InvalidateUser(ctx, userID)
	return err
}

// CallbackURL resolves a callback URL that the origin checker accepted
// (relative paths against BASE_URL) and adds query parameters.
func (e *Engine) CallbackURL(cb string, params url.Values) string {
	return e.resolveCallback(cb, params)
}

// SessionByID loads a live session by id; db.ErrNoRows when it is gone or
// expired.
func (e *Engine) SessionByID(ctx context.Context, id string) (*Session, error) {
	s := &Session{}
	d, ext := e.sessionDest(s)
	err := e.DB.QueryRow(ctx, "SELECT "+e.sessSel+" FROM sessions s WHERE s.id = $1 "+
		"AND s.expires_at > $2", id, e.Now()).Scan(d...)
	if err != nil {
		return nil, err
	}
	s.Fields = fieldValues(e.sessCols, ext)
	return s, nil
}

// ExtendSession slides a session to a full ExpiresIn now (the v1 refresh).
// It answers ErrUnauthorized when the session is gone.
func (e *Engine) ExtendSession(ctx context.Context, s *Session) (*Session, error) {
	now := e.Now()
	exp := now.Add(e.Config.Session.ExpiresIn)
	n, err := e.DB.Exec(ctx, "UPDATE sessions SET expires_at = $1, updated_at = $2 "+
		"WHERE token = $3 AND expires_at > $2", exp, now, s.Token)
	if err != nil {
		return nil, e.dbError(ctx, "extend session", err)
	}
	if n == 0 {
		return nil, ErrUnauthorized
	}
	c := *s
	c.ExpiresAt, c.UpdatedAt, c.DontRemember = exp, now, false
	if e.Cache != nil {
		e.Cache.Delete(ctx, s.UserID, s.Token)
	}
	return &c, nil
}

// DBError maps a storage error for the API: 503 when the database is
// unavailable, a bare 500 otherwise (details go to the log only).
func (e *Engine) DBError(ctx context.Context, op string, err error) error {
	if errors.Is(err, db.ErrNoRows) {
		return ErrNotFound
	}
	return e.dbError(ctx, op, err)
}
