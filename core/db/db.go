// Package db is mana-auth's dialect-neutral storage layer: one small interface
// with a PostgreSQL driver (pgx/v5) and an SQLite driver (modernc.org/sqlite),
// and the goose migration runner that every plugin's schema goes through.
//
// SQL is written once, in the subset both dialects share: $1 placeholders,
// RETURNING, ON CONFLICT, lower() and LIKE. Times are passed and scanned as
// time.Time (UTC, millisecond precision); booleans as bool.
package db

import (
	"context"
	"errors"
	"time"
)

// Dialect names an SQL dialect; migration folders are named after it.
type Dialect string

// The dialects mana-auth speaks.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrNoRows is returned by Row.Scan when the query matched nothing.
var ErrNoRows = errors.New("db: no rows in result set")

// ErrUnavailable wraps errors that mean the database cannot be reached
// right now (connection refused, pool closed); callers answer 503.
var ErrUnavailable = errors.New("db: database unavailable")

// ErrConflict wraps unique-constraint violations.
var ErrConflict = errors.New("db: unique constraint violated")

// ErrConstraint wraps CHECK, NOT NULL and foreign-key violations.
var ErrConstraint = errors.New("db: constraint violated")

// Row is the result of QueryRow. Scan returns ErrNoRows when nothing matched.
type Row interface {
	Scan(dest ...any) error
}

// Rows iterates over a result set. Close must be called; it is safe to call
// twice.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Querier runs statements. Both DB and Tx implement it, so store code takes a
// Querier and works inside or outside a transaction.
type Querier interface {
	// Exec runs a statement and reports the number of rows it affected.
	Exec(ctx context.Context, sql string, args ...any) (int64, error)
	// Query runs a statement that returns rows.
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	// QueryRow runs a statement expected to return at most one row.
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Tx is a transaction. It is a Querier plus the dialect; commit and
// rollback belong to DB.Tx.
type Tx interface {
	Querier
	Dialect() Dialect
}

// DB is a connection pool. It is safe for concurrent use.
type DB interface {
	Querier
	// Tx runs fn in a transaction, committing when fn returns nil and rolling
	// back otherwise (and on panic). Serialization failures are retried.
	Tx(ctx context.Context, fn func(tx Tx) error) error
	// Dialect reports which SQL dialect the database speaks.
	Dialect() Dialect
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
	// Close releases the pool.
	Close() error
}

// Now returns the current time truncated to the millisecond in UTC, the
// precision every stored timestamp has.
func Now() time.Time {
	return time.Now().UTC().Truncate(time.Millisecond)
}
