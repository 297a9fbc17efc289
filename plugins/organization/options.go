package organization

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
)

// Options configure the plugin. Start from DefaultOptions; LoadOptions
// applies the environment on top.
type Options struct {
	// Roles are the statements, roles and creator role.
	Roles Roles
	// AllowCreate lets any signed-in user create organizations.
	AllowCreate bool
	// OrganizationLimit caps how many organizations a user may belong to
	// when creating one; 0 means no cap.
	OrganizationLimit int
	// MembershipLimit caps the members of one organization (also the
	// default page size of list-members).
	MembershipLimit int
	// InvitationLimit caps the pending invitations of one organization.
	InvitationLimit int
	// InvitationExpiresIn is how long an invitation can be accepted.
	InvitationExpiresIn time.Duration
	// CancelPendingOnReInvite cancels a pending invitation when the same
	// address is invited again (otherwise the second invitation is refused
	// unless it asks to resend).
	CancelPendingOnReInvite bool
	// DisableDeletion makes /organization/delete answer 404.
	DisableDeletion bool
	// InvitationURL is the accept link mailed with an invitation: the id is
	// appended as a path segment, or replaces "{id}" when the URL has it.
	// Empty means <BASE_URL>/accept-invitation/<id>.
	InvitationURL string
	// Teams enables teams and the session's active team.
	Teams TeamOptions
	// DynamicRoles enables roles defined per organization at run time.
	DynamicRoles DynamicRoleOptions
}

// TeamOptions configure teams.
type TeamOptions struct {
	Enabled bool
	// MaximumTeams caps the teams of one organization; 0 means no cap.
	MaximumTeams int
	// MaximumMembersPerTeam caps one team; 0 means no cap.
	MaximumMembersPerTeam int
	// AllowRemovingAllTeams lets the last team of an organization go.
	AllowRemovingAllTeams bool
	// DefaultTeam creates a team named after a new organization.
	DefaultTeam bool
}

// DynamicRoleOptions configure run-time roles.
type DynamicRoleOptions struct {
	Enabled bool
	// MaximumRolesPerOrganization caps the roles one organization may
	// define; 0 means no cap.
	MaximumRolesPerOrganization int
}

// DefaultOptions returns Better Auth's defaults, with teams and run-time
// roles switched on.
func DefaultOptions() Options {
	return Options{
		Roles:               DefaultRoles(),
		AllowCreate:         true,
		MembershipLimit:     100,
		InvitationLimit:     100,
		InvitationExpiresIn: 48 * time.Hour,
		Teams:               TeamOptions{Enabled: true, DefaultTeam: true},
		DynamicRoles:        DynamicRoleOptions{Enabled: true},
	}
}

// LoadOptions reads the plugin's settings from getenv on top of
// DefaultOptions. A bad value returns a *core.ConfigError naming the
// variable. Settings:
//
//	INVITATION_URL                         accept link base (see Options.InvitationURL)
//	ORGANIZATION_ROLES                     JSON Roles document (see ParseRoles)
//	ORGANIZATION_ALLOW_CREATE              true
//	ORGANIZATION_LIMIT                     0 (no cap)
//	ORGANIZATION_MEMBERSHIP_LIMIT          100
//	ORGANIZATION_INVITATION_LIMIT          100
//	ORGANIZATION_INVITATION_EXPIRES_IN     48h (a Go duration or seconds)
//	ORGANIZATION_CANCEL_PENDING_ON_REINVITE false
//	ORGANIZATION_DELETION                  true
//	ORGANIZATION_TEAMS                     true
//	ORGANIZATION_MAXIMUM_TEAMS             0 (no cap)
//	ORGANIZATION_MAXIMUM_MEMBERS_PER_TEAM  0 (no cap)
//	ORGANIZATION_DYNAMIC_ROLES             true
//	ORGANIZATION_MAXIMUM_ROLES             0 (no cap)
func LoadOptions(getenv func(string) string) (Options, error) {
	o := DefaultOptions()
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }

	o.InvitationURL = env("INVITATION_URL")
	if raw := env("ORGANIZATION_ROLES"); raw != "" {
		r, err := ParseRoles([]byte(raw))
		if err != nil {
			return o, &core.ConfigError{Var: "ORGANIZATION_ROLES", Err: err}
		}
		o.Roles = r
	}
	deletion := true
	bools := []struct {
		name string
		dst  *bool
	}{
		{"ORGANIZATION_ALLOW_CREATE", &o.AllowCreate},
		{"ORGANIZATION_CANCEL_PENDING_ON_REINVITE", &o.CancelPendingOnReInvite},
		{"ORGANIZATION_DELETION", &deletion},
		{"ORGANIZATION_TEAMS", &o.Teams.Enabled},
		{"ORGANIZATION_DYNAMIC_ROLES", &o.DynamicRoles.Enabled},
	}
	for _, b := range bools {
		if err := boolVar(env, b.name, b.dst); err != nil {
			return o, err
		}
	}
	o.DisableDeletion = !deletion
	ints := []struct {
		name string
		dst  *int
	}{
		{"ORGANIZATION_LIMIT", &o.OrganizationLimit},
		{"ORGANIZATION_MEMBERSHIP_LIMIT", &o.MembershipLimit},
		{"ORGANIZATION_INVITATION_LIMIT", &o.InvitationLimit},
		{"ORGANIZATION_MAXIMUM_TEAMS", &o.Teams.MaximumTeams},
		{"ORGANIZATION_MAXIMUM_MEMBERS_PER_TEAM", &o.Teams.MaximumMembersPerTeam},
		{"ORGANIZATION_MAXIMUM_ROLES", &o.DynamicRoles.MaximumRolesPerOrganization},
	}
	for _, n := range ints {
		if err := intVar(env, n.name, n.dst); err != nil {
			return o, err
		}
	}
	if v := env("ORGANIZATION_INVITATION_EXPIRES_IN"); v != "" {
		d, err := parseDuration(v)
		if err != nil {
			return o, &core.ConfigError{Var: "ORGANIZATION_INVITATION_EXPIRES_IN", Err: err}
		}
		o.InvitationExpiresIn = d
	}
	return o, nil
}

// validate checks options that LoadOptions cannot (Options built in code).
func (o *Options) validate() error {
	if err := o.Roles.Validate(); err != nil {
		return &core.ConfigError{Var: "ORGANIZATION_ROLES", Err: err}
	}
	if o.MembershipLimit <= 0 || o.InvitationLimit <= 0 {
		return &core.ConfigError{Var: "ORGANIZATION_MEMBERSHIP_LIMIT",
			Err: fmt.Errorf("membership and invitation limits must be positive")}
	}
	if o.InvitationExpiresIn <= 0 {
		return &core.ConfigError{Var: "ORGANIZATION_INVITATION_EXPIRES_IN",
			Err: fmt.Errorf("must be positive")}
	}
	if o.InvitationURL != "" {
		u, err := url.Parse(strings.ReplaceAll(o.InvitationURL, "{id}", "x"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &core.ConfigError{Var: "INVITATION_URL",
				Err: fmt.Errorf("%q is not an http(s) URL", o.InvitationURL)}
		}
	}
	return nil
}

// invitationLink builds the accept link of an invitation.
func (o *Options) invitationLink(baseURL, id string) string {
	base := o.InvitationURL
	if base == "" {
		base = baseURL + "/accept-invitation"
	}
	if strings.Contains(base, "{id}") {
		return strings.ReplaceAll(base, "{id}", url.PathEscape(id))
	}
	return strings.TrimRight(base, "/") + "/" + url.PathEscape(id)
}

func boolVar(env func(string) string, k string, dst *bool) error {
	switch strings.ToLower(env(k)) {
	case "":
	case "1", "true", "yes", "on":
		*dst = true
	case "0", "false", "no", "off":
		*dst = false
	default:
		return &core.ConfigError{Var: k, Err: fmt.Errorf("%q is not a boolean", env(k))}
	}
	return nil
}

func intVar(env func(string) string, k string, dst *int) error {
	v := env(k)
	if v == "" {
		return nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return &core.ConfigError{Var: k, Err: fmt.Errorf("%q is not a non-negative number", v)}
	}
	*dst = n
	return nil
}

func parseDuration(v string) (time.Duration, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n <= 0 {
			return 0, fmt.Errorf("%q is not positive", v)
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q is not a positive duration", v)
	}
	return d, nil
}
