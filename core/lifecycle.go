package core

import (
	"context"

	"github.com/mana/mana-auth/core/db"
)

// UserCreateHook runs inside the transaction that creates a user, so what a
// plugin does there (queueing a job, adding a row) commits or rolls back
// with the user.
type UserCreateHook interface {
	OnUserCreate(ctx context.Context, q db.Querier, u *User) error
}

// AccountAdoptHook runs inside the transaction in which the owner of a
// mailbox takes over an unverified account that someone else created (the
// pre-account-hijacking defence): a plugin drops any credential the earlier
// party could have set, such as an enrolled second factor.
type AccountAdoptHook interface {
	OnAccountAdopted(ctx context.Context, q db.Querier, userID string) error
}

// afterInsertUser runs every UserCreateHook.
func (e *Engine) afterInsertUser(ctx context.Context, q db.Querier, u *User) error {
	for _, p := range e.plugins {
		if h, ok := p.(UserCreateHook); ok {
			if err := h.OnUserCreate(ctx, q, u); err != nil {
				return err
			}
		}
	}
	return nil
}

// AdoptAccount hands an unverified account to the owner of its mailbox, in
// q's transaction: the email becomes verified, every linked account (and so
// any password) goes, and every AccountAdoptHook runs. The caller revokes
// the sessions and reports them after commit.
func (e *Engine) AdoptAccount(ctx context.Context, q db.Querier, userID string) error {
	if err := e.MarkEmailVerified(ctx, q, userID); err != nil {
		return err
	}
	if _, err := q.Exec(ctx, "DELETE FROM accounts WHERE user_id = $1", userID); err != nil {
		return err
	}
	for _, p := range e.plugins {
		if h, ok := p.(AccountAdoptHook); ok {
			if err := h.OnAccountAdopted(ctx, q, userID); err != nil {
				return err
			}
		}
	}
	return nil
}
