package db_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/migrations"
)

// exec runs a statement that must succeed.
func exec(t testing.TB, q db.Querier, query string, args ...any) int64 {
	t.Helper()
	n, err := q.Exec(context.Background(), query, args...)
	if err != nil {
		t.Fatalf("exec %q: %v", query, err)
	}
	return n
}

// ddl runs the statement written for d's dialect.
func ddl(t testing.TB, d db.DB, pg, lite string) {
	t.Helper()
	if d.Dialect() == db.Postgres {
		exec(t, d, pg)
		return
	}
	exec(t, d, lite)
}

// migrate applies the core schema.
func migrate(t testing.TB, d db.DB) {
	t.Helper()
	if err := db.Migrate(context.Background(), d, migrations.Core); err != nil {
		t.Fatalf("migrating core: %v", err)
	}
}

func addUser(t testing.TB, q db.Querier, id, email string) {
	t.Helper()
	now := db.Now()
	exec(t, q, `INSERT INTO users (id, name, email, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $4)`, id, "User "+id, email, now)
}

func count(t testing.TB, q db.Querier, query string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := q.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatalf("count %q: %v", query, err)
	}
	return n
}

const itemsPG = `CREATE TABLE items (
	id text PRIMARY KEY, s text, n bigint, b boolean, raw bytea,
	at timestamptz(3), maybe_at timestamptz(3), maybe_s text)`

const itemsSQLite = `CREATE TABLE items (
	id TEXT NOT NULL PRIMARY KEY, s TEXT, n INTEGER, b INTEGER, raw BLOB,
	at TEXT, maybe_at TEXT, maybe_s TEXT) STRICT`

func TestRoundTrip(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ddl(t, d, itemsPG, itemsSQLite)
		ctx := context.Background()
		zone := time.FixedZone("UTC+5", 5*3600)
		at := time.Date(2025, 3, 9, 22, 59, 58, 123_456_789, zone)
		want := at.UTC().Truncate(time.Millisecond)
		text := "héllo"

		cases := []struct {
			name    string
			s       string
			n       int64
			b       bool
			raw     []byte
			maybeAt *time.Time
			maybeS  *string
		}{
			{name: "values", s: "x", n: -1 << 40, b: true, raw: []byte{0, 1, 255},
				maybeAt: &at, maybeS: &text},
			{name: "nulls and zeros", s: "", n: 0, b: false, raw: []byte{}},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				exec(t, d, `INSERT INTO items (id, s, n, b, raw, at, maybe_at, maybe_s)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
					c.name, c.s, c.n, c.b, c.raw, at, c.maybeAt, c.maybeS)

				var (
					s       string
					n       int64
					b       bool
					raw     []byte
					got     time.Time
					maybeAt *time.Time
					maybeS  *string
				)
				err := d.QueryRow(ctx, `SELECT s, n, b, raw, at, maybe_at, maybe_s
					FROM items WHERE id = $1`, c.name).
					Scan(&s, &n, &b, &raw, &got, &maybeAt, &maybeS)
				if err != nil {
					t.Fatal(err)
				}
				if s != c.s || n != c.n || b != c.b || !bytes.Equal(raw, c.raw) {
					t.Errorf("got (%q, %d, %v, %x), want (%q, %d, %v, %x)",
						s, n, b, raw, c.s, c.n, c.b, c.raw)
				}
				if got != want || got.Location() != time.UTC {
					t.Errorf("at = %v (%v), want %v in UTC", got, got.Location(), want)
				}
				switch {
				case c.maybeAt == nil && maybeAt != nil:
					t.Errorf("maybe_at = %v, want nil", *maybeAt)
				case c.maybeAt != nil && (maybeAt == nil || *maybeAt != want):
					t.Errorf("maybe_at = %v, want %v", maybeAt, want)
				}
				switch {
				case c.maybeS == nil && maybeS != nil:
					t.Errorf("maybe_s = %q, want nil", *maybeS)
				case c.maybeS != nil && (maybeS == nil || *maybeS != *c.maybeS):
					t.Errorf("maybe_s = %v, want %q", maybeS, *c.maybeS)
				}
			})
		}

		t.Run("NULL into *time.Time fails", func(t *testing.T) {
			var tm time.Time
			err := d.QueryRow(ctx, `SELECT maybe_at FROM items WHERE id = $1`,
				"nulls and zeros").Scan(&tm)
			if err == nil {
				t.Fatal("scanning NULL into *time.Time succeeded")
			}
		})

		t.Run("rows", func(t *testing.T) {
			rows, err := d.Query(ctx, `SELECT id, at FROM items ORDER BY id`)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for rows.Next() {
				var (
					id string
					tm time.Time
				)
				if err := rows.Scan(&id, &tm); err != nil {
					t.Fatal(err)
				}
				if tm != want {
					t.Errorf("row %s: at = %v, want %v", id, tm, want)
				}
				ids = append(ids, id)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			rows.Close()
			rows.Close() // idempotent
			if strings.Join(ids, ",") != "nulls and zeros,values" {
				t.Errorf("ids = %q", ids)
			}
		})
	})
}

func TestTimeComparison(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ddl(t, d, itemsPG, itemsSQLite)
		now := db.Now()
		// An instant far from UTC must compare by instant, not wall clock.
		later := now.Add(time.Hour).In(time.FixedZone("UTC-11", -11*3600))
		for _, r := range []struct {
			id string
			at time.Time
		}{
			{"past", now.Add(-time.Hour)},
			{"now", now},
			{"later", later},
			{"ms-after", now.Add(time.Millisecond)},
		} {
			exec(t, d, `INSERT INTO items (id, at) VALUES ($1, $2)`, r.id, r.at)
		}

		cases := []struct {
			name  string
			query string
			arg   any
			want  int64
		}{
			{"greater", `SELECT count(*) FROM items WHERE at > $1`, now, 2},
			{"greater or equal", `SELECT count(*) FROM items WHERE at >= $1`, now, 3},
			{"equal", `SELECT count(*) FROM items WHERE at = $1`, now, 1},
			{"less, zoned arg", `SELECT count(*) FROM items WHERE at < $1`,
				now.In(time.FixedZone("UTC+9", 9*3600)), 1},
			{"pointer arg", `SELECT count(*) FROM items WHERE at <= $1`, &now, 2},
			{"sub-ms arg truncates", `SELECT count(*) FROM items WHERE at = $1`,
				now.Add(999 * time.Microsecond), 1},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				if got := count(t, d, c.query, c.arg); got != c.want {
					t.Errorf("count = %d, want %d", got, c.want)
				}
			})
		}

		rows, err := d.Query(context.Background(),
			`SELECT id FROM items ORDER BY at DESC`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var order []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			order = append(order, id)
		}
		if got := strings.Join(order, ","); got != "later,ms-after,now,past" {
			t.Errorf("order = %s", got)
		}
	})
}

func TestErrNoRows(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ddl(t, d, itemsPG, itemsSQLite)
		ctx := context.Background()
		var s string
		err := d.QueryRow(ctx, `SELECT s FROM items WHERE id = $1`, "none").Scan(&s)
		if !errors.Is(err, db.ErrNoRows) {
			t.Errorf("QueryRow: err = %v, want ErrNoRows", err)
		}
		err = d.Tx(ctx, func(tx db.Tx) error {
			return tx.QueryRow(ctx, `DELETE FROM items WHERE id = $1 RETURNING s`,
				"none").Scan(&s)
		})
		if !errors.Is(err, db.ErrNoRows) {
			t.Errorf("Tx: err = %v, want ErrNoRows", err)
		}
	})
}

func TestConstraints(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		migrate(t, d)
		ctx := context.Background()
		addUser(t, d, "u1", "ada@example.com")
		now := db.Now()

		cases := []struct {
			name  string
			query string
			args  []any
			want  error
		}{
			{"duplicate email", `INSERT INTO users (id, name, email, created_at,
				updated_at) VALUES ($1, 'x', $2, $3, $3)`,
				[]any{"u2", "ada@example.com", now}, db.ErrConflict},
			{"duplicate id", `INSERT INTO users (id, name, email, created_at,
				updated_at) VALUES ($1, 'x', $2, $3, $3)`,
				[]any{"u1", "bob@example.com", now}, db.ErrConflict},
			{"unknown user", `INSERT INTO sessions (id, token, user_id, expires_at,
				created_at, updated_at) VALUES ($1, $2, $3, $4, $4, $4)`,
				[]any{"s1", "tok", "nobody", now}, db.ErrConstraint},
			{"upper-case email", `INSERT INTO users (id, name, email, created_at,
				updated_at) VALUES ($1, 'x', $2, $3, $3)`,
				[]any{"u3", "Bob@example.com", now}, db.ErrConstraint},
			{"null name", `INSERT INTO users (id, name, email, created_at,
				updated_at) VALUES ($1, NULL, $2, $3, $3)`,
				[]any{"u4", "eve@example.com", now}, db.ErrConstraint},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				_, err := d.Exec(ctx, c.query, c.args...)
				if !errors.Is(err, c.want) {
					t.Fatalf("Exec: err = %v, want %v", err, c.want)
				}
				other := db.ErrConstraint
				if c.want == db.ErrConstraint {
					other = db.ErrConflict
				}
				if errors.Is(err, other) {
					t.Errorf("err %v also matches %v", err, other)
				}
				// The same failure surfacing through RETURNING and Scan.
				var id string
				err = d.QueryRow(ctx, c.query+" RETURNING id", c.args...).Scan(&id)
				if !errors.Is(err, c.want) {
					t.Errorf("QueryRow: err = %v, want %v", err, c.want)
				}
			})
		}

		t.Run("driver error stays in the chain", func(t *testing.T) {
			_, err := d.Exec(ctx, cases[0].query, cases[0].args...)
			var pe *pgconn.PgError
			if got := errors.As(err, &pe); got != (d.Dialect() == db.Postgres) {
				t.Errorf("errors.As(*pgconn.PgError) = %v for %s", got, d.Dialect())
			}
		})

		t.Run("cascade", func(t *testing.T) {
			exec(t, d, `INSERT INTO sessions (id, token, user_id, expires_at,
				created_at, updated_at) VALUES ('s1', 't1', 'u1', $1, $1, $1)`, now)
			exec(t, d, `DELETE FROM users WHERE id = 'u1'`)
			if n := count(t, d, `SELECT count(*) FROM sessions`); n != 0 {
				t.Errorf("%d sessions survived their user", n)
			}
		})
	})
}

func TestTx(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		ddl(t, d, itemsPG, itemsSQLite)
		ctx := context.Background()
		insert := func(tx db.Tx, id string) {
			t.Helper()
			exec(t, tx, `INSERT INTO items (id) VALUES ($1)`, id)
		}
		boom := errors.New("boom")

		err := d.Tx(ctx, func(tx db.Tx) error {
			insert(tx, "err")
			if tx.Dialect() != d.Dialect() {
				t.Errorf("tx dialect %s, db %s", tx.Dialect(), d.Dialect())
			}
			return fmt.Errorf("wrapped: %w", boom)
		})
		if !errors.Is(err, boom) {
			t.Errorf("Tx: err = %v, want boom", err)
		}

		func() {
			defer func() {
				if p := recover(); p != "panic in tx" {
					t.Errorf("recovered %v, want the original panic", p)
				}
			}()
			_ = d.Tx(ctx, func(tx db.Tx) error {
				insert(tx, "panic")
				panic("panic in tx")
			})
		}()

		if n := count(t, d, `SELECT count(*) FROM items`); n != 0 {
			t.Errorf("%d rows survived rollback", n)
		}
		// Had the transactions stayed open, their locks would block these.
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		for _, id := range []string{"err", "panic"} {
			_, err := d.Exec(short, `INSERT INTO items (id) VALUES ($1)`, id)
			if err != nil {
				t.Fatalf("insert %s after rollback: %v", id, err)
			}
		}
		exec(t, d, `DELETE FROM items`)

		// The connection is usable again and commits work.
		if err := d.Tx(ctx, func(tx db.Tx) error {
			insert(tx, "ok")
			// Reads inside the transaction see its own writes.
			if n := count(t, tx, `SELECT count(*) FROM items`); n != 1 {
				t.Errorf("inside tx: %d rows, want 1", n)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, `SELECT count(*) FROM items`); n != 1 {
			t.Errorf("%d rows after commit, want 1", n)
		}
	})
}

func TestTxRetriesSerializationFailure(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	calls := 0
	err := d.Tx(context.Background(), func(tx db.Tx) error {
		calls++
		if calls == 1 {
			return fmt.Errorf("updating: %w", &pgconn.PgError{Code: "40001"})
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Errorf("err = %v after %d calls, want success on the 2nd", err, calls)
	}

	calls = 0
	_ = d.Tx(context.Background(), func(tx db.Tx) error {
		calls++
		return &pgconn.PgError{Code: "40P01"}
	})
	if calls < 2 || calls > 10 {
		t.Errorf("a persistent deadlock ran fn %d times, want a few", calls)
	}
}

// TestTxRetriesRealDeadlock makes two transactions lock two rows in
// opposite order. PostgreSQL aborts one with 40P01; Tx must run it again so
// both succeed.
func TestTxRetriesRealDeadlock(t *testing.T) {
	d := dbtest.Open(t, db.Postgres)
	ctx := context.Background()
	exec(t, d, `CREATE TABLE counters (id text PRIMARY KEY, n int NOT NULL)`)
	exec(t, d, `INSERT INTO counters VALUES ('a', 0), ('b', 0)`)

	var (
		both  sync.WaitGroup
		wg    sync.WaitGroup
		calls atomic.Int32
	)
	both.Add(2)
	run := func(first, second string) error {
		var once sync.Once
		return d.Tx(ctx, func(tx db.Tx) error {
			calls.Add(1)
			if _, err := tx.Exec(ctx, `UPDATE counters SET n = n + 1 WHERE id = $1`,
				first); err != nil {
				return err
			}
			once.Do(func() { both.Done(); both.Wait() })
			_, err := tx.Exec(ctx, `UPDATE counters SET n = n + 1 WHERE id = $1`, second)
			return err
		})
	}
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = run("a", "b") }()
	go func() { defer wg.Done(); errs[1] = run("b", "a") }()
	wg.Wait()

	for i, err := range errs {
		if err != nil {
			t.Errorf("tx %d: %v", i, err)
		}
	}
	if calls.Load() < 3 {
		t.Errorf("fn ran %d times; expected a deadlock and a retry", calls.Load())
	}
	if n := count(t, d, `SELECT sum(n) FROM counters`); n != 4 {
		t.Errorf("sum = %d, want 4", n)
	}
}

// TestConsumeOnce races 20 goroutines, half of them through a second pool
// as a second instance would, to consume one verification row. Exactly one
// may win.
func TestConsumeOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d db.DB) {
		migrate(t, d)
		other := dbtest.Reopen(t, d)
		ctx := context.Background()
		const consume = `DELETE FROM verifications
			WHERE identifier = $1 AND expires_at > $2 RETURNING value`

		for _, inTx := range []bool{false, true} {
			t.Run(fmt.Sprintf("tx=%v", inTx), func(t *testing.T) {
				now := db.Now()
				id := fmt.Sprintf("reset:%v", inTx)
				exec(t, d, `INSERT INTO verifications (id, identifier, value, expires_at,
					created_at, updated_at) VALUES ($1, $1, 'secret', $2, $3, $3)`,
					id, now.Add(time.Minute), now)

				var wins, losses atomic.Int32
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range 20 {
					q := d
					if i%2 == 1 {
						q = other
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						var v string
						take := func(q db.Querier) error {
							return q.QueryRow(ctx, consume, id, db.Now()).Scan(&v)
						}
						var err error
						if inTx {
							err = q.Tx(ctx, func(tx db.Tx) error { return take(tx) })
						} else {
							err = take(q)
						}
						switch {
						case err == nil && v == "secret":
							wins.Add(1)
						case errors.Is(err, db.ErrNoRows):
							losses.Add(1)
						default:
							t.Errorf("consume: v=%q err=%v", v, err)
						}
					}()
				}
				close(start)
				wg.Wait()
				if wins.Load() != 1 || losses.Load() != 19 {
					t.Errorf("%d wins, %d losses; want 1 and 19",
						wins.Load(), losses.Load())
				}
			})
		}
	})
}

func TestUnavailable(t *testing.T) {
	ctx := context.Background()

	t.Run("closed port", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		url := "postgres://postgres:hunter2@" + addr + "/test?sslmode=disable"
		_, err = db.Open(ctx, url, db.Options{})
		if !errors.Is(err, db.ErrUnavailable) {
			t.Fatalf("err = %v, want ErrUnavailable", err)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error reveals the password: %v", err)
		}
	})

	dbtest.Each(t, func(t *testing.T, d db.DB) {
		if err := d.Ping(ctx); err != nil {
			t.Fatalf("Ping: %v", err)
		}
		d.Close()
		var n int
		err := d.QueryRow(ctx, `SELECT 1`).Scan(&n)
		if !errors.Is(err, db.ErrUnavailable) {
			t.Errorf("QueryRow after Close: err = %v, want ErrUnavailable", err)
		}
		if _, err := d.Exec(ctx, `SELECT 1`); !errors.Is(err, db.ErrUnavailable) {
			t.Errorf("Exec after Close: err = %v, want ErrUnavailable", err)
		}
		err = d.Tx(ctx, func(db.Tx) error { return nil })
		if !errors.Is(err, db.ErrUnavailable) {
			t.Errorf("Tx after Close: err = %v, want ErrUnavailable", err)
		}
	})
}

func TestOpenURLs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cases := []struct {
		name string
		url  string
		ok   bool
	}{
		{"memory", "sqlite::memory:", true},
		{"file in new dir", "sqlite:" + filepath.Join(dir, "a", "b", "x.db"), true},
		{"file with slashes", "sqlite://" + filepath.Join(dir, "y.db"), true},
		{"mysql", "mysql://root:pw@localhost/db", false},
		{"empty", "", false},
		{"sqlite query", "sqlite:x.db?mode=ro", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := db.Open(ctx, c.url, db.Options{})
			if !c.ok {
				if err == nil {
					d.Close()
					t.Fatal("Open succeeded")
				}
				if !strings.Contains(err.Error(), "DATABASE_URL") {
					t.Errorf("error does not name DATABASE_URL: %v", err)
				}
				if strings.Contains(err.Error(), "pw@") {
					t.Errorf("error reveals the URL: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if d.Dialect() != db.SQLite || db.SQLDB(d) == nil {
				t.Errorf("dialect %s, SQLDB %v", d.Dialect(), db.SQLDB(d))
			}
			if err := d.Ping(ctx); err != nil {
				t.Error(err)
			}
		})
	}
}

// TestMemory checks that each sqlite::memory: database is private, keeps
// its data across calls and handles concurrent use on its one connection.
func TestMemory(t *testing.T) {
	ctx := context.Background()
	a, err := db.Open(ctx, "sqlite::memory:", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := db.Open(ctx, "sqlite::memory:", db.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	migrate(t, a)
	addUser(t, a, "u1", "ada@example.com")
	if _, err := b.Exec(ctx, `SELECT count(*) FROM users`); err == nil {
		t.Error("second in-memory database sees the first one's tables")
	}

	// A query while another one's rows are open must not wait for itself.
	rows, err := a.Query(ctx, `SELECT id FROM users`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		short, cancel := context.WithTimeout(ctx, 5*time.Second)
		var email string
		err := a.QueryRow(short, `SELECT email FROM users WHERE id = $1`, id).Scan(&email)
		cancel()
		if err != nil || email != "ada@example.com" {
			t.Fatalf("nested QueryRow = %q, %v", email, err)
		}
	}
	rows.Close()

	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := a.Tx(ctx, func(tx db.Tx) error {
				_, err := tx.Exec(ctx, `INSERT INTO security_events (id, event, outcome)
					VALUES ($1, 'test', 'ok')`, fmt.Sprint(i))
				return err
			})
			if err != nil {
				t.Error(err)
			}
			count(t, a, `SELECT count(*) FROM users`)
		}()
	}
	wg.Wait()
	if n := count(t, a, `SELECT count(*) FROM security_events`); n != 20 {
		t.Errorf("%d events, want 20", n)
	}
}
