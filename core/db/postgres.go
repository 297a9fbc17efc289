package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"regexp"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jackc/puddle/v2"
)

// pgDB is the PostgreSQL driver: a pgx pool whose connections all use the
// configured schema as search_path.
type pgDB struct {
	pool   *pgxpool.Pool
	schema string
	log    *slog.Logger

	sqlOnce sync.Once
	sqlDB   *sql.DB
}

// schemaName is the shape of schema names we accept; it needs no quoting.
var schemaName = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// openPostgres connects to url and makes sure o.Schema exists.
func openPostgres(ctx context.Context, url string, o Options) (*pgDB, error) {
	if !schemaName.MatchString(o.Schema) {
		return nil, fmt.Errorf("postgres schema %q: want lower-case letters, digits, _",
			o.Schema)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parser's message can echo the URL, password included.
		return nil, errors.New("parsing DATABASE_URL: malformed postgres URL")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = int32(o.MaxConns)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = o.Schema
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		// Scan timestamptz as UTC, as SQLite does, so values compare equal.
		c.TypeMap().RegisterType(&pgtype.Type{
			Name:  "timestamptz",
			OID:   pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
		})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("opening postgres pool: %w", pgErr(err))
	}

	d := &pgDB{pool: pool, schema: o.Schema, log: o.Logger}
	if err := d.ensureSchema(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// ensureSchema creates the schema unless it exists. Checking first lets a
// role without CREATE on the database use a schema made for it.
func (d *pgDB) ensureSchema(ctx context.Context) error {
	var exists bool
	err := d.pool.QueryRow(ctx,
		"SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)",
		d.schema).Scan(&exists)
	if err != nil {
		return fmt.Errorf("checking postgres schema %s: %w", d.schema, pgErr(err))
	}
	if exists {
		return nil
	}
	_, err = d.pool.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+d.schema)
	var pe *pgconn.PgError
	if errors.As(err, &pe) && (pe.Code == "42P06" || pe.Code == "23505") {
		err = nil // created concurrently by another instance
	}
	if err != nil {
		return fmt.Errorf("creating postgres schema %s: %w", d.schema, pgErr(err))
	}
	d.log.Info("created postgres schema", slog.String("schema", d.schema))
	return nil
}

// Dialect implements DB.
func (d *pgDB) Dialect() Dialect { return Postgres }

// Ping implements DB.
func (d *pgDB) Ping(ctx context.Context) error { return pgErr(d.pool.Ping(ctx)) }

// Close implements DB.
func (d *pgDB) Close() error {
	d.sqlOnce.Do(func() {}) // no database/sql view after this point
	var err error
	if d.sqlDB != nil {
		err = d.sqlDB.Close()
	}
	d.pool.Close()
	return err
}

// stdDB returns a database/sql view of the pool, created on first use.
func (d *pgDB) stdDB() *sql.DB {
	d.sqlOnce.Do(func() { d.sqlDB = stdlib.OpenDBFromPool(d.pool) })
	return d.sqlDB
}

// Exec implements Querier.
func (d *pgDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, query, pgArgs(args)...)
	if err != nil {
		return 0, pgErr(err)
	}
	return tag.RowsAffected(), nil
}

// Query implements Querier.
func (d *pgDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := d.pool.Query(ctx, query, pgArgs(args)...)
	if err != nil {
		return nil, pgErr(err)
	}
	return &pgRows{rows: rows}, nil
}

// QueryRow implements Querier.
func (d *pgDB) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{d.pool.QueryRow(ctx, query, pgArgs(args)...)}
}

// Tx implements DB.
func (d *pgDB) Tx(ctx context.Context, fn func(tx Tx) error) error {
	return retryTx(ctx, d.log, pgRetryable, func() error { return d.tryTx(ctx, fn) })
}

// tryTx runs fn once in a read-committed transaction.
func (d *pgDB) tryTx(ctx context.Context, fn func(tx Tx) error) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("beginning transaction: %w", pgErr(err))
	}
	done := false
	defer func() {
		if !done { // fn panicked: roll back while the panic unwinds
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()

	err = fn(pgTx{tx})
	done = true
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing transaction: %w", pgErr(err))
	}
	return nil
}

// pgTx is a pgx transaction seen as a Tx.
type pgTx struct{ tx pgx.Tx }

// Dialect implements Tx.
func (t pgTx) Dialect() Dialect { return Postgres }

// Exec implements Querier.
func (t pgTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, query, pgArgs(args)...)
	if err != nil {
		return 0, pgErr(err)
	}
	return tag.RowsAffected(), nil
}

// Query implements Querier.
func (t pgTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := t.tx.Query(ctx, query, pgArgs(args)...)
	if err != nil {
		return nil, pgErr(err)
	}
	return &pgRows{rows: rows}, nil
}

// QueryRow implements Querier.
func (t pgTx) QueryRow(ctx context.Context, query string, args ...any) Row {
	return pgRow{t.tx.QueryRow(ctx, query, pgArgs(args)...)}
}

// pgRow maps pgx errors on Scan.
type pgRow struct{ row pgx.Row }

// Scan implements Row.
func (r pgRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNoRows
	}
	return pgErr(err)
}

// pgRows maps pgx errors; pgx.Rows.Close is already idempotent.
type pgRows struct{ rows pgx.Rows }

// Next implements Rows.
func (r *pgRows) Next() bool { return r.rows.Next() }

// Scan implements Rows.
func (r *pgRows) Scan(dest ...any) error { return pgErr(r.rows.Scan(dest...)) }

// Err implements Rows.
func (r *pgRows) Err() error { return pgErr(r.rows.Err()) }

// Close implements Rows.
func (r *pgRows) Close() { r.rows.Close() }

// pgArgs truncates time arguments to the millisecond, the precision SQLite
// keeps (PostgreSQL would round). The slice is copied only when needed.
func pgArgs(args []any) []any {
	var out []any
	for i, a := range args {
		var t time.Time
		switch v := a.(type) {
		case time.Time:
			t = v
		case *time.Time:
			if v == nil {
				continue
			}
			t = *v
		default:
			continue
		}
		if t.Nanosecond()%int(time.Millisecond) == 0 {
			continue
		}
		if out == nil {
			out = make([]any, len(args))
			copy(out, args)
		}
		out[i] = t.Truncate(time.Millisecond)
	}
	if out == nil {
		return args
	}
	return out
}

// pgErr tags PostgreSQL and connection errors with the package sentinels.
func pgErr(err error) error {
	if err == nil {
		return nil
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505":
			return tag(ErrConflict, err)
		case "23514", "23503", "23502":
			return tag(ErrConstraint, err)
		case "57P01", "57P02", "57P03", "53300":
			// admin/crash shutdown, cannot connect now, too many connections
			return tag(ErrUnavailable, err)
		}
		if len(pe.Code) == 5 && pe.Code[:2] == "08" { // connection exception
			return tag(ErrUnavailable, err)
		}
		return err
	}
	if pgUnreachable(err) {
		return tag(ErrUnavailable, err)
	}
	return err
}

// pgUnreachable reports whether err means the server could not be reached or
// the connection was lost.
func pgUnreachable(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &ne):
		return true
	case errors.Is(err, puddle.ErrClosedPool), errors.Is(err, pgconn.ErrConnClosed):
		return true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return true
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// pgRetryable reports serialization failures and deadlocks, after which the
// transaction may simply be run again.
func pgRetryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
