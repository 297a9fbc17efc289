package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/redisstore"
	"github.com/mana/mana-auth/migrations"
	"github.com/mana/mana-auth/transport"
)

// app is a wired server: config, database, engine and HTTP handler.
type app struct {
	cfg     *core.Config
	log     *slog.Logger
	db      db.DB
	engine  *core.Engine
	handler http.Handler
	redis   redis.UniversalClient
	sets    []db.MigrationSet
}

// build wires everything from the environment; with applyMigrations it
// brings the schema up to date first.
func build(ctx context.Context, getenv func(string) string, applyMigrations bool) (*app,
	error) {
	cfg, err := core.LoadConfig(getenv)
	if err != nil {
		return nil, err
	}
	log := newLogger(cfg.LogLevel, cfg.LogJSON, os.Stderr)
	for _, w := range cfg.Warnings {
		log.Warn("DEVELOPMENT FALLBACK: " + w)
	}
	d, err := db.Open(ctx, cfg.DatabaseURL, db.Options{Logger: log})
	if err != nil {
		return nil, &core.ConfigError{Var: "DATABASE_URL", Err: err}
	}
	a := &app{cfg: cfg, log: log, db: d}
	if err := a.wire(ctx, applyMigrations); err != nil {
		d.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context, applyMigrations bool) error {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	var sender mail.Sender
	if a.cfg.SMTP.Host != "" {
		s, err := mail.NewSMTP(mail.SMTPConfig{Host: a.cfg.SMTP.Host, Port: a.cfg.SMTP.Port,
			User: a.cfg.SMTP.User, Pass: a.cfg.SMTP.Pass, From: a.cfg.SMTP.From,
			TLS: a.cfg.SMTP.TLS})
		if err != nil {
			return &core.ConfigError{Var: "SMTP_HOST", Err: err}
		}
		sender = s
	}
	e, err := core.New(a.cfg, a.db, core.Options{Logger: a.log, Mail: sender,
		Plugins: buildPlugins(a.cfg), Registry: reg})
	if err != nil {
		return err
	}
	a.engine = e
	if err := e.Init(ctx); err != nil {
		return err
	}
	a.sets = e.MigrationSets(migrations.Core)
	if applyMigrations {
		if err := db.Migrate(ctx, a.db, a.sets...); err != nil {
			return fmt.Errorf("migrating: %w", err)
		}
	}

	var counter transport.Counter = transport.NewMemoryCounter()
	if a.cfg.RedisURL != "" {
		opt, err := redis.ParseURL(a.cfg.RedisURL)
		if err != nil {
			return &core.ConfigError{Var: "REDIS_URL", Err: err}
		}
		a.redis = redis.NewClient(opt)
		counter = transport.NewRedisCounter(a.redis)
		e.Cache = redisstore.NewSessionCache(a.redis, a.log)
		e.Failures = redisstore.NewFailures(a.redis)
	}
	var limiter *transport.Limiter
	if a.cfg.RateLimit {
		limiter = transport.EngineLimiter(e, counter)
	}
	srv, err := transport.New(e, transport.Options{Registry: reg, Limiter: limiter,
		Ready: a.ready})
	if err != nil {
		return err
	}
	a.handler = srv
	return nil
}

// ready reports whether the database answers and no migration is pending.
func (a *app) ready(ctx context.Context) error {
	if err := a.db.Ping(ctx); err != nil {
		return err
	}
	pending, err := db.Pending(ctx, a.db, a.sets...)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("migrations pending")
	}
	return nil
}

func (a *app) close() {
	a.engine.Wait()
	if a.redis != nil {
		_ = a.redis.Close()
	}
	_ = a.db.Close()
}

// serve runs the HTTP server until ctx ends, then drains: the listener
// closes first, running requests finish (bounded), then pools close.
// When ln is nil it listens on PORT.
func serve(ctx context.Context, getenv func(string) string, ln net.Listener) error {
	a, err := build(ctx, getenv, true)
	if err != nil {
		return err
	}
	defer a.close()
	if ln == nil {
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", a.cfg.Port))
		if err != nil {
			return err
		}
	}
	hs := &http.Server{Handler: a.handler, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: 30 * time.Second, WriteTimeout: 60 * time.Second,
		IdleTimeout: 120 * time.Second, ErrorLog: slog.NewLogLogger(a.log.Handler(),
			slog.LevelWarn)}
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBG()
	if err := a.engine.Start(bg); err != nil {
		return err
	}
	a.engine.Go(func() { a.engine.RunMaintenance(bg) })
	a.engine.Go(func() { a.engine.RunOutbox(bg) })

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	a.log.Info("mana-auth listening", "addr", ln.Addr().String(), "base_url", a.cfg.BaseURL,
		"plugins", pluginIDs(), "production", a.cfg.Production)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()
	err = hs.Shutdown(sctx)
	cancelBG()
	if serr := a.engine.Stop(sctx); serr != nil {
		a.log.Error("stopping plugins", "err", serr)
	}
	return err
}
