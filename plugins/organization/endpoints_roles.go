package organization

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// roleOrg picks the organization of a role request.
func roleOrg(r *core.Request, id string, missing *core.APIError) (string, error) {
	if id == "" {
		id = activeOrg(r)
	}
	if id == "" {
		return "", missing
	}
	return id, nil
}

// parseStatements decodes a role's permission object.
func parseStatements(raw json.RawMessage, path string) (Statements, error) {
	if len(raw) == 0 {
		return nil, core.MissingField(path, "record")
	}
	var s Statements
	if err := json.Unmarshal(raw, &s); err != nil || s == nil {
		return nil, core.ValidationError(path, "Invalid input: expected record")
	}
	return s, nil
}

// roleName normalises a run-time role name: trimmed and lower case, usable
// as one entry of a comma-joined role list.
func roleName(raw, path string) (string, error) {
	name := strings.ToLower(strings.TrimSpace(raw))
	if !validRoleName(name) {
		return "", core.ValidationError(path, "Invalid role name")
	}
	return name, nil
}

// grantable checks that perm names only declared statements and that the
// caller holds all of it: nobody hands out more than they have.
func (p *Plugin) grantable(ctx context.Context, tx db.Tx, userID, orgID string,
	perm Statements, denied *core.APIError) error {
	if !p.opts.Roles.Statements.covers(perm) {
		return badRequest("INVALID_RESOURCE")
	}
	req := Permissions{}
	for res, acts := range perm {
		if len(acts) > 0 {
			req[res] = Actions{Actions: acts, Connector: And}
		}
	}
	if len(req) == 0 {
		return nil
	}
	_, err := p.authorize(ctx, tx, userID, orgRef{ID: orgID},
		check{perm: req, notMember: errNotMemberOfThisOrg, denied: denied})
	return err
}

func (p *Plugin) hCreateRole(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Role           *string         `json:"role"`
		Permission     json.RawMessage `json:"permission"`
		OrganizationID string          `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.role", in.Role); err != nil {
		return nil, err
	}
	perm, err := parseStatements(in.Permission, "body.permission")
	if err != nil {
		return nil, err
	}
	orgID, err := roleOrg(r, in.OrganizationID,
		badRequest("YOU_MUST_BE_IN_AN_ORGANIZATION_TO_CREATE_A_ROLE"))
	if err != nil {
		return nil, err
	}
	name, err := roleName(*in.Role, "body.role")
	if err != nil {
		return nil, err
	}
	now := p.e.Now()
	role := &OrgRole{ID: p.e.NewID(), OrganizationID: orgID, Role: name, Permission: perm,
		CreatedAt: core.Time{Time: now}}
	denied := forbidden("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_ROLE")
	err = p.inTx(ctx, "create role", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("ac", "create"), notMember: errNotMemberOfThisOrg,
			denied: denied}); err != nil {
			return err
		}
		if _, static := p.opts.Roles.Roles[name]; static {
			return errRoleNameTaken
		}
		if max := p.opts.DynamicRoles.MaximumRolesPerOrganization; max > 0 {
			n, err := count(ctx, tx, "SELECT count(*) FROM organization_roles "+
				"WHERE organization_id = $1", orgID)
			if err != nil {
				return err
			}
			if n >= max {
				return badRequest("TOO_MANY_ROLES")
			}
		}
		if err := p.grantable(ctx, tx, r.User.ID, orgID, perm, denied); err != nil {
			return err
		}
		if err := insertRole(ctx, tx, role); errors.Is(err, db.ErrConflict) {
			return errRoleNameTaken
		} else if err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "organization_role_created", "success",
			map[string]any{"organizationId": orgID, "role": name})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(map[string]any{"success": true, "roleData": role,
		"statements": perm}), nil
}

// roleKey is how role requests name a role: by name or by id.
type roleKey struct {
	RoleName string `json:"roleName"`
	RoleID   string `json:"roleId"`
}

// find loads the role of orgID the key names.
func (k roleKey) find(ctx context.Context, q db.Querier, orgID string) (*OrgRole, error) {
	name := strings.ToLower(strings.TrimSpace(k.RoleName))
	if name == "" && k.RoleID == "" {
		return nil, errRoleNotFound
	}
	role, err := orgRole(ctx, q, orgID, name, k.RoleID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, errRoleNotFound
	}
	return role, err
}

func (p *Plugin) hUpdateRole(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		roleKey
		OrganizationID string `json:"organizationId"`
		Data           *struct {
			Permission json.RawMessage `json:"permission"`
			RoleName   *string         `json:"roleName"`
		} `json:"data"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if in.Data == nil {
		return nil, core.MissingField("body.data", "object")
	}
	var perm Statements
	if len(in.Data.Permission) > 0 {
		var err error
		if perm, err = parseStatements(in.Data.Permission, "body.data.permission"); err != nil {
			return nil, err
		}
	}
	var newName string
	if in.Data.RoleName != nil {
		var err error
		if newName, err = roleName(*in.Data.RoleName, "body.data.roleName"); err != nil {
			return nil, err
		}
	}
	orgID, err := roleOrg(r, in.OrganizationID, errNoActiveOrg)
	if err != nil {
		return nil, err
	}
	denied := forbidden("YOU_ARE_NOT_ALLOWED_TO_UPDATE_A_ROLE")
	var role *OrgRole
	err = p.inTx(ctx, "update role", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("ac", "update"), notMember: errNotMemberOfThisOrg,
			denied: denied}); err != nil {
			return err
		}
		var err error
		if role, err = in.find(ctx, tx, orgID); err != nil {
			return err
		}
		if perm != nil {
			if err := p.grantable(ctx, tx, r.User.ID, orgID, perm, denied); err != nil {
				return err
			}
			role.Permission = perm
		}
		if newName != "" && newName != role.Role {
			if _, static := p.opts.Roles.Roles[newName]; static {
				return errRoleNameTaken
			}
			if err := p.renameRoleUses(ctx, tx, orgID, role.Role, newName); err != nil {
				return err
			}
			role.Role = newName
		}
		now := p.e.Now()
		if err := updateRole(ctx, tx, role, now); errors.Is(err, db.ErrConflict) {
			return errRoleNameTaken
		} else if err != nil {
			return err
		}
		role.UpdatedAt = &core.Time{Time: now}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "organization_role_updated", "success",
			map[string]any{"organizationId": orgID, "role": role.Role})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(map[string]any{"success": true, "roleData": role}), nil
}

// renameRoleUses rewrites a renamed role in the organization's member
// roles and pending invitations, so nobody silently loses it.
func (p *Plugin) renameRoleUses(ctx context.Context, tx db.Tx, orgID, from, to string) error {
	rename := func(list string) (string, bool) {
		roles := ParseRoleList(list)
		i := slices.Index(roles, from)
		if i < 0 {
			return list, false
		}
		roles[i] = to
		return strings.Join(roles, ","), true
	}
	members, err := memberRoles(ctx, tx, orgID)
	if err != nil {
		return err
	}
	for id, role := range members {
		if next, ok := rename(role); ok {
			if err := setMemberRole(ctx, tx, id, next); err != nil {
				return err
			}
		}
	}
	invs, err := pendingInvitations(ctx, tx, orgID, "", p.e.Now())
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if next, ok := rename(inv.Role); ok {
			if _, err := tx.Exec(ctx, "UPDATE invitations SET role = $1 WHERE id = $2",
				next, inv.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func (p *Plugin) hDeleteRole(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		roleKey
		OrganizationID string `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	orgID, err := roleOrg(r, in.OrganizationID, errNoActiveOrg)
	if err != nil {
		return nil, err
	}
	err = p.inTx(ctx, "delete role", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("ac", "delete"), notMember: errNotMemberOfThisOrg,
			denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_DELETE_A_ROLE")}); err != nil {
			return err
		}
		if _, static := p.opts.Roles.Roles[in.RoleName]; static {
			return badRequest("CANNOT_DELETE_A_PRE_DEFINED_ROLE")
		}
		role, err := in.find(ctx, tx, orgID)
		if err != nil {
			return err
		}
		members, err := memberRoles(ctx, tx, orgID)
		if err != nil {
			return err
		}
		for _, mr := range members {
			if slices.Contains(ParseRoleList(mr), role.Role) {
				return badRequest("ROLE_IS_ASSIGNED_TO_MEMBERS")
			}
		}
		if err := deleteRole(ctx, tx, role.ID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "organization_role_deleted", "success",
			map[string]any{"organizationId": orgID, "role": role.Role})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(map[string]bool{"success": true}), nil
}

func (p *Plugin) hListRoles(ctx context.Context, r *core.Request) (*core.Response, error) {
	orgID, err := roleOrg(r, arg(r, "organizationId"), errNoActiveOrg)
	if err != nil {
		return nil, err
	}
	if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID}, check{
		perm: Need("ac", "read"), notMember: errNotMemberOfThisOrg,
		denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_LIST_A_ROLE")}); err != nil {
		return nil, err
	}
	roles, err := orgRoles(ctx, p.e.DB, orgID)
	if err != nil {
		return nil, p.dbErr(ctx, "list roles", err)
	}
	return core.JSON(roles), nil
}

func (p *Plugin) hGetRole(ctx context.Context, r *core.Request) (*core.Response, error) {
	orgID, err := roleOrg(r, arg(r, "organizationId"), errNoActiveOrg)
	if err != nil {
		return nil, err
	}
	if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID}, check{
		perm: Need("ac", "read"), notMember: errNotMemberOfThisOrg,
		denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_READ_A_ROLE")}); err != nil {
		return nil, err
	}
	key := roleKey{RoleName: arg(r, "roleName"), RoleID: arg(r, "roleId")}
	role, err := key.find(ctx, p.e.DB, orgID)
	if err != nil {
		return nil, p.dbErr(ctx, "load role", err)
	}
	return core.JSON(role), nil
}
