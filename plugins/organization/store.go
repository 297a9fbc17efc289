package organization

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core/db"
)

// This file holds the plugin's SQL. Every statement is written once for
// both dialects; store functions take a db.Querier so they run inside or
// outside a transaction.

const orgCols = "o.id, o.name, o.slug, o.logo, o.metadata, o.created_at"

func scanOrg(row db.Row) (*Organization, error) {
	o := &Organization{}
	if err := row.Scan(&o.ID, &o.Name, &o.Slug, &o.Logo, &o.Metadata, &o.CreatedAt); err != nil {
		return nil, err
	}
	return o, nil
}

func orgByID(ctx context.Context, q db.Querier, id string) (*Organization, error) {
	return scanOrg(q.QueryRow(ctx, "SELECT "+orgCols+" FROM organizations o WHERE o.id = $1", id))
}

func orgBySlug(ctx context.Context, q db.Querier, slug string) (*Organization, error) {
	return scanOrg(q.QueryRow(ctx, "SELECT "+orgCols+" FROM organizations o WHERE o.slug = $1",
		slug))
}

func insertOrg(ctx context.Context, q db.Querier, o *Organization) error {
	_, err := q.Exec(ctx, "INSERT INTO organizations (id, name, slug, logo, metadata, "+
		"created_at) VALUES ($1, $2, $3, $4, $5, $6)",
		o.ID, o.Name, o.Slug, o.Logo, o.Metadata, o.CreatedAt)
	return err
}

// orgUpdate lists the columns an update changes (nil: unchanged).
type orgUpdate struct {
	Name, Slug *string
	Logo       **string
	Metadata   *string
}

func updateOrg(ctx context.Context, q db.Querier, id string, u orgUpdate) error {
	var sets []string
	var args []any
	add := func(col string, v any) {
		args = append(args, v)
		sets = append(sets, col+" = $"+strconv.Itoa(len(args)))
	}
	if u.Name != nil {
		add("name", *u.Name)
	}
	if u.Slug != nil {
		add("slug", *u.Slug)
	}
	if u.Logo != nil {
		add("logo", *u.Logo)
	}
	if u.Metadata != nil {
		add("metadata", *u.Metadata)
	}
	if len(sets) == 0 {
		return nil
	}
	args = append(args, id)
	_, err := q.Exec(ctx, "UPDATE organizations SET "+strings.Join(sets, ", ")+
		" WHERE id = $"+strconv.Itoa(len(args)), args...)
	return err
}

func deleteOrg(ctx context.Context, q db.Querier, id string) error {
	_, err := q.Exec(ctx, "DELETE FROM organizations WHERE id = $1", id)
	return err
}

// orgsOfUser lists the organizations a user is a member of, oldest
// membership first.
func orgsOfUser(ctx context.Context, q db.Querier, userID string) ([]*Organization, error) {
	rows, err := q.Query(ctx, "SELECT "+orgCols+" FROM organizations o JOIN members m "+
		"ON m.organization_id = o.id WHERE m.user_id = $1 ORDER BY m.created_at, o.id", userID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Organization{}
	for rows.Next() {
		o, err := scanOrg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

func count(ctx context.Context, q db.Querier, query string, args ...any) (int, error) {
	var n int64
	err := q.QueryRow(ctx, query, args...).Scan(&n)
	return int(n), err
}

// --- members ---

const memberCols = "m.id, m.organization_id, m.user_id, m.role, m.created_at"

func scanMember(row db.Row, withUser bool) (*Member, error) {
	m := &Member{}
	dest := []any{&m.ID, &m.OrganizationID, &m.UserID, &m.Role, &m.CreatedAt.Time}
	if withUser {
		m.User = &MemberUser{}
		dest = append(dest, &m.User.ID, &m.User.Name, &m.User.Email, &m.User.Image)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return m, nil
}

// orgRef names an organization by id or, when Slug is set, by slug.
type orgRef struct {
	ID   string
	Slug string
}

func (r orgRef) empty() bool { return r.ID == "" && r.Slug == "" }

// memberOf loads userID's membership of the referenced organization with
// the user joined in. With lock (inside a PostgreSQL transaction) the
// organization row is locked until commit, which serialises every change
// to one organization's members, invitations, teams and roles.
func memberOf(ctx context.Context, q db.Querier, userID string, ref orgRef,
	lock bool) (*Member, error) {
	where, arg := "o.id = $2", ref.ID
	if ref.Slug != "" {
		where, arg = "o.slug = $2", ref.Slug
	}
	query := "SELECT " + memberCols + ", u.id, u.name, u.email, u.image FROM members m " +
		"JOIN organizations o ON o.id = m.organization_id JOIN users u ON u.id = m.user_id " +
		"WHERE m.user_id = $1 AND " + where
	if lock {
		query += " FOR UPDATE OF o"
	}
	return scanMember(q.QueryRow(ctx, query, userID, arg), true)
}

// lockOrg locks an organization row inside a PostgreSQL transaction (a
// plain read on SQLite, whose write transactions are exclusive anyway).
// It returns db.ErrNoRows when the organization is gone.
func lockOrg(ctx context.Context, tx db.Tx, id string) error {
	query := "SELECT id FROM organizations WHERE id = $1"
	if tx.Dialect() == db.Postgres {
		query += " FOR UPDATE"
	}
	var got string
	return tx.QueryRow(ctx, query, id).Scan(&got)
}

func memberByID(ctx context.Context, q db.Querier, orgID, id string) (*Member, error) {
	return scanMember(q.QueryRow(ctx, "SELECT "+memberCols+", u.id, u.name, u.email, u.image "+
		"FROM members m JOIN users u ON u.id = m.user_id "+
		"WHERE m.organization_id = $1 AND m.id = $2", orgID, id), true)
}

func memberByEmail(ctx context.Context, q db.Querier, orgID, email string) (*Member, error) {
	return scanMember(q.QueryRow(ctx, "SELECT "+memberCols+", u.id, u.name, u.email, u.image "+
		"FROM members m JOIN users u ON u.id = m.user_id "+
		"WHERE m.organization_id = $1 AND u.email = $2", orgID, email), true)
}

func insertMember(ctx context.Context, q db.Querier, m *Member) error {
	_, err := q.Exec(ctx, "INSERT INTO members (id, organization_id, user_id, role, created_at) "+
		"VALUES ($1, $2, $3, $4, $5)", m.ID, m.OrganizationID, m.UserID, m.Role, m.CreatedAt.Time)
	return err
}

func countMembers(ctx context.Context, q db.Querier, orgID string) (int, error) {
	return count(ctx, q, "SELECT count(*) FROM members WHERE organization_id = $1", orgID)
}

// memberRoles returns the role column of every member of an organization,
// by member id.
func memberRoles(ctx context.Context, q db.Querier, orgID string) (map[string]string, error) {
	rows, err := q.Query(ctx, "SELECT id, role FROM members WHERE organization_id = $1", orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, role string
		if err := rows.Scan(&id, &role); err != nil {
			return nil, err
		}
		out[id] = role
	}
	return out, rows.Err()
}

func setMemberRole(ctx context.Context, q db.Querier, id, role string) error {
	_, err := q.Exec(ctx, "UPDATE members SET role = $1 WHERE id = $2", role, id)
	return err
}

// deleteMember removes a membership and the user's memberships of the
// organization's teams.
func deleteMember(ctx context.Context, q db.Querier, m *Member) error {
	_, err := q.Exec(ctx, "DELETE FROM team_members WHERE user_id = $1 AND team_id IN "+
		"(SELECT id FROM teams WHERE organization_id = $2)", m.UserID, m.OrganizationID)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, "DELETE FROM members WHERE id = $1", m.ID)
	return err
}

// memberQuery is list-members' paging, sorting and filtering, already
// mapped to columns.
type memberQuery struct {
	Limit, Offset int
	SortCol       string // a column of members m, or ""
	Desc          bool
	FilterSQL     string // " AND m.col op $3", or ""
	FilterArgs    []any
}

func listMembers(ctx context.Context, q db.Querier, orgID string, mq memberQuery) (
	[]*Member, int, error) {
	total, err := count(ctx, q, "SELECT count(*) FROM members m WHERE m.organization_id = $1"+
		mq.FilterSQL, append([]any{orgID}, mq.FilterArgs...)...)
	if err != nil {
		return nil, 0, err
	}
	order := "m.created_at, m.id"
	if mq.SortCol != "" {
		dir := " ASC"
		if mq.Desc {
			dir = " DESC"
		}
		order = mq.SortCol + dir + ", m.id"
	}
	args := append([]any{orgID}, mq.FilterArgs...)
	n := len(args)
	args = append(args, mq.Limit, mq.Offset)
	rows, err := q.Query(ctx, "SELECT "+memberCols+", u.id, u.name, u.email, u.image "+
		"FROM members m JOIN users u ON u.id = m.user_id WHERE m.organization_id = $1"+
		mq.FilterSQL+" ORDER BY "+order+" LIMIT $"+strconv.Itoa(n+1)+
		" OFFSET $"+strconv.Itoa(n+2), args...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := []*Member{}
	for rows.Next() {
		m, err := scanMember(rows, true)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, m)
	}
	return out, total, rows.Err()
}

// --- invitations ---

const invitationCols = "i.id, i.organization_id, i.email, i.role, i.team_id, i.status, " +
	"i.expires_at, i.created_at, i.inviter_id"

func scanInvitation(row db.Row, extra ...any) (*Invitation, error) {
	i := &Invitation{}
	dest := append([]any{&i.ID, &i.OrganizationID, &i.Email, &i.Role, &i.TeamID, &i.Status,
		&i.ExpiresAt, &i.CreatedAt, &i.InviterID}, extra...)
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	return i, nil
}

func invitationByID(ctx context.Context, q db.Querier, id string) (*Invitation, error) {
	return scanInvitation(q.QueryRow(ctx, "SELECT "+invitationCols+
		" FROM invitations i WHERE i.id = $1", id))
}

func insertInvitation(ctx context.Context, q db.Querier, i *Invitation) error {
	_, err := q.Exec(ctx, "INSERT INTO invitations (id, organization_id, email, role, team_id, "+
		"status, expires_at, created_at, inviter_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
		i.ID, i.OrganizationID, i.Email, i.Role, i.TeamID, i.Status, i.ExpiresAt, i.CreatedAt,
		i.InviterID)
	return err
}

func scanInvitations(rows db.Rows, err error) ([]*Invitation, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Invitation{}
	for rows.Next() {
		i, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// pendingInvitations lists the unexpired pending invitations of an
// organization, of one address when email is not empty.
func pendingInvitations(ctx context.Context, q db.Querier, orgID, email string,
	now time.Time) ([]*Invitation, error) {
	query := "SELECT " + invitationCols + " FROM invitations i WHERE i.organization_id = $1 " +
		"AND i.status = 'pending' AND i.expires_at > $2"
	args := []any{orgID, now}
	if email != "" {
		query += " AND i.email = $3"
		args = append(args, email)
	}
	return scanInvitations(q.Query(ctx, query+" ORDER BY i.created_at, i.id", args...))
}

func orgInvitations(ctx context.Context, q db.Querier, orgID string) ([]*Invitation, error) {
	return scanInvitations(q.Query(ctx, "SELECT "+invitationCols+" FROM invitations i "+
		"WHERE i.organization_id = $1 ORDER BY i.created_at, i.id", orgID))
}

// transitionInvitation moves an invitation from one status to another in
// one conditional statement, so of two racing callers only one succeeds;
// unexpired also requires that it has not expired. It returns the updated
// row, or db.ErrNoRows when the invitation was not in that state.
func transitionInvitation(ctx context.Context, q db.Querier, id, from, to string,
	unexpired *time.Time) (*Invitation, error) {
	query := "UPDATE invitations SET status = $1 WHERE id = $2 AND status = $3"
	args := []any{to, id, from}
	if unexpired != nil {
		query += " AND expires_at > $4"
		args = append(args, *unexpired)
	}
	return scanInvitation(q.QueryRow(ctx, query+" RETURNING "+
		strings.ReplaceAll(invitationCols, "i.", ""), args...))
}

func setInvitationExpiry(ctx context.Context, q db.Querier, id string, exp time.Time) error {
	_, err := q.Exec(ctx, "UPDATE invitations SET expires_at = $1 WHERE id = $2", exp, id)
	return err
}

// --- teams ---

const teamCols = "t.id, t.name, t.organization_id, t.created_at, t.updated_at"

func scanTeam(row db.Row) (*Team, error) {
	t := &Team{}
	var upd *time.Time
	if err := row.Scan(&t.ID, &t.Name, &t.OrganizationID, &t.CreatedAt.Time, &upd); err != nil {
		return nil, err
	}
	t.UpdatedAt = timePtr(upd)
	return t, nil
}

func insertTeam(ctx context.Context, q db.Querier, t *Team) error {
	var upd *time.Time
	if t.UpdatedAt != nil {
		upd = &t.UpdatedAt.Time
	}
	_, err := q.Exec(ctx, "INSERT INTO teams (id, name, organization_id, created_at, updated_at) "+
		"VALUES ($1, $2, $3, $4, $5)", t.ID, t.Name, t.OrganizationID, t.CreatedAt.Time, upd)
	return err
}

// teamByID loads a team; orgID, when not empty, must be its organization.
func teamByID(ctx context.Context, q db.Querier, orgID, id string) (*Team, error) {
	if orgID == "" {
		return scanTeam(q.QueryRow(ctx, "SELECT "+teamCols+" FROM teams t WHERE t.id = $1", id))
	}
	return scanTeam(q.QueryRow(ctx, "SELECT "+teamCols+" FROM teams t WHERE t.id = $1 "+
		"AND t.organization_id = $2", id, orgID))
}

func scanTeams(rows db.Rows, err error) ([]*Team, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Team{}
	for rows.Next() {
		t, err := scanTeam(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

func orgTeams(ctx context.Context, q db.Querier, orgID string) ([]*Team, error) {
	return scanTeams(q.Query(ctx, "SELECT "+teamCols+" FROM teams t WHERE t.organization_id = $1 "+
		"ORDER BY t.created_at, t.id", orgID))
}

// userTeams lists the teams a user is in, of organizations they are still
// a member of; orgID, when not empty, narrows to one organization.
func userTeams(ctx context.Context, q db.Querier, userID, orgID string) ([]*Team, error) {
	query := "SELECT " + teamCols + " FROM teams t JOIN team_members tm ON tm.team_id = t.id " +
		"JOIN members m ON m.organization_id = t.organization_id AND m.user_id = tm.user_id " +
		"WHERE tm.user_id = $1"
	args := []any{userID}
	if orgID != "" {
		query += " AND t.organization_id = $2"
		args = append(args, orgID)
	}
	return scanTeams(q.Query(ctx, query+" ORDER BY t.created_at, t.id", args...))
}

func renameTeam(ctx context.Context, q db.Querier, id, name string, now time.Time) error {
	_, err := q.Exec(ctx, "UPDATE teams SET name = $1, updated_at = $2 WHERE id = $3",
		name, now, id)
	return err
}

func deleteTeam(ctx context.Context, q db.Querier, id string) error {
	_, err := q.Exec(ctx, "DELETE FROM teams WHERE id = $1", id)
	return err
}

func scanTeamMember(row db.Row) (*TeamMember, error) {
	tm := &TeamMember{}
	if err := row.Scan(&tm.ID, &tm.TeamID, &tm.UserID, &tm.CreatedAt.Time); err != nil {
		return nil, err
	}
	return tm, nil
}

func teamMember(ctx context.Context, q db.Querier, teamID, userID string) (*TeamMember, error) {
	return scanTeamMember(q.QueryRow(ctx, "SELECT id, team_id, user_id, created_at "+
		"FROM team_members WHERE team_id = $1 AND user_id = $2", teamID, userID))
}

// addTeamMember adds a user to a team, or returns the existing row.
func addTeamMember(ctx context.Context, q db.Querier, id, teamID, userID string,
	now time.Time) (*TeamMember, error) {
	if _, err := q.Exec(ctx, "INSERT INTO team_members (id, team_id, user_id, created_at) "+
		"VALUES ($1, $2, $3, $4) ON CONFLICT (team_id, user_id) DO NOTHING",
		id, teamID, userID, now); err != nil {
		return nil, err
	}
	return teamMember(ctx, q, teamID, userID)
}

func teamMembers(ctx context.Context, q db.Querier, teamID string) ([]*TeamMember, error) {
	rows, err := q.Query(ctx, "SELECT id, team_id, user_id, created_at FROM team_members "+
		"WHERE team_id = $1 ORDER BY created_at, id", teamID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*TeamMember{}
	for rows.Next() {
		tm, err := scanTeamMember(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, tm)
	}
	return out, rows.Err()
}

// --- run-time roles ---

const roleCols = "id, organization_id, role, permission, created_at, updated_at"

func scanRole(row db.Row) (*OrgRole, error) {
	r := &OrgRole{}
	var perm string
	var upd *time.Time
	if err := row.Scan(&r.ID, &r.OrganizationID, &r.Role, &perm, &r.CreatedAt.Time,
		&upd); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(perm), &r.Permission); err != nil {
		return nil, errors.Join(errBadStoredRole, err)
	}
	r.UpdatedAt = timePtr(upd)
	return r, nil
}

// errBadStoredRole means a stored permission is not a statements object.
var errBadStoredRole = errors.New("organization: stored role permission is invalid")

func orgRoles(ctx context.Context, q db.Querier, orgID string) ([]*OrgRole, error) {
	rows, err := q.Query(ctx, "SELECT "+roleCols+" FROM organization_roles "+
		"WHERE organization_id = $1 ORDER BY created_at, id", orgID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*OrgRole{}
	for rows.Next() {
		r, err := scanRole(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// orgRole finds a role by name or, when name is empty, by id.
func orgRole(ctx context.Context, q db.Querier, orgID, name, id string) (*OrgRole, error) {
	col, v := "role", name
	if name == "" {
		col, v = "id", id
	}
	return scanRole(q.QueryRow(ctx, "SELECT "+roleCols+" FROM organization_roles "+
		"WHERE organization_id = $1 AND "+col+" = $2", orgID, v))
}

func insertRole(ctx context.Context, q db.Querier, r *OrgRole) error {
	perm, err := json.Marshal(r.Permission)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, "INSERT INTO organization_roles (id, organization_id, role, "+
		"permission, created_at) VALUES ($1, $2, $3, $4, $5)",
		r.ID, r.OrganizationID, r.Role, string(perm), r.CreatedAt.Time)
	return err
}

func updateRole(ctx context.Context, q db.Querier, r *OrgRole, now time.Time) error {
	perm, err := json.Marshal(r.Permission)
	if err != nil {
		return err
	}
	_, err = q.Exec(ctx, "UPDATE organization_roles SET role = $1, permission = $2, "+
		"updated_at = $3 WHERE id = $4", r.Role, string(perm), now, r.ID)
	return err
}

func deleteRole(ctx context.Context, q db.Querier, id string) error {
	_, err := q.Exec(ctx, "DELETE FROM organization_roles WHERE id = $1", id)
	return err
}

// --- sessions ---

// setActive sets a session's active organization and team (nil clears).
func setActive(ctx context.Context, q db.Querier, sessionID string, orgID,
	teamID *string) error {
	_, err := q.Exec(ctx, "UPDATE sessions SET active_organization_id = $1, "+
		"active_team_id = $2 WHERE id = $3", orgID, teamID, sessionID)
	return err
}

func setActiveTeam(ctx context.Context, q db.Querier, sessionID string, teamID *string) error {
	_, err := q.Exec(ctx, "UPDATE sessions SET active_team_id = $1 WHERE id = $2",
		teamID, sessionID)
	return err
}

// clearActive unsets the active organization (and team) of every session
// whose active organization is orgID, only userID's when it is not empty,
// and returns the users whose sessions changed.
func clearActive(ctx context.Context, q db.Querier, orgID, userID string) ([]string, error) {
	query := "UPDATE sessions SET active_organization_id = NULL, active_team_id = NULL " +
		"WHERE active_organization_id = $1"
	args := []any{orgID}
	if userID != "" {
		query += " AND user_id = $2"
		args = append(args, userID)
	}
	return returningUsers(q.Query(ctx, query+" RETURNING user_id", args...))
}

// clearActiveTeam unsets a team as the active team of sessions (of userID
// only, when not empty) and returns the users whose sessions changed.
func clearActiveTeam(ctx context.Context, q db.Querier, teamID, userID string) ([]string,
	error) {
	query := "UPDATE sessions SET active_team_id = NULL WHERE active_team_id = $1"
	args := []any{teamID}
	if userID != "" {
		query += " AND user_id = $2"
		args = append(args, userID)
	}
	return returningUsers(q.Query(ctx, query+" RETURNING user_id", args...))
}

func returningUsers(rows db.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	seen := map[string]bool{}
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, rows.Err()
}
