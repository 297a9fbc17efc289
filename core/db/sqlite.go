package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteDB is the SQLite driver. It has one writer connection (every
// statement that is not a plain SELECT, and every transaction) and a pool of
// read-only readers. For files, WAL lets the readers run beside the writer.
//
// Funnelling writes through one connection means our own writers queue in
// database/sql instead of spinning on SQLITE_BUSY; busy_timeout and
// BEGIN IMMEDIATE still protect against other processes on the same file.
type sqliteDB struct {
	writer *sql.DB
	reader *sql.DB
	log    *slog.Logger

	wstmts *stmtCache
	rstmts *stmtCache
}

// sqlitePragmas are applied to every connection. busy_timeout comes first so
// the others cannot fail on a locked file.
const sqlitePragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(NORMAL)&_txlock=immediate"

// memSeq numbers in-memory databases, which must have distinct names.
var memSeq atomic.Uint64

// openSQLite opens target, either ":memory:" or a file path.
//
// An in-memory database lives in SQLite's memdb VFS under a name unique to
// this Open, so the writer and the readers share it (a plain ":memory:"
// would give each connection its own). It has no WAL: a writer commits only
// once running reads finish. It lasts while the writer connection is open.
func openSQLite(ctx context.Context, target string, o Options) (*sqliteDB, error) {
	var base, writerDSN string
	if target == ":memory:" {
		base = fmt.Sprintf("file:/mana-auth-%d-%d?vfs=memdb&", os.Getpid(),
			memSeq.Add(1))
		writerDSN = base + sqlitePragmas
	} else {
		if target == "" || strings.ContainsAny(target, "?#") {
			return nil, fmt.Errorf("DATABASE_URL: invalid sqlite path %q", target)
		}
		if dir := filepath.Dir(target); dir != "." {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("creating sqlite directory: %w", err)
			}
		}
		base = target + "?"
		writerDSN = base + "_pragma=journal_mode(WAL)&" + sqlitePragmas
	}

	w, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	// One writer that never expires; for memory it keeps the database alive.
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Connect the writer first: it switches a file to WAL before any reader
	// opens it.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite %s: %w", target, sqliteErr(err))
	}

	r, err := sql.Open("sqlite", base+sqlitePragmas+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("opening sqlite: %w", err)
	}
	n := o.MaxConns
	if n <= 0 {
		n = max(4, runtime.GOMAXPROCS(0))
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(5 * time.Minute)
	return &sqliteDB{
		writer: w,
		reader: r,
		log:    o.Logger,
		wstmts: newStmtCache(w),
		rstmts: newStmtCache(r),
	}, nil
}

// Dialect implements DB.
func (d *sqliteDB) Dialect() Dialect { return SQLite }

// Ping implements DB.
func (d *sqliteDB) Ping(ctx context.Context) error {
	if err := d.writer.PingContext(ctx); err != nil {
		return sqliteErr(err)
	}
	return nil
}

// Close implements DB.
func (d *sqliteDB) Close() error {
	d.wstmts.close()
	d.rstmts.close()
	return errors.Join(d.reader.Close(), d.writer.Close())
}

// stmt returns the prepared statement for query on the pool it runs on:
// plain SELECTs go to the readers, everything else to the writer. With a
// full cache it returns the pool itself, unprepared.
func (d *sqliteDB) stmt(ctx context.Context, query string,
	write bool) (sqlRunner, error) {
	pool, cache := d.writer, d.wstmts
	if !write && isSelect(query) {
		pool, cache = d.reader, d.rstmts
	}
	st, err := cache.get(ctx, query)
	if err != nil {
		return nil, sqliteErr(err)
	}
	if st == nil {
		return stmtRunner{pool, query}, nil
	}
	return (*preparedRunner)(st), nil
}

// Exec implements Querier.
func (d *sqliteDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	r, err := d.stmt(ctx, query, true)
	if err != nil {
		return 0, err
	}
	return sqliteExec(ctx, r, args)
}

// Query implements Querier.
func (d *sqliteDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	r, err := d.stmt(ctx, query, false)
	if err != nil {
		return nil, err
	}
	return sqliteQuery(ctx, r, args)
}

// QueryRow implements Querier.
func (d *sqliteDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	r, err := d.stmt(ctx, query, false)
	if err != nil {
		return errRow{err}
	}
	return (*sqliteRow)(r.QueryRowContext(ctx, sqliteArgs(args)...))
}

// Tx implements DB.
func (d *sqliteDB) Tx(ctx context.Context, fn func(tx Tx) error) error {
	return retryTx(ctx, d.log, sqliteRetryable, func() error {
		return d.tryTx(ctx, fn)
	})
}

// tryTx runs fn once in a BEGIN IMMEDIATE transaction on the writer.
func (d *sqliteDB) tryTx(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := d.writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", sqliteErr(err))
	}
	done := false
	defer func() {
		if !done { // fn panicked: roll back while the panic unwinds
			_ = tx.Rollback()
		}
	}()

	err = fn((*sqliteTx)(tx))
	done = true
	if err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("committing transaction: %w", sqliteErr(err))
	}
	return nil
}

// sqliteTx is a transaction on the writer connection.
type sqliteTx sql.Tx

// Dialect implements Tx.
func (t *sqliteTx) Dialect() Dialect { return SQLite }

// Transactions run unprepared statements: a statement prepared on the pool
// would be prepared again on the transaction's connection anyway unless it
// happened to run there before.

// Exec implements Querier.
func (t *sqliteTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return sqliteExec(ctx, txRunner{(*sql.Tx)(t), query}, args)
}

// Query implements Querier.
func (t *sqliteTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	return sqliteQuery(ctx, txRunner{(*sql.Tx)(t), query}, args)
}

// QueryRow implements Querier.
func (t *sqliteTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return (*sqliteRow)((*sql.Tx)(t).QueryRowContext(ctx, query, sqliteArgs(args)...))
}

// sqlRunner runs one statement, prepared or not.
type sqlRunner interface {
	ExecContext(ctx context.Context, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, args ...any) *sql.Row
}

// preparedRunner is a cached prepared statement.
type preparedRunner sql.Stmt

func (p *preparedRunner) ExecContext(ctx context.Context,
	args ...any) (sql.Result, error) {
	return (*sql.Stmt)(p).ExecContext(ctx, args...)
}

func (p *preparedRunner) QueryContext(ctx context.Context,
	args ...any) (*sql.Rows, error) {
	return (*sql.Stmt)(p).QueryContext(ctx, args...)
}

func (p *preparedRunner) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return (*sql.Stmt)(p).QueryRowContext(ctx, args...)
}

// stmtRunner is a statement run directly on a pool.
type stmtRunner struct {
	db    *sql.DB
	query string
}

func (s stmtRunner) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.query, args...)
}

func (s stmtRunner) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return s.db.QueryContext(ctx, s.query, args...)
}

func (s stmtRunner) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return s.db.QueryRowContext(ctx, s.query, args...)
}

// txRunner is a statement run in a transaction.
type txRunner struct {
	tx    *sql.Tx
	query string
}

func (t txRunner) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, t.query, args...)
}

func (t txRunner) QueryContext(ctx context.Context, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.query, args...)
}

func (t txRunner) QueryRowContext(ctx context.Context, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.query, args...)
}

func sqliteExec(ctx context.Context, r sqlRunner, args []any) (int64, error) {
	res, err := r.ExecContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return 0, sqliteErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, sqliteErr(err)
	}
	return n, nil
}

func sqliteQuery(ctx context.Context, r sqlRunner, args []any) (Rows, error) {
	rows, err := r.QueryContext(ctx, sqliteArgs(args)...)
	if err != nil {
		return nil, sqliteErr(err)
	}
	return (*sqliteRows)(rows), nil
}

// errRow is a Row whose statement could not even be prepared.
type errRow struct{ err error }

// Scan implements Row.
func (r errRow) Scan(...any) error { return r.err }

// sqliteRow maps errors and decodes timestamps on Scan.
type sqliteRow sql.Row

// Scan implements Row.
func (r *sqliteRow) Scan(dest ...any) error {
	err := scanText((*sql.Row)(r), dest)
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNoRows
	}
	return sqliteErr(err)
}

// sqliteRows maps errors and decodes timestamps on Scan. sql.Rows.Close is
// already idempotent.
type sqliteRows sql.Rows

// Next implements Rows.
func (r *sqliteRows) Next() bool { return (*sql.Rows)(r).Next() }

// Scan implements Rows.
func (r *sqliteRows) Scan(dest ...any) error {
	return sqliteErr(scanText((*sql.Rows)(r), dest))
}

// Err implements Rows.
func (r *sqliteRows) Err() error { return sqliteErr((*sql.Rows)(r).Err()) }

// Close implements Rows.
func (r *sqliteRows) Close() { _ = (*sql.Rows)(r).Close() }

// sqliteArgs converts time arguments to TimeLayout text so they compare
// correctly with stored values. The slice is copied only when it holds a time.
func sqliteArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var s any
		switch v := a.(type) {
		case time.Time:
			s = formatTime(v)
		case *time.Time:
			if v != nil {
				s = formatTime(*v)
			}
		default:
			if out != nil {
				out[i] = a
			}
			continue
		}
		if out == nil {
			out = make([]any, len(args))
			copy(out, args[:i])
		}
		out[i] = s
	}
	if out == nil {
		return args
	}
	return out
}

// isSelect reports whether query starts with the keyword SELECT, the only
// statements routed to the read-only connections.
func isSelect(query string) bool {
	i := 0
	for i < len(query) {
		switch query[i] {
		case ' ', '\t', '\n', '\r':
			i++
			continue
		}
		break
	}
	const kw = "select"
	if len(query)-i < len(kw)+1 || !strings.EqualFold(query[i:i+len(kw)], kw) {
		return false
	}
	switch query[i+len(kw)] {
	case ' ', '\t', '\n', '\r', '*', '(':
		return true
	}
	return false
}

// sqliteErr tags SQLite errors with the package sentinels.
func sqliteErr(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return tag(ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY,
			sqlite3.SQLITE_CONSTRAINT_NOTNULL, sqlite3.SQLITE_CONSTRAINT_DATATYPE:
			return tag(ErrConstraint, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN:
			return tag(ErrUnavailable, err)
		}
		return err
	}
	if errors.Is(err, sql.ErrConnDone) || err.Error() == "sql: database is closed" {
		return tag(ErrUnavailable, err)
	}
	return err
}

// sqliteRetryable reports whether a transaction failed only because the
// database was locked, so running it again may succeed.
func sqliteRetryable(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	c := se.Code() & 0xff
	return c == sqlite3.SQLITE_BUSY || c == sqlite3.SQLITE_LOCKED
}
