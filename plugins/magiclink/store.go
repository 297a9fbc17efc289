package magiclink

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// redeemed is the outcome of a link's transaction.
type redeemed struct {
	user    *core.User
	created bool
	// revoked lists the sessions of an adopted account (not nil when one
	// was adopted).
	revoked []string
	adopted bool
	// code is the error= value when the link does not sign in.
	code string
}

// redeem consumes a link and resolves its user in one transaction: the
// token goes (even when the sign-in then fails, so a link works once), a
// new user is created when sign-up is allowed, and an unverified account is
// adopted: verified, stripped of its password and other accounts, and
// signed out everywhere. A unique-email race with a concurrent sign-up is
// retried once, the second time as an existing user.
func (p *Plugin) redeem(ctx context.Context, r *core.Request, token string) (*redeemed,
	error) {
	ident := identifier(token)
	var out *redeemed
	var err error
	for try := 0; try < 2; try++ {
		err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
			out = &redeemed{}
			return p.redeemTx(ctx, tx, r, ident, out)
		})
		if !errors.Is(err, db.ErrConflict) {
			break
		}
	}
	return out, err
}

func (p *Plugin) redeemTx(ctx context.Context, tx db.Tx, r *core.Request, ident string,
	out *redeemed) error {
	v, err := p.e.ConsumeVerification(ctx, tx, ident)
	if errors.Is(err, core.ErrVerificationNotFound) {
		// Unknown or used, or present but expired: then it goes now.
		n, err := tx.Exec(ctx, "DELETE FROM verifications WHERE identifier = $1", ident)
		if err != nil {
			return err
		}
		out.code = "INVALID_TOKEN"
		if n > 0 {
			out.code = "EXPIRED_TOKEN"
		}
		return nil
	}
	if err != nil {
		return err
	}
	var lv linkValue
	if err := json.Unmarshal([]byte(v), &lv); err != nil {
		out.code = "INVALID_TOKEN"
		return nil
	}
	email, err := core.NormalizeEmail(lv.Email)
	if err != nil {
		out.code = "INVALID_TOKEN"
		return nil
	}
	u, err := p.e.UserByEmail(ctx, tx, email)
	switch {
	case errors.Is(err, db.ErrNoRows):
		if p.set.DisableSignUp {
			out.code = "new_user_signup_disabled"
			return nil
		}
		u = &core.User{Name: lv.Name, Email: email, EmailVerified: true}
		if err := p.e.CreateUser(ctx, tx, u); err != nil {
			return err
		}
		out.created = true
		p.e.SecurityTx(ctx, tx, r, u.ID, "sign_up", "success",
			map[string]any{"method": "magic-link"})
	case err != nil:
		return err
	case !u.EmailVerified:
		if err := p.adopt(ctx, tx, r, u, out); err != nil {
			return err
		}
	}
	out.user = u
	return nil
}

// adopt hands an unverified account to the owner of its mailbox: whoever
// created it without proving the address loses the password, any linked
// account, whatever plugins drop on adoption (an enrolled second factor) and
// every session.
func (p *Plugin) adopt(ctx context.Context, tx db.Tx, r *core.Request, u *core.User,
	out *redeemed) error {
	if err := p.e.AdoptAccount(ctx, tx, u.ID); err != nil {
		return err
	}
	revoked, err := deleteSessions(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	out.revoked = revoked
	out.adopted = true
	u.EmailVerified = true
	p.e.SecurityTx(ctx, tx, r, u.ID, "magic_link_adopt", "success",
		map[string]any{"sessionsRevoked": len(out.revoked)})
	return nil
}

// afterRedeem reports what the committed transaction changed.
func (p *Plugin) afterRedeem(ctx context.Context, out *redeemed) {
	if out.adopted {
		p.e.InvalidateUser(ctx, out.user.ID)
		p.e.Emit(ctx, core.SessionsRevoked{UserID: out.user.ID, Tokens: out.revoked,
			All: true})
	}
	if out.created {
		if u, err := p.e.UserByID(ctx, p.e.DB, out.user.ID); err == nil {
			p.e.Emit(ctx, core.UserCreated{User: u})
		}
	}
}

// deleteSessions deletes every session of a user and returns their tokens
// (for cache invalidation after commit).
func deleteSessions(ctx context.Context, tx db.Tx, userID string) ([]string, error) {
	rows, err := tx.Query(ctx, "DELETE FROM sessions WHERE user_id = $1 RETURNING token",
		userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}
