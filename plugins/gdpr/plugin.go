package gdpr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
)

// Paths of the plugin's routes.
const (
	MePath    = "/api/v1/me/data"
	AdminPath = "/api/v1/admin/users/{id}/data"
)

// Outbox job kinds: one remote erasure each. The payload is
// {"userId": "…"}.
const (
	KindEraseCredits = "gdpr.erase.credits"
	KindEraseSync    = "gdpr.erase.sync"
)

// Timeouts of remote reads: a summary must answer quickly, an export may
// wait longer for a complete document.
const (
	summaryTimeout = 3 * time.Second
	exportTimeout  = 15 * time.Second
)

// Plugin is the GDPR plugin. It is safe for concurrent use once Init has
// returned.
type Plugin struct {
	cfg     *core.Config
	e       *core.Engine
	log     *slog.Logger
	m       *metrics
	credits *creditsClient // nil without MANA_CREDITS_URL
	sync    *syncStore     // nil without SYNC_DATABASE_URL
}

// Interface guards.
var (
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.RateLimitProvider = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
	_ core.OutboxHandler     = (*Plugin)(nil)
	_ core.Stopper           = (*Plugin)(nil)
)

// New returns the GDPR plugin. Its remote sources are cfg.CreditsURL (with
// cfg.ServiceKey) and cfg.SyncDBURL; either may be empty.
func New(cfg *core.Config) *Plugin {
	return &Plugin{cfg: cfg, m: newMetrics()}
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return "gdpr" }

// Init implements core.Initializer: it checks the remote settings. Nothing
// is contacted yet; the sync database is opened on first use, so a remote
// that is down never stops the server.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	p.e = e
	p.log = e.Logger(p.ID())
	if p.cfg.CreditsURL != "" {
		u, err := url.Parse(p.cfg.CreditsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return &core.ConfigError{Var: "MANA_CREDITS_URL",
				Err: errors.New("not an http(s) URL")}
		}
		if p.cfg.ServiceKey == "" {
			p.log.WarnContext(ctx, "MANA_CREDITS_URL is set without MANA_SERVICE_KEY; "+
				"mana-credits will refuse our calls")
		}
		p.credits = newCreditsClient(p.cfg.CreditsURL, p.cfg.ServiceKey)
	}
	if p.cfg.SyncDBURL != "" {
		s, err := newSyncStore(p.cfg.SyncDBURL, p.log)
		if err != nil {
			return &core.ConfigError{Var: "SYNC_DATABASE_URL", Err: err}
		}
		p.sync = s
	}
	return nil
}

// Stop implements core.Stopper: it closes the sync database pool.
func (p *Plugin) Stop(ctx context.Context) error {
	if p.sync != nil {
		return p.sync.Close()
	}
	return nil
}

// Routes implements core.RouteProvider. Erasure and the admin routes read
// the session from the database (AuthSensitive), never from a cache.
func (p *Plugin) Routes() []core.Route {
	return []core.Route{
		{Method: "GET", Path: MePath, Name: "gdpr/summary", Auth: core.AuthRequired,
			NoStore: true, Handler: p.hSummary},
		{Method: "GET", Path: MePath + "/export", Name: "gdpr/export",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hExport},
		{Method: "DELETE", Path: MePath, Name: "gdpr/erase", Auth: core.AuthSensitive,
			NoStore: true, Handler: p.hErase},
		{Method: "GET", Path: AdminPath, Name: "admin/user-data",
			Auth: core.AuthSensitive, NoStore: true, Handler: p.hAdminSummary},
		{Method: "DELETE", Path: AdminPath, Name: "admin/user-data/erase",
			Auth: core.AuthSensitive, NoStore: true, Handler: p.hAdminErase},
	}
}

// RateLimits implements core.RateLimitProvider. Summaries and exports call
// remote services and read every table; erasure takes a password.
func (p *Plugin) RateLimits() []core.RateRule {
	return []core.RateRule{
		{Pattern: MePath + "/export", Window: time.Minute, Max: 5},
		{Pattern: MePath, Window: time.Minute, Max: 10},
	}
}

// OutboxKinds implements core.OutboxHandler: the remote erasures.
func (p *Plugin) OutboxKinds() map[string]func(context.Context, []byte) error {
	return map[string]func(context.Context, []byte) error{
		KindEraseCredits: p.runEraseCredits,
		KindEraseSync:    p.runEraseSync,
	}
}

// validSyncURL reports whether a SYNC_DATABASE_URL names a dialect db.Open
// speaks.
func validSyncURL(s string) error {
	for _, pre := range []string{"postgres://", "postgresql://", "sqlite:"} {
		if strings.HasPrefix(s, pre) {
			return nil
		}
	}
	return fmt.Errorf("want postgres://…, postgresql://… or sqlite:path")
}
