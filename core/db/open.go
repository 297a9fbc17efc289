package db

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
)

// Options tunes Open. The zero value is usable.
type Options struct {
	// Schema is the PostgreSQL schema the tables live in, created if missing
	// and used as every connection's search_path. Default "auth".
	Schema string
	// MaxConns caps the pool: PostgreSQL connections, or SQLite reader
	// connections (SQLite always has one writer). Default: the driver's
	// choice (at least 4).
	MaxConns int
	// Logger receives schema creation and transaction retries. Default: none.
	Logger *slog.Logger
}

// DefaultSchema is the PostgreSQL schema used when Options.Schema is empty.
const DefaultSchema = "auth"

// Open connects to the database named by url, the DATABASE_URL setting:
//
//   - "postgres://…" or "postgresql://…": a pgx pool; Options.Schema is
//     created if missing and set as search_path on every connection.
//   - "sqlite:path": a SQLite file (its directory is created) in WAL mode,
//     with foreign keys on, a 5 s busy timeout and synchronous=NORMAL.
//   - "sqlite::memory:": a private in-memory SQLite database, gone when the
//     DB is closed.
//
// SQLite runs every statement other than a plain SELECT, and every
// transaction, on a single writer connection: inside Tx use only the Tx, and
// close Rows before writing through the DB, or the call waits for itself.
//
// Errors that mean the server cannot be reached wrap ErrUnavailable.
func Open(ctx context.Context, url string, o Options) (DB, error) {
	if o.Schema == "" {
		o.Schema = DefaultSchema
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case strings.HasPrefix(url, "postgres://"), strings.HasPrefix(url, "postgresql://"):
		return openPostgres(ctx, url, o)
	case strings.HasPrefix(url, "sqlite:"):
		target := strings.TrimPrefix(url, "sqlite:")
		if target != ":memory:" {
			target = strings.TrimPrefix(target, "//")
		}
		return openSQLite(ctx, target, o)
	}
	return nil, fmt.Errorf("DATABASE_URL: unsupported database URL %q: "+
		"want postgres://…, postgresql://…, sqlite:path or sqlite::memory:", redact(url))
}

// redact keeps only the scheme of a URL we cannot parse, in case it holds a
// password.
func redact(url string) string {
	if i := strings.Index(url, ":"); i >= 0 {
		return url[:i+1] + "…"
	}
	if len(url) > 12 {
		return url[:12] + "…"
	}
	return url
}

// SQLDB returns the database/sql handle behind d, for tools such as goose that
// need one. For PostgreSQL it shares d's pool; for SQLite it is the writer
// connection. It must not be closed by the caller; d.Close closes it. It
// returns nil for a DB not made by Open.
func SQLDB(d DB) *sql.DB {
	switch d := d.(type) {
	case *pgDB:
		return d.stdDB()
	case *sqliteDB:
		return d.writer
	}
	return nil
}
