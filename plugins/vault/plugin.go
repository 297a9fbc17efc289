package vault

import (
	"context"
	"embed"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

//go:embed migrations
var migrationFS embed.FS

// Prefix is the path every vault route lives under.
const Prefix = "/api/v1/me/encryption-vault"

// Plugin is the encryption-vault plugin. It is safe for concurrent use once
// Init has returned.
type Plugin struct {
	cfg     *core.Config
	e       *core.Engine
	log     *slog.Logger
	keys    *keyring
	metrics *metrics
}

// Interface guards.
var (
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.MigrationProvider = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
	_ core.UserDataProvider  = (*Plugin)(nil)
)

// New returns the vault plugin for cfg. Its KEKs are cfg.KEK (which wraps)
// and cfg.PrevKEKs (which still unwrap); Init checks them.
func New(cfg *core.Config) *Plugin {
	return &Plugin{cfg: cfg, metrics: newMetrics()}
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return "vault" }

// Init implements core.Initializer: it builds the keyring and warns loudly
// about the all-zero development KEK, which production refuses.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	p.e = e
	p.log = e.Logger(p.ID())
	kr, err := newKeyring(p.cfg.KEK, p.cfg.PrevKEKs)
	if err != nil {
		return err
	}
	if allZero(p.cfg.KEK) {
		if p.cfg.Production {
			return &core.ConfigError{Var: "MANA_AUTH_KEK",
				Err: errors.New("the all-zero KEK is not allowed in production")}
		}
		p.log.WarnContext(ctx, "VAULT KEK IS ALL ZEROS: master keys are wrapped with a "+
			"publicly known key and are NOT protected; set MANA_AUTH_KEK",
			slog.String("kek_id", kr.current.id))
	}
	p.keys = kr
	p.log.DebugContext(ctx, "vault keyring ready", slog.String("kek_id", kr.current.id),
		slog.Int("previous", len(kr.byID)-1))
	return nil
}

// CurrentKEKID returns the id of the KEK new wraps are made with.
func (p *Plugin) CurrentKEKID() string { return p.keys.current.id }

// Migrations implements core.MigrationProvider.
func (p *Plugin) Migrations() db.MigrationSet {
	return db.MigrationSet{Owner: "vault", FS: mustSub(migrationFS, "migrations")}
}

// Collectors implements core.MetricsProvider.
func (p *Plugin) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.metrics.ops}
}

// Routes implements core.RouteProvider.
func (p *Plugin) Routes() []core.Route {
	return []core.Route{
		{Method: "GET", Path: Prefix + "/status", Name: "vault/status",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hStatus},
		{Method: "POST", Path: Prefix + "/init", Name: "vault/init",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hInit},
		{Method: "GET", Path: Prefix + "/key", Name: "vault/key",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hKey},
		{Method: "POST", Path: Prefix + "/rotate", Name: "vault/rotate",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hRotate},
		{Method: "POST", Path: Prefix + "/recovery-wrap", Name: "vault/recovery-wrap",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hSetRecoveryWrap},
		{Method: "DELETE", Path: Prefix + "/recovery-wrap",
			Name: "vault/recovery-wrap/delete", Auth: core.AuthRequired, NoStore: true,
			Handler: p.hDeleteRecoveryWrap},
		{Method: "POST", Path: Prefix + "/zero-knowledge", Name: "vault/zero-knowledge",
			Auth: core.AuthRequired, NoStore: true, Handler: p.hZeroKnowledge},
	}
}
