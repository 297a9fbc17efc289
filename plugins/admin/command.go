package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// ErrNoSuchUser is returned by SetRole for an email no user has.
var ErrNoSuchUser = errors.New("no user with that email")

// ErrBadRole is returned by SetRole for a role that is not one or more
// comma-separated lower-case names.
var ErrBadRole = errors.New("role must be lower-case names (a-z, 0-9, _ or -), " +
	"comma-separated")

// roleShape is one role name or a comma list of them, as users.role holds.
var roleShape = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}(,[a-z][a-z0-9_-]{0,31})*$`)

const usage = "usage: mana-auth user set-role <email> <role>"

// RunCommand runs `mana-auth user …` against a migrated engine. Today it
// has one subcommand, set-role, which is how the first admin is made:
//
//	mana-auth user set-role alice@example.com admin
func RunCommand(ctx context.Context, e *core.Engine, args []string, out io.Writer) error {
	if len(args) != 3 || args[0] != "set-role" {
		return errors.New(usage)
	}
	prev, err := SetRole(ctx, e, args[1], args[2])
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "%s: role %s -> %s\n", args[1], prev, args[2])
	return nil
}

// SetRole gives the user with email the role (users.role) and returns the
// previous one. The change and its security event ("role_changed", via
// "cli") commit together; cached sessions of the user are dropped.
func SetRole(ctx context.Context, e *core.Engine, email, role string) (string, error) {
	if !roleShape.MatchString(role) {
		return "", ErrBadRole
	}
	addr, err := core.NormalizeEmail(email)
	if err != nil {
		return "", fmt.Errorf("email %q: %w", email, err)
	}
	var id, prev string
	err = e.DB.Tx(ctx, func(tx db.Tx) error {
		err := tx.QueryRow(ctx, "SELECT id, role FROM users WHERE email = $1", addr).
			Scan(&id, &prev)
		if errors.Is(err, db.ErrNoRows) {
			return ErrNoSuchUser
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE users SET role = $1, updated_at = $2 "+
			"WHERE id = $3", role, e.Now(), id); err != nil {
			return err
		}
		e.SecurityTx(ctx, tx, nil, id, "role_changed", "success",
			map[string]any{"role": role, "previous": prev, "via": "cli"})
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("setting role: %w", err)
	}
	e.InvalidateUser(ctx, id)
	return prev, nil
}
