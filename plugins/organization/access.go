package organization

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"sort"
	"strings"
)

// Statements maps a resource ("member", "invitation", …) to actions on it
// ("create", "update", …). The plugin's Roles.Statements is the universe of
// grantable actions; a role's Statements is what it grants.
type Statements map[string][]string

// Allows reports whether s grants what req asks for. Resources combine with
// c: under And every requested resource must be granted (an unknown one
// fails), under Or one is enough. Within a resource the request's own
// connector applies, and an empty action list is never granted. An empty
// request is never granted.
func (s Statements) Allows(req Permissions, c Connector) bool {
	return allows(s, nil, req, c)
}

// allows is Allows over the union of two grants (a static role and the
// run-time role of the same name), without building the union.
func allows(a, b Statements, req Permissions, c Connector) bool {
	granted := false
	for res, want := range req {
		x, inA := a[res]
		y, inB := b[res]
		if !inA && !inB {
			if c != Or {
				return false
			}
			continue
		}
		if want.grantedBy(x, y) {
			if c == Or {
				return true
			}
			granted = true
			continue
		}
		if c != Or {
			return false
		}
	}
	return granted
}

// merge returns the union of s and o, action lists deduplicated.
func (s Statements) merge(o Statements) Statements {
	out := make(Statements, len(s)+len(o))
	for res, acts := range s {
		out[res] = slices.Clone(acts)
	}
	for res, acts := range o {
		for _, a := range acts {
			if !slices.Contains(out[res], a) {
				out[res] = append(out[res], a)
			}
		}
	}
	return out
}

// covers reports whether every action of o is in s (resources included).
func (s Statements) covers(o Statements) bool {
	for res, acts := range o {
		for _, a := range acts {
			if !slices.Contains(s[res], a) {
				return false
			}
		}
	}
	return true
}

// Connector says how several requested items combine.
type Connector string

// Connectors. The zero value means And.
const (
	And Connector = "AND"
	Or  Connector = "OR"
)

// Actions is what a permission request asks for on one resource. On the
// wire it is either an array of actions (all required) or an object
// {"actions": […], "connector": "AND"|"OR"}.
type Actions struct {
	Actions   []string
	Connector Connector
}

// grantedBy reports whether the actions in x or y satisfy a.
func (a Actions) grantedBy(x, y []string) bool {
	if len(a.Actions) == 0 {
		return false
	}
	for _, want := range a.Actions {
		has := slices.Contains(x, want) || slices.Contains(y, want)
		if has && a.Connector == Or {
			return true
		}
		if !has && a.Connector != Or {
			return false
		}
	}
	return a.Connector != Or
}

// errBadActions is returned for an Actions value of the wrong shape.
var errBadActions = errors.New("expected an array of actions or {actions, connector}")

// UnmarshalJSON accepts an array of strings or {actions, connector}.
func (a *Actions) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var list []string
		if err := json.Unmarshal(b, &list); err != nil {
			return errBadActions
		}
		*a = Actions{Actions: list, Connector: And}
		return nil
	}
	var obj struct {
		Actions   []string `json:"actions"`
		Connector string   `json:"connector"`
	}
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &obj) != nil {
		return errBadActions
	}
	c := And
	if obj.Connector == string(Or) {
		c = Or
	}
	*a = Actions{Actions: obj.Actions, Connector: c}
	return nil
}

// MarshalJSON writes an AND request as a plain array.
func (a Actions) MarshalJSON() ([]byte, error) {
	list := a.Actions
	if list == nil {
		list = []string{}
	}
	if a.Connector == Or {
		return json.Marshal(map[string]any{"actions": list, "connector": Or})
	}
	return json.Marshal(list)
}

// Permissions is a permission request: resource → wanted actions.
type Permissions map[string]Actions

// Need builds an AND request for the given actions on one resource.
func Need(resource string, actions ...string) Permissions {
	return Permissions{resource: {Actions: actions, Connector: And}}
}

// ParsePermissions decodes a permission request from JSON (an object of
// resource → actions, see Actions). It never panics on hostile input.
func ParsePermissions(b []byte) (Permissions, error) {
	var p Permissions
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("parsing permissions: %w", err)
	}
	if p == nil {
		return nil, errors.New("parsing permissions: expected an object")
	}
	return p, nil
}

// Roles is the access-control configuration: the grantable statements, the
// roles by name and the creator role. Deployments replace it as data
// (Options.Roles, or the ORGANIZATION_ROLES setting); DefaultRoles is
// Better Auth's.
type Roles struct {
	Statements Statements            `json:"statements"`
	Roles      map[string]Statements `json:"roles"`
	// Creator is the role given to whoever creates an organization. It may
	// grant itself, and it is the role the last-owner rules protect.
	Creator string `json:"creatorRole"`
}

// DefaultRoles returns Better Auth's default statements and the roles owner
// (everything), admin (everything but deleting the organization) and member
// (reading roles), with owner as the creator role.
func DefaultRoles() Roles {
	all := Statements{
		"organization": {"update", "delete"},
		"member":       {"create", "update", "delete"},
		"invitation":   {"create", "cancel"},
		"team":         {"create", "update", "delete"},
		"ac":           {"create", "read", "update", "delete"},
	}
	admin := all.merge(nil)
	admin["organization"] = []string{"update"}
	return Roles{
		Statements: all,
		Roles: map[string]Statements{
			"owner": all.merge(nil),
			"admin": admin,
			"member": {"organization": {}, "member": {}, "invitation": {}, "team": {},
				"ac": {"read"}},
		},
		Creator: "owner",
	}
}

// ParseRoles decodes a Roles document (JSON with "statements", "roles" and
// "creatorRole") and validates it.
func ParseRoles(b []byte) (Roles, error) {
	var r Roles
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Roles{}, fmt.Errorf("parsing roles: %w", err)
	}
	if r.Creator == "" {
		r.Creator = "owner"
	}
	if err := r.Validate(); err != nil {
		return Roles{}, err
	}
	return r, nil
}

// Validate checks that every role name is usable in a comma-joined member
// role, that roles grant only declared statements and that the creator
// role exists.
func (r Roles) Validate() error {
	if len(r.Statements) == 0 {
		return errors.New("roles: no statements")
	}
	if _, ok := r.Roles[r.Creator]; !ok {
		return fmt.Errorf("roles: creator role %q is not defined", r.Creator)
	}
	names := make([]string, 0, len(r.Roles))
	for name := range r.Roles {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !validRoleName(name) {
			return fmt.Errorf("roles: invalid role name %q", name)
		}
		if !r.Statements.covers(r.Roles[name]) {
			return fmt.Errorf("roles: role %q grants an action not in statements", name)
		}
	}
	return nil
}

// validRoleName reports whether name can be one entry of a role list.
func validRoleName(name string) bool {
	return name != "" && name == strings.TrimSpace(name) &&
		!strings.ContainsAny(name, ",\x00")
}

// Allows reports whether a member holding memberRole (a comma-joined list)
// may do what req asks in an organization whose run-time roles are extra
// (nil without dynamic roles). Any one of the member's roles is enough.
// With creatorAll, a holder of the creator role is allowed everything.
func (r Roles) Allows(memberRole string, req Permissions, c Connector,
	extra map[string]Statements, creatorAll bool) bool {
	if len(req) == 0 {
		return false
	}
	if creatorAll && r.IsCreator(memberRole) {
		return true
	}
	for name := range roleNames(memberRole) {
		st, ok := r.Roles[name]
		add, dyn := extra[name]
		if (ok || dyn) && allows(st, add, req, c) {
			return true
		}
	}
	return false
}

// IsCreator reports whether a role list holds the creator role.
func (r Roles) IsCreator(memberRole string) bool {
	for name := range roleNames(memberRole) {
		if name == r.Creator {
			return true
		}
	}
	return false
}

// roleNames yields the trimmed, non-empty names of a comma-joined role
// value without allocating.
func roleNames(role string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for part := range strings.SplitSeq(role, ",") {
			if part = strings.TrimSpace(part); part != "" && !yield(part) {
				return
			}
		}
	}
}

// ParseRoleList splits a comma-joined role value into trimmed, non-empty
// names. "admin, owner" and "admin,owner" give the same list.
func ParseRoleList(role string) []string {
	return slices.Collect(roleNames(role))
}

// JoinRoles normalises a role list into the stored comma-joined form.
func JoinRoles(roles []string) string {
	var out []string
	for _, r := range roles {
		out = append(out, ParseRoleList(r)...)
	}
	return strings.Join(out, ",")
}
