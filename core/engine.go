package core

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/origin"
	"github.com/mana/mana-auth/core/password"
	"github.com/mana/mana-auth/core/secure"
)

// Engine is the core of mana-auth: users, credential accounts, sessions,
// verification tokens, cookies and password hashing. Plugins extend it
// through the interfaces in plugin.go. An Engine is safe for concurrent use
// once Init has returned.
type Engine struct {
	Config    *Config
	DB        db.DB
	Secrets   *secure.Secrets
	Passwords *password.Hasher
	Mail      mail.Sender
	Origins   *origin.Checker
	Log       *slog.Logger
	Cookies   *Cookies
	Metrics   *Metrics
	// Cache, when set, caches session lookups (Redis or in-process).
	Cache SessionCache
	// Failures counts failed sign-ins per account (Redis when configured).
	Failures FailureStore
	// Now is the clock; tests replace it.
	Now func() time.Time

	plugins   []Plugin
	userCols  []Field
	sessCols  []Field
	userSel   string // SELECT list of users (alias u)
	sessSel   string // SELECT list of sessions (alias s)
	listeners []EventListener
	gates     []SignInGate
	bg        sync.WaitGroup
}

// Options are the engine's dependencies that are not configuration.
type Options struct {
	Logger   *slog.Logger
	Mail     mail.Sender
	Plugins  []Plugin
	Registry prometheus.Registerer
}

// New builds an engine over an open database. It validates the
// configuration's secrets and origins, and prepares plugin capabilities;
// it does not run migrations (see Migrate).
func New(cfg *Config, d db.DB, o Options) (*Engine, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	sec, err := secure.NewSecrets(cfg.Secret, cfg.PrevSecrets...)
	if err != nil {
		return nil, &ConfigError{"AUTH_SECRET", err}
	}
	orig, err := origin.New(cfg.BaseURL, cfg.Trusted)
	if err != nil {
		return nil, &ConfigError{"TRUSTED_ORIGINS", err}
	}
	e := &Engine{
		Config:  cfg,
		DB:      d,
		Secrets: sec,
		Passwords: password.New(password.Options{
			MinLength: cfg.Session.MinPasswordLen, MaxLength: cfg.Session.MaxPasswordLen,
		}),
		Mail:     o.Mail,
		Origins:  orig,
		Log:      o.Logger,
		Now:      db.Now,
		plugins:  o.Plugins,
		Failures: NewMemoryFailures(),
	}
	if e.Mail == nil {
		e.Mail = mail.NewLog(o.Logger)
		if cfg.Production {
			// Logged mail carries reset and sign-in links: never in production.
			e.Mail = undeliverable{}
		}
	}
	e.Cookies = newCookies(e)
	e.Metrics = newMetrics(e, o.Registry)

	for _, p := range o.Plugins {
		if fp, ok := p.(FieldProvider); ok {
			e.userCols = append(e.userCols, fp.UserFields()...)
			e.sessCols = append(e.sessCols, fp.SessionFields()...)
		}
		if l, ok := p.(EventListener); ok {
			e.listeners = append(e.listeners, l)
		}
		if g, ok := p.(SignInGate); ok {
			e.gates = append(e.gates, g)
		}
	}
	e.userSel = selectList("u", userCoreCols, e.userCols)
	e.sessSel = selectList("s", sessionCoreCols, e.sessCols)
	return e, nil
}

// Plugins returns the compiled-in plugins in registration order.
func (e *Engine) Plugins() []Plugin { return e.plugins }

// Plugin returns the plugin with the given id, or nil.
func (e *Engine) Plugin(id string) Plugin {
	for _, p := range e.plugins {
		if p.ID() == id {
			return p
		}
	}
	return nil
}

// Logger returns the logger of a plugin (with a plugin attribute).
func (e *Engine) Logger(plugin string) *slog.Logger {
	return e.Log.With("plugin", plugin)
}

// Init runs every plugin's Init, in order.
func (e *Engine) Init(ctx context.Context) error {
	for _, p := range e.plugins {
		if in, ok := p.(Initializer); ok {
			if err := in.Init(ctx, e); err != nil {
				return fmt.Errorf("plugin %s: %w", p.ID(), err)
			}
		}
	}
	return nil
}

// MigrationSets returns the core schema followed by each plugin's.
func (e *Engine) MigrationSets(core db.MigrationSet) []db.MigrationSet {
	sets := []db.MigrationSet{core}
	for _, p := range e.plugins {
		if mp, ok := p.(MigrationProvider); ok {
			sets = append(sets, mp.Migrations())
		}
	}
	return sets
}

// Emit sends an event to every listener. Call it after the change has been
// committed.
func (e *Engine) Emit(ctx context.Context, ev Event) {
	if sr, ok := ev.(SessionsRevoked); ok && e.Cache != nil {
		e.invalidate(ctx, sr)
	}
	for _, l := range e.listeners {
		l.OnEvent(ctx, ev)
	}
}

// Start starts every Starter plugin.
func (e *Engine) Start(ctx context.Context) error {
	for _, p := range e.plugins {
		if s, ok := p.(Starter); ok {
			if err := s.Start(ctx); err != nil {
				return fmt.Errorf("starting plugin %s: %w", p.ID(), err)
			}
		}
	}
	return nil
}

// Stop stops every Stopper plugin, in reverse order.
func (e *Engine) Stop(ctx context.Context) error {
	var errs []error
	for i := len(e.plugins) - 1; i >= 0; i-- {
		if s, ok := e.plugins[i].(Stopper); ok {
			if err := s.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("stopping plugin %s: %w", e.plugins[i].ID(), err))
			}
		}
	}
	return errors.Join(errs...)
}

// dbError maps a storage error to the API: unavailability is a 503, the
// rest a 500 whose detail stays in the log.
func (e *Engine) dbError(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := AsAPIError(err); ok {
		return err
	}
	if errors.Is(err, db.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		e.Log.WarnContext(ctx, "database unavailable", "op", op, "err", err)
		return ErrUnavailable
	}
	e.Log.ErrorContext(ctx, "database error", "op", op, "err", err)
	return ErrInternal
}
