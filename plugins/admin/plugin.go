package admin

import (
	"context"
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"slices"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

//go:embed migrations
var migrationFiles embed.FS

// Prefix is the path every admin route of this plugin lives under.
const Prefix = "/api/v1/admin"

// Role is the users.role value the admin routes need.
const Role = "admin"

// Plugin is the admin plugin. It is safe for concurrent use once Init has
// returned.
type Plugin struct {
	cfg   *core.Config
	e     *core.Engine
	log   *slog.Logger
	m     *metrics
	tiers []string
}

// Interface guards.
var (
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.MigrationProvider = (*Plugin)(nil)
	_ core.FieldProvider     = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
)

// New returns the admin plugin. The tiers are cfg.AccessTiers; the first is
// the default.
func New(cfg *core.Config) *Plugin {
	return &Plugin{cfg: cfg, m: newMetrics(), tiers: cfg.AccessTiers}
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return "admin" }

// Init implements core.Initializer: ACCESS_TIERS must name at least one
// tier, each once.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	p.e = e
	p.log = e.Logger(p.ID())
	if len(p.tiers) == 0 {
		return &core.ConfigError{Var: "ACCESS_TIERS", Err: errors.New("no tier")}
	}
	for i, t := range p.tiers {
		if t == "" || slices.Contains(p.tiers[:i], t) {
			return &core.ConfigError{Var: "ACCESS_TIERS",
				Err: errors.New("tiers must be non-empty and distinct")}
		}
	}
	return nil
}

// DefaultTier is the tier of a user who was never given one.
func (p *Plugin) DefaultTier() string { return p.tiers[0] }

// Migrations implements core.MigrationProvider.
func (p *Plugin) Migrations() db.MigrationSet {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic("admin: " + err.Error()) // unreachable: the folder is embedded
	}
	return db.MigrationSet{Owner: "admin", FS: sub}
}

// UserFields implements core.FieldProvider: accessTier on every user, null
// for the default tier.
func (p *Plugin) UserFields() []core.Field {
	return []core.Field{{Column: "access_tier", JSON: "accessTier",
		Kind: core.FieldString}}
}

// SessionFields implements core.FieldProvider; sessions get no column.
func (p *Plugin) SessionFields() []core.Field { return nil }

// Routes implements core.RouteProvider. Every route reads the session from
// the database (AuthSensitive), so a role taken away counts at once.
func (p *Plugin) Routes() []core.Route {
	return []core.Route{
		{Method: "GET", Path: Prefix + "/users", Name: "admin/users",
			Auth: core.AuthSensitive, NoStore: true, Handler: p.hListUsers},
		{Method: "GET", Path: Prefix + "/users/{id}/tier", Name: "admin/tier",
			Auth: core.AuthSensitive, NoStore: true, Handler: p.hGetTier},
		{Method: "PUT", Path: Prefix + "/users/{id}/tier", Name: "admin/tier/set",
			Auth: core.AuthSensitive, NoStore: true, Handler: p.hSetTier},
	}
}
