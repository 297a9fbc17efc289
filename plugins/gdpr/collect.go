package gdpr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// exportEventLimit bounds the security events in one export. The log is
// pruned after SECURITY_LOG_RETENTION_DAYS, so a user rarely comes near it.
const exportEventLimit = 100_000

// summaryDepth is how deep a provider's section is kept in a summary;
// deeper objects are reduced to their number of keys.
const summaryDepth = 3

// Reserved top-level keys; a provider section with one of these names is
// renamed "<plugin id>.<section>".
var reserved = map[string]bool{"user": true, "auth": true, "credits": true,
	"projects": true, "partial": true, "exportedAt": true}

// unavailable is the section of a remote source that is set but down.
var unavailable = map[string]bool{"unavailable": true}

// remote is the outcome of reading one remote source.
type remote struct {
	section any  // nil when the source is not configured
	down    bool // configured but did not answer
}

// remotes reads mana-credits and the sync database concurrently, each
// within timeout; wait returns their sections.
type remotes struct {
	wg               sync.WaitGroup
	credits, project remote
}

func (p *Plugin) startRemotes(ctx context.Context, userID string, full bool,
	timeout time.Duration) *remotes {
	rs := &remotes{}
	if p.credits != nil {
		rs.wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			d, err := p.credits.fetch(ctx, userID)
			if err != nil {
				p.remoteDown(ctx, "credits", err)
				rs.credits = remote{section: unavailable, down: true}
				return
			}
			p.m.remote.WithLabelValues("credits", "read", "ok").Inc()
			if full {
				rs.credits.section = d.export()
			} else {
				rs.credits.section = d.summary()
			}
		})
	}
	if p.sync != nil {
		rs.wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			c, err := p.sync.counts(ctx, userID)
			if err != nil {
				p.remoteDown(ctx, "sync", err)
				rs.project = remote{section: unavailable, down: true}
				return
			}
			p.m.remote.WithLabelValues("sync", "read", "ok").Inc()
			rs.project.section = projectsSection(c)
		})
	}
	return rs
}

func (p *Plugin) remoteDown(ctx context.Context, service string, err error) {
	p.m.remote.WithLabelValues(service, "read", "unavailable").Inc()
	p.log.WarnContext(ctx, "remote user data unavailable", "service", service, "err", err)
}

// collect gathers everything known about u: counts and small facts for a
// summary, every item for an export (full). Remote sources that are down
// make the result partial; a local storage error fails it.
func (p *Plugin) collect(ctx context.Context, u *core.User, full bool) (map[string]any,
	error) {
	timeout := summaryTimeout
	if full {
		timeout = exportTimeout
	}
	rs := p.startRemotes(ctx, u.ID, full, timeout)
	out, err := p.collectLocal(ctx, u, full)
	rs.wg.Wait()
	if err != nil {
		return nil, err
	}
	out["credits"] = rs.credits.section
	out["projects"] = rs.project.section
	out["partial"] = rs.credits.down || rs.project.down
	return out, nil
}

// collectLocal reads the core's rows and every provider's section.
func (p *Plugin) collectLocal(ctx context.Context, u *core.User, full bool) (
	map[string]any, error) {
	e := p.e
	sessions, err := e.ListSessions(ctx, e.DB, u.ID)
	if err != nil {
		return nil, e.DBError(ctx, "gdpr sessions", err)
	}
	accounts, err := e.Accounts(ctx, e.DB, u.ID)
	if err != nil {
		return nil, e.DBError(ctx, "gdpr accounts", err)
	}
	out := map[string]any{"user": u, "organizations": nil, "vault": nil}
	if full {
		events, err := e.SecurityEvents(ctx, e.DB, u.ID, exportEventLimit)
		if err != nil {
			return nil, e.DBError(ctx, "gdpr security events", err)
		}
		out["auth"] = map[string]any{"sessions": exportSessions(sessions),
			"accounts": exportAccounts(accounts), "securityEvents": events}
	} else {
		// A count, not the list: the log can be long and the summary is
		// small. (The export reads it through e.SecurityEvents.)
		var events int64
		if err := e.DB.QueryRow(ctx, "SELECT count(*) FROM security_events "+
			"WHERE user_id = $1", u.ID).Scan(&events); err != nil {
			return nil, e.DBError(ctx, "gdpr security events", err)
		}
		tf, _ := u.Fields["twoFactorEnabled"].(bool)
		out["auth"] = map[string]any{"sessions": len(sessions), "accounts": len(accounts),
			"twoFactorEnabled": tf, "securityEvents": events}
	}

	for _, pl := range e.Plugins() {
		dp, ok := pl.(core.UserDataProvider)
		if !ok {
			continue
		}
		name := dp.UserDataSection()
		if reserved[name] || name == "" {
			name = pl.ID() + "." + name
		}
		v, err := dp.ExportUserData(ctx, e.DB, u.ID)
		if err != nil {
			p.log.ErrorContext(ctx, "user data export failed", "section", name,
				"err", err)
			return nil, e.DBError(ctx, "gdpr section "+name, err)
		}
		if !full {
			if v, err = summarize(v); err != nil {
				p.log.ErrorContext(ctx, "user data section not JSON", "section", name,
					"err", err)
				return nil, core.ErrInternal
			}
		}
		out[name] = v
	}
	return out, nil
}

// exportSession is a session in an export: everything but the token.
type exportSession struct {
	ID        string         `json:"id"`
	CreatedAt core.Time      `json:"createdAt"`
	UpdatedAt core.Time      `json:"updatedAt"`
	ExpiresAt core.Time      `json:"expiresAt"`
	IPAddress string         `json:"ipAddress"`
	UserAgent string         `json:"userAgent"`
	Fields    map[string]any `json:"fields,omitempty"`
}

func exportSessions(ss []*core.Session) []exportSession {
	out := make([]exportSession, 0, len(ss))
	for _, s := range ss {
		out = append(out, exportSession{ID: s.ID, CreatedAt: core.Time{Time: s.CreatedAt},
			UpdatedAt: core.Time{Time: s.UpdatedAt}, ExpiresAt: core.Time{Time: s.ExpiresAt},
			IPAddress: s.IPAddress, UserAgent: s.UserAgent, Fields: s.Fields})
	}
	return out
}

// exportAccount is a linked account in an export: no password hash, no
// provider tokens.
type exportAccount struct {
	ID         string    `json:"id"`
	ProviderID string    `json:"providerId"`
	AccountID  string    `json:"accountId"`
	Scope      *string   `json:"scope"`
	CreatedAt  core.Time `json:"createdAt"`
	UpdatedAt  core.Time `json:"updatedAt"`
}

func exportAccounts(as []core.Account) []exportAccount {
	out := make([]exportAccount, 0, len(as))
	for _, a := range as {
		out = append(out, exportAccount{ID: a.ID, ProviderID: a.ProviderID,
			AccountID: a.AccountID, Scope: a.Scope, CreatedAt: core.Time{Time: a.CreatedAt},
			UpdatedAt: core.Time{Time: a.UpdatedAt}})
	}
	return out
}

// summarize reduces a provider's export to counts and small facts: every
// list becomes its length, scalars stay, objects are reduced key by key
// down to summaryDepth. So {"memberships": [a, b], "enabled": true}
// becomes {"memberships": 2, "enabled": true}.
func summarize(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var g any
	if err := dec.Decode(&g); err != nil {
		return nil, err
	}
	return reduce(g, 0), nil
}

func reduce(v any, depth int) any {
	switch x := v.(type) {
	case []any:
		return len(x)
	case map[string]any:
		if depth >= summaryDepth {
			return len(x)
		}
		for k, val := range x {
			x[k] = reduce(val, depth+1)
		}
		return x
	}
	return v
}

// userByID loads the user an admin route names; 404 USER_NOT_FOUND when
// there is none.
func (p *Plugin) userByID(ctx context.Context, id string) (*core.User, error) {
	u, err := p.e.UserByID(ctx, p.e.DB, id)
	if errors.Is(err, db.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, p.e.DBError(ctx, "gdpr load user", err)
	}
	return u, nil
}
