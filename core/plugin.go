package core

import (
	"time"

	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mana/mana-auth/core/db"
)

// Plugin is a compiled-in extension of the engine. The lifecycle is fixed:
// construct (in cmd/mana-auth) → Init (configure and validate against the
// engine) → migrations → routes and hooks are mounted → Start → … → Stop.
// Every capability below is optional; the engine discovers them by type
// assertion. A plugin imports core, never another plugin.
type Plugin interface {
	// ID is the plugin's stable name ("jwt", "vault", …); it names its build
	// tag, its migration version table and its logger.
	ID() string
}

// Initializer is called once with the engine before migrations run.
type Initializer interface {
	Init(ctx context.Context, e *Engine) error
}

// Starter is started after the server is mounted; Stopper is stopped on
// shutdown after in-flight requests have drained.
type Starter interface {
	Start(ctx context.Context) error
}

// Stopper releases what Start acquired.
type Stopper interface {
	Stop(ctx context.Context) error
}

// RouteProvider contributes HTTP routes.
type RouteProvider interface {
	Routes() []Route
}

// MigrationProvider contributes the plugin's schema; it runs with its own
// goose version table named after the plugin.
type MigrationProvider interface {
	Migrations() db.MigrationSet
}

// HookProvider contributes endpoint middleware, each applied to the routes
// its Match accepts (for example set-auth-jwt after get-session).
type HookProvider interface {
	Hooks() []Hook
}

// Hook is endpoint middleware matched to routes by name.
type Hook struct {
	Match      func(r *Route) bool
	Middleware endpoint.Middleware
}

// EventListener receives engine events after the change they report has
// been committed. OnEvent must not block for long.
type EventListener interface {
	OnEvent(ctx context.Context, ev Event)
}

// SignInGate may turn a successful password check into a challenge (a
// second factor). It runs before any session exists; when it returns a
// non-nil Challenge, no session is created.
type SignInGate interface {
	GateSignIn(ctx context.Context, a *SignInAttempt) (*Challenge, error)
}

// MetricsProvider registers Prometheus collectors on the server's registry.
type MetricsProvider interface {
	Collectors() []prometheus.Collector
}

// FieldProvider adds columns to the users and sessions tables (the plugin's
// migration creates them); the engine reads them into User.Fields and
// Session.Fields.
type FieldProvider interface {
	UserFields() []Field
	SessionFields() []Field
}

// UserDataProvider exports and erases the rows a plugin keeps about a user.
// Erase runs inside the erasure transaction and reports how many rows went.
type UserDataProvider interface {
	UserDataSection() string
	ExportUserData(ctx context.Context, q db.Querier, userID string) (any, error)
	EraseUserData(ctx context.Context, tx db.Tx, userID string) (int64, error)
}

// FieldKind is the type of a plugin column.
type FieldKind int

// Field kinds.
const (
	FieldBool FieldKind = iota
	FieldString
	FieldInt
	FieldTime
)

// Field is one plugin column and its JSON name.
type Field struct {
	Column string
	JSON   string
	Kind   FieldKind
}

// SignInAttempt is a password (or other first-factor) sign-in about to
// succeed.
type SignInAttempt struct {
	User       *User
	RememberMe bool
	Request    *Request
	// Method is "password", "magic-link", … Gates may skip some methods.
	Method string
}

// Challenge replaces a session when a gate asks for more proof.
type Challenge struct {
	// Methods lists the second factors available ("totp", "otp").
	Methods []string
	// Token identifies the challenge for clients without cookies (v1 API).
	Token string
	// Cookies are set on the native response (the signed two_factor cookie).
	Cookies []*Cookie
}

// Event is a typed engine event.
type Event interface{ eventName() string }

// UserCreated is sent after a user and its account were committed.
type UserCreated struct{ User *User }

// UserDeleted is sent after a user's rows were deleted.
type UserDeleted struct {
	UserID string
	Email  string
}

// SessionCreated is sent after a session was stored.
type SessionCreated struct{ Session *Session }

// SessionsRevoked is sent after sessions were deleted; Tokens lists them
// (empty when every session of UserID went).
type SessionsRevoked struct {
	UserID string
	Tokens []string
	All    bool
}

func (UserCreated) eventName() string     { return "user.created" }
func (UserDeleted) eventName() string     { return "user.deleted" }
func (SessionCreated) eventName() string  { return "session.created" }
func (SessionsRevoked) eventName() string { return "session.revoked" }

// RateRule limits requests whose path matches Pattern (exact, or a prefix
// ending in *) to Max per Window per client bucket. Max 0 disables limits.
type RateRule struct {
	Pattern string
	Window  time.Duration
	Max     int
}

// RateLimitProvider contributes rate-limit rules; they win over the
// built-in ones.
type RateLimitProvider interface {
	RateLimits() []RateRule
}
