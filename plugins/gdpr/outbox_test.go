package gdpr_test

// Tests of the core outbox (core/outbox.go), driven through a test-only
// plugin that handles one job kind, on both dialects.

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
	"github.com/mana/mana-auth/core/db/dbtest"
	"github.com/mana/mana-auth/internal/apitest"
)

const jobKind = "test.job"

// jobsPlugin handles jobKind: payload {"n": …}. A job fails its first
// failures[n] runs; a payload with "panic" panics.
type jobsPlugin struct {
	mu       sync.Mutex
	runs     map[int]int
	failures map[int]int
	errText  string
}

func newJobs() *jobsPlugin {
	return &jobsPlugin{runs: map[int]int{}, failures: map[int]int{}, errText: "not yet"}
}

func (j *jobsPlugin) ID() string { return "jobs" }

func (j *jobsPlugin) OutboxKinds() map[string]func(context.Context, []byte) error {
	return map[string]func(context.Context, []byte) error{jobKind: j.run}
}

func (j *jobsPlugin) run(_ context.Context, payload []byte) error {
	var in struct {
		N     int
		Panic bool
	}
	if err := json.Unmarshal(payload, &in); err != nil {
		return err
	}
	if in.Panic {
		panic("handler bug")
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	j.runs[in.N]++
	if j.failures[in.N] > 0 {
		j.failures[in.N]--
		return errors.New(j.errText)
	}
	return nil
}

func (j *jobsPlugin) runsOf(n int) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.runs[n]
}

var _ core.OutboxHandler = (*jobsPlugin)(nil)

func jobsOptions(j *jobsPlugin) apitest.Options {
	return apitest.Options{Plugins: func(cfg *core.Config) []core.Plugin {
		return []core.Plugin{j}
	}}
}

type jobRow struct {
	attempts int
	lastErr  *string
	next     time.Time
}

func jobState(t *testing.T, d db.DB) (jobRow, bool) {
	t.Helper()
	var r jobRow
	err := d.QueryRow(context.Background(), "SELECT attempts, last_error, next_attempt_at "+
		"FROM outbox").Scan(&r.attempts, &r.lastErr, &r.next)
	if errors.Is(err, db.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func makeDue(t *testing.T, d db.DB) {
	t.Helper()
	if _, err := d.Exec(context.Background(), "UPDATE outbox SET next_attempt_at = $1",
		time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
}

// TestOutboxBackoff: a failing job is retried with doubling delays and
// deleted on success.
func TestOutboxBackoff(t *testing.T) {
	j := newJobs()
	apitest.Each(t, jobsOptions(j), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		j.mu.Lock()
		j.failures[1] = 2
		j.runs[1] = 0
		j.errText = strings.Repeat("é", 400) // 800 bytes: stored cut, still UTF-8
		j.mu.Unlock()
		if err := env.Engine.Enqueue(ctx, env.DB, jobKind, map[string]int{"n": 1}); err != nil {
			t.Fatal(err)
		}
		for i, wantWait := range []time.Duration{core.OutboxBaseBackoff,
			2 * core.OutboxBaseBackoff} {
			before := time.Now()
			if n, err := env.Engine.DrainOutbox(ctx); n != 1 || err == nil {
				t.Fatalf("drain %d: ran %d, err %v", i, n, err)
			}
			st, ok := jobState(t, env.DB)
			if !ok || st.attempts != i+1 || st.lastErr == nil {
				t.Fatalf("after failure %d: %+v (present %v)", i, st, ok)
			}
			if len(*st.lastErr) > 500 || !strings.HasPrefix(*st.lastErr, "éé") ||
				strings.ContainsRune(*st.lastErr, '\uFFFD') {
				t.Errorf("last_error: %d bytes %q", len(*st.lastErr), *st.lastErr)
			}
			wait := st.next.Sub(before)
			if wait < wantWait*85/100 || wait > wantWait+time.Second {
				t.Errorf("retry %d after %v, want about %v", i, wait, wantWait)
			}
			makeDue(t, env.DB)
		}
		if n, err := env.Engine.DrainOutbox(ctx); n != 1 || err != nil {
			t.Fatalf("last drain: ran %d, err %v", n, err)
		}
		if _, ok := jobState(t, env.DB); ok {
			t.Error("job left after success")
		}
		if r := j.runsOf(1); r != 3 {
			t.Errorf("runs = %d, want 3", r)
		}
	})
}

// TestOutboxEnqueue: the job lives and dies with the caller's transaction;
// unknown kinds are refused.
func TestOutboxEnqueue(t *testing.T) {
	apitest.Each(t, jobsOptions(newJobs()), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		boom := errors.New("boom")
		err := env.DB.Tx(ctx, func(tx db.Tx) error {
			if err := env.Engine.Enqueue(ctx, tx, jobKind, map[string]int{"n": 1}); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n := count(t, env.DB, "SELECT count(*) FROM outbox"); n != 0 {
			t.Errorf("rolled-back job stored: %d", n)
		}
		err = env.Engine.Enqueue(ctx, env.DB, "nobody.handles.this", nil)
		if !errors.Is(err, core.ErrUnknownOutboxKind) {
			t.Errorf("unknown kind: %v", err)
		}
		if err := env.Engine.Enqueue(ctx, env.DB, jobKind,
			json.RawMessage(`{"n":7}`)); err != nil {
			t.Fatal(err)
		}
		var payload string
		if err := env.DB.QueryRow(ctx, "SELECT payload FROM outbox").Scan(&payload); err != nil ||
			payload != `{"n":7}` {
			t.Errorf("payload = %q, %v", payload, err)
		}
	})
}

// TestOutboxBadJobs: a job whose kind has no handler, and a handler that
// panics, are rescheduled with an error, never lost and never fatal.
func TestOutboxBadJobs(t *testing.T) {
	apitest.Each(t, jobsOptions(newJobs()), func(t *testing.T, env *apitest.Env) {
		ctx := context.Background()
		now := time.Now()
		if _, err := env.DB.Exec(ctx, "INSERT INTO outbox (id, kind, payload, attempts, "+
			"next_attempt_at, created_at) VALUES ('ghost', 'ghost.kind', '{}', 0, $1, $1)",
			now); err != nil {
			t.Fatal(err)
		}
		if err := env.Engine.Enqueue(ctx, env.DB, jobKind,
			map[string]any{"n": 2, "panic": true}); err != nil {
			t.Fatal(err)
		}
		n, err := env.Engine.DrainOutbox(ctx)
		if n != 2 || err == nil {
			t.Fatalf("drain: ran %d, err %v", n, err)
		}
		rows, qerr := env.DB.Query(ctx, "SELECT kind, attempts, last_error FROM outbox "+
			"ORDER BY kind")
		if qerr != nil {
			t.Fatal(qerr)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var kind, msg string
			var attempts int
			if err := rows.Scan(&kind, &attempts, &msg); err != nil {
				t.Fatal(err)
			}
			if attempts != 1 {
				t.Errorf("%s attempts = %d", kind, attempts)
			}
			got[kind] = msg
		}
		if !strings.Contains(got["ghost.kind"], "no handler") ||
			!strings.Contains(got[jobKind], "panicked") {
			t.Errorf("last errors = %v", got)
		}
	})
}

// TestOutboxWorkersRace: several workers on two instances sharing one
// database run every job exactly once.
func TestOutboxWorkersRace(t *testing.T) {
	for _, d := range []db.Dialect{db.SQLite, db.Postgres} {
		t.Run(string(d), func(t *testing.T) {
			ctx := context.Background()
			j := newJobs()
			o := jobsOptions(j)
			o.Dialect = d
			a := apitest.New(t, o)
			o.DB = dbtest.Reopen(t, a.DB)
			b := apitest.New(t, o)

			const jobs = 60
			for i := range jobs {
				if err := a.Engine.Enqueue(ctx, a.DB, jobKind, map[string]int{"n": i}); err != nil {
					t.Fatal(err)
				}
			}
			var wg sync.WaitGroup
			var mu sync.Mutex
			ran := 0
			for w := range 6 {
				e := a.Engine
				if w%2 == 1 {
					e = b.Engine
				}
				wg.Go(func() {
					n, err := e.DrainOutbox(ctx)
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
					}
					mu.Lock()
					ran += n
					mu.Unlock()
				})
			}
			wg.Wait()
			if ran != jobs {
				t.Errorf("workers ran %d jobs, want %d", ran, jobs)
			}
			for i := range jobs {
				if r := j.runsOf(i); r != 1 {
					t.Errorf("job %d ran %d times", i, r)
				}
			}
			if n := count(t, a.DB, "SELECT count(*) FROM outbox"); n != 0 {
				t.Errorf("jobs left: %d", n)
			}
		})
	}
}

// TestRunOutbox: the worker loop runs due jobs at once and stops with its
// context.
func TestRunOutbox(t *testing.T) {
	j := newJobs()
	env := apitest.New(t, jobsOptions(j))
	ctx, cancel := context.WithCancel(context.Background())
	if err := env.Engine.Enqueue(ctx, env.DB, jobKind, map[string]int{"n": 5}); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		env.Engine.RunOutbox(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for j.runsOf(5) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if j.runsOf(5) != 1 {
		t.Fatalf("job ran %d times", j.runsOf(5))
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("RunOutbox did not stop")
	}
}
