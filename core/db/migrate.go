package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"regexp"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// MigrationSet is one owner's schema: the core, or a plugin. FS holds a
// postgres/ and a sqlite/ folder of goose SQL files (00001_name.sql with
// "-- +goose Up" and "-- +goose Down" sections). Each set records its
// progress in its own version table, goose_<Owner>, so sets never collide.
type MigrationSet struct {
	Owner string
	FS    fs.FS
}

// SetStatus reports one set's migrations by version, ascending.
type SetStatus struct {
	Owner   string
	Applied []int64
	Pending []int64
}

// ownerName is the shape of a MigrationSet.Owner; it becomes a table name.
var ownerName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,40}$`)

// Migrate applies every pending migration of each set, in the order given,
// each migration in its own transaction. On PostgreSQL a session advisory
// lock per set and schema makes instances that start together apply each
// migration once; the others wait and then find nothing to do. On SQLite the
// single writer connection serialises migrations within a process.
//
// Two processes migrating one SQLite file at the same moment are not
// coordinated: the loser fails on the duplicate DDL (nothing is applied
// twice) and must be restarted; a file lock around Up would fix that.
func Migrate(ctx context.Context, d DB, sets ...MigrationSet) error {
	for _, set := range sets {
		p, err := provider(d, set, true)
		if err != nil {
			return err
		}
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrating %s: %w", set.Owner, mapDriverErr(d, err))
		}
	}
	return nil
}

// MigrationStatus reports, per set in the order given, which migration
// versions are applied and which are pending. It creates a set's version
// table if it is missing.
func MigrationStatus(ctx context.Context, d DB,
	sets ...MigrationSet) ([]SetStatus, error) {
	out := make([]SetStatus, 0, len(sets))
	for _, set := range sets {
		p, err := provider(d, set, true)
		if err != nil {
			return nil, err
		}
		list, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("migration status of %s: %w", set.Owner,
				mapDriverErr(d, err))
		}
		st := SetStatus{Owner: set.Owner}
		for _, m := range list {
			if m.State == goose.StateApplied {
				st.Applied = append(st.Applied, m.Source.Version)
			} else {
				st.Pending = append(st.Pending, m.Source.Version)
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// Pending reports whether any set has a migration not yet applied; /readyz
// answers not-ready while it does. It takes no lock.
func Pending(ctx context.Context, d DB, sets ...MigrationSet) (bool, error) {
	for _, set := range sets {
		p, err := provider(d, set, false)
		if err != nil {
			return false, err
		}
		pending, err := p.HasPending(ctx)
		if err != nil {
			return false, fmt.Errorf("checking migrations of %s: %w", set.Owner,
				mapDriverErr(d, err))
		}
		if pending {
			return true, nil
		}
	}
	return false, nil
}

// provider builds a goose provider for one set on d.
func provider(d DB, set MigrationSet, locked bool) (*goose.Provider, error) {
	if !ownerName.MatchString(set.Owner) {
		return nil, fmt.Errorf("migration set owner %q: want [a-z][a-z0-9_]*", set.Owner)
	}
	if set.FS == nil {
		return nil, fmt.Errorf("migration set %s: no FS", set.Owner)
	}
	sub, err := fs.Sub(set.FS, string(d.Dialect()))
	if err != nil {
		return nil, fmt.Errorf("migration set %s: %w", set.Owner, err)
	}

	table := "goose_" + set.Owner
	opts := []goose.ProviderOption{
		goose.WithTableName(table),
		goose.WithDisableGlobalRegistry(true),
	}
	var (
		dialect goose.Dialect
		sqlDB   *sql.DB
	)
	switch d := d.(type) {
	case *pgDB:
		dialect, sqlDB = goose.DialectPostgres, d.stdDB()
		opts = append(opts, goose.WithSlog(d.log))
		if locked {
			opts = append(opts, goose.WithSessionLocker(
				&pgLocker{id: lockID(d.schema, table)}))
		}
	case *sqliteDB:
		dialect, sqlDB = goose.DialectSQLite3, d.writer
		opts = append(opts, goose.WithSlog(d.log))
	default:
		return nil, fmt.Errorf("migrating: %T is not a DB made by db.Open", d)
	}

	p, err := goose.NewProvider(dialect, sqlDB, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migration set %s: %w", set.Owner, err)
	}
	return p, nil
}

// mapDriverErr tags a driver error that goose passed through.
func mapDriverErr(d DB, err error) error {
	if d.Dialect() == Postgres {
		return pgErr(err)
	}
	return sqliteErr(err)
}

// lockID derives the advisory lock key of one version table in one schema,
// so that instances sharing a schema exclude each other and different
// schemas (parallel tests) do not.
func lockID(schema, table string) int64 {
	h := fnv.New64a()
	h.Write([]byte("mana-auth/migrate\x00" + schema + "\x00" + table))
	return int64(h.Sum64())
}

// pgLockWait bounds how long Migrate waits for another instance to finish.
const pgLockWait = 5 * time.Minute

// pgLocker is a goose SessionLocker on a PostgreSQL session advisory lock.
// Unlike goose's own, which polls every few seconds, it blocks in
// pg_advisory_lock, so a waiting instance resumes as soon as the lock frees.
type pgLocker struct{ id int64 }

var _ lock.SessionLocker = (*pgLocker)(nil)

// SessionLock implements lock.SessionLocker.
func (l *pgLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	ctx, cancel := context.WithTimeout(ctx, pgLockWait)
	defer cancel()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", l.id); err != nil {
		return fmt.Errorf("taking migration lock: %w", err)
	}
	return nil
}

// SessionUnlock implements lock.SessionLocker.
func (l *pgLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	var ok bool
	err := conn.QueryRowContext(ctx, "SELECT pg_advisory_unlock($1)", l.id).Scan(&ok)
	if err != nil {
		return fmt.Errorf("releasing migration lock: %w", err)
	}
	if !ok {
		return errors.New("releasing migration lock: lock was not held")
	}
	return nil
}
