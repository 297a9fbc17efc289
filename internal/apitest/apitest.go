// Package apitest runs a real mana-auth stack for tests: a fresh database
// (SQLite or PostgreSQL through dbtest), the engine with the given plugins
// and migrations applied, the real HTTP transport on an httptest server, and
// an in-process SMTP server receiving every mail. Clients keep their own
// cookie jars, like browsers.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/core/mail"
	"github.com/mana/mana-auth/core/mail/mailtest"
	"github.com/mana/mana-auth/core/redisstore"
	"github.com/mana/mana-auth/migrations"
	"github.com/mana/mana-auth/transport"
)

// Env is one running stack.
type Env struct {
	T        testing.TB
	Engine   *core.Engine
	DB       db.DB
	Server   *httptest.Server
	Mail     *mailtest.Server
	Registry *prometheus.Registry
	Config   *core.Config
}

// Options change the stack.
type Options struct {
	Dialect db.Dialect
	Env     map[string]string // environment for core.LoadConfig
	Plugins func(cfg *core.Config) []core.Plugin
	// DB reuses an existing database (a second instance).
	DB db.DB
	// Redis, when set, holds the session cache, the failure counters and
	// (with RateLimit) the rate-limit counters, as in a scaled-out deployment.
	Redis redis.UniversalClient
	// RateLimit turns the limiter on (in memory, or in Redis when set).
	RateLimit bool
}

// Each runs fn against a fresh stack on SQLite and on PostgreSQL.
func Each(t *testing.T, o Options, fn func(t *testing.T, env *Env)) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			o := o
			o.Dialect = d
			fn(t, New(t, o))
		})
	}
}

// New starts a stack. The server's BASE_URL is its own httptest URL.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	if o.Dialect == "" {
		o.Dialect = db.SQLite
	}
	d := o.DB
	if d == nil {
		d = dbtest.Open(t, o.Dialect)
	}
	smtp := mailtest.Start(t)
	host, port := smtp.Addr()

	// The listener exists before the config so BASE_URL can name it.
	srv := httptest.NewUnstartedServer(nil)
	env := map[string]string{
		"BASE_URL":    "http://" + srv.Listener.Addr().String(),
		"AUTH_SECRET": "test-secret-0123456789abcdef0123456789abcdef",
		"SMTP_HOST":   host, "SMTP_PORT": itoa(port), "SMTP_TLS": "none",
		"SMTP_FROM": "mana <auth@mana.test>",
	}
	for k, v := range o.Env {
		env[k] = v
	}
	cfg, err := core.LoadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	sender, err := mail.NewSMTP(mail.SMTPConfig{Host: host, Port: port, From: cfg.SMTP.From,
		TLS: "none"})
	if err != nil {
		t.Fatalf("smtp: %v", err)
	}
	var plugins []core.Plugin
	if o.Plugins != nil {
		plugins = o.Plugins(cfg)
	}
	reg := prometheus.NewRegistry()
	e, err := core.New(cfg, d, core.Options{Logger: Logger(), Mail: sender, Plugins: plugins,
		Registry: reg})
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	ctx := context.Background()
	if err := e.Init(ctx); err != nil {
		t.Fatalf("init: %v", err)
	}
	if err := db.Migrate(ctx, d, e.MigrationSets(migrations.Core)...); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	var counter transport.Counter = transport.NewMemoryCounter()
	if o.Redis != nil {
		e.Cache = redisstore.NewSessionCache(o.Redis, Logger())
		e.Failures = redisstore.NewFailures(o.Redis)
		counter = transport.NewRedisCounter(o.Redis)
	}
	var lim *transport.Limiter
	if o.RateLimit {
		lim = transport.EngineLimiter(e, counter)
	}
	sets := e.MigrationSets(migrations.Core)
	ready := func(ctx context.Context) error {
		if err := d.Ping(ctx); err != nil {
			return err
		}
		_, err := db.Pending(ctx, d, sets...)
		return err
	}
	h, err := transport.New(e, transport.Options{Registry: reg, Limiter: lim, Ready: ready})
	if err != nil {
		t.Fatalf("transport: %v", err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(func() {
		srv.Close()
		e.Wait()
	})
	return &Env{T: t, Engine: e, DB: d, Server: srv, Mail: smtp, Registry: reg, Config: cfg}
}

// Logger is the test logger: quiet unless MANA_TEST_LOG is set.
func Logger() *slog.Logger {
	if os.Getenv("MANA_TEST_LOG") != "" {
		o := &slog.HandlerOptions{Level: slog.LevelDebug}
		return slog.New(slog.NewTextHandler(os.Stderr, o))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// Client is a browser-like client: a cookie jar (by name, dropping
// Max-Age=0 deletions) and an Origin header.
type Client struct {
	env     *Env
	Origin  string
	Cookies map[string]string
	Header  http.Header
}

// Client returns a new client with an empty jar and the server's origin.
func (env *Env) Client() *Client {
	return &Client{env: env, Origin: env.Server.URL, Cookies: map[string]string{},
		Header: http.Header{}}
}

// Response is a decoded response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Code returns the error code of an error response.
func (r *Response) Code() string {
	s, _ := r.JSON["code"].(string)
	return s
}

// Do sends a request. body, when not nil, is JSON-encoded (a string or
// []byte is sent as is).
func (c *Client) Do(method, path string, body any) *Response {
	c.env.T.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.env.T.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.env.Server.URL+path, rd)
	if err != nil {
		c.env.T.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Origin != "" {
		req.Header.Set("Origin", c.Origin)
	}
	for k, vs := range c.Header {
		req.Header[k] = vs
	}
	var parts []string
	for k, v := range c.Cookies {
		parts = append(parts, k+"="+v)
	}
	if len(parts) > 0 {
		req.Header.Set("Cookie", strings.Join(parts, "; "))
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	resp, err := hc.Do(req)
	if err != nil {
		c.env.T.Fatal(err)
	}
	defer resp.Body.Close()
	out := &Response{Status: resp.StatusCode, Header: resp.Header}
	out.Body, _ = io.ReadAll(resp.Body)
	_ = json.Unmarshal(out.Body, &out.JSON)
	for _, sc := range resp.Header.Values("Set-Cookie") {
		name, rest, _ := strings.Cut(sc, "=")
		val, attrs, _ := strings.Cut(rest, ";")
		if strings.Contains(attrs, "Max-Age=0") {
			delete(c.Cookies, name)
			continue
		}
		c.Cookies[name] = val
	}
	return out
}

// SignUp creates a user through the API and keeps its session.
func (c *Client) SignUp(email, password, name string) *Response {
	c.env.T.Helper()
	r := c.Do("POST", "/api/auth/sign-up/email",
		map[string]any{"email": email, "password": password, "name": name})
	if r.Status != 200 {
		c.env.T.Fatalf("sign-up %s: %d %s", email, r.Status, r.Body)
	}
	return r
}

// SignIn signs in through the API.
func (c *Client) SignIn(email, password string) *Response {
	return c.Do("POST", "/api/auth/sign-in/email",
		map[string]any{"email": email, "password": password})
}

// WaitMail waits up to 5 s for the next mail to an address.
func (env *Env) WaitMail(to string) mailtest.Received {
	env.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := env.Mail.Wait(ctx, to)
	if err != nil {
		env.T.Fatalf("no mail to %s: %v", to, err)
	}
	return m
}

// Redis returns a client on a fresh logical database of the test Redis
// (MANA_TEST_REDIS_URL, default redis://127.0.0.1:6379/0), flushed for the
// test. Without Redis the test is skipped, unless MANA_TEST_REDIS=require.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	url := os.Getenv("MANA_TEST_REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379/0"
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("MANA_TEST_REDIS_URL: %v", err)
	}
	c := redis.NewClient(opt)
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		c.Close()
		if os.Getenv("MANA_TEST_REDIS") == "require" {
			t.Fatalf("redis unavailable at %s: %v", url, err)
		}
		t.Skipf("redis unavailable at %s: %v; set MANA_TEST_REDIS_URL", url, err)
	}
	prefix := "mana-auth:"
	t.Cleanup(func() {
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		for iter.Next(ctx) {
			c.Del(ctx, iter.Val())
		}
		c.Close()
	})
	return c
}

// User is a signed-up user: its id, email, session token and the client
// holding its cookie.
type User struct {
	ID    string
	Email string
	Token string
	C     *Client
}

// NewUser signs a user up through the API and fails the test otherwise.
func (env *Env) NewUser(t testing.TB, email, password, name string) User {
	t.Helper()
	c := env.Client()
	r := c.SignUp(email, password, name)
	u, _ := r.JSON["user"].(map[string]any)
	id, _ := u["id"].(string)
	tok, _ := r.JSON["token"].(string)
	if id == "" || tok == "" {
		t.Fatalf("sign-up %s: %s", email, r.Body)
	}
	return User{ID: id, Email: email, Token: tok, C: c}
}

// Bearer returns a fresh client on env (which may be another instance)
// that authenticates with the user's session token instead of a cookie.
func (u User) Bearer(env *Env) *Client {
	c := env.Client()
	c.Header.Set("Authorization", "Bearer "+u.Token)
	return c
}
