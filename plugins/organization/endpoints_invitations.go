package organization

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
)

// The recipient rule: an invitation is accepted, rejected or viewed only by
// a signed-in user whose email equals the invited address AND is verified.
// The invitation id alone (the mailed link) is never enough, and an
// unverified account cannot claim an address it does not control.

func (p *Plugin) hInviteMember(ctx context.Context, r *core.Request) (*core.Response, error) {
	var in struct {
		Email          *string         `json:"email"`
		Role           json.RawMessage `json:"role"`
		OrganizationID string          `json:"organizationId"`
		Resend         bool            `json:"resend"`
		TeamID         json.RawMessage `json:"teamId"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, err
	}
	if err := requireString("body.email", in.Email); err != nil {
		return nil, err
	}
	if len(in.Role) == 0 {
		return nil, core.ValidationError("body.role", "Invalid input")
	}
	roleList, err := stringList(in.Role, "body.role")
	if err != nil {
		return nil, err
	}
	teamIDs, err := stringList(in.TeamID, "body.teamId")
	if err != nil {
		return nil, err
	}
	orgID := in.OrganizationID
	if orgID == "" {
		orgID = activeOrg(r)
	}
	if orgID == "" {
		return nil, errOrgNotFound
	}
	email, err := core.NormalizeEmail(*in.Email)
	if err != nil {
		return nil, core.ErrInvalidEmail
	}
	roles := ParseRoleList(JoinRoles(roleList))
	if len(roles) == 0 {
		return nil, errRoleNotFound
	}

	now := p.e.Now()
	var inv *Invitation
	var org *Organization
	resent := false
	err = p.inTx(ctx, "invite member", func(tx db.Tx) error {
		inviter, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: orgID}, check{
			perm:      Need("invitation", "create"),
			notMember: errMemberNotFound,
			denied:    forbidden("YOU_ARE_NOT_ALLOWED_TO_INVITE_USERS_TO_THIS_ORGANIZATION"),
		})
		if err != nil {
			return err
		}
		unknown, err := p.unknownRoleNames(ctx, tx, orgID, roles)
		if err != nil {
			return err
		}
		if len(unknown) > 0 {
			return unknownRoles(unknown)
		}
		creator := p.opts.Roles.IsCreator(inviter.Role)
		errCreatorRole := forbidden("YOU_ARE_NOT_ALLOWED_TO_INVITE_USER_WITH_THIS_ROLE")
		if !creator && slices.Contains(roles, p.opts.Roles.Creator) {
			return errCreatorRole
		}
		if _, err := memberByEmail(ctx, tx, orgID, email); err == nil {
			return errAlreadyMember
		} else if !errors.Is(err, db.ErrNoRows) {
			return err
		}
		pending, err := pendingInvitations(ctx, tx, orgID, email, now)
		if err != nil {
			return err
		}
		if len(pending) > 0 && !in.Resend && !p.opts.CancelPendingOnReInvite {
			return badRequest("USER_IS_ALREADY_INVITED_TO_THIS_ORGANIZATION")
		}
		if org, err = orgByID(ctx, tx, orgID); err != nil {
			return err
		}
		if len(pending) > 0 && in.Resend {
			inv = pending[0]
			if !creator && p.opts.Roles.IsCreator(inv.Role) {
				return errCreatorRole
			}
			inv.ExpiresAt = now.Add(p.opts.InvitationExpiresIn)
			resent = true
			if err := setInvitationExpiry(ctx, tx, inv.ID, inv.ExpiresAt); err != nil {
				return err
			}
			p.e.SecurityTx(ctx, tx, r, r.User.ID, "invitation_sent", "resent",
				map[string]any{"organizationId": orgID, "invitationId": inv.ID})
			return nil
		}
		for _, old := range pending { // only with CancelPendingOnReInvite
			if _, err := transitionInvitation(ctx, tx, old.ID, StatusPending, StatusCanceled,
				nil); err != nil && !errors.Is(err, db.ErrNoRows) {
				return err
			}
		}
		all, err := pendingInvitations(ctx, tx, orgID, "", now)
		if err != nil {
			return err
		}
		if len(all) >= p.opts.InvitationLimit {
			return forbidden("INVITATION_LIMIT_REACHED")
		}
		teamID, err := p.checkInviteTeams(ctx, tx, orgID, teamIDs)
		if err != nil {
			return err
		}
		inv = &Invitation{ID: p.e.NewID(), OrganizationID: orgID, Email: email,
			Role: strings.Join(roles, ","), TeamID: teamID, Status: StatusPending,
			ExpiresAt: now.Add(p.opts.InvitationExpiresIn), CreatedAt: now,
			InviterID: r.User.ID}
		if err := insertInvitation(ctx, tx, inv); err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "invitation_sent", "success",
			map[string]any{"organizationId": orgID, "invitationId": inv.ID, "role": inv.Role})
		return nil
	})
	if err != nil {
		return nil, err
	}

	p.e.SendMail(mail.KindInvitation, inv.Email, mail.Data{
		URL: p.opts.invitationLink(p.cfg.BaseURL, inv.ID), OrgName: org.Name,
		InviterName: r.User.Name, Email: inv.Email, ExpiresIn: p.opts.InvitationExpiresIn})
	if resent {
		p.metrics.invitations.WithLabelValues("resent").Inc()
	} else {
		p.metrics.invitations.WithLabelValues("sent").Inc()
	}
	return core.JSON(p.invitationView(inv)), nil
}

// checkInviteTeams validates the teams an invitation adds the invitee to
// and returns them comma-joined (nil for none). Without teams they are
// ignored, as in Better Auth.
func (p *Plugin) checkInviteTeams(ctx context.Context, tx db.Tx, orgID string,
	ids []string) (*string, error) {
	if !p.opts.Teams.Enabled || len(ids) == 0 {
		return nil, nil
	}
	for _, id := range ids {
		if strings.Contains(id, ",") {
			return nil, badRequest("INVALID_TEAM_ID")
		}
		if _, err := teamByID(ctx, tx, orgID, id); errors.Is(err, db.ErrNoRows) {
			return nil, errTeamNotFound
		} else if err != nil {
			return nil, err
		}
		if err := p.teamHasRoom(ctx, tx, id); err != nil {
			return nil, err
		}
	}
	joined := strings.Join(ids, ",")
	return &joined, nil
}

// teamHasRoom returns errTeamMemberLimit when a team is full.
func (p *Plugin) teamHasRoom(ctx context.Context, q db.Querier, teamID string) error {
	max := p.opts.Teams.MaximumMembersPerTeam
	if max <= 0 {
		return nil
	}
	n, err := count(ctx, q, "SELECT count(*) FROM team_members WHERE team_id = $1", teamID)
	if err != nil {
		return err
	}
	if n >= max {
		return errTeamMemberLimit
	}
	return nil
}

// recipientInvitation loads an invitation for its recipient: it must
// exist and be pending (and unexpired when live), the session's email must
// be the invited address, and that email must be verified.
func (p *Plugin) recipientInvitation(ctx context.Context, r *core.Request, id string,
	live bool, notFound, unverified *core.APIError) (*Invitation, error) {
	inv, err := invitationByID(ctx, p.e.DB, id)
	if errors.Is(err, db.ErrNoRows) {
		return nil, notFound
	}
	if err != nil {
		return nil, p.dbErr(ctx, "load invitation", err)
	}
	if inv.Status != StatusPending || (live && !inv.ExpiresAt.After(p.e.Now())) {
		return nil, notFound
	}
	if !strings.EqualFold(inv.Email, r.User.Email) {
		return nil, errNotRecipient
	}
	if !r.User.EmailVerified {
		return nil, unverified
	}
	return inv, nil
}

func invitationIDArg(r *core.Request) (string, error) {
	var in struct {
		InvitationID *string `json:"invitationId"`
	}
	if err := r.Bind(&in); err != nil {
		return "", err
	}
	if err := requireString("body.invitationId", in.InvitationID); err != nil {
		return "", err
	}
	return *in.InvitationID, nil
}

var errVerifyToRespond = forbidden(
	"EMAIL_VERIFICATION_REQUIRED_BEFORE_ACCEPTING_OR_REJECTING_INVITATION")

// invitationAnswer is the body of accept- and reject-invitation.
type invitationAnswer struct {
	Invitation invitationJSON `json:"invitation"`
	Member     *Member        `json:"member"`
}

func (p *Plugin) hAcceptInvitation(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	id, err := invitationIDArg(r)
	if err != nil {
		return nil, err
	}
	inv, err := p.recipientInvitation(ctx, r, id, true, errInvitationNotFound,
		errVerifyToRespond)
	if err != nil {
		return nil, err
	}

	now := p.e.Now()
	member := &Member{ID: p.e.NewID(), OrganizationID: inv.OrganizationID, UserID: r.User.ID,
		CreatedAt: core.Time{Time: now}}
	var accepted *Invitation
	err = p.inTx(ctx, "accept invitation", func(tx db.Tx) error {
		if err := lockOrg(ctx, tx, inv.OrganizationID); errors.Is(err, db.ErrNoRows) {
			return errInvitationNotFound
		} else if err != nil {
			return err
		}
		// The one conditional statement that consumes the invitation: of two
		// racing accepts, only one finds it pending.
		accepted, err = transitionInvitation(ctx, tx, id, StatusPending, StatusAccepted, &now)
		if errors.Is(err, db.ErrNoRows) {
			return errInvitationNotFound
		}
		if err != nil {
			return err
		}
		n, err := countMembers(ctx, tx, inv.OrganizationID)
		if err != nil {
			return err
		}
		if n >= p.opts.MembershipLimit {
			return errMembershipLimit
		}
		member.Role = JoinRoles([]string{accepted.Role})
		if err := insertMember(ctx, tx, member); errors.Is(err, db.ErrConflict) {
			return errAlreadyMember
		} else if err != nil {
			return err
		}
		teamID, err := p.joinInvitedTeams(ctx, tx, accepted, r.User.ID, now)
		if err != nil {
			return err
		}
		if err := setActive(ctx, tx, r.Session.ID, &accepted.OrganizationID,
			teamID); err != nil {
			return err
		}
		detail := map[string]any{"organizationId": accepted.OrganizationID,
			"invitationId": accepted.ID, "memberId": member.ID, "role": member.Role}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "invitation_accepted", "success", detail)
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "member_added", "success", detail)
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.invalidate(ctx, r.User.ID)
	p.metrics.invitations.WithLabelValues("accepted").Inc()
	return core.JSON(invitationAnswer{Invitation: p.invitationView(accepted),
		Member: member}), nil
}

// joinInvitedTeams adds an accepting user to the invitation's teams and
// returns the team to make active: the only one, or none.
func (p *Plugin) joinInvitedTeams(ctx context.Context, tx db.Tx, inv *Invitation,
	userID string, now time.Time) (*string, error) {
	if !p.opts.Teams.Enabled || inv.TeamID == nil || *inv.TeamID == "" {
		return nil, nil
	}
	ids := strings.Split(*inv.TeamID, ",")
	for _, id := range ids {
		if _, err := teamByID(ctx, tx, inv.OrganizationID, id); errors.Is(err, db.ErrNoRows) {
			return nil, errTeamNotFound
		} else if err != nil {
			return nil, err
		}
		if err := p.teamHasRoom(ctx, tx, id); err != nil {
			return nil, err
		}
		if _, err := addTeamMember(ctx, tx, p.e.NewID(), id, userID, now); err != nil {
			return nil, err
		}
	}
	if len(ids) == 1 {
		return &ids[0], nil
	}
	return nil, nil
}

func (p *Plugin) hRejectInvitation(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	id, err := invitationIDArg(r)
	if err != nil {
		return nil, err
	}
	notFound := errInvitationNotFound.WithMessage("Invitation not found!")
	if _, err := p.recipientInvitation(ctx, r, id, false, notFound,
		errVerifyToRespond); err != nil {
		return nil, err
	}
	var rejected *Invitation
	err = p.inTx(ctx, "reject invitation", func(tx db.Tx) error {
		var err error
		rejected, err = transitionInvitation(ctx, tx, id, StatusPending, StatusRejected, nil)
		if errors.Is(err, db.ErrNoRows) {
			return notFound
		}
		if err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "invitation_rejected", "success",
			map[string]any{"organizationId": rejected.OrganizationID, "invitationId": id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.metrics.invitations.WithLabelValues("rejected").Inc()
	return core.JSON(invitationAnswer{Invitation: p.invitationView(rejected)}), nil
}

func (p *Plugin) hCancelInvitation(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	id, err := invitationIDArg(r)
	if err != nil {
		return nil, err
	}
	inv, err := invitationByID(ctx, p.e.DB, id)
	if errors.Is(err, db.ErrNoRows) {
		return nil, errInvitationNotFound
	}
	if err != nil {
		return nil, p.dbErr(ctx, "load invitation", err)
	}
	var canceled *Invitation
	err = p.inTx(ctx, "cancel invitation", func(tx db.Tx) error {
		// An invitation of an organization the caller is not in reads as
		// missing.
		_, err := p.authorize(ctx, tx, r.User.ID, orgRef{ID: inv.OrganizationID}, check{
			perm:      Need("invitation", "cancel"),
			notMember: errInvitationNotFound,
			denied:    forbidden("YOU_ARE_NOT_ALLOWED_TO_CANCEL_THIS_INVITATION"),
		})
		if err != nil {
			return err
		}
		canceled, err = transitionInvitation(ctx, tx, id, StatusPending, StatusCanceled, nil)
		if errors.Is(err, db.ErrNoRows) {
			return errInvitationNotFound
		}
		if err != nil {
			return err
		}
		p.e.SecurityTx(ctx, tx, r, r.User.ID, "invitation_canceled", "success",
			map[string]any{"organizationId": inv.OrganizationID, "invitationId": id})
		return nil
	})
	if err != nil {
		return nil, err
	}
	p.metrics.invitations.WithLabelValues("canceled").Inc()
	return core.JSON(p.invitationView(canceled)), nil
}

// invitationDetail is get-invitation's answer.
type invitationDetail struct {
	invitationJSON
	OrganizationName string `json:"organizationName"`
	OrganizationSlug string `json:"organizationSlug"`
	InviterEmail     string `json:"inviterEmail"`
}

func (p *Plugin) hGetInvitation(ctx context.Context, r *core.Request) (*core.Response, error) {
	if r.Session == nil {
		return nil, core.ErrUnauthorized.WithMessage("Not authenticated")
	}
	id := arg(r, "id")
	if id == "" {
		return nil, core.MissingField("query.id", "string")
	}
	inv, err := p.recipientInvitation(ctx, r, id, true, errInvitationNotFound,
		forbidden("EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION"))
	if err != nil {
		return nil, err
	}
	org, err := orgByID(ctx, p.e.DB, inv.OrganizationID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, errOrgNotFound
	}
	if err != nil {
		return nil, p.dbErr(ctx, "load organization", err)
	}
	inviter, err := p.authorize(ctx, p.e.DB, inv.InviterID, orgRef{ID: org.ID}, check{
		notMember: badRequest("INVITER_IS_NO_LONGER_A_MEMBER_OF_THE_ORGANIZATION")})
	if err != nil {
		return nil, err
	}
	return core.JSON(invitationDetail{invitationJSON: p.invitationView(inv),
		OrganizationName: org.Name, OrganizationSlug: org.Slug,
		InviterEmail: inviter.User.Email}), nil
}

func (p *Plugin) hListInvitations(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	ref := orgRef{ID: arg(r, "organizationId")}
	if ref.ID == "" {
		ref.ID = activeOrg(r)
	}
	if ref.ID == "" {
		return nil, &core.APIError{Status: http.StatusBadRequest,
			Message: "Organization ID is required"}
	}
	m, err := p.authorize(ctx, p.e.DB, r.User.ID, ref, check{
		perm:      Need("invitation", "create"),
		notMember: errNotMemberOfThisOrg,
		denied:    forbidden("YOU_ARE_NOT_ALLOWED_TO_LIST_INVITATIONS"),
	})
	if err != nil {
		return nil, err
	}
	invs, err := p.invitationsFor(ctx, m)
	if err != nil {
		return nil, err
	}
	return core.JSON(p.invitationViews(invs)), nil
}

// invitationsFor returns the invitations of m's organization, without those
// granting the creator role unless m holds it. The caller has checked that
// m may create invitations.
func (p *Plugin) invitationsFor(ctx context.Context, m *Member) ([]*Invitation, error) {
	invs, err := orgInvitations(ctx, p.e.DB, m.OrganizationID)
	if err != nil {
		return nil, p.dbErr(ctx, "list invitations", err)
	}
	if p.opts.Roles.IsCreator(m.Role) {
		return invs, nil
	}
	out := invs[:0]
	for _, inv := range invs {
		if !p.opts.Roles.IsCreator(inv.Role) {
			out = append(out, inv)
		}
	}
	return out, nil
}

// userInvitation is one entry of list-user-invitations.
type userInvitation struct {
	invitationJSON
	OrganizationName string `json:"organizationName"`
}

func (p *Plugin) hListUserInvitations(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	if arg(r, "email") != "" {
		return nil, &core.APIError{Status: http.StatusBadRequest,
			Message: "User email cannot be passed for client side API calls."}
	}
	if r.Session == nil {
		return nil, &core.APIError{Status: http.StatusBadRequest,
			Message: "Missing session headers, or email query parameter."}
	}
	if !r.User.EmailVerified {
		return nil, forbidden("EMAIL_VERIFICATION_REQUIRED_FOR_INVITATION")
	}
	rows, err := p.e.DB.Query(ctx, "SELECT "+invitationCols+", o.name FROM invitations i "+
		"JOIN organizations o ON o.id = i.organization_id WHERE i.email = $1 "+
		"AND i.status = 'pending' AND i.expires_at > $2 ORDER BY i.created_at, i.id",
		r.User.Email, p.e.Now())
	if err != nil {
		return nil, p.dbErr(ctx, "list user invitations", err)
	}
	defer rows.Close()
	out := []userInvitation{}
	for rows.Next() {
		var name string
		inv, err := scanInvitation(rows, &name)
		if err != nil {
			return nil, p.dbErr(ctx, "list user invitations", err)
		}
		out = append(out, userInvitation{invitationJSON: p.invitationView(inv),
			OrganizationName: name})
	}
	if err := rows.Err(); err != nil {
		return nil, p.dbErr(ctx, "list user invitations", err)
	}
	return core.JSON(out), nil
}
