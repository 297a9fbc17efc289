package organization

import (
	"encoding/json"
	"time"

	"github.com/mana/mana-auth/core"
)

// Organization is a tenant. Metadata is the stored JSON text, or nil.
type Organization struct {
	ID        string
	Name      string
	Slug      string
	Logo      *string
	Metadata  *string
	CreatedAt time.Time
}

// orgJSON is an organization on the wire. Better Auth answers metadata
// parsed from create and update and as the stored JSON string elsewhere;
// Metadata holds whichever the endpoint uses.
type orgJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Logo      *string   `json:"logo"`
	CreatedAt core.Time `json:"createdAt"`
	Metadata  any       `json:"metadata"`
}

// view renders o with metadata as the stored string, or parsed.
func (o *Organization) view(parsed bool) orgJSON {
	v := orgJSON{ID: o.ID, Name: o.Name, Slug: o.Slug, Logo: o.Logo,
		CreatedAt: core.Time{Time: o.CreatedAt}}
	switch {
	case o.Metadata == nil:
		v.Metadata = nil
	case parsed && json.Valid([]byte(*o.Metadata)):
		v.Metadata = json.RawMessage(*o.Metadata)
	default:
		v.Metadata = *o.Metadata
	}
	return v
}

// MarshalJSON writes the organization as most endpoints do (metadata as a
// string).
func (o *Organization) MarshalJSON() ([]byte, error) { return json.Marshal(o.view(false)) }

// Member is one user's membership. Role is a comma-joined role list.
type Member struct {
	ID             string    `json:"id"`
	OrganizationID string    `json:"organizationId"`
	UserID         string    `json:"userId"`
	Role           string    `json:"role"`
	CreatedAt      core.Time `json:"createdAt"`
	// User is set where Better Auth joins the user in.
	User *MemberUser `json:"user,omitempty"`
}

// MemberUser is the public part of a member's user.
type MemberUser struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Email string  `json:"email"`
	Image *string `json:"image"`
}

// Invitation statuses.
const (
	StatusPending  = "pending"
	StatusAccepted = "accepted"
	StatusRejected = "rejected"
	StatusCanceled = "canceled"
)

// Invitation asks an email address to join an organization. Its id is the
// secret of the accept link.
type Invitation struct {
	ID             string
	OrganizationID string
	Email          string
	Role           string
	TeamID         *string // comma-joined team ids
	Status         string
	ExpiresAt      time.Time
	CreatedAt      time.Time
	InviterID      string
}

// invitationJSON is an invitation on the wire; TeamID is present (maybe
// null) only when teams are enabled.
type invitationJSON struct {
	ID             string          `json:"id"`
	OrganizationID string          `json:"organizationId"`
	Email          string          `json:"email"`
	Role           string          `json:"role"`
	Status         string          `json:"status"`
	ExpiresAt      core.Time       `json:"expiresAt"`
	CreatedAt      core.Time       `json:"createdAt"`
	InviterID      string          `json:"inviterId"`
	TeamID         json.RawMessage `json:"teamId,omitempty"`
}

// invitationView renders inv for the wire.
func (p *Plugin) invitationView(inv *Invitation) invitationJSON {
	v := invitationJSON{ID: inv.ID, OrganizationID: inv.OrganizationID, Email: inv.Email,
		Role: inv.Role, Status: inv.Status, ExpiresAt: core.Time{Time: inv.ExpiresAt},
		CreatedAt: core.Time{Time: inv.CreatedAt}, InviterID: inv.InviterID}
	if p.opts.Teams.Enabled {
		v.TeamID, _ = json.Marshal(inv.TeamID)
	}
	return v
}

func (p *Plugin) invitationViews(list []*Invitation) []invitationJSON {
	out := make([]invitationJSON, 0, len(list))
	for _, inv := range list {
		out = append(out, p.invitationView(inv))
	}
	return out
}

// Team is a group of members inside an organization.
type Team struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	OrganizationID string     `json:"organizationId"`
	CreatedAt      core.Time  `json:"createdAt"`
	UpdatedAt      *core.Time `json:"updatedAt"`
}

// TeamMember is one user in a team.
type TeamMember struct {
	ID        string    `json:"id"`
	TeamID    string    `json:"teamId"`
	UserID    string    `json:"userId"`
	CreatedAt core.Time `json:"createdAt"`
}

// OrgRole is a role an organization defined at run time.
type OrgRole struct {
	ID             string     `json:"id"`
	OrganizationID string     `json:"organizationId"`
	Role           string     `json:"role"`
	Permission     Statements `json:"permission"`
	CreatedAt      core.Time  `json:"createdAt"`
	UpdatedAt      *core.Time `json:"updatedAt"`
}

func timePtr(t *time.Time) *core.Time {
	if t == nil {
		return nil
	}
	return &core.Time{Time: *t}
}
