package core

import (
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/mana/mana-auth/core/mail"
)

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadConfigDevelopmentFallbacks(t *testing.T) {
	c, err := LoadConfig(envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Production || c.Secret != DevSecret || len(c.KEK) != 32 || c.RateLimit ||
		c.DatabaseURL != "sqlite:./data/mana-auth.db" || c.BaseURL != "http://localhost:3001" {
		t.Errorf("defaults: %+v", c)
	}
	joined := strings.Join(c.Warnings, "\n")
	for _, v := range []string{"AUTH_SECRET", "MANA_AUTH_KEK", "BASE_URL", "SMTP_HOST"} {
		if !strings.Contains(joined, v) {
			t.Errorf("no warning naming %s in %q", v, joined)
		}
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	prod := map[string]string{"NODE_ENV": "production", "BASE_URL": "https://auth.mana.how",
		"AUTH_SECRET": strings.Repeat("s", 40), "MANA_AUTH_KEK": strings.Repeat("A", 43) + "="}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range prod {
			m[a] = b
		}
		m[k] = v
		return m
	}
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad port", map[string]string{"PORT": "http"}, "PORT"},
		{"port range", map[string]string{"PORT": "70000"}, "PORT"},
		{"bad base", map[string]string{"BASE_URL": "ftp://x"}, "BASE_URL"},
		{"bad proxy", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/99"}, "TRUSTED_PROXIES"},
		{"bad bool", map[string]string{"RATE_LIMIT": "maybe"}, "RATE_LIMIT"},
		{"short kek", map[string]string{"MANA_AUTH_KEK": "AAAA"}, "MANA_AUTH_KEK"},
		{"bad smtp tls", map[string]string{"SMTP_TLS": "ssl3"}, "SMTP_TLS"},
		{"prod no secret", with("AUTH_SECRET", ""), "AUTH_SECRET"},
		{"prod short secret", with("AUTH_SECRET", "short"), "AUTH_SECRET"},
		{"prod no kek", with("MANA_AUTH_KEK", ""), "MANA_AUTH_KEK"},
		{"prod http", with("BASE_URL", "http://auth.mana.how"), "BASE_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadConfig(envOf(tc.env))
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Var != tc.want {
				t.Errorf("err = %v, want a ConfigError for %s", err, tc.want)
			}
		})
	}
	c, err := LoadConfig(envOf(prod))
	if err != nil || !c.Production || !c.RateLimit || !c.RequireVerify || !c.Secure() ||
		!c.LogJSON {
		t.Errorf("production config: %+v, %v", c, err)
	}
}

func TestRateLimitSettings(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{
		"RATE_LIMIT_RULES":   "/api/auth/sign-in*=5/20s, /api/v1/me/data=0/1m",
		"RATE_LIMIT_DEFAULT": "50/5s"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.RateRules) != 2 || c.RateRules[0] != (RateRule{"/api/auth/sign-in*", 20e9, 5}) ||
		c.RateRules[1].Max != 0 || c.RateDefault != (RateRule{"*", 5e9, 50}) {
		t.Errorf("rules %+v default %+v", c.RateRules, c.RateDefault)
	}
	for _, bad := range []string{"sign-in=5/10s", "/x=five/10s", "/x=5/soon", "/x=5"} {
		if _, err := LoadConfig(envOf(map[string]string{"RATE_LIMIT_RULES": bad})); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestConfigEnvIsTheLoadedEnvironment(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{"JWT_ISSUER": "https://iss"}))
	if err != nil || c.Env("JWT_ISSUER") != "https://iss" || c.Env("NOPE") != "" {
		t.Errorf("Env: %q, %v", c.Env("JWT_ISSUER"), err)
	}
}

// In production without SMTP, mail fails instead of going to the log, where
// reset and sign-in links would be secrets in plain sight.
func TestProductionNeverLogsMail(t *testing.T) {
	c, err := LoadConfig(envOf(map[string]string{"NODE_ENV": "production",
		"BASE_URL": "https://auth.mana.how", "AUTH_SECRET": strings.Repeat("s", 40),
		"MANA_AUTH_KEK": strings.Repeat("A", 43) + "="}))
	if err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	e, err := New(c, nil, Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	err = e.Mail.Send(t.Context(), mail.Message{To: "a@b.co", Subject: "s",
		Text: "secret-link-123"})
	if err == nil || strings.Contains(logs.String(), "secret-link-123") {
		t.Errorf("send err %v, logs %q", err, logs.String())
	}
}
