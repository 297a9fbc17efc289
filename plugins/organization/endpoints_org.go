package organization

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// metadataText validates a metadata value (a JSON object) and returns it
// compacted for storage.
func metadataText(raw json.RawMessage, path string) (*string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		got := "undefined"
		if len(raw) > 0 {
			got = jsonKind(raw)
		}
		return nil, core.ValidationError(path, "Invalid input: expected record, received "+got)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return nil, core.ErrBadRequest
	}
	s := buf.String()
	return &s, nil
}

func jsonKind(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "string"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// createdOrg is /organization/create's answer: metadata parsed, plus the
// creator's membership.
type createdOrg struct {
	orgJSON
	Members []*Member `json:"members"`
}

func (p *Plugin) hCreate(ctx context.Context, r *core.Request) (*core.Response, error) {
	if r.Session == nil {
		return nil, errUnauthorizedNoBody
	}
	var in struct {
		Name                          *string `json:"name"`
		Slug                          *string `json:"slug"`
		Logo                          *string `json:"logo"`
		KeepCurrentActiveOrganization bool    `json:"keepCurrentActiveOrganization"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", in.Name}, {"slug", in.Slug}} {
		if err := requireString("body."+f.name, f.v); err != nil {
			return nil, err
		}
		if err := nonEmpty("body."+f.name, *f.v); err != nil {
			return nil, err
		}
	}
	var meta *string
	if raw, ok := r.Body["metadata"]; ok {
		var err error
		if meta, err = metadataText(raw, "body.metadata"); err != nil {
			return nil, err
		}
	}
	if !p.opts.AllowCreate {
		return nil, forbidden("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_ORGANIZATION")
	}

	now := p.e.Now()
	org := &Organization{ID: p.e.NewID(), Name: *in.Name, Slug: *in.Slug, Logo: in.Logo,
		Metadata: meta, CreatedAt: now}
	member := &Member{ID: p.e.NewID(), OrganizationID: org.ID, UserID: r.User.ID,
		Role: p.opts.Roles.Creator, CreatedAt: core.Time{Time: now}}
	err := p.inTx(ctx, "create organization", func(tx db.Tx) error {
		if lim := p.opts.OrganizationLimit; lim > 0 {
			n, err := count(ctx, tx, "SELECT count(*) FROM members WHERE user_id = $1",
				r.User.ID)
			if err != nil {
				return err
			}
			if n >= lim {
				return forbidden("YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_ORGANIZATIONS")
			}
		}
		if err := insertOrg(ctx, tx, org); err != nil {
			if errors.Is(err, db.ErrConflict) {
				return badRequest("ORGANIZATION_ALREADY_EXISTS")
			}
			return err
		}
		if err := insertMember(ctx, tx, member); err != nil {
			return err
		}
		var teamID *string
		if p.opts.Teams.Enabled && p.opts.Teams.DefaultTeam {
			t := &Team{ID: p.e.NewID(), Name: org.Name, OrganizationID: org.ID,
				CreatedAt: core.Time{Time: now}}
			if err := insertTeam(ctx, tx, t); err != nil {
				return err
			}
			if _, err := addTeamMember(ctx, tx, p.e.NewID(), t.ID, r.User.ID, now); err != nil {
				return err
			}
			teamID = &t.ID
		}
		if !in.KeepCurrentActiveOrganization {
			if err := setActive(ctx, tx, r.Session.ID, &org.ID, teamID); err != nil {
				return err
			}
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "organization_created", "success",
			map[string]any{"organizationId": org.ID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, r.User.ID)
	p.metrics.created.Inc()
	return core.JSON(createdOrg{orgJSON: org.view(true), Members: []*Member{member}}), nil
}

func (p *Plugin) hUpdate(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		OrganizationID string `json:"organizationId"`
		Data           *struct {
			Name *string `json:"name"`
			Slug *string `json:"slug"`
		} `json:"data"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if in.Data == nil {
		return nil, core.MissingField("body.data", "object")
	}
	var raw map[string]json.RawMessage
	_ = json.Unmarshal(r.Body["data"], &raw)
	u := orgUpdate{Name: in.Data.Name, Slug: in.Data.Slug}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", u.Name}, {"slug", u.Slug}} {
		if f.v != nil {
			if err := nonEmpty("body.data."+f.name, *f.v); err != nil {
				return nil, err
			}
		}
	}
	if rawLogo, ok := raw["logo"]; ok {
		var logo *string
		if err := json.Unmarshal(rawLogo, &logo); err != nil {
			return nil, core.ValidationError("body.data.logo",
				"Invalid input: expected string, received "+jsonKind(rawLogo))
		}
		u.Logo = &logo
	}
	if rawMeta, ok := raw["metadata"]; ok {
		meta, err := metadataText(rawMeta, "body.data.metadata")
		if err != nil {
			return nil, err
		}
		u.Metadata = meta
	}
	orgID := in.OrganizationID
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if orgID == "" {
		return nil, errOrgNotFound
	}

	var org *Organization
	err := p.inTx(ctx, "update organization", func(tx db.Tx) error {
		_, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm:      Need("organization", "update"),
			notMember: errUserNotMember,
			denied:    forbidden("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_ORGANIZATION"),
		})
		if err != nil {
			return err
		}
		if err := updateOrg(ctx, tx, orgID, u); err != nil {
			if errors.Is(err, db.ErrConflict) {
				return badRequest("ORGANIZATION_SLUG_ALREADY_TAKEN")
			}
			return err
		}
		org, err = orgByID(ctx, tx, orgID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(org.view(true)), nil
}

func (p *Plugin) hDelete(ctx context.Context, r *core.Request) (*core.Response, error) {
	if p.opts.DisableDeletion {
		return nil, errDeletionDisabled
	}
	var in struct {
		OrganizationID *string `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.organizationId", in.OrganizationID); err != nil {
		return nil, err
	}
	if *in.OrganizationID == "" {
		return nil, errOrgNotFound
	}
	orgID := *in.OrganizationID

	var org *Organization
	var touched []string
	err := p.inTx(ctx, "delete organization", func(tx db.Tx) error {
		_, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm:      Need("organization", "delete"),
			notMember: errUserNotMember,
			denied:    forbidden("YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_ORGANIZATION"),
		})
		if err != nil {
			return err
		}
		if org, err = orgByID(ctx, tx, orgID); err != nil {
			return err
		}
		if touched, err = clearActive(ctx, tx, orgID, ""); err != nil {
			return err
		}
		if err := deleteOrg(ctx, tx, orgID); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "organization_deleted", "success",
			map[string]any{"organizationId": orgID})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, touched...)
	p.metrics.deleted.Inc()
	return core.JSON(org), nil
}

func (p *Plugin) hSetActive(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		OrganizationID   *string `json:"organizationId"`
		OrganizationSlug string  `json:"organizationSlug"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	current := activeOrg(r)
	if isNull(r, "organizationId") {
		return core.JSON(nil), p.unsetActive(ctx, r, nil)
	}
	ref := orgRef{Slug: in.OrganizationSlug}
	if in.OrganizationID != nil && *in.OrganizationID != "" {
		ref = orgRef{ID: *in.OrganizationID}
	}
	if ref.empty() {
		if current == "" {
			return core.JSON(nil), nil
		}
		ref.ID = current
	}

	notMember := forbidden("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{notMember: notMember})
	if errors.Is(err, notMember) {
		return nil, p.unsetActive(ctx, r, err)
	}
	if err != nil {
		return nil, err
	}
	org, err := orgByID(ctx, p.e.DB, m.OrganizationID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, notMember
	}
	if err != nil {
		return nil, p.dbErr(ctx, "load organization", err)
	}
	if org.ID != current {
		// The active team belonged to the previous organization.
		if err := setActive(ctx, p.e.DB, r.Session.ID, &org.ID, nil); err != nil {
			return nil, p.dbErr(ctx, "set active organization", err)
		}
		p.invalidate(ctx, r.User.ID)
	}
	return core.JSON(org), nil
}

// resolveRef picks the organization of a read endpoint: the slug, else the
// id, else the session's active organization.
func resolveRef(r *core.Request) orgRef {
	if s := arg(r, "organizationSlug"); s != "" {
		return orgRef{Slug: s}
	}
	if id := arg(r, "organizationId"); id != "" {
		return orgRef{ID: id}
	}
	return orgRef{ID: activeOrg(r)}
}

// unsetActive drops the session's active organization (and team) and
// returns err. Better Auth does this when a caller asks for an
// organization they are not in.
func (p *Plugin) unsetActive(ctx context.Context, r *core.Request, err error) error {
	if activeOrg(r) == "" {
		return err
	}
	if e := setActive(ctx, p.e.DB, r.Session.ID, nil, nil); e != nil {
		return p.dbErr(ctx, "unset active organization", e)
	}
	p.invalidate(ctx, r.User.ID)
	return err
}

func (p *Plugin) hGetOrganization(ctx context.Context, r *core.Request) (*core.Response, error) {
	ref := resolveRef(r)
	if ref.empty() {
		return core.JSON(nil), nil
	}
	notMember := forbidden("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{notMember: notMember})
	if errors.Is(err, notMember) {
		return nil, p.unsetActive(ctx, r, err)
	}
	if err != nil {
		return nil, err
	}
	org, err := orgByID(ctx, p.e.DB, m.OrganizationID)
	if err != nil {
		return nil, p.dbErr(ctx, "load organization", err)
	}
	return core.JSON(org), nil
}

// fullOrg is get-full-organization's answer (metadata as a string).
type fullOrg struct {
	orgJSON
	Invitations []invitationJSON `json:"invitations"`
	Members     []*Member        `json:"members"`
	Teams       *[]*Team         `json:"teams,omitempty"`
}

func (p *Plugin) hGetFullOrganization(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	ref := resolveRef(r)
	if ref.empty() {
		return core.JSON(nil), nil
	}
	notMember := forbidden("USER_IS_NOT_A_MEMBER_OF_THE_ORGANIZATION")
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{notMember: notMember})
	if errors.Is(err, notMember) {
		return nil, p.unsetActive(ctx, r, err)
	}
	if err != nil {
		return nil, err
	}
	org, err := orgByID(ctx, p.e.DB, m.OrganizationID)
	if err != nil {
		return nil, p.dbErr(ctx, "load organization", err)
	}
	limit := intArg(arg(r, "membersLimit"), 0)
	if limit == 0 {
		limit = p.opts.MembershipLimit
	}
	members, _, err := listMembers(ctx, p.e.DB, org.ID, memberQuery{Limit: limit})
	if err != nil {
		return nil, p.dbErr(ctx, "list members", err)
	}
	out := fullOrg{orgJSON: org.view(false), Members: members,
		Invitations: []invitationJSON{}}
	// Invitation ids are accept links: only members who may create
	// invitations see them.
	_, err = p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: org.ID}, check{
		perm: Need("invitation", "create"), notMember: notMember})
	switch {
	case err == nil:
		invs, err := p.invitationsFor(ctx, m)
		if err != nil {
			return nil, err
		}
		out.Invitations = p.invitationViews(invs)
	case !errors.Is(err, errDenied):
		return nil, err
	}
	if p.opts.Teams.Enabled {
		teams, err := orgTeams(ctx, p.e.DB, org.ID)
		if err != nil {
			return nil, p.dbErr(ctx, "list teams", err)
		}
		out.Teams = &teams
	}
	return core.JSON(out), nil
}

func (p *Plugin) hList(ctx context.Context, r *core.Request) (*core.Response, error) {
	orgs, err := orgsOfUser(ctx, p.e.DB, r.User.ID)
	if err != nil {
		return nil, p.dbErr(ctx, "list organizations", err)
	}
	return core.JSON(orgs), nil
}

func (p *Plugin) hCheckSlug(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Slug *string `json:"slug"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.slug", in.Slug); err != nil {
		return nil, err
	}
	_, err := orgBySlug(ctx, p.e.DB, *in.Slug)
	if errors.Is(err, db.ErrNoRows) {
		return core.JSON(map[string]bool{"status": true}), nil
	}
	if err != nil {
		return nil, p.dbErr(ctx, "check slug", err)
	}
	return nil, badRequest("ORGANIZATION_SLUG_ALREADY_TAKEN")
}
