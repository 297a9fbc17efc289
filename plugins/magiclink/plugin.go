package magiclink

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
)

// Settings are the plugin's options, read from the environment by New.
type Settings struct {
	// DisableSignUp refuses links for unknown emails
	// (MAGIC_LINK_DISABLE_SIGN_UP): no mail is sent, and the POST still
	// answers {status:true}.
	DisableSignUp bool
	// ExpiresIn is a link's lifetime (MAGIC_LINK_EXPIRES_IN, seconds,
	// default 300).
	ExpiresIn time.Duration
}

// DefaultSettings returns Better Auth's defaults.
func DefaultSettings() Settings { return Settings{ExpiresIn: 5 * time.Minute} }

// SettingsFromEnv reads Settings through getenv; a bad value names its
// variable in the error.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	v := strings.ToLower(strings.TrimSpace(getenv("MAGIC_LINK_DISABLE_SIGN_UP")))
	switch v {
	case "":
	case "1", "true", "yes", "on":
		s.DisableSignUp = true
	case "0", "false", "no", "off":
	default:
		return s, fmt.Errorf("MAGIC_LINK_DISABLE_SIGN_UP: %q is not a boolean", v)
	}
	if v := strings.TrimSpace(getenv("MAGIC_LINK_EXPIRES_IN")); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 86400 {
			return s, fmt.Errorf("MAGIC_LINK_EXPIRES_IN: %q is not 1 to 86400 seconds", v)
		}
		s.ExpiresIn = time.Duration(n) * time.Second
	}
	return s, nil
}

// Option changes how New builds the plugin.
type Option func(*Plugin)

// WithSettings replaces the settings read from the environment.
func WithSettings(s Settings) Option {
	return func(p *Plugin) { p.set, p.setErr = s, nil }
}

// Plugin is the magic-link plugin. It is safe for concurrent use once the
// engine has called Init.
type Plugin struct {
	cfg    *core.Config
	set    Settings
	setErr error
	e      *core.Engine
	log    *slog.Logger
	m      *metrics
}

// Capabilities the engine discovers.
var (
	_ core.Plugin            = (*Plugin)(nil)
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.RateLimitProvider = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
)

// New builds the plugin. Settings come from the process environment unless
// an Option replaces them; a bad variable makes Init fail.
func New(cfg *core.Config, opts ...Option) *Plugin {
	p := &Plugin{cfg: cfg, m: newMetrics()}
	p.set, p.setErr = SettingsFromEnv(cfg.Env)
	for _, o := range opts {
		o(p)
	}
	return p
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return "magiclink" }

// Init implements core.Initializer.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	if p.setErr != nil {
		return p.setErr
	}
	if p.set.ExpiresIn <= 0 {
		return fmt.Errorf("link lifetime must be positive")
	}
	p.e = e
	p.log = e.Logger(p.ID())
	return nil
}

// Routes implements core.RouteProvider.
func (p *Plugin) Routes() []core.Route {
	b := p.cfg.BasePath
	return []core.Route{
		{Method: "POST", Path: b + "/sign-in/magic-link", Name: "sign-in/magic-link",
			Auth: core.AuthNone, CSRF: true, NoStore: true, Handler: p.hSignIn},
		{Method: "GET", Path: b + "/magic-link/verify", Name: "magic-link/verify",
			Auth: core.AuthNone, NoStore: true, Handler: p.hVerify},
	}
}

// RateLimits implements core.RateLimitProvider: Better Auth's 5 per 60 s on
// both paths (they must precede the built-in /sign-in* rule).
func (p *Plugin) RateLimits() []core.RateRule {
	b := p.cfg.BasePath
	return []core.RateRule{
		{Pattern: b + "/sign-in/magic-link*", Window: time.Minute, Max: 5},
		{Pattern: b + "/magic-link/verify*", Window: time.Minute, Max: 5},
	}
}
