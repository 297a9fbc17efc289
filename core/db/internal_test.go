package db

import (
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	want := time.Date(2025, 1, 2, 3, 4, 5, 678_000_000, time.UTC)
	cases := []struct {
		name string
		in   string
		want time.Time
		ok   bool
	}{
		{"layout", "2025-01-02T03:04:05.678Z", want, true},
		{"rfc3339 offset", "2025-01-02T04:04:05.678+01:00", want, true},
		{"sqlite datetime", "2025-01-02 03:04:05.678", want, true},
		{"bad month", "2025-13-02T03:04:05.678Z", time.Time{}, false},
		{"letters", "2025-0x-02T03:04:05.678Z", time.Time{}, false},
		{"empty", "", time.Time{}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseTime(c.in)
			if (err == nil) != c.ok || !got.Equal(c.want) {
				t.Errorf("parseTime(%q) = %v, %v; want %v, ok=%v",
					c.in, got, err, c.want, c.ok)
			}
			if err == nil && got.Location() != time.UTC {
				t.Errorf("location %v, want UTC", got.Location())
			}
		})
	}
}

func FuzzParseTime(f *testing.F) {
	f.Add("2025-01-02T03:04:05.678Z")
	f.Add("0000-00-00T00:00:00.000Z")
	f.Add("2025-01-02 03:04:05")
	f.Fuzz(func(t *testing.T, s string) {
		got, err := parseTime(s)
		if err != nil {
			return
		}
		// Whatever parses must survive a round trip through storage.
		if got.Year() < 0 || got.Year() > 9999 {
			return
		}
		back, err := parseTime(formatTime(got))
		if err != nil || !back.Equal(got.Truncate(time.Millisecond)) {
			t.Errorf("round trip of %q: %v -> %v, %v", s, got, back, err)
		}
	})
}

func TestIsSelect(t *testing.T) {
	cases := map[string]bool{
		"SELECT 1":                      true,
		"  \n\tselect * FROM t":         true,
		"select(1)":                     true,
		"SELECTED":                      false,
		"DELETE FROM t RETURNING id":    false,
		"WITH x AS (SELECT 1) SELECT 1": false,
		"":                              false,
		"select":                        false,
	}
	for q, want := range cases {
		if got := isSelect(q); got != want {
			t.Errorf("isSelect(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestSQLiteArgs(t *testing.T) {
	plain := []any{"a", int64(1), true}
	if got := sqliteArgs(plain); &got[0] != &plain[0] {
		t.Error("args without times were copied")
	}
	at := time.Date(2025, 1, 2, 3, 4, 5, 678_900_000, time.FixedZone("x", 3600))
	var nilTime *time.Time
	args := []any{"a", at, &at, nilTime}
	got := sqliteArgs(args)
	if got[0] != "a" || got[1] != "2025-01-02T02:04:05.678Z" || got[2] != got[1] ||
		got[3] != nil {
		t.Errorf("sqliteArgs = %#v", got)
	}
	if args[1] != at {
		t.Error("sqliteArgs changed its input")
	}
}

func TestRetryTx(t *testing.T) {
	transient := errors.New("transient")
	log := slog.New(slog.DiscardHandler)
	isTransient := func(err error) bool { return errors.Is(err, transient) }

	cases := []struct {
		name      string
		failures  int
		err       error
		wantCalls int
		wantErr   error
	}{
		{"success", 0, nil, 1, nil},
		{"one transient", 1, transient, 2, nil},
		{"always transient", 100, transient, maxTxAttempts, transient},
		{"permanent", 100, errors.New("permanent"), 1, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			err := retryTx(context.Background(), log, isTransient, func() error {
				calls++
				if calls <= c.failures {
					return c.err
				}
				return nil
			})
			if calls != c.wantCalls {
				t.Errorf("%d calls, want %d", calls, c.wantCalls)
			}
			if c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Errorf("err = %v, want %v", err, c.wantErr)
			}
		})
	}
}

// TestSQLiteBusy provokes a real SQLITE_BUSY from a second process-like
// connection and checks how it is classified.
func TestSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	open := func() *sql.DB {
		d, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)&_txlock=immediate")
		if err != nil {
			t.Fatal(err)
		}
		d.SetMaxOpenConns(1)
		t.Cleanup(func() { d.Close() })
		return d
	}
	holder, other := open(), open()
	ctx := context.Background()
	if _, err := holder.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()

	_, err = other.BeginTx(ctx, nil)
	if err == nil {
		t.Fatal("second BEGIN IMMEDIATE succeeded")
	}
	if !sqliteRetryable(err) {
		t.Errorf("sqliteRetryable(%v) = false", err)
	}
	if !errors.Is(sqliteErr(err), ErrUnavailable) {
		t.Errorf("sqliteErr(%v) does not wrap ErrUnavailable", err)
	}
}
