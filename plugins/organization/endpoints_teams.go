package organization

import (
	"context"
	"errors"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// teamOrg picks the organization a team request acts in: the body's id,
// else the session's active organization.
func teamOrg(r *core.Request, bodyID string) (string, error) {
	if bodyID != "" {
		return bodyID, nil
	}
	if id := activeOrg(r); id != "" {
		return id, nil
	}
	return "", errNoActiveOrg
}

// loadTeam loads a team of orgID, errTeamNotFound when it has none such.
func loadTeam(ctx context.Context, q db.Querier, orgID, teamID string) (*Team, error) {
	t, err := teamByID(ctx, q, orgID, teamID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, errTeamNotFound
	}
	return t, err
}

func (p *Plugin) hCreateTeam(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Name           *string `json:"name"`
		OrganizationID string  `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.name", in.Name); err != nil {
		return nil, err
	}
	if err := nonEmpty("body.name", *in.Name); err != nil {
		return nil, err
	}
	orgID, err := teamOrg(r, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	now := p.e.Now()
	team := &Team{ID: p.e.NewID(), Name: *in.Name, OrganizationID: orgID,
		CreatedAt: core.Time{Time: now}, UpdatedAt: &core.Time{Time: now}}
	denied := forbidden("YOU_ARE_NOT_ALLOWED_TO_CREATE_TEAMS_IN_THIS_ORGANIZATION")
	err = p.inTx(ctx, "create team", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("team", "create"), notMember: denied, denied: denied}); err != nil {
			return err
		}
		if max := p.opts.Teams.MaximumTeams; max > 0 {
			n, err := count(ctx, tx, "SELECT count(*) FROM teams WHERE organization_id = $1",
				orgID)
			if err != nil {
				return err
			}
			if n >= max {
				return badRequest("YOU_HAVE_REACHED_THE_MAXIMUM_NUMBER_OF_TEAMS")
			}
		}
		return insertTeam(ctx, tx, team)
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(team), nil
}

func (p *Plugin) hUpdateTeam(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		TeamID *string `json:"teamId"`
		Data   *struct {
			Name           *string `json:"name"`
			OrganizationID string  `json:"organizationId"`
		} `json:"data"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.teamId", in.TeamID); err != nil {
		return nil, err
	}
	if in.Data == nil {
		return nil, core.MissingField("body.data", "object")
	}
	if in.Data.Name != nil {
		if err := nonEmpty("body.data.name", *in.Data.Name); err != nil {
			return nil, err
		}
	}
	orgID, err := teamOrg(r, in.Data.OrganizationID)
	if err != nil {
		return nil, err
	}
	denied := forbidden("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_TEAM")
	var team *Team
	err = p.inTx(ctx, "update team", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("team", "update"), notMember: denied, denied: denied}); err != nil {
			return err
		}
		var err error
		if team, err = loadTeam(ctx, tx, orgID, *in.TeamID); err != nil {
			return err
		}
		if in.Data.Name == nil {
			return nil
		}
		now := p.e.Now()
		if err := renameTeam(ctx, tx, team.ID, *in.Data.Name, now); err != nil {
			return err
		}
		team.Name, team.UpdatedAt = *in.Data.Name, &core.Time{Time: now}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(team), nil
}

func (p *Plugin) hRemoveTeam(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		TeamID         *string `json:"teamId"`
		OrganizationID string  `json:"organizationId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.teamId", in.TeamID); err != nil {
		return nil, err
	}
	orgID, err := teamOrg(r, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	notAllowed := forbidden("YOU_ARE_NOT_ALLOWED_TO_DELETE_THIS_TEAM")
	if activeTeam(r) == *in.TeamID {
		return nil, notAllowed
	}
	var touched []string
	err = p.inTx(ctx, "remove team", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("team", "delete"), notMember: notAllowed,
			denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_DELETE_TEAMS_IN_THIS_ORGANIZATION"),
		}); err != nil {
			return err
		}
		team, err := loadTeam(ctx, tx, orgID, *in.TeamID)
		if err != nil {
			return err
		}
		if !p.opts.Teams.AllowRemovingAllTeams {
			n, err := count(ctx, tx, "SELECT count(*) FROM teams WHERE organization_id = $1",
				orgID)
			if err != nil {
				return err
			}
			if n <= 1 {
				return badRequest("UNABLE_TO_REMOVE_LAST_TEAM")
			}
		}
		if err := p.dropTeamFromInvitations(ctx, tx, orgID, team.ID); err != nil {
			return err
		}
		if touched, err = clearActiveTeam(ctx, tx, team.ID, ""); err != nil {
			return err
		}
		return deleteTeam(ctx, tx, team.ID)
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, touched...)
	return core.JSON(map[string]string{"message": "Team removed successfully."}), nil
}

// dropTeamFromInvitations removes a team from the team lists of the
// organization's pending invitations.
func (p *Plugin) dropTeamFromInvitations(ctx context.Context, tx db.Tx, orgID,
	teamID string) error {
	invs, err := pendingInvitations(ctx, tx, orgID, "", p.e.Now())
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if inv.TeamID == nil {
			continue
		}
		ids := ParseRoleList(*inv.TeamID) // the same comma-joined form
		kept := ids[:0]
		for _, id := range ids {
			if id != teamID {
				kept = append(kept, id)
			}
		}
		if len(kept) == len(ids) {
			continue
		}
		var v *string
		if len(kept) > 0 {
			v = strPtr(JoinRoles(kept))
		}
		if _, err := tx.Exec(ctx, "UPDATE invitations SET team_id = $1 WHERE id = $2",
			v, inv.ID); err != nil {
			return err
		}
	}
	return nil
}

func (p *Plugin) hListTeams(ctx context.Context, r *core.Request) (*core.Response, error) {
	orgID, err := teamOrg(r, arg(r, "organizationId"))
	if err != nil {
		return nil, err
	}
	if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID}, check{
		notMember: forbidden("YOU_ARE_NOT_ALLOWED_TO_ACCESS_THIS_ORGANIZATION")}); err != nil {
		return nil, err
	}
	teams, err := orgTeams(ctx, p.e.DB, orgID)
	if err != nil {
		return nil, p.dbErr(ctx, "list teams", err)
	}
	return core.JSON(teams), nil
}

func (p *Plugin) hSetActiveTeam(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		TeamID *string `json:"teamId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	current := activeTeam(r)
	if isNull(r, "teamId") {
		if current != "" {
			if err := setActiveTeam(ctx, p.e.DB, r.Session.ID, nil); err != nil {
				return nil, p.dbErr(ctx, "unset active team", err)
			}
			p.invalidate(ctx, r.User.ID)
		}
		return core.JSON(nil), nil
	}
	teamID := current
	if in.TeamID != nil && *in.TeamID != "" {
		teamID = *in.TeamID
	}
	if teamID == "" {
		return core.JSON(nil), nil
	}
	orgID := activeOrg(r)
	if orgID == "" {
		return nil, errNoActiveOrg
	}
	// A team of an organization the caller is not in reads as missing.
	if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID},
		check{notMember: errTeamNotFound}); err != nil {
		return nil, err
	}
	team, err := loadTeam(ctx, p.e.DB, orgID, teamID)
	if err != nil {
		return nil, p.dbErr(ctx, "load team", err)
	}
	if _, err := teamMember(ctx, p.e.DB, team.ID, r.User.ID); errors.Is(err, db.ErrNoRows) {
		return nil, forbidden("USER_IS_NOT_A_MEMBER_OF_THE_TEAM")
	} else if err != nil {
		return nil, p.dbErr(ctx, "load team member", err)
	}
	if err := setActiveTeam(ctx, p.e.DB, r.Session.ID, &team.ID); err != nil {
		return nil, p.dbErr(ctx, "set active team", err)
	}
	p.invalidate(ctx, r.User.ID)
	return core.JSON(team), nil
}

func (p *Plugin) hListUserTeams(ctx context.Context, r *core.Request) (*core.Response, error) {
	target := arg(r, "userId")
	explicit := arg(r, "organizationId")
	orgID := explicit
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if target != "" && target != r.User.ID {
		if orgID == "" {
			return nil, errNoActiveOrg
		}
		if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("member", "update"), notMember: errNotMemberOfThisOrg,
			denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_UPDATE_THIS_MEMBER")}); err != nil {
			return nil, err
		}
		if _, err := p.authorize(ctx, p.e.DB, target, orgRef{ID: orgID},
			check{notMember: errUserNotMember}); err != nil {
			return nil, err
		}
		return p.userTeams(ctx, target, orgID)
	}
	if explicit != "" {
		if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: explicit},
			check{notMember: errNotMemberOfThisOrg}); err != nil {
			return nil, err
		}
	}
	return p.userTeams(ctx, r.User.ID, explicit)
}

func (p *Plugin) userTeams(ctx context.Context, userID, orgID string) (*core.Response,
	error) {
	teams, err := userTeams(ctx, p.e.DB, userID, orgID)
	if err != nil {
		return nil, p.dbErr(ctx, "list user teams", err)
	}
	return core.JSON(teams), nil
}

func (p *Plugin) hListTeamMembers(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	teamID := arg(r, "teamId")
	if teamID == "" {
		teamID = activeTeam(r)
	}
	if teamID == "" {
		return nil, badRequest("YOU_DO_NOT_HAVE_AN_ACTIVE_TEAM")
	}
	team, err := loadTeam(ctx, p.e.DB, "", teamID)
	if err != nil {
		return nil, p.dbErr(ctx, "load team", err)
	}
	// A team of an organization the caller is not in reads as missing.
	if _, err := p.authorize(ctx, p.e.DB, r.User.ID, orgRef{ID: team.OrganizationID},
		check{notMember: errTeamNotFound}); err != nil {
		return nil, err
	}
	if _, err := teamMember(ctx, p.e.DB, team.ID, r.User.ID); errors.Is(err, db.ErrNoRows) {
		return nil, errNotTeamMember
	} else if err != nil {
		return nil, p.dbErr(ctx, "load team member", err)
	}
	members, err := teamMembers(ctx, p.e.DB, team.ID)
	if err != nil {
		return nil, p.dbErr(ctx, "list team members", err)
	}
	return core.JSON(members), nil
}

// teamMemberInput is the body of add- and remove-team-member.
type teamMemberInput struct {
	TeamID         *string `json:"teamId"`
	UserID         *string `json:"userId"`
	OrganizationID string  `json:"organizationId"`
}

func bindTeamMember(r *core.Request) (teamMemberInput, error) {
	var in teamMemberInput
	if err := r.Bind(&in); err != nil {
		return in, err
	}
	if err := requireString("body.teamId", in.TeamID); err != nil {
		return in, err
	}
	return in, requireString("body.userId", in.UserID)
}

func (p *Plugin) hAddTeamMember(ctx context.Context, r *core.Request) (*core.Response, error) {
	in, err := bindTeamMember(r)
	if err != nil {
		return nil, err
	}
	orgID, err := teamOrg(r, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	var tm *TeamMember
	err = p.inTx(ctx, "add team member", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("member", "update"), notMember: errUserNotMember,
			denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_CREATE_A_NEW_TEAM_MEMBER"),
		}); err != nil {
			return err
		}
		if _, err := p.authorize(ctx, tx, *in.UserID, orgRef{ID: orgID},
			check{notMember: errUserNotMember}); err != nil {
			return err
		}
		team, err := loadTeam(ctx, tx, orgID, *in.TeamID)
		if err != nil {
			return err
		}
		if existing, err := teamMember(ctx, tx, team.ID, *in.UserID); err == nil {
			tm = existing
			return nil
		} else if !errors.Is(err, db.ErrNoRows) {
			return err
		}
		if err := p.teamHasRoom(ctx, tx, team.ID); err != nil {
			return err
		}
		tm, err = addTeamMember(ctx, tx, p.e.NewID(), team.ID, *in.UserID, p.e.Now())
		return err
	})
	if err != nil {
		return nil, err
	}
	return core.JSON(tm), nil
}

func (p *Plugin) hRemoveTeamMember(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	in, err := bindTeamMember(r)
	if err != nil {
		return nil, err
	}
	orgID, err := teamOrg(r, in.OrganizationID)
	if err != nil {
		return nil, err
	}
	var touched []string
	err = p.inTx(ctx, "remove team member", func(tx db.Tx) error {
		if _, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm: Need("member", "delete"), notMember: errUserNotMember,
			denied: forbidden("YOU_ARE_NOT_ALLOWED_TO_REMOVE_A_TEAM_MEMBER"),
		}); err != nil {
			return err
		}
		if _, err := p.authorize(ctx, tx, *in.UserID, orgRef{ID: orgID},
			check{notMember: errUserNotMember}); err != nil {
			return err
		}
		team, err := loadTeam(ctx, tx, orgID, *in.TeamID)
		if err != nil {
			return err
		}
		n, err := tx.Exec(ctx, "DELETE FROM team_members WHERE team_id = $1 AND user_id = $2",
			team.ID, *in.UserID)
		if err != nil {
			return err
		}
		if n == 0 {
			return errNotTeamMember
		}
		touched, err = clearActiveTeam(ctx, tx, team.ID, *in.UserID)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, touched...)
	return core.JSON(map[string]string{"message": "Team member removed successfully."}), nil
}
