package core

import (
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// DevSecret is the fallback AUTH_SECRET in development. Production refuses it.
const DevSecret = "mana-auth-development-secret-do-not-use-in-production"

// Config is every setting of the server, read once at start-up. Plugins read
// it; nobody writes it after Load.
type Config struct {
	Port          int
	BaseURL       string // origin + optional path, no trailing slash
	BasePath      string // "/api/auth"
	DatabaseURL   string
	SyncDBURL     string
	RedisURL      string
	CookieDomain  string
	CookiePrefix  string
	Production    bool
	LogLevel      string
	LogJSON       bool
	Secret        string
	PrevSecrets   []string
	KEK           []byte // 32 bytes
	PrevKEKs      [][]byte
	ServiceKey    string
	CreditsURL    string
	SubsURL       string
	SMTP          SMTPSettings
	Trusted       []string
	TrustedProxy  []netip.Prefix
	AccessTiers   []string
	RequireVerify bool
	RateLimit     bool
	// RateRules are operator rules (RATE_LIMIT_RULES); they win over the
	// plugins' and the built-in ones. RateDefault covers unmatched paths.
	RateRules   []RateRule
	RateDefault RateRule
	// RevokeOnReset revokes every session of a user whose password is reset.
	RevokeOnReset bool
	// SecurityRetention is how long security events are kept.
	SecurityRetention time.Duration

	Session SessionSettings
	// Warnings lists the development fallbacks Load applied; the server logs
	// each one at start-up.
	Warnings []string

	getenv func(string) string
}

// Env reads a plugin's own setting from the environment LoadConfig was
// given, so plugins see the same variables as the core (os.Getenv for a
// Config not made by LoadConfig).
func (c *Config) Env(k string) string {
	if c.getenv == nil {
		return os.Getenv(k)
	}
	return c.getenv(k)
}

// SMTPSettings configures the SMTP mailer; an empty Host means "no SMTP".
type SMTPSettings struct {
	Host string
	Port int
	User string
	Pass string
	From string
	// TLS is "starttls", "tls" or "none"; empty picks by port.
	TLS string
}

// SessionSettings are Better Auth's session lifetimes (reference §4.5).
type SessionSettings struct {
	ExpiresIn      time.Duration // 7 days
	UpdateAge      time.Duration // 1 day
	FreshAge       time.Duration // 1 day
	ShortExpiresIn time.Duration // rememberMe=false: 1 day
	ResetTokenTTL  time.Duration // 1 hour
	VerifyTokenTTL time.Duration // 1 hour
	DeleteTokenTTL time.Duration // 1 day
	MinPasswordLen int
	MaxPasswordLen int
}

// DefaultSessionSettings returns Better Auth's defaults.
func DefaultSessionSettings() SessionSettings {
	return SessionSettings{
		ExpiresIn:      7 * 24 * time.Hour,
		UpdateAge:      24 * time.Hour,
		FreshAge:       24 * time.Hour,
		ShortExpiresIn: 24 * time.Hour,
		ResetTokenTTL:  time.Hour,
		VerifyTokenTTL: time.Hour,
		DeleteTokenTTL: 24 * time.Hour,
		MinPasswordLen: 8,
		MaxPasswordLen: 128,
	}
}

// ConfigError names the variable whose value is wrong.
type ConfigError struct {
	Var string
	Err error
}

// Error implements error.
func (e *ConfigError) Error() string { return fmt.Sprintf("config %s: %v", e.Var, e.Err) }

// Unwrap returns the cause.
func (e *ConfigError) Unwrap() error { return e.Err }

// LoadConfig reads the configuration from the environment through getenv
// (os.Getenv when nil). A bad value returns a *ConfigError naming the
// variable; in production missing secrets are errors, in development they
// fall back with a warning in Config.Warnings.
func LoadConfig(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	env := func(k string) string { return strings.TrimSpace(getenv(k)) }
	c := &Config{
		getenv:            getenv,
		BasePath:          "/api/auth",
		CookiePrefix:      "mana",
		Session:           DefaultSessionSettings(),
		RevokeOnReset:     true,
		SecurityRetention: 180 * 24 * time.Hour,
	}
	mode := env("MANA_ENV")
	if mode == "" {
		mode = env("NODE_ENV")
	}
	c.Production = mode == "production"

	var err error
	if c.Port, err = intVar(env, "PORT", 3001); err != nil {
		return nil, err
	}
	if c.Port < 0 || c.Port > 65535 {
		return nil, &ConfigError{"PORT", fmt.Errorf("%d is not a port", c.Port)}
	}
	if err := c.loadURLs(env); err != nil {
		return nil, err
	}
	if err := c.loadSecrets(env); err != nil {
		return nil, err
	}
	if err := c.loadMisc(env); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Config) warn(format string, args ...any) {
	c.Warnings = append(c.Warnings, fmt.Sprintf(format, args...))
}

func (c *Config) loadURLs(env func(string) string) error {
	c.BaseURL = strings.TrimRight(env("BASE_URL"), "/")
	if c.BaseURL == "" {
		c.BaseURL = strings.TrimRight(env("BETTER_AUTH_URL"), "/")
	}
	if c.BaseURL == "" {
		if c.Production {
			return &ConfigError{"BASE_URL", fmt.Errorf("required in production")}
		}
		c.BaseURL = fmt.Sprintf("http://localhost:%d", c.Port)
		c.warn("BASE_URL is not set; using %s", c.BaseURL)
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &ConfigError{"BASE_URL", fmt.Errorf("%q is not an http(s) URL", c.BaseURL)}
	}
	if c.Production && u.Scheme != "https" {
		return &ConfigError{"BASE_URL", fmt.Errorf("must be https in production")}
	}

	c.DatabaseURL = env("DATABASE_URL")
	if c.DatabaseURL == "" {
		c.DatabaseURL = "sqlite:./data/mana-auth.db"
	}
	c.SyncDBURL = env("SYNC_DATABASE_URL")
	c.RedisURL = env("REDIS_URL")
	c.CookieDomain = env("COOKIE_DOMAIN")
	c.CreditsURL = strings.TrimRight(env("MANA_CREDITS_URL"), "/")
	c.SubsURL = strings.TrimRight(env("MANA_SUBSCRIPTIONS_URL"), "/")
	for _, o := range splitList(env("TRUSTED_ORIGINS")) {
		c.Trusted = append(c.Trusted, o)
	}
	for _, p := range splitList(env("TRUSTED_PROXIES")) {
		pfx, err := parsePrefix(p)
		if err != nil {
			return &ConfigError{"TRUSTED_PROXIES", err}
		}
		c.TrustedProxy = append(c.TrustedProxy, pfx)
	}
	return nil
}

func (c *Config) loadSecrets(env func(string) string) error {
	c.Secret = env("AUTH_SECRET")
	if c.Secret == "" {
		c.Secret = env("BETTER_AUTH_SECRET")
	}
	switch {
	case c.Secret == "" && c.Production:
		return &ConfigError{"AUTH_SECRET", fmt.Errorf("required in production")}
	case c.Secret == "":
		c.Secret = DevSecret
		c.warn("AUTH_SECRET is not set; using the development secret " +
			"(cookies and encrypted secrets are NOT protected)")
	case c.Production && (c.Secret == DevSecret || len(c.Secret) < 32):
		return &ConfigError{"AUTH_SECRET", fmt.Errorf("must be at least 32 characters")}
	}
	c.PrevSecrets = splitList(env("AUTH_SECRETS_PREVIOUS"))

	kek := env("MANA_AUTH_KEK")
	switch {
	case kek == "" && c.Production:
		return &ConfigError{"MANA_AUTH_KEK", fmt.Errorf("required in production")}
	case kek == "":
		c.KEK = make([]byte, 32)
		c.warn("MANA_AUTH_KEK is not set; vault keys are wrapped with an ALL-ZERO KEK")
	default:
		k, err := decodeKEK(kek)
		if err != nil {
			return &ConfigError{"MANA_AUTH_KEK", err}
		}
		c.KEK = k
	}
	for _, p := range splitList(env("MANA_AUTH_KEK_PREVIOUS")) {
		k, err := decodeKEK(p)
		if err != nil {
			return &ConfigError{"MANA_AUTH_KEK_PREVIOUS", err}
		}
		c.PrevKEKs = append(c.PrevKEKs, k)
	}
	c.ServiceKey = env("MANA_SERVICE_KEY")
	return nil
}

func (c *Config) loadMisc(env func(string) string) error {
	c.SMTP = SMTPSettings{
		Host: env("SMTP_HOST"), User: env("SMTP_USER"), Pass: env("SMTP_PASS"),
		From: env("SMTP_FROM"), TLS: strings.ToLower(env("SMTP_TLS")),
	}
	switch c.SMTP.TLS {
	case "", "starttls", "tls", "none":
	default:
		return &ConfigError{"SMTP_TLS", fmt.Errorf("%q is not starttls, tls or none", c.SMTP.TLS)}
	}
	var err error
	if c.SMTP.Port, err = intVar(env, "SMTP_PORT", 587); err != nil {
		return err
	}
	if c.SMTP.From == "" {
		c.SMTP.From = "mana <noreply@localhost>"
	}
	if c.SMTP.Host == "" {
		if c.Production {
			c.warn("SMTP_HOST is not set; mail cannot be delivered")
		} else {
			c.warn("SMTP_HOST is not set; mail is written to the log")
		}
	}
	c.AccessTiers = splitList(env("ACCESS_TIERS"))
	if len(c.AccessTiers) == 0 {
		c.AccessTiers = []string{"public", "beta", "alpha", "founder"}
	}
	c.LogLevel = env("LOG_LEVEL")
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	c.LogJSON = c.Production || env("LOG_FORMAT") == "json"
	days, err := intVar(env, "SECURITY_LOG_RETENTION_DAYS", 180)
	if err != nil {
		return err
	}
	if days < 1 {
		return &ConfigError{"SECURITY_LOG_RETENTION_DAYS", fmt.Errorf("must be at least 1")}
	}
	c.SecurityRetention = time.Duration(days) * 24 * time.Hour

	if c.RequireVerify, err = boolVar(env, "REQUIRE_EMAIL_VERIFICATION", c.Production); err != nil {
		return err
	}
	if c.RateLimit, err = boolVar(env, "RATE_LIMIT", c.Production); err != nil {
		return err
	}
	c.RateDefault = RateRule{Pattern: "*", Window: 10 * time.Second, Max: 100}
	if v := env("RATE_LIMIT_DEFAULT"); v != "" {
		if c.RateDefault, err = parseRate("*", v); err != nil {
			return &ConfigError{"RATE_LIMIT_DEFAULT", err}
		}
	}
	for _, item := range splitList(env("RATE_LIMIT_RULES")) {
		pat, spec, ok := strings.Cut(item, "=")
		if !ok || !strings.HasPrefix(pat, "/") {
			return &ConfigError{"RATE_LIMIT_RULES", fmt.Errorf("%q is not /path=max/window", item)}
		}
		r, err := parseRate(pat, spec)
		if err != nil {
			return &ConfigError{"RATE_LIMIT_RULES", err}
		}
		c.RateRules = append(c.RateRules, r)
	}
	if c.RevokeOnReset, err = boolVar(env, "REVOKE_SESSIONS_ON_PASSWORD_RESET", true); err != nil {
		return err
	}
	return nil
}

// Secure reports whether cookies get the __Secure- prefix and Secure flag.
func (c *Config) Secure() bool { return strings.HasPrefix(c.BaseURL, "https://") }

// Origin is the scheme://host[:port] of BaseURL.
func (c *Config) Origin() string {
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		return c.BaseURL
	}
	return u.Scheme + "://" + u.Host
}

// AuthURL is the absolute URL of an /api/auth path, built from BaseURL and
// never from a request's Host header.
func (c *Config) AuthURL(path string) string {
	return c.BaseURL + c.BasePath + path
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func intVar(env func(string) string, k string, def int) (int, error) {
	v := env(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, &ConfigError{k, fmt.Errorf("%q is not a number", v)}
	}
	return n, nil
}

func boolVar(env func(string) string, k string, def bool) (bool, error) {
	switch strings.ToLower(env(k)) {
	case "":
		return def, nil
	case "1", "true", "yes", "on":
		return true, nil
	case "0", "false", "no", "off":
		return false, nil
	}
	return false, &ConfigError{k, fmt.Errorf("%q is not a boolean", env(k))}
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

func decodeKEK(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		k, err = base64.RawStdEncoding.DecodeString(s)
	}
	if err != nil {
		return nil, fmt.Errorf("not base64")
	}
	if len(k) != 32 {
		return nil, fmt.Errorf("must be 32 bytes, got %d", len(k))
	}
	return k, nil
}

// parseRate reads "max/window" ("5/10s", "0/1m" disables) into a rule.
func parseRate(pattern, spec string) (RateRule, error) {
	maxs, win, ok := strings.Cut(spec, "/")
	n, err := strconv.Atoi(maxs)
	if !ok || err != nil || n < 0 {
		return RateRule{}, fmt.Errorf("%q is not max/window, e.g. 5/10s", spec)
	}
	d, err := time.ParseDuration(win)
	if err != nil || d <= 0 {
		return RateRule{}, fmt.Errorf("%q: window must be a duration like 10s", spec)
	}
	return RateRule{Pattern: pattern, Window: d, Max: n}, nil
}
