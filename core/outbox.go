package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mana/mana-auth/core/db"
)

// The outbox holds work owed to other services (a remote erasure, a
// credits account to create) in the outbox table. A job is written in the
// same transaction as the change that owes it, so it is exactly as durable
// as that change; a worker then runs it until its handler succeeds.
// Delivery is at least once: a handler may run again after a crash or a
// lost lease, so handlers must be idempotent.

// OutboxHandler is a plugin capability: it runs the outbox jobs of the
// kinds it names. Each function gets the payload as stored (JSON) and
// returns nil when the job is done for good; an error reschedules it. An
// error's text is stored in outbox.last_error and logged, so it must never
// hold a secret (no tokens, keys or URLs with credentials).
type OutboxHandler interface {
	OutboxKinds() map[string]func(ctx context.Context, payload []byte) error
}

// ErrUnknownOutboxKind is returned by Enqueue for a kind no compiled-in
// plugin handles.
var ErrUnknownOutboxKind = errors.New("outbox: no handler for job kind")

// Outbox timing. A claimed job is leased for OutboxLease: another worker
// may take it only after that, so a crashed instance delays a job, never
// loses it. A handler gets OutboxJobTimeout, well inside the lease.
const (
	OutboxPollInterval = 5 * time.Second
	OutboxLease        = 5 * time.Minute
	OutboxJobTimeout   = time.Minute
	// OutboxMaxBackoff caps the delay between attempts; the first retry
	// waits OutboxBaseBackoff and each later one twice as long.
	OutboxMaxBackoff  = time.Hour
	OutboxBaseBackoff = 15 * time.Second
)

// maxLastError bounds the stored error text.
const maxLastError = 500

// Enqueue stores a job of kind with payload (JSON-encoded; a
// json.RawMessage is stored as is) through q, which should be the
// transaction of the change that owes the job: the job then commits or
// rolls back with it. The job is due at once.
func (e *Engine) Enqueue(ctx context.Context, q db.Querier, kind string,
	payload any) error {
	if kind == "" || e.outboxHandler(kind) == nil {
		return fmt.Errorf("enqueue %q: %w", kind, ErrUnknownOutboxKind)
	}
	b, err := json.Marshal(payload)
	if err != nil {
		return fmt.Errorf("enqueue %q: encoding payload: %w", kind, err)
	}
	now := e.Now()
	_, err = q.Exec(ctx, "INSERT INTO outbox (id, kind, payload, attempts, "+
		"next_attempt_at, created_at) VALUES ($1, $2, $3, 0, $4, $4)",
		e.NewID(), kind, string(b), now)
	if err != nil {
		return fmt.Errorf("enqueue %q: %w", kind, err)
	}
	return nil
}

// RunOutbox runs due jobs every OutboxPollInterval until ctx ends. It is
// safe to run on every instance at once: a job is claimed by one
// conditional UPDATE, so only one worker runs it per lease. Storage errors
// (the database away) are logged and retried at the next poll.
func (e *Engine) RunOutbox(ctx context.Context) {
	t := time.NewTicker(OutboxPollInterval)
	defer t.Stop()
	failing := false
	for {
		_, err := e.DrainOutbox(ctx)
		var se *outboxStoreError
		switch {
		case errors.As(err, &se) && ctx.Err() == nil:
			if !failing {
				e.Log.WarnContext(ctx, "outbox unavailable", "err", se.err)
			}
			failing = true
		case err == nil || !errors.As(err, &se):
			if failing {
				e.Log.InfoContext(ctx, "outbox available again")
			}
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DrainOutbox runs every job that is due now once and reports how many
// ran. A job that fails is rescheduled with exponential backoff and
// counts as run. The error joins the jobs' failures and, first, any
// storage error that stopped the drain.
func (e *Engine) DrainOutbox(ctx context.Context) (int, error) {
	var errs []error
	n := 0
	for ctx.Err() == nil {
		j, err := e.claimJob(ctx)
		if errors.Is(err, db.ErrNoRows) {
			break
		}
		if err != nil {
			errs = append([]error{&outboxStoreError{err}}, errs...)
			break
		}
		n++
		if err := e.runJob(ctx, j); err != nil {
			var se *outboxStoreError
			if errors.As(err, &se) {
				errs = append([]error{err}, errs...)
				break
			}
			errs = append(errs, err)
		}
	}
	return n, errors.Join(errs...)
}

// outboxJob is one claimed row.
type outboxJob struct {
	id       string
	kind     string
	payload  string
	attempts int
}

// outboxStoreError marks an error of the outbox table itself, as opposed
// to a handler's failure.
type outboxStoreError struct{ err error }

func (e *outboxStoreError) Error() string { return "outbox storage: " + e.err.Error() }
func (e *outboxStoreError) Unwrap() error { return e.err }

// claimJob leases the oldest due job. The subquery picks it; the outer
// condition re-checks that it is still due, so of two workers racing for
// one row only the first UPDATE matches (PostgreSQL re-evaluates the WHERE
// clause on the locked row; SKIP LOCKED lets the other worker move on to
// the next row instead of waiting). SQLite has a single writer.
func (e *Engine) claimJob(ctx context.Context) (*outboxJob, error) {
	now := e.Now()
	lock := ""
	if e.DB.Dialect() == db.Postgres {
		lock = " FOR UPDATE SKIP LOCKED"
	}
	j := &outboxJob{}
	err := e.DB.QueryRow(ctx, "UPDATE outbox SET next_attempt_at = $1 "+
		"WHERE id = (SELECT id FROM outbox WHERE next_attempt_at <= $2 "+
		"ORDER BY next_attempt_at, id LIMIT 1"+lock+") AND next_attempt_at <= $2 "+
		"RETURNING id, kind, payload, attempts", now.Add(OutboxLease), now).
		Scan(&j.id, &j.kind, &j.payload, &j.attempts)
	if err != nil {
		return nil, err
	}
	return j, nil
}

// runJob runs a claimed job's handler, then deletes the job or
// reschedules it. The returned error is the handler's failure, or an
// outboxStoreError when the outcome could not be recorded (the lease then
// makes the job due again later).
func (e *Engine) runJob(ctx context.Context, j *outboxJob) error {
	log := e.Log.With("job_id", j.id, "kind", j.kind, "attempt", j.attempts+1)
	var herr error
	if h := e.outboxHandler(j.kind); h == nil {
		herr = ErrUnknownOutboxKind
	} else {
		herr = callHandler(ctx, h, []byte(j.payload))
	}
	outcome := "done"
	if herr != nil {
		outcome = "retry"
	}
	e.Metrics.outboxJobs.WithLabelValues(j.kind, outcome).Inc()
	if herr == nil {
		_, err := e.DB.Exec(ctx, "DELETE FROM outbox WHERE id = $1", j.id)
		if err != nil {
			return &outboxStoreError{fmt.Errorf("deleting done job %s: %w", j.id, err)}
		}
		log.DebugContext(ctx, "outbox job done")
		return nil
	}

	wait := outboxBackoff(j.attempts)
	msg := cleanError(herr.Error())
	_, err := e.DB.Exec(ctx, "UPDATE outbox SET attempts = attempts + 1, "+
		"next_attempt_at = $1, last_error = $2 WHERE id = $3",
		e.Now().Add(wait), msg, j.id)
	log.WarnContext(ctx, "outbox job failed", "err", msg, "retry_in", wait.String())
	if err != nil {
		return &outboxStoreError{fmt.Errorf("rescheduling job %s: %w", j.id, err)}
	}
	return fmt.Errorf("outbox job %s (%s): %w", j.id, j.kind, herr)
}

// callHandler runs h with the job timeout and turns a panic into an error.
func callHandler(ctx context.Context, h func(context.Context, []byte) error,
	payload []byte) (err error) {
	ctx, cancel := context.WithTimeout(ctx, OutboxJobTimeout)
	defer cancel()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
	}()
	return h(ctx, payload)
}

// outboxHandler finds the handler of kind among the plugins, or nil.
func (e *Engine) outboxHandler(kind string) func(context.Context, []byte) error {
	for _, p := range e.plugins {
		if oh, ok := p.(OutboxHandler); ok {
			if h := oh.OutboxKinds()[kind]; h != nil {
				return h
			}
		}
	}
	return nil
}

// outboxBackoff is the wait after a job's attempts-th failure (0-based):
// OutboxBaseBackoff doubled per attempt, capped at OutboxMaxBackoff, with
// up to 10 % jitter so jobs that failed together do not retry together.
func outboxBackoff(attempts int) time.Duration {
	d := OutboxMaxBackoff
	if attempts < 20 {
		d = min(OutboxBaseBackoff<<attempts, OutboxMaxBackoff)
	}
	return d - time.Duration(rand.Int64N(int64(d/10)+1))
}

// cleanError bounds an error text for storage and keeps it valid UTF-8.
func cleanError(s string) string {
	s = strings.ToValidUTF8(s, "?")
	if len(s) <= maxLastError {
		return s
	}
	s = s[:maxLastError]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// outboxPending counts queued jobs for the gauge; -1 when the database
// does not answer within a second.
func (e *Engine) outboxPending() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var n int64
	if err := e.DB.QueryRow(ctx, "SELECT count(*) FROM outbox").Scan(&n); err != nil {
		return -1
	}
	return float64(n)
}
