package organization

import (
	"context"
	"embed"
	"io/fs"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// ID is the plugin's id: its build tag is mana_omit_organization.
const ID = "organization"

//go:embed migrations
var migrationFiles embed.FS

// Plugin is the organization plugin. It is safe for concurrent use once
// the engine has initialised it.
type Plugin struct {
	cfg     *core.Config
	opts    Options
	optErr  error
	e       *core.Engine
	log     *slog.Logger
	metrics *metrics
}

// Interface guards.
var (
	_ core.Plugin            = (*Plugin)(nil)
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.MigrationProvider = (*Plugin)(nil)
	_ core.FieldProvider     = (*Plugin)(nil)
	_ core.UserDataProvider  = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
)

// Option changes the options New read from the environment.
type Option func(*Options)

// New builds the plugin from the configuration and the ORGANIZATION_* and
// INVITATION_URL environment variables (see LoadOptions), then applies
// opts. A bad setting is reported by Init.
func New(cfg *core.Config, opts ...Option) *Plugin {
	o, err := LoadOptions(cfg.Env)
	for _, fn := range opts {
		fn(&o)
	}
	return &Plugin{cfg: cfg, opts: o, optErr: err, metrics: newMetrics()}
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return ID }

// Options returns the options in effect.
func (p *Plugin) Options() Options { return p.opts }

// Init implements core.Initializer: it validates the options.
func (p *Plugin) Init(_ context.Context, e *core.Engine) error {
	if p.optErr != nil {
		return p.optErr
	}
	if err := p.opts.validate(); err != nil {
		return err
	}
	p.e = e
	p.log = e.Logger(ID)
	return nil
}

// Migrations implements core.MigrationProvider.
func (p *Plugin) Migrations() db.MigrationSet {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the embedded folder always exists
	}
	return db.MigrationSet{Owner: ID, FS: sub}
}

// UserFields implements core.FieldProvider: the plugin adds none.
func (p *Plugin) UserFields() []core.Field { return nil }

// SessionFields implements core.FieldProvider: the active organization,
// and the active team when teams are enabled.
func (p *Plugin) SessionFields() []core.Field {
	f := []core.Field{{Column: "active_organization_id", JSON: "activeOrganizationId",
		Kind: core.FieldString}}
	if p.opts.Teams.Enabled {
		f = append(f, core.Field{Column: "active_team_id", JSON: "activeTeamId",
			Kind: core.FieldString})
	}
	return f
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector { return p.metrics.collectors() }

// activeOrg returns the session's active organization id, or "".
func activeOrg(r *core.Request) string { return sessionField(r, "activeOrganizationId") }

// activeTeam returns the session's active team id, or "".
func activeTeam(r *core.Request) string { return sessionField(r, "activeTeamId") }

func sessionField(r *core.Request, name string) string {
	if r.Session == nil {
		return ""
	}
	s, _ := r.Session.Fields[name].(string)
	return s
}
