package twofactor

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// Fixed parameters (reference §9.3–§9.6 and the brief of issue 5).
const (
	// ChallengeTTL is how long a sign-in challenge (and its two_factor
	// cookie) lives.
	ChallengeTTL = 10 * time.Minute
	// ChallengeAttempts is how many codes one challenge may check; the next
	// attempt burns the challenge.
	ChallengeAttempts = 5
	// OTPTTL is the lifetime of an emailed code.
	OTPTTL = 5 * time.Minute
	// OTPAttempts is how many guesses one emailed code allows.
	OTPAttempts = 5
	// OTPDigits is the length of an emailed code.
	OTPDigits = 6
	// TrustDeviceTTL is the lifetime of a trusted device (trust_device).
	TrustDeviceTTL = 30 * 24 * time.Hour
	// BackupCodeCount is how many backup codes a user holds after enabling
	// or regenerating.
	BackupCodeCount = 10
)

// Logical cookie names.
const (
	cookieTwoFactor   = "two_factor"
	cookieTrustDevice = "trust_device"
)

// Settings are the plugin's options, read from the environment by New.
type Settings struct {
	// Issuer names the service in authenticator apps (TWO_FACTOR_ISSUER,
	// default "mana"); a request's issuer field wins.
	Issuer string
	// SkipVerificationOnEnable turns 2FA on at /enable, without a first
	// verify-totp (TWO_FACTOR_SKIP_VERIFICATION_ON_ENABLE).
	SkipVerificationOnEnable bool
	// DisableOTP turns the emailed code off (TWO_FACTOR_DISABLE_OTP).
	DisableOTP bool
	// AllowPasswordless lets a user without a password (magic link only)
	// manage 2FA without one (TWO_FACTOR_ALLOW_PASSWORDLESS).
	AllowPasswordless bool
	// LockoutThreshold is how many consecutive failed codes lock the
	// account (TWO_FACTOR_LOCKOUT_THRESHOLD, default 10, as Better Auth).
	LockoutThreshold int
	// LockoutDuration is how long a lock lasts (TWO_FACTOR_LOCKOUT_SECONDS,
	// default 900, as Better Auth).
	LockoutDuration time.Duration
}

// DefaultSettings returns the defaults documented on Settings.
func DefaultSettings() Settings {
	return Settings{Issuer: "mana", LockoutThreshold: 10, LockoutDuration: 15 * time.Minute}
}

// SettingsFromEnv reads Settings through getenv; a bad value names its
// variable in the error.
func SettingsFromEnv(getenv func(string) string) (Settings, error) {
	s := DefaultSettings()
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	if v := env("TWO_FACTOR_ISSUER"); v != "" {
		s.Issuer = v
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"TWO_FACTOR_SKIP_VERIFICATION_ON_ENABLE", &s.SkipVerificationOnEnable},
		{"TWO_FACTOR_DISABLE_OTP", &s.DisableOTP},
		{"TWO_FACTOR_ALLOW_PASSWORDLESS", &s.AllowPasswordless},
	} {
		switch strings.ToLower(env(b.name)) {
		case "":
		case "1", "true", "yes", "on":
			*b.dst = true
		case "0", "false", "no", "off":
			*b.dst = false
		default:
			return s, fmt.Errorf("%s: %q is not a boolean", b.name, env(b.name))
		}
	}
	if v := env("TWO_FACTOR_LOCKOUT_THRESHOLD"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("TWO_FACTOR_LOCKOUT_THRESHOLD: %q is not a positive integer",
				v)
		}
		s.LockoutThreshold = n
	}
	if v := env("TWO_FACTOR_LOCKOUT_SECONDS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return s, fmt.Errorf("TWO_FACTOR_LOCKOUT_SECONDS: %q is not a positive integer", v)
		}
		s.LockoutDuration = time.Duration(n) * time.Second
	}
	return s, nil
}

// Option changes how New builds the plugin.
type Option func(*Plugin)

// WithSettings replaces the settings read from the environment.
func WithSettings(s Settings) Option {
	return func(p *Plugin) { p.set, p.setErr = s, nil }
}

// WithClock sets the clock used for TOTP time steps and lockouts (tests);
// the default is the engine's clock.
func WithClock(now func() time.Time) Option {
	return func(p *Plugin) { p.clock = now }
}

// Plugin is the two-factor plugin. It is safe for concurrent use once the
// engine has called Init.
type Plugin struct {
	cfg    *core.Config
	set    Settings
	setErr error
	clock  func() time.Time
	e      *core.Engine
	log    *slog.Logger
	m      *metrics
}

// Capabilities the engine discovers.
var (
	_ core.Plugin            = (*Plugin)(nil)
	_ core.Initializer       = (*Plugin)(nil)
	_ core.RouteProvider     = (*Plugin)(nil)
	_ core.MigrationProvider = (*Plugin)(nil)
	_ core.HookProvider      = (*Plugin)(nil)
	_ core.SignInGate        = (*Plugin)(nil)
	_ core.FieldProvider     = (*Plugin)(nil)
	_ core.UserDataProvider  = (*Plugin)(nil)
	_ core.MetricsProvider   = (*Plugin)(nil)
	_ core.RateLimitProvider = (*Plugin)(nil)
	_ core.ChallengeVerifier = (*Plugin)(nil)
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
func (p *Plugin) ID() string { return "twofactor" }

// Init implements core.Initializer.
func (p *Plugin) Init(ctx context.Context, e *core.Engine) error {
	if p.setErr != nil {
		return p.setErr
	}
	if p.set.LockoutThreshold < 1 || p.set.LockoutDuration <= 0 {
		return fmt.Errorf("lockout threshold and duration must be positive")
	}
	if p.set.Issuer == "" {
		p.set.Issuer = "mana"
	}
	p.e = e
	p.log = e.Logger(p.ID())
	return nil
}

// now is the plugin's clock.
func (p *Plugin) now() time.Time {
	if p.clock != nil {
		return p.clock().UTC().Truncate(time.Millisecond)
	}
	return p.e.Now()
}

//go:embed migrations
var migrationFiles embed.FS

// Migrations implements core.MigrationProvider.
func (p *Plugin) Migrations() db.MigrationSet {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic("twofactor: " + err.Error()) // unreachable: the folder is embedded
	}
	return db.MigrationSet{Owner: "twofactor", FS: sub}
}

// UserFields implements core.FieldProvider: twoFactorEnabled on every user.
func (p *Plugin) UserFields() []core.Field {
	return []core.Field{{Column: "two_factor_enabled", JSON: "twoFactorEnabled",
		Kind: core.FieldBool}}
}

// SessionFields implements core.FieldProvider; sessions get no column.
func (p *Plugin) SessionFields() []core.Field { return nil }

// RateLimits implements core.RateLimitProvider: Better Auth's /two-factor/*
// rule, 3 requests per 10 s.
func (p *Plugin) RateLimits() []core.RateRule {
	return []core.RateRule{{Pattern: p.cfg.BasePath + "/two-factor/*",
		Window: 10 * time.Second, Max: 3}}
}

// enabled reports the twoFactorEnabled field of a user.
func enabled(u *core.User) bool {
	v, _ := u.Fields["twoFactorEnabled"].(bool)
	return v
}
