package jwt

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// ID is the plugin's id and build-tag suffix (mana_omit_jwt).
const ID = "jwt"

// Plugin signs and verifies the EdDSA access tokens, serves /token and
// /jwks, adds set-auth-jwt to get-session and serves the v1 token API. It
// is safe for concurrent use after Init.
type Plugin struct {
	cfg     *core.Config
	set     Settings
	setErr  error
	getenv  func(string) string
	e       *core.Engine
	log     *slog.Logger
	metrics *metrics

	keys     atomic.Pointer[keySet]
	mu       sync.Mutex   // serialises reloads and rotations
	lastMiss atomic.Int64 // unix nanos of the last unknown-kid reload

	stop context.CancelFunc
	done chan struct{}
}

var (
	_ core.Plugin            = (*Plugin)(nil)
	_ core.Initializer       = (*Plugin)(nil)
	_ core.MigrationProvider = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.HookProvider      = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
	_ core.RateLimitProvider = (*Plugin)(nil)
	_ core.Starter           = (*Plugin)(nil)
	_ core.Stopper           = (*Plugin)(nil)
)

// New builds the plugin. Its settings come from the JWT_* environment
// variables (see Settings); a bad value makes Init fail with a
// *core.ConfigError naming the variable.
func New(cfg *core.Config, opts ...Option) *Plugin {
	p := &Plugin{cfg: cfg, metrics: newMetrics()}
	for _, o := range opts {
		o(p)
	}
	p.set, p.setErr = loadSettings(cfg, p.getenv)
	return p
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return ID }

// Settings returns the settings in force.
func (p *Plugin) Settings() Settings { return p.set }

// Init implements core.Initializer.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	if p.setErr != nil {
		return p.setErr
	}
	p.e = e
	p.log = e.Logger(ID)
	return nil
}

// Migrations implements core.MigrationProvider: the jwks table.
func (p *Plugin) Migrations() db.MigrationSet {
	return db.MigrationSet{Owner: ID, FS: migrationFiles}
}

// RateLimits implements core.RateLimitProvider. Login, register and
// two-factor already have the core's strict rules.
func (p *Plugin) RateLimits() []core.RateRule {
	return []core.RateRule{
		{Pattern: v1Base + "/refresh", Window: 10 * time.Second, Max: 10},
	}
}

// Start loads the keys and re-reads them every ReloadInterval, so a
// rotation by another instance (or `mana-auth keys rotate`) is picked up.
func (p *Plugin) Start(ctx context.Context) error {
	if err := p.Reload(ctx); err != nil {
		p.log.WarnContext(ctx, "loading signing keys", "err", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	p.stop, p.done = cancel, make(chan struct{})
	go p.reloadLoop(ctx)
	return nil
}

func (p *Plugin) reloadLoop(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.set.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.Reload(ctx); err != nil && ctx.Err() == nil {
			p.log.WarnContext(ctx, "reloading signing keys", "err", err)
		}
	}
}

// Stop ends the reload loop.
func (p *Plugin) Stop(ctx context.Context) error {
	if p.stop == nil {
		return nil
	}
	p.stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
