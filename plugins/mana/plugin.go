package mana

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// ID is the plugin's id and build-tag suffix.
const ID = "mana"

// KindInitCredits is the outbox job that initialises a user's credits.
const KindInitCredits = "mana.credits.init"

// Plugin queues and performs the credits initialisation of new users.
type Plugin struct {
	cfg *core.Config
	e   *core.Engine
	log *slog.Logger
	hc  *http.Client
}

var (
	_ core.Initializer    = (*Plugin)(nil)
	_ core.UserCreateHook = (*Plugin)(nil)
	_ core.OutboxHandler  = (*Plugin)(nil)
)

// New builds the plugin.
func New(cfg *core.Config) *Plugin {
	return &Plugin{cfg: cfg, hc: &http.Client{
		Timeout: 10 * time.Second,
		// The service key must never follow a redirect to another host.
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// ID implements core.Plugin.
func (p *Plugin) ID() string { return ID }

// Init implements core.Initializer.
func (p *Plugin) Init(_ context.Context, e *core.Engine) error {
	p.e, p.log = e, e.Logger(ID)
	if p.cfg.CreditsURL == "" {
		p.log.Info("MANA_CREDITS_URL is not set; new users get no credits initialisation")
	}
	return nil
}

// initPayload is the queued job and the body sent to mana-credits.
type initPayload struct {
	UserID string `json:"userId"`
	Email  string `json:"email"`
}

// OnUserCreate implements core.UserCreateHook: the job is queued in the
// transaction that creates the user, so it exists exactly when the user
// does.
func (p *Plugin) OnUserCreate(ctx context.Context, q db.Querier, u *core.User) error {
	if p.cfg.CreditsURL == "" {
		return nil
	}
	return p.e.Enqueue(ctx, q, KindInitCredits, initPayload{UserID: u.ID, Email: u.Email})
}

// OutboxKinds implements core.OutboxHandler.
func (p *Plugin) OutboxKinds() map[string]func(context.Context, []byte) error {
	return map[string]func(context.Context, []byte) error{KindInitCredits: p.initCredits}
}

// initCredits calls POST {MANA_CREDITS_URL}/api/v1/internal/users/{id}/init.
// 2xx and 409 (already initialised) are done; anything else is retried by
// the outbox with backoff.
func (p *Plugin) initCredits(ctx context.Context, payload []byte) error {
	var in initPayload
	if err := json.Unmarshal(payload, &in); err != nil || in.UserID == "" {
		return fmt.Errorf("credits init: bad payload")
	}
	if p.cfg.CreditsURL == "" {
		return nil // the service was removed from the configuration
	}
	body, _ := json.Marshal(in)
	u := p.cfg.CreditsURL + "/api/v1/internal/users/" + url.PathEscape(in.UserID) + "/init"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("credits init: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Service-Key", p.cfg.ServiceKey)
	resp, err := p.hc.Do(req)
	if err != nil {
		return fmt.Errorf("credits init: mana-credits unreachable")
	}
	resp.Body.Close()
	if resp.StatusCode/100 == 2 || resp.StatusCode == http.StatusConflict {
		return nil
	}
	return fmt.Errorf("credits init: mana-credits answered %d", resp.StatusCode)
}
