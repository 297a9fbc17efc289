package admin

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// Paging limits of GET /users.
const (
	DefaultLimit = 20
	MaxLimit     = 100
	maxPage      = 1_000_000
	maxSearch    = 200 // characters
)

// hListUsers answers GET /api/v1/admin/users?page=&limit=&search=.
func (p *Plugin) hListUsers(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	if err := p.requireAdmin(ctx, r, "list_users"); err != nil {
		return nil, err
	}
	page, err := intParam(r, "page", 1, 1, maxPage)
	if err != nil {
		return nil, p.invalid("list_users", err)
	}
	limit, err := intParam(r, "limit", DefaultLimit, 1, MaxLimit)
	if err != nil {
		return nil, p.invalid("list_users", err)
	}
	search := strings.TrimSpace(r.Query.Get("search"))
	if utf8.RuneCountInString(search) > maxSearch {
		return nil, p.invalid("list_users", core.ValidationError("query.search",
			"Too big: expected string to have <="+strconv.Itoa(maxSearch)+" characters"))
	}
	out, err := p.listUsers(ctx, search, page, limit)
	if err != nil {
		p.count("list_users", "error")
		return nil, p.e.DBError(ctx, "admin list users", err)
	}
	p.e.Security(ctx, r, r.User.ID, "admin_list_users", "success",
		map[string]any{"page": page, "limit": limit, "search": search != ""})
	p.count("list_users", "success")
	return core.JSON(out), nil
}

// tierBody is the answer of both tier routes.
type tierBody struct {
	UserID string `json:"userId"`
	Tier   string `json:"tier"`
}

// hGetTier answers GET /api/v1/admin/users/{id}/tier.
func (p *Plugin) hGetTier(ctx context.Context, r *core.Request) (*core.Response, error) {
	if err := p.requireAdmin(ctx, r, "get_tier"); err != nil {
		return nil, err
	}
	id := r.Param("id")
	t, err := p.tier(ctx, p.e.DB, id)
	if errors.Is(err, db.ErrNoRows) {
		p.count("get_tier", "not_found")
		return nil, ErrUserNotFound
	}
	if err != nil {
		p.count("get_tier", "error")
		return nil, p.e.DBError(ctx, "admin get tier", err)
	}
	p.e.Security(ctx, r, r.User.ID, "admin_view_tier", "success",
		map[string]any{"target": id})
	p.count("get_tier", "success")
	return core.JSON(tierBody{UserID: id, Tier: t}), nil
}

// hSetTier answers PUT /api/v1/admin/users/{id}/tier with body {tier}.
func (p *Plugin) hSetTier(ctx context.Context, r *core.Request) (*core.Response, error) {
	if err := p.requireAdmin(ctx, r, "set_tier"); err != nil {
		return nil, err
	}
	var in struct {
		Tier string `json:"tier"`
	}
	if err := r.Bind(&in); err != nil {
		return nil, p.invalid("set_tier", err)
	}
	if err := core.Required("tier", in.Tier); err != nil {
		return nil, p.invalid("set_tier", err)
	}
	if !slices.Contains(p.tiers, in.Tier) {
		return nil, p.invalid("set_tier", ErrInvalidTier.WithMessage(
			"Tier must be one of: "+strings.Join(p.tiers, ", ")))
	}
	id := r.Param("id")
	if _, err := p.setTier(ctx, r, id, in.Tier); err != nil {
		if errors.Is(err, db.ErrNoRows) {
			p.count("set_tier", "not_found")
			return nil, ErrUserNotFound
		}
		p.count("set_tier", "error")
		return nil, p.e.DBError(ctx, "admin set tier", err)
	}
	p.count("set_tier", "success")
	return core.JSON(tierBody{UserID: id, Tier: in.Tier}), nil
}

// requireAdmin lets admins through; a refusal of a signed-in user goes to
// the security log.
func (p *Plugin) requireAdmin(ctx context.Context, r *core.Request, action string) error {
	err := core.RequireRole(r, Role)
	if err != nil && r.User != nil {
		p.e.Security(ctx, r, r.User.ID, "admin_access_denied", "failure",
			map[string]any{"route": r.Route.Name, "target": r.Param("id")})
		p.count(action, "denied")
	}
	return err
}

// intParam reads an optional whole-number query parameter within [lo, hi].
func intParam(r *core.Request, name string, def, lo, hi int) (int, error) {
	s := r.Query.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, core.ValidationError("query."+name, "Invalid input: expected a whole "+
			"number from "+strconv.Itoa(lo)+" to "+strconv.Itoa(hi))
	}
	return n, nil
}

func (p *Plugin) invalid(action string, err error) error {
	p.count(action, "invalid")
	return err
}

func (p *Plugin) count(action, outcome string) {
	p.m.actions.WithLabelValues(action, outcome).Inc()
}
