// Package dbtest gives tests fresh, empty databases of both dialects: SQLite
// in a temporary file and PostgreSQL in a uniquely named schema that is
// dropped afterwards, so parallel tests never see each other's rows.
//
// PostgreSQL is found at MANA_TEST_POSTGRES_URL (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). When it cannot
// be reached the PostgreSQL variants are skipped, unless
// MANA_TEST_POSTGRES=require, as in CI, which makes them fail.
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	neturl "net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mana/mana-auth/core/db"
)

// DefaultPostgresURL is used when MANA_TEST_POSTGRES_URL is unset.
const DefaultPostgresURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// Each runs fn as the subtests "sqlite" and "postgres", each with a fresh
// database on which no migration has been applied.
func Each(t *testing.T, fn func(t *testing.T, d db.DB)) {
	t.Helper()
	for _, dialect := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(dialect), func(t *testing.T) {
			fn(t, Open(t, dialect))
		})
	}
}

// Open returns one fresh, empty database of the dialect; t.Cleanup closes it
// and removes its data.
func Open(t testing.TB, dialect db.Dialect) db.DB {
	t.Helper()
	var url string
	switch dialect {
	case db.SQLite:
		url = "sqlite:" + filepath.Join(t.TempDir(), "test.db")
		d := open(t, url, db.Options{})
		t.Cleanup(func() { d.Close() })
		return d
	case db.Postgres:
		return openPostgres(t)
	}
	t.Fatalf("dbtest: unknown dialect %q", dialect)
	return nil
}

// Reopen opens a second, independent pool on the same database as d (which
// Open returned), as a second server instance would; t.Cleanup closes it.
func Reopen(t testing.TB, d db.DB) db.DB {
	t.Helper()
	v, ok := opened.Load(d)
	if !ok {
		t.Fatal("dbtest: Reopen of a DB not made by dbtest.Open")
	}
	s := v.(source)
	d2 := open(t, s.url, s.opts)
	t.Cleanup(func() { d2.Close() })
	return d2
}

// PostgresURL is the PostgreSQL server tests use.
func PostgresURL() string {
	if u := os.Getenv("MANA_TEST_POSTGRES_URL"); u != "" {
		return u
	}
	return DefaultPostgresURL
}

// source is how a test database was opened, for Reopen.
type source struct {
	url  string
	opts db.Options
}

// opened maps each DB that Open made to its source.
var opened sync.Map

func open(t testing.TB, url string, o db.Options) db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := db.Open(ctx, url, o)
	if err != nil {
		t.Fatalf("dbtest: opening %s database: %v", scheme(url), err)
	}
	opened.Store(d, source{url: url, opts: o})
	t.Cleanup(func() { opened.Delete(d) })
	return d
}

func scheme(url string) string {
	for i := range len(url) {
		if url[i] == ':' {
			return url[:i]
		}
	}
	return "?"
}

// admin is the process-wide pool that creates and drops test schemas.
var admin struct {
	once sync.Once
	pool *pgxpool.Pool
	err  error
}

func adminPool() (*pgxpool.Pool, error) {
	admin.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cfg, err := pgxpool.ParseConfig(PostgresURL())
		if err != nil {
			admin.err = err
			return
		}
		cfg.MaxConns = 2
		cfg.ConnConfig.ConnectTimeout = 3 * time.Second
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err == nil {
			err = pool.Ping(ctx)
		}
		if err != nil {
			if pool != nil {
				pool.Close()
			}
			admin.err = err
			return
		}
		admin.pool = pool
	})
	return admin.pool, admin.err
}

func openPostgres(t testing.TB) db.DB {
	t.Helper()
	pool, err := adminPool()
	if err != nil {
		msg := "postgres unavailable at " + PostgresURL() + ": " + err.Error() +
			"; set MANA_TEST_POSTGRES_URL"
		if os.Getenv("MANA_TEST_POSTGRES") == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}

	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "test_" + hex.EncodeToString(b[:])
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := pool.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("dbtest: creating schema %s: %v", schema, err)
	}
	// Registered first, so it runs after the pool below is closed.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dbtest: dropping schema %s: %v", schema, err)
		}
	})

	d := open(t, PostgresURL(), db.Options{Schema: schema, MaxConns: 4})
	t.Cleanup(func() { d.Close() })
	return d
}

// ReopenVia opens a second pool on the same PostgreSQL database as d, but
// connecting through hostPort (a proxy the test controls), for outage tests.
func ReopenVia(t testing.TB, d db.DB, hostPort string) db.DB {
	t.Helper()
	v, ok := opened.Load(d)
	if !ok {
		t.Fatal("dbtest: ReopenVia of a DB not made by dbtest.Open")
	}
	s := v.(source)
	u, err := neturl.Parse(s.url)
	if err != nil || u.Scheme == "sqlite" {
		t.Fatal("dbtest: ReopenVia needs a PostgreSQL database")
	}
	u.Host = hostPort
	d2 := open(t, u.String(), s.opts)
	t.Cleanup(func() { d2.Close() })
	return d2
}
