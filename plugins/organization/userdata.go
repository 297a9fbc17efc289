package organization

import (
	"context"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// UserDataSection implements core.UserDataProvider.
func (p *Plugin) UserDataSection() string { return "organizations" }

// exportMembership is one membership in a data export.
type exportMembership struct {
	OrganizationID string    `json:"organizationId"`
	Name           string    `json:"name"`
	Slug           string    `json:"slug"`
	Role           string    `json:"role"`
	JoinedAt       core.Time `json:"joinedAt"`
}

// exportInvitation is one invitation in a data export.
type exportInvitation struct {
	ID               string    `json:"id"`
	OrganizationID   string    `json:"organizationId"`
	OrganizationName string    `json:"organizationName"`
	Email            string    `json:"email"`
	Role             string    `json:"role"`
	Status           string    `json:"status"`
	InviterID        string    `json:"inviterId"`
	CreatedAt        core.Time `json:"createdAt"`
	ExpiresAt        core.Time `json:"expiresAt"`
}

// userExport is the organizations section of a user's data export.
type userExport struct {
	Memberships         []exportMembership `json:"memberships"`
	InvitationsSent     []exportInvitation `json:"invitationsSent"`
	InvitationsReceived []exportInvitation `json:"invitationsReceived"`
}

// ExportUserData implements core.UserDataProvider: the user's memberships
// and the invitations they sent or received.
func (p *Plugin) ExportUserData(ctx context.Context, q db.Querier, userID string) (any,
	error) {
	out := userExport{Memberships: []exportMembership{}}
	rows, err := q.Query(ctx, "SELECT o.id, o.name, o.slug, m.role, m.created_at "+
		"FROM members m JOIN organizations o ON o.id = m.organization_id "+
		"WHERE m.user_id = $1 ORDER BY m.created_at, o.id", userID)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var e exportMembership
		if err := rows.Scan(&e.OrganizationID, &e.Name, &e.Slug, &e.Role,
			&e.JoinedAt.Time); err != nil {
			rows.Close()
			return nil, err
		}
		out.Memberships = append(out.Memberships, e)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	var email string
	if err := q.QueryRow(ctx, "SELECT email FROM users WHERE id = $1", userID).
		Scan(&email); err != nil && !errors.Is(err, db.ErrNoRows) {
		return nil, err
	}
	if out.InvitationsSent, err = exportInvitations(ctx, q, "i.inviter_id = $1",
		userID); err != nil {
		return nil, err
	}
	if out.InvitationsReceived, err = exportInvitations(ctx, q, "i.email = $1",
		email); err != nil {
		return nil, err
	}
	return out, nil
}

func exportInvitations(ctx context.Context, q db.Querier, where string, arg any) (
	[]exportInvitation, error) {
	rows, err := q.Query(ctx, "SELECT i.id, i.organization_id, o.name, i.email, i.role, "+
		"i.status, i.inviter_id, i.created_at, i.expires_at FROM invitations i "+
		"JOIN organizations o ON o.id = i.organization_id WHERE "+where+
		" ORDER BY i.created_at, i.id", arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []exportInvitation{}
	for rows.Next() {
		var e exportInvitation
		if err := rows.Scan(&e.ID, &e.OrganizationID, &e.OrganizationName, &e.Email, &e.Role,
			&e.Status, &e.InviterID, &e.CreatedAt.Time, &e.ExpiresAt.Time); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EraseUserData implements core.UserDataProvider. Inside the erasure
// transaction it deletes every organization whose only member is the user
// (with its invitations, teams and roles), then the user's memberships and
// team memberships, and the invitations sent to or by the user.
//
// An organization whose last owner is erased while others remain is kept,
// without an owner: deleting it would destroy the other members' shared
// data, and picking a new owner is a decision for them or an operator
// (nobody can delete it until someone is given the creator role).
func (p *Plugin) EraseUserData(ctx context.Context, tx db.Tx, userID string) (int64, error) {
	var total int64
	var email string
	if err := tx.QueryRow(ctx, "SELECT email FROM users WHERE id = $1", userID).
		Scan(&email); err != nil && !errors.Is(err, db.ErrNoRows) {
		return 0, err
	}
	steps := []struct {
		sql  string
		args []any
	}{
		{"DELETE FROM organizations WHERE id IN (SELECT m.organization_id FROM members m " +
			"WHERE m.user_id = $1) AND NOT EXISTS (SELECT 1 FROM members o " +
			"WHERE o.organization_id = organizations.id AND o.user_id <> $1)",
			[]any{userID}},
		{"DELETE FROM team_members WHERE user_id = $1", []any{userID}},
		{"DELETE FROM members WHERE user_id = $1", []any{userID}},
		{"DELETE FROM invitations WHERE email = $1 OR inviter_id = $2", []any{email, userID}},
	}
	for _, s := range steps {
		n, err := tx.Exec(ctx, s.sql, s.args...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
