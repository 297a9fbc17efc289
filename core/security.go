package core

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/mana/mana-auth/core/db"
)

// SecurityEvent is one row of the security log.
type SecurityEvent struct {
	ID        string         `json:"id"`
	UserID    *string        `json:"userId"`
	Event     string         `json:"event"`
	Outcome   string         `json:"outcome"`
	IPAddress string         `json:"ipAddress"`
	UserAgent string         `json:"userAgent"`
	Detail    map[string]any `json:"detail,omitempty"`
	CreatedAt Time           `json:"createdAt"`
}

// Security records a security event (sign-ins, failures, password and
// email changes, revocations, 2FA, vault and admin actions) in the
// security_events table and as an Info log line. detail must never hold a
// secret. Failures to write are logged, never returned: the action the
// event describes has already happened.
func (e *Engine) Security(ctx context.Context, r *Request, userID, event, outcome string,
	detail map[string]any) {
	e.SecurityTx(ctx, e.DB, r, userID, event, outcome, detail)
}

// SecurityTx is Security inside a transaction, for events that must be
// written together with the change they record.
func (e *Engine) SecurityTx(ctx context.Context, q db.Querier, r *Request, userID, event,
	outcome string, detail map[string]any) {
	m := r.Meta()
	var uid *string
	if userID != "" {
		uid = &userID
	}
	var det *string
	if len(detail) > 0 {
		b, _ := json.Marshal(detail)
		s := string(b)
		det = &s
	}
	e.Log.LogAttrs(ctx, slog.LevelInfo, "security event",
		slog.String("event", event), slog.String("outcome", outcome),
		slog.String("user_id", userID), slog.String("ip", m.IP))
	_, err := q.Exec(ctx, "INSERT INTO security_events (id, user_id, event, outcome, "+
		"ip_address, user_agent, detail, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
		e.NewID(), uid, event, outcome, m.IP, ClipText(m.UserAgent, 512), det, e.Now())
	if err != nil {
		e.Log.WarnContext(ctx, "security event not stored", "event", event, "err", err)
	}
}

// SecurityEvents returns a user's security events, newest first.
func (e *Engine) SecurityEvents(ctx context.Context, q db.Querier, userID string,
	limit int) ([]SecurityEvent, error) {
	rows, err := q.Query(ctx, "SELECT id, user_id, event, outcome, COALESCE(ip_address, ''), "+
		"COALESCE(user_agent, ''), detail, created_at FROM security_events "+
		"WHERE user_id = $1 ORDER BY created_at DESC LIMIT $2", userID, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []SecurityEvent{}
	for rows.Next() {
		var ev SecurityEvent
		var det *string
		if err := rows.Scan(&ev.ID, &ev.UserID, &ev.Event, &ev.Outcome, &ev.IPAddress,
			&ev.UserAgent, &det, &ev.CreatedAt.Time); err != nil {
			return nil, err
		}
		if det != nil {
			_ = json.Unmarshal([]byte(*det), &ev.Detail)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// PruneSecurityEvents deletes events older than the retention.
func (e *Engine) PruneSecurityEvents(ctx context.Context) (int64, error) {
	cut := e.Now().Add(-e.Config.SecurityRetention)
	return e.DB.Exec(ctx, "DELETE FROM security_events WHERE created_at < $1", cut)
}

// RunMaintenance prunes the security log once an hour until ctx ends.
func (e *Engine) RunMaintenance(ctx context.Context) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := e.PruneSecurityEvents(ctx); err != nil {
			e.Log.WarnContext(ctx, "pruning security events", "err", err)
		} else if n > 0 {
			e.Log.InfoContext(ctx, "pruned security events", "rows", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
