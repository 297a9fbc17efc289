package core

import (
	"context"
	"errors"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/secure"
)

// SessionCache caches session lookups by token. Implementations must make
// Delete and DeleteUser take effect before they return, so a revoked
// session is never served again, and must refuse a Set whose data was
// loaded (loadedAt) before a Delete or DeleteUser that concerns it, so a
// lookup racing a revocation cannot put the session back.
type SessionCache interface {
	Get(ctx context.Context, token string) (*SessionWithUser, bool)
	Set(ctx context.Context, sw *SessionWithUser, ttl time.Duration, loadedAt time.Time)
	Delete(ctx context.Context, userID string, tokens ...string)
	DeleteUser(ctx context.Context, userID string)
}

// NewID returns a fresh 32-character id.
func (e *Engine) NewID() string { return secure.GenerateID() }

// ClientMeta is who is asking: the client IP chosen by the transport's one
// client-IP rule, and the user agent.
type ClientMeta struct {
	IP        string
	UserAgent string
}

// Meta returns the request's client metadata.
func (r *Request) Meta() ClientMeta {
	if r == nil {
		return ClientMeta{}
	}
	return ClientMeta{IP: r.ClientIP, UserAgent: r.UserAgent}
}

// CreateSession stores a new session for userID and reports it to plugins.
// It is the only place sessions are born; SignIn and the plugins that
// complete a sign-in call it.
func (e *Engine) CreateSession(ctx context.Context, q db.Querier, userID string,
	rememberMe bool, m ClientMeta) (*Session, error) {
	now := e.Now()
	ttl := e.Config.Session.ExpiresIn
	if !rememberMe {
		ttl = e.Config.Session.ShortExpiresIn
	}
	s := &Session{
		ID: e.NewID(), Token: secure.GenerateID(), UserID: userID,
		ExpiresAt: now.Add(ttl), CreatedAt: now, UpdatedAt: now,
		IPAddress: m.IP, UserAgent: ClipText(m.UserAgent, 512), DontRemember: !rememberMe,
	}
	if err := e.insertSession(ctx, q, s); err != nil {
		return nil, err
	}
	e.Metrics.sessionsCreated.Inc()
	return s, nil
}

// SessionToken extracts the session token a request carries: the signed
// session cookie, or an Authorization bearer (signed value or raw token).
// fromCookie reports which.
func (e *Engine) SessionToken(r *Request) (token string, fromCookie bool) {
	if t := e.Cookies.ReadSigned(r, CookieSessionToken); t != "" {
		return t, true
	}
	h := r.Header("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		v := strings.TrimSpace(h[7:])
		if strings.Contains(v, ".") {
			t, ok := e.Secrets.VerifyCookie(v)
			if !ok {
				return "", false
			}
			return t, false
		}
		if validToken(v) {
			return v, false
		}
	}
	return "", false
}

func validToken(t string) bool {
	if len(t) != 32 {
		return false
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// SessionState is the outcome of reading a session.
type SessionState struct {
	Session *Session
	User    *User
	// Refreshed is true when the expiry slid; the caller re-sets the cookie.
	Refreshed bool
	// Gone is true when a token was presented but no live session matched;
	// the caller expires the cookies.
	Gone bool
}

// LookupSession resolves a session token. Expired sessions are deleted.
// Unless noRefresh, a session last extended more than UpdateAge ago slides
// to a full ExpiresIn (never for rememberMe=false sessions). With
// bypassCache the database is read even when a cache is configured.
func (e *Engine) LookupSession(ctx context.Context, token string, noRefresh,
	bypassCache bool) (SessionState, error) {
	if token == "" {
		return SessionState{}, nil
	}
	now := e.Now()
	var s *Session
	var u *User
	if e.Cache != nil && !bypassCache {
		if sw, ok := e.Cache.Get(ctx, token); ok {
			s, u = sw.Session, sw.User
		}
	}
	if s == nil {
		loadedAt := time.Now()
		var err error
		s, u, err = e.sessionByToken(ctx, e.DB, token)
		if errors.Is(err, db.ErrNoRows) {
			return SessionState{Gone: true}, nil
		}
		if err != nil {
			return SessionState{}, e.dbError(ctx, "lookup session", err)
		}
		if e.Cache != nil && s.ExpiresAt.After(now) {
			e.Cache.Set(ctx, &SessionWithUser{s, u}, s.ExpiresAt.Sub(now), loadedAt)
		}
	}
	if !s.ExpiresAt.After(now) {
		_, _ = e.deleteSessions(ctx, e.DB, s.UserID, " AND token = $2", token)
		e.Emit(ctx, SessionsRevoked{UserID: s.UserID, Tokens: []string{token}})
		return SessionState{Gone: true}, nil
	}
	st := SessionState{Session: s, User: u}
	cfg := e.Config.Session
	lastExtended := s.ExpiresAt.Add(-cfg.ExpiresIn)
	if noRefresh || s.DontRemember || lastExtended.Add(cfg.UpdateAge).After(now) {
		return st, nil
	}
	exp := now.Add(cfg.ExpiresIn)
	loadedAt := time.Now()
	n, err := e.DB.Exec(ctx, "UPDATE sessions SET expires_at = $1, updated_at = $2 "+
		"WHERE token = $3", exp, now, token)
	if err != nil {
		return SessionState{}, e.dbError(ctx, "refresh session", err)
	}
	if n == 0 {
		return SessionState{Gone: true}, nil
	}
	c := *s
	c.ExpiresAt, c.UpdatedAt = exp, now
	st.Session, st.Refreshed = &c, true
	if e.Cache != nil {
		e.Cache.Set(ctx, &SessionWithUser{st.Session, u}, cfg.ExpiresIn, loadedAt)
	}
	return st, nil
}

// RevokeSessions deletes a user's sessions: all of them, or all but keep
// when keep is not empty. It reports the event (and so clears caches).
func (e *Engine) RevokeSessions(ctx context.Context, q db.Querier, userID, keep string) error {
	var tokens []string
	var err error
	if keep == "" {
		tokens, err = e.deleteSessions(ctx, q, userID, "")
	} else {
		tokens, err = e.deleteSessions(ctx, q, userID, " AND token <> $2", keep)
	}
	if err != nil {
		return err
	}
	e.Emit(ctx, SessionsRevoked{UserID: userID, Tokens: tokens, All: keep == ""})
	return nil
}

// RevokeSession deletes one session if it belongs to userID; a foreign or
// unknown token changes nothing and is not an error.
func (e *Engine) RevokeSession(ctx context.Context, userID, token string) error {
	tokens, err := e.deleteSessions(ctx, e.DB, userID, " AND token = $2", token)
	if err != nil {
		return err
	}
	if len(tokens) > 0 {
		e.Emit(ctx, SessionsRevoked{UserID: userID, Tokens: tokens})
	}
	return nil
}

func (e *Engine) invalidate(ctx context.Context, ev SessionsRevoked) {
	if ev.All {
		e.Cache.DeleteUser(ctx, ev.UserID)
	}
	if len(ev.Tokens) > 0 {
		e.Cache.Delete(ctx, ev.UserID, ev.Tokens...)
	}
}

// InvalidateUser drops cached sessions of a user after its row changed.
func (e *Engine) InvalidateUser(ctx context.Context, userID string) {
	if e.Cache != nil {
		e.Cache.DeleteUser(ctx, userID)
	}
}

// Fresh reports whether the session was created less than FreshAge ago.
func (e *Engine) Fresh(s *Session) bool {
	fa := e.Config.Session.FreshAge
	return fa == 0 || e.Now().Sub(s.CreatedAt) < fa
}

// ClipText makes client-supplied text storable: valid UTF-8 (PostgreSQL
// text refuses anything else; invalid bytes are dropped) and at most n
// bytes, cut on a rune boundary. User agents and other header values go
// through it before they reach a row.
func ClipText(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
