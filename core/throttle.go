package core

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Per-account sign-in throttling (NIST 800-63B §5.2.2): failures are counted
// per email across every IP. After FreeFailures, each further failure
// doubles a waiting time, capped at MaxThrottleDelay, so an attacker gets a
// handful of guesses per hour while the real user waits at most minutes,
// never a lockout. A success clears the count.
const (
	FreeFailures     = 5
	MaxThrottleDelay = 15 * time.Minute
	FailureTTL       = time.Hour
)

// FailureStore counts failed sign-ins per account. Add returns the count
// after this failure. With Redis the count is shared by every instance.
type FailureStore interface {
	Get(ctx context.Context, key string) (count int, last time.Time, err error)
	Add(ctx context.Context, key string, now time.Time) error
	Clear(ctx context.Context, key string) error
}

// ThrottleDelay is how long an account with n recent failures must wait
// after its last failure.
func ThrottleDelay(n int) time.Duration {
	if n < FreeFailures {
		return 0
	}
	d := time.Second << min(n-FreeFailures, 10)
	return min(d, MaxThrottleDelay)
}

// Throttle answers 429 (with X-Retry-After) when the account must wait. A
// store error lets the attempt through: availability of sign-in wins, and
// the IP rate limit still applies.
func (e *Engine) Throttle(ctx context.Context, email string) error {
	n, last, err := e.Failures.Get(ctx, email)
	if err != nil {
		e.Log.WarnContext(ctx, "failure store unavailable", "err", err)
		return nil
	}
	wait := last.Add(ThrottleDelay(n)).Sub(e.Now())
	if n == 0 || wait <= 0 {
		return nil
	}
	e.Metrics.throttled.Inc()
	err2 := *ErrTooManyRequests
	err2.Header = http.Header{"X-Retry-After": {strconv.Itoa(int(wait.Seconds()) + 1)}}
	return &err2
}

// RecordFailure counts a failed password for the account.
func (e *Engine) RecordFailure(ctx context.Context, email string) {
	if err := e.Failures.Add(ctx, email, e.Now()); err != nil {
		e.Log.WarnContext(ctx, "failure store unavailable", "err", err)
	}
}

// ClearFailures forgets the account's failures after a good password.
func (e *Engine) ClearFailures(ctx context.Context, email string) {
	if err := e.Failures.Clear(ctx, email); err != nil {
		e.Log.WarnContext(ctx, "failure store unavailable", "err", err)
	}
}

// MemoryFailures is a FailureStore for one process. It keeps at most
// 100 000 accounts; when full it drops expired entries, then those not yet
// throttled, so a spray of fresh addresses cannot reset an account under
// attack.
type MemoryFailures struct {
	mu sync.Mutex
	m  map[string]failure
}

type failure struct {
	count int
	last  time.Time
}

// NewMemoryFailures builds an empty in-process store.
func NewMemoryFailures() *MemoryFailures { return &MemoryFailures{m: map[string]failure{}} }

// Get implements FailureStore.
func (f *MemoryFailures) Get(_ context.Context, key string) (int, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rec := f.m[key]
	if time.Since(rec.last) > FailureTTL {
		return 0, time.Time{}, nil
	}
	return rec.count, rec.last, nil
}

// Add implements FailureStore.
func (f *MemoryFailures) Add(_ context.Context, key string, now time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.m) >= maxFailureKeys {
		f.evict(now)
	}
	rec := f.m[key]
	if now.Sub(rec.last) > FailureTTL {
		rec.count = 0
	}
	f.m[key] = failure{count: rec.count + 1, last: now}
	return nil
}

// Clear implements FailureStore.
func (f *MemoryFailures) Clear(_ context.Context, key string) error {
	f.mu.Lock()
	delete(f.m, key)
	f.mu.Unlock()
	return nil
}

const maxFailureKeys = 100_000

// evict frees room: expired entries first, then entries below the
// throttling threshold.
func (f *MemoryFailures) evict(now time.Time) {
	for k, r := range f.m {
		if now.Sub(r.last) > FailureTTL {
			delete(f.m, k)
		}
	}
	if len(f.m) < maxFailureKeys {
		return
	}
	for k, r := range f.m {
		if r.count < FreeFailures {
			delete(f.m, k)
		}
	}
}
