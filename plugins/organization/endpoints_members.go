package organization

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// ownerCount counts the members of an organization holding the creator
// role.
func (p *Plugin) ownerCount(ctx context.Context, q db.Querier, orgID string) (int, error) {
	roles, err := memberRoles(ctx, q, orgID)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, role := range roles {
		if p.opts.Roles.IsCreator(role) {
			n++
		}
	}
	return n, nil
}

// bareMember is a member without its user, as Better Auth returns it from
// update-member-role and remove-member.
func bareMember(m *Member) *Member {
	c := *m
	c.User = nil
	return &c
}

func (p *Plugin) hRemoveMember(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		MemberIDOrEmail *string `json:"memberIdOrEmail"`
		OrganizationID  string  `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.memberIdOrEmail", in.MemberIDOrEmail); err != nil {
		return nil, err
	}
	orgID := in.OrganizationID
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if orgID == "" {
		return nil, errNoActiveOrg
	}

	denied := apiErr(http.StatusUnauthorized, "YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_MEMBER")
	var target *Member
	var touched []string
	err := p.inTx(ctx, "remove member", func(tx db.Tx) error {
		actor, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("member", "delete"), notMember: errMemberNotFound, denied: denied})
		if err != nil {
			return err
		}
		key := *in.MemberIDOrEmail
		if strings.Contains(key, "@") {
			target, err = memberByEmail(ctx, tx, orgID, strings.ToLower(strings.TrimSpace(key)))
		} else {
			target, err = memberByID(ctx, tx, orgID, key)
		}
		if errors.Is(err, db.ErrNoRows) {
			return errMemberNotFound
		}
		if err != nil {
			return err
		}
		if p.opts.Roles.IsCreator(target.Role) {
			// Only a holder of the creator role removes another, and never
			// the last one.
			if !p.opts.Roles.IsCreator(actor.Role) {
				return denied
			}
			n, err := p.ownerCount(ctx, tx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return errOnlyOwner
			}
		}
		if err := deleteMember(ctx, tx, target); err != nil {
			return err
		}
		if touched, err = clearActive(ctx, tx, orgID, target.UserID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "member_removed", "success", map[string]any{
			"organizationId": orgID, "memberId": target.ID, "userId": target.UserID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, touched...)
	return core.JSON(map[string]any{"member": bareMember(target)}), nil
}

func (p *Plugin) hUpdateMemberRole(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	var in struct {
		Role           json.RawMessage `json:"role"`
		MemberID       *string         `json:"memberId"`
		OrganizationID string          `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if len(in.Role) == 0 {
		return nil, core.ValidationError("body.role", "Invalid input")
	}
	roleList, err := stringList(in.Role, "body.role")
	if err != nil {
		return nil, err
	}
	if err := requireString("body.memberId", in.MemberID); err != nil {
		return nil, err
	}
	roles := ParseRoleList(JoinRoles(roleList))
	if len(roles) == 0 {
		return nil, errBadRequest
	}
	orgID := in.OrganizationID
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if orgID == "" {
		return nil, errNoActiveOrg
	}

	denied := forbidden("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER")
	var target *Member
	err = p.inTx(ctx, "update member role", func(tx db.Tx) error {
		actor, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("member", "update"), creatorAll: true,
			notMember: errMemberNotFound, denied: denied})
		if err != nil {
			return err
		}
		target, err = memberByID(ctx, tx, orgID, *in.MemberID)
		if errors.Is(err, db.ErrNoRows) {
			return errMemberNotFound
		}
		if err != nil {
			return err
		}
		creator := p.opts.Roles.Creator
		targetIsCreator := p.opts.Roles.IsCreator(target.Role)
		grantsCreator := slices.Contains(roles, creator)
		if (targetIsCreator || grantsCreator) && !p.opts.Roles.IsCreator(actor.Role) {
			return denied
		}
		if targetIsCreator && !grantsCreator {
			n, err := p.ownerCount(ctx, tx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return errNoOwnerLeft
			}
		}
		unknown, err := p.unknownRoleNames(ctx, tx, orgID, roles)
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			return unknownRoles(unknown)
		}
		previous := target.Role
		target.Role = strings.Join(roles, ",")
		if err := setMemberRole(ctx, tx, target.ID, target.Role); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "member_role_changed", "success", map[string]any{
			"organizationId": orgID, "memberId": target.ID, "userId": target.UserID,
			"from": previous, "to": target.Role})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(bareMember(target)), nil
}

func (p *Plugin) hGetActiveMember(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	orgID := activeOrg(r)
	if orgID == "" {
		return nil, errNoActiveOrg
	}
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID},
		check{notMember: errMemberNotFound})
	if err != nil {
		return nil, err
	}
	return core.JSON(m), nil
}

func (p *Plugin) hGetActiveMemberRole(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	ref := resolveRef(r)
	if ref.empty() {
		return nil, errNoActiveOrg
	}
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{notMember: errNotMemberOfThisOrg})
	if err != nil {
		return nil, err
	}
	if uid := arg(r, "userId"); uid != "" && uid != r.User.ID {
		if m, err = p.authorize(ctx, p.e.DB, uid, orgRef{ID: m.OrganizationID},
			check{notMember: errNotMemberOfThisOrg}); err != nil {
			return nil, err
		}
	}
	return core.JSON(map[string]string{"role": m.Role}), nil
}

func (p *Plugin) hLeave(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		OrganizationID *string `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.organizationId", in.OrganizationID); err != nil {
		return nil, err
	}
	orgID := *in.OrganizationID

	var m *Member
	var touched []string
	err := p.inTx(ctx, "leave organization", func(tx db.Tx) error {
		var err error
		m, err = p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID},
			check{notMember: errMemberNotFound})
		if err != nil {
			return err
		}
		if p.opts.Roles.IsCreator(m.Role) {
			n, err := p.ownerCount(ctx, tx, orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return errOnlyOwner
			}
		}
		if err := deleteMember(ctx, tx, m); err != nil {
			return err
		}
		if touched, err = clearActive(ctx, tx, orgID, r.User.ID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "member_removed", "left", map[string]any{
			"organizationId": orgID, "memberId": m.ID, "userId": m.UserID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, touched...)
	return core.JSON(m), nil
}

// memberColumns are the member fields list-members sorts and filters by.
var memberColumns = map[string]string{
	"id": "m.id", "userId": "m.user_id", "role": "m.role", "createdAt": "m.created_at",
}

// memberFilterColumns excludes createdAt: its value would need a date.
var memberFilterColumns = map[string]string{
	"id": "m.id", "userId": "m.user_id", "role": "m.role",
}

func (p *Plugin) hListMembers(ctx context.Context, r *core.Request) (*core.Response, error) {
	ref := resolveRef(r)
	if ref.empty() {
		return nil, errNoActiveOrg
	}
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{notMember: errNotMemberOfThisOrg})
	if err != nil {
		return nil, err
	}
	mq, err := p.memberQuery(r)
	if err != nil {
		return nil, err
	}
	members, total, err := listMembers(ctx, p.e.DB, m.OrganizationID, mq)
	if err != nil {
		return nil, p.dbErr(ctx, "list members", err)
	}
	return core.JSON(map[string]any{"members": members, "total": total}), nil
}

// memberQuery reads list-members' paging, sorting and filter parameters.
func (p *Plugin) memberQuery(r *core.Request) (memberQuery, error) {
	mq := memberQuery{Limit: intArg(arg(r, "limit"), 0), Offset: intArg(arg(r, "offset"), 0)}
	if mq.Limit == 0 {
		mq.Limit = p.opts.MembershipLimit
	}
	if s := arg(r, "sortBy"); s != "" {
		col, ok := memberColumns[s]
		if !ok {
			return mq, core.ValidationError("query.sortBy", "Invalid option: expected one of "+
				"\"id\"|\"userId\"|\"role\"|\"createdAt\"")
		}
		mq.SortCol = col
	}
	switch arg(r, "sortDirection") {
	case "", "asc":
	case "desc":
		mq.Desc = true
	default:
		return mq, core.ValidationError("query.sortDirection",
			"Invalid option: expected one of \"asc\"|\"desc\"")
	}
	field := arg(r, "filterField")
	if field == "" {
		return mq, nil
	}
	col, ok := memberFilterColumns[field]
	if !ok {
		return mq, core.ValidationError("query.filterField",
			"Invalid option: expected one of \"id\"|\"userId\"|\"role\"")
	}
	values := filterValues(r)
	sql, args, err := filterSQL(p.e.DB.Dialect(), col, arg(r, "filterOperator"), values)
	if err != nil {
		return mq, err
	}
	mq.FilterSQL, mq.FilterArgs = sql, args
	return mq, nil
}

// filterValues reads filterValue: repeated query keys, a body array, or
// one value.
func filterValues(r *core.Request) []string {
	if vs := r.Query["filterValue"]; len(vs) > 0 {
		return vs
	}
	if list, err := stringList(r.Body["filterValue"], ""); err == nil && list != nil {
		return list
	}
	if v := arg(r, "filterValue"); v != "" {
		return []string{v}
	}
	return nil
}

// filterSQL builds " AND col op …" with parameters from $2 on.
func filterSQL(d db.Dialect, col, op string, values []string) (string, []any, error) {
	if len(values) == 0 {
		values = []string{""}
	}
	one := []any{values[0]}
	param := "CAST($2 AS TEXT)"
	switch op {
	case "", "eq":
		return " AND " + col + " = $2", one, nil
	case "ne":
		return " AND " + col + " <> $2", one, nil
	case "lt", "lte", "gt", "gte":
		sym := map[string]string{"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}[op]
		return " AND " + col + " " + sym + " $2", one, nil
	case "in", "not_in":
		var ph []string
		var args []any
		for i, v := range values {
			ph = append(ph, "$"+strconv.Itoa(i+2))
			args = append(args, v)
		}
		not := ""
		if op == "not_in" {
			not = "NOT "
		}
		return " AND " + col + " " + not + "IN (" + strings.Join(ph, ", ") + ")", args, nil
	case "contains":
		if d == db.Postgres {
			return " AND strpos(" + col + ", " + param + ") > 0", one, nil
		}
		return " AND instr(" + col + ", " + param + ") > 0", one, nil
	case "starts_with":
		return " AND substr(" + col + ", 1, length(" + param + ")) = " + param, one, nil
	case "ends_with":
		return " AND length(" + col + ") >= length(" + param + ") AND substr(" + col +
			", length(" + col + ") - length(" + param + ") + 1) = " + param, one, nil
	}
	return "", nil, core.ValidationError("query.filterOperator", "Invalid option")
}

func (p *Plugin) hHasPermission(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		OrganizationID string `json:"organizationId"`
		Connector      string `json:"connector"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	raw, ok := r.Body["permissions"]
	if !ok {
		raw, ok = r.Body["permission"] // Better Auth's deprecated name
	}
	if !ok {
		return nil, core.MissingField("body.permissions", "record")
	}
	perms, err := ParsePermissions(raw)
	if err != nil {
		return nil, core.ValidationError("body.permissions", "Invalid input")
	}
	orgID := in.OrganizationID
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if orgID == "" {
		return nil, errNoActiveOrg
	}
	c := check{perm: perms, connector: And,
		notMember: apiErr(http.StatusUnauthorized, "USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")}
	if in.Connector == string(Or) {
		c.connector = Or
	}
	_, err = p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID}, c)
	if err != nil && !errors.Is(err, errDenied) {
		return nil, err
	}
	return core.JSON(map[string]any{"error": nil, "success": err == nil}), nil
}
