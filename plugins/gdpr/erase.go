package gdpr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// Erasure status values in the DELETE answer.
const (
	StatusErased  = "erased"
	StatusPending = "pending"
)

// EraseResult is the answer of an erasure: per service, what happened.
// "auth" is erased in the request's transaction; a remote service is
// "pending" until the outbox worker has its confirmation.
type EraseResult struct {
	Erased   bool                     `json:"erased"`
	Services map[string]ServiceStatus `json:"services"`
}

// ServiceStatus is one service's part of an erasure. Rows counts the core
// rows deleted (the user, sessions, accounts, security events); Sections
// names the plugin sections erased with them.
type ServiceStatus struct {
	Status   string   `json:"status"`
	Rows     *int64   `json:"rows,omitempty"`
	Sections []string `json:"sections,omitempty"`
}

// erasePayload is the payload of a remote-erasure job.
type erasePayload struct {
	UserID string `json:"userId"`
}

// owedService is a remote service an erasure must reach.
type owedService struct {
	name string
	kind string
}

// owed lists the configured remote services.
func (p *Plugin) owed() []owedService {
	var out []owedService
	if p.credits != nil {
		out = append(out, owedService{"credits", KindEraseCredits})
	}
	if p.sync != nil {
		out = append(out, owedService{"sync", KindEraseSync})
	}
	return out
}

// countCoreRows counts the core rows an erasure deletes: the user and its
// sessions, accounts and security events.
const countCoreRows = "SELECT 1 + (SELECT count(*) FROM sessions WHERE user_id = $1) + " +
	"(SELECT count(*) FROM accounts WHERE user_id = $1) + " +
	"(SELECT count(*) FROM security_events WHERE user_id = $1)"

// confirm checks that the signed-in user may erase target's data now: a
// password in the body is verified (whatever the session's age);
// without one the session must be fresh. Refusals are logged.
func (p *Plugin) confirm(ctx context.Context, r *core.Request, target string) error {
	var in struct {
		Password string `json:"password"`
	}
	if err := r.Bind(&in); err != nil {
		return err
	}
	reason := ""
	var err error
	switch {
	case in.Password != "":
		if err = p.e.VerifyUserPassword(ctx, r.User.ID, in.Password); err != nil {
			reason = "password"
		}
	case !p.e.Fresh(r.Session):
		reason, err = "not_fresh", ErrNotFresh
	}
	if err != nil {
		p.e.Security(ctx, r, r.User.ID, p.eraseEvent(r), "failure",
			map[string]any{"target": target, "reason": reason})
	}
	return err
}

// eraseEvent names the security event of an erasure.
func (p *Plugin) eraseEvent(r *core.Request) string {
	if r.Route != nil && r.Route.Path == AdminPath {
		return "admin_erase_user_data"
	}
	return "gdpr_erase"
}

// erase deletes target's auth data and records the remote erasures owed,
// all in one transaction, with its security event. The event is stored
// without a user id when the actor is the erased user (the row would go
// with the user), else under the acting admin.
func (p *Plugin) erase(ctx context.Context, r *core.Request, target string) (
	*EraseResult, error) {
	owed := p.owed()
	names := make([]string, 0, len(owed))
	for _, o := range owed {
		names = append(names, o.name)
	}
	actor := r.User.ID
	if actor == target {
		actor = ""
	}
	var rows int64
	err := p.e.DeleteUser(ctx, r, target, func(tx db.Tx) error {
		if err := lockUser(ctx, tx, target); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, countCoreRows, target).Scan(&rows); err != nil {
			return err
		}
		for _, o := range owed {
			err := p.e.Enqueue(ctx, tx, o.kind, erasePayload{UserID: target})
			if err != nil {
				return err
			}
		}
		p.e.SecurityTx(ctx, tx, r, actor, p.eraseEvent(r), "success",
			map[string]any{"target": target, "pending": names})
		return nil
	})
	if errors.Is(err, core.ErrUserNotFound) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, err
	}
	p.log.InfoContext(ctx, "user data erased", "target", target, "pending", names)

	res := &EraseResult{Erased: true, Services: map[string]ServiceStatus{
		"auth": {Status: StatusErased, Rows: &rows, Sections: p.sections()},
	}}
	for _, n := range names {
		res.Services[n] = ServiceStatus{Status: StatusPending}
	}
	return res, nil
}

// lockUser locks the user's row for the erasure transaction, so of two
// racing erasures the second waits, then finds no user (db.ErrNoRows) and
// rolls back, queueing nothing. SQLite transactions are serialised anyway.
func lockUser(ctx context.Context, tx db.Tx, userID string) error {
	lock := ""
	if tx.Dialect() == db.Postgres {
		lock = " FOR UPDATE"
	}
	var id string
	return tx.QueryRow(ctx, "SELECT id FROM users WHERE id = $1"+lock, userID).Scan(&id)
}

// sections names the local plugin sections an erasure covers.
func (p *Plugin) sections() []string {
	var out []string
	for _, pl := range p.e.Plugins() {
		if dp, ok := pl.(core.UserDataProvider); ok {
			out = append(out, dp.UserDataSection())
		}
	}
	return out
}

// decodeJob reads a remote-erasure payload. A payload without a user id
// can never succeed; it is logged and dropped.
func (p *Plugin) decodeJob(ctx context.Context, kind string, payload []byte) (string,
	bool) {
	var in erasePayload
	if err := json.Unmarshal(payload, &in); err != nil || in.UserID == "" {
		p.log.ErrorContext(ctx, "dropping malformed erasure job", "kind", kind)
		return "", false
	}
	return in.UserID, true
}

// runEraseCredits is the outbox handler of KindEraseCredits: DELETE the
// user at mana-credits until it answers 2xx or 404.
func (p *Plugin) runEraseCredits(ctx context.Context, payload []byte) error {
	id, ok := p.decodeJob(ctx, KindEraseCredits, payload)
	if !ok {
		return nil
	}
	if p.credits == nil {
		return errors.New("MANA_CREDITS_URL is not set; the credits erasure stays owed")
	}
	if err := p.credits.erase(ctx, id); err != nil {
		p.m.remote.WithLabelValues("credits", "erase", "error").Inc()
		return err
	}
	p.m.remote.WithLabelValues("credits", "erase", "ok").Inc()
	p.log.InfoContext(ctx, "remote erasure confirmed", "service", "credits", "target", id)
	return nil
}

// runEraseSync is the outbox handler of KindEraseSync: delete the user's
// rows in the sync database.
func (p *Plugin) runEraseSync(ctx context.Context, payload []byte) error {
	id, ok := p.decodeJob(ctx, KindEraseSync, payload)
	if !ok {
		return nil
	}
	if p.sync == nil {
		return errors.New("SYNC_DATABASE_URL is not set; the sync erasure stays owed")
	}
	n, err := p.sync.erase(ctx, id)
	if err != nil {
		p.m.remote.WithLabelValues("sync", "erase", "error").Inc()
		return fmt.Errorf("sync erasure: %w", err)
	}
	p.m.remote.WithLabelValues("sync", "erase", "ok").Inc()
	p.log.InfoContext(ctx, "remote erasure confirmed", "service", "sync", "target", id,
		"rows", n)
	return nil
}
