package admin

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// likeEscaper makes user input literal inside a LIKE pattern with ESCAPE
// '\': the escape character itself, % and _.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// searchWhere matches email or name, case-insensitively, against $1.
const searchWhere = ` WHERE lower(u.email) LIKE lower($1) ESCAPE '\'` +
	` OR lower(u.name) LIKE lower($1) ESCAPE '\'`

// userPage is one page of the user list.
type userPage struct {
	Users []*core.User `json:"users"`
	Total int64        `json:"total"`
	Page  int          `json:"page"`
	Limit int          `json:"limit"`
}

// listUsers returns a page of users, newest first, whose email or name
// contains search (literally, ignoring case).
//
// Shortcoming: a substring LIKE cannot use an index, so the search scans
// the users table; a trigram index (pg_trgm) would be the fix at scale.
func (p *Plugin) listUsers(ctx context.Context, search string, page, limit int) (
	*userPage, error) {
	where, args := "", []any{}
	if search != "" {
		where = searchWhere
		args = append(args, "%"+likeEscaper.Replace(search)+"%")
	}
	out := &userPage{Users: []*core.User{}, Page: page, Limit: limit}
	if err := p.e.DB.QueryRow(ctx, "SELECT count(*) FROM users u"+where, args...).
		Scan(&out.Total); err != nil {
		return nil, err
	}
	n := len(args)
	rows, err := p.e.DB.Query(ctx, "SELECT u.id FROM users u"+where+
		" ORDER BY u.created_at DESC, u.id LIMIT $"+strconv.Itoa(n+1)+
		" OFFSET $"+strconv.Itoa(n+2), append(args, limit, (page-1)*limit)...)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// One lookup per id (at most 100) reads every plugin's user fields
	// through the engine. Users deleted in between are left out.
	for _, id := range ids {
		u, err := p.e.UserByID(ctx, p.e.DB, id)
		if errors.Is(err, db.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		p.fillTier(u)
		out.Users = append(out.Users, u)
	}
	return out, nil
}

// fillTier replaces a null accessTier with the default tier, so admins
// see the tier that applies.
func (p *Plugin) fillTier(u *core.User) {
	if u.Fields == nil {
		u.Fields = map[string]any{}
	}
	if t, _ := u.Fields["accessTier"].(string); t == "" {
		u.Fields["accessTier"] = p.DefaultTier()
	}
}

// tier returns a user's effective tier; db.ErrNoRows without the user.
func (p *Plugin) tier(ctx context.Context, q db.Querier, userID string) (string, error) {
	var t *string
	err := q.QueryRow(ctx, "SELECT access_tier FROM users WHERE id = $1", userID).Scan(&t)
	if err != nil {
		return "", err
	}
	if t == nil {
		return p.DefaultTier(), nil
	}
	return *t, nil
}

// setTier stores a user's tier and its security event in one transaction,
// returning the previous effective tier; db.ErrNoRows without the user.
func (p *Plugin) setTier(ctx context.Context, r *core.Request, userID, tier string) (
	string, error) {
	var prev string
	err := p.e.DB.Tx(ctx, func(tx db.Tx) error {
		var err error
		if prev, err = p.tier(ctx, tx, userID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "UPDATE users SET access_tier = $1, updated_at = $2 "+
			"WHERE id = $3", tier, p.e.Now(), userID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "admin_set_tier", "success",
			map[string]any{"target": userID, "tier": tier, "previous": prev})
		return nil
	})
	if err != nil {
		return "", err
	}
	p.e.InvalidateUser(ctx, userID)
	return prev, nil
}
