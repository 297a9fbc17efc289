package jwt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
)

// TokenLifetime is how long a minted token is valid (Better Auth's "15m").
const TokenLifetime = 15 * time.Minute

// Leeway is the clock skew Verify tolerates on exp, nbf and iat.
const Leeway = 30 * time.Second

// Settings are the plugin's options, read from the environment.
type Settings struct {
	// Issuer is the iss claim (JWT_ISSUER; default the BASE_URL origin).
	Issuer string
	// Audience is the aud claim (JWT_AUDIENCE; default the BASE_URL origin).
	Audience string
	// RotationInterval is how long a key signs before a new one replaces it
	// (JWT_ROTATION_INTERVAL; default 30 days).
	RotationInterval time.Duration
	// GracePeriod is how long a replaced key still verifies and stays in
	// /jwks (JWT_GRACE_PERIOD; default 7 days, at least TokenLifetime).
	GracePeriod time.Duration
	// ReloadInterval is how often a running server re-reads the keys, to
	// pick up a rotation by another instance (JWT_KEY_RELOAD_INTERVAL;
	// default 1 minute).
	ReloadInterval time.Duration
}

// Option changes how New builds the plugin.
type Option func(*Plugin)

// WithGetenv reads the settings through getenv instead of cfg.Env.
func WithGetenv(getenv func(string) string) Option {
	return func(p *Plugin) { p.getenv = getenv }
}

// loadSettings reads the JWT_* variables. A bad value is a *core.ConfigError
// naming the variable.
func loadSettings(cfg *core.Config, getenv func(string) string) (Settings, error) {
	if getenv == nil {
		getenv = cfg.Env
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	s := Settings{
		Issuer:           env("JWT_ISSUER"),
		Audience:         env("JWT_AUDIENCE"),
		RotationInterval: 30 * 24 * time.Hour,
		GracePeriod:      7 * 24 * time.Hour,
		ReloadInterval:   time.Minute,
	}
	if s.Issuer == "" {
		s.Issuer = cfg.Origin()
	}
	if s.Audience == "" {
		s.Audience = cfg.Origin()
	}
	for _, d := range []struct {
		name string
		dst  *time.Duration
	}{
		{"JWT_ROTATION_INTERVAL", &s.RotationInterval},
		{"JWT_GRACE_PERIOD", &s.GracePeriod},
		{"JWT_KEY_RELOAD_INTERVAL", &s.ReloadInterval},
	} {
		v := env(d.name)
		if v == "" {
			continue
		}
		n, err := parseDuration(v)
		if err != nil {
			return s, &core.ConfigError{Var: d.name, Err: err}
		}
		*d.dst = n
	}
	if s.GracePeriod < TokenLifetime {
		return s, &core.ConfigError{Var: "JWT_GRACE_PERIOD", Err: fmt.Errorf(
			"%v is shorter than the token lifetime %v", s.GracePeriod, TokenLifetime)}
	}
	return s, nil
}

// parseDuration accepts a Go duration ("720h"), whole days ("30d") or whole
// seconds ("2592000", as Better Auth's options are written). It must be
// positive.
func parseDuration(v string) (time.Duration, error) {
	var d time.Duration
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.ParseInt(days, 10, 32)
		if err != nil {
			return 0, fmt.Errorf("%q is not a number of days", v)
		}
		if n > 36500 {
			return 0, fmt.Errorf("%q is too long", v)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(100*365*24*time.Hour/time.Second) {
			return 0, fmt.Errorf("%q is too long", v)
		}
		d = time.Duration(n) * time.Second
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, fmt.Errorf("%q is not a duration (e.g. 720h, 30d or seconds)", v)
	}
	if d <= 0 {
		return 0, fmt.Errorf("%q must be positive", v)
	}
	return d, nil
}
