package gdpr

import (
	"bytes"
	"context"
	"encoding/json"

	"github.com/mana/mana-auth/core"
)

// AdminRole is the users.role value the admin routes need.
const AdminRole = "admin"

// hSummary answers GET /api/v1/me/data.
func (p *Plugin) hSummary(ctx context.Context, r *core.Request) (*core.Response, error) {
	out, err := p.collect(ctx, r.User, false)
	if err != nil {
		p.count("summary", "error")
		return nil, err
	}
	p.count("summary", outcome(out))
	return core.JSON(out), nil
}

// hExport answers GET /api/v1/me/data/export: one JSON document, as a
// download named after today's date.
func (p *Plugin) hExport(ctx context.Context, r *core.Request) (*core.Response, error) {
	out, err := p.collect(ctx, r.User, true)
	if err != nil {
		p.count("export", "error")
		return nil, err
	}
	now := p.e.Now().UTC()
	out["exportedAt"] = core.Time{Time: now}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		p.log.ErrorContext(ctx, "encoding export", "err", err)
		p.count("export", "error")
		return nil, core.ErrInternal
	}
	resp := &core.Response{Raw: buf.Bytes()}
	resp.SetHeader("Content-Type", "application/json; charset=utf-8")
	resp.SetHeader("Content-Disposition",
		`attachment; filename="mana-data-`+now.Format("2006-01-02")+`.json"`)
	p.e.Security(ctx, r, r.User.ID, "gdpr_export", "success",
		map[string]any{"partial": out["partial"]})
	p.count("export", outcome(out))
	return resp, nil
}

// hErase answers DELETE /api/v1/me/data: the signed-in user, everywhere.
func (p *Plugin) hErase(ctx context.Context, r *core.Request) (*core.Response, error) {
	if err := p.confirm(ctx, r, r.User.ID); err != nil {
		p.count("erase", "refused")
		return nil, err
	}
	res, err := p.erase(ctx, r, r.User.ID)
	if err != nil {
		p.count("erase", "error")
		return nil, err
	}
	p.count("erase", "success")
	resp := core.JSON(res)
	resp.Cookies = p.e.Cookies.ClearSession()
	return resp, nil
}

// hAdminSummary answers GET /api/v1/admin/users/{id}/data.
func (p *Plugin) hAdminSummary(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	if err := p.requireAdmin(ctx, r); err != nil {
		return nil, err
	}
	u, err := p.userByID(ctx, r.Param("id"))
	if err != nil {
		return nil, err
	}
	out, err := p.collect(ctx, u, false)
	if err != nil {
		p.count("admin_summary", "error")
		return nil, err
	}
	p.e.Security(ctx, r, r.User.ID, "admin_view_user_data", "success",
		map[string]any{"target": u.ID})
	p.count("admin_summary", outcome(out))
	return core.JSON(out), nil
}

// hAdminErase answers DELETE /api/v1/admin/users/{id}/data. The admin
// proves presence as a user erasing their own data would: a fresh session
// or their own password.
func (p *Plugin) hAdminErase(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	if err := p.requireAdmin(ctx, r); err != nil {
		return nil, err
	}
	u, err := p.userByID(ctx, r.Param("id"))
	if err != nil {
		return nil, err
	}
	if err := p.confirm(ctx, r, u.ID); err != nil {
		p.count("admin_erase", "refused")
		return nil, err
	}
	res, err := p.erase(ctx, r, u.ID)
	if err != nil {
		p.count("admin_erase", "error")
		return nil, err
	}
	p.count("admin_erase", "success")
	resp := core.JSON(res)
	if u.ID == r.User.ID {
		resp.Cookies = p.e.Cookies.ClearSession()
	}
	return resp, nil
}

// requireAdmin lets admins through; a refusal goes to the security log.
func (p *Plugin) requireAdmin(ctx context.Context, r *core.Request) error {
	err := core.RequireRole(r, AdminRole)
	if err != nil && r.User != nil {
		p.e.Security(ctx, r, r.User.ID, "admin_access_denied", "failure",
			map[string]any{"route": r.Route.Name, "target": r.Param("id")})
	}
	return err
}

func (p *Plugin) count(action, result string) {
	p.m.requests.WithLabelValues(action, result).Inc()
}

// outcome labels a collected answer: "partial" when a remote was down.
func outcome(out map[string]any) string {
	if partial, _ := out["partial"].(bool); partial {
		return "partial"
	}
	return "success"
}
