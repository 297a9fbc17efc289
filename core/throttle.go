package core

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Per-account sign-in throttling (NIST 800-63B §5.2.2): failures are counted
// per email across every IP. After freeFailures, each further failure
// doubles a waiting time, capped at maxDelay, so an attacker gets few
// guesses per hour while the real user is never locked out for long.
const (
	freeFailures = 5
	maxDelay     = 15 * time.Minute
	failureTTL   = time.Hour
)

type failures struct {
	mu sync.Mutex
	m  map[string]*failure
}

type failure struct {
	count int
	last  time.Time
}

// The counter is per process; with several instances an attacker spreads
// guesses over them. Moving it to Redis (issue 3) closes that gap.
func newFailures() *failures { return &failures{m: map[string]*failure{}} }

func delayFor(n int) time.Duration {
	if n < freeFailures {
		return 0
	}
	d := time.Second << min(n-freeFailures, 10)
	return min(d, maxDelay)
}

// Throttle answers 429 when the account has failed too often recently.
func (e *Engine) Throttle(ctx context.Context, email string) error {
	f := e.fails
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.m[email]
	if !ok {
		return nil
	}
	now := e.Now()
	if now.Sub(rec.last) > failureTTL {
		delete(f.m, email)
		return nil
	}
	wait := rec.last.Add(delayFor(rec.count)).Sub(now)
	if wait <= 0 {
		return nil
	}
	err := *ErrTooManyRequests
	err.Header = http.Header{"X-Retry-After": {strconv.Itoa(int(wait.Seconds()) + 1)}}
	return &err
}

// RecordFailure counts a failed password for the account.
func (e *Engine) RecordFailure(ctx context.Context, email string) {
	f := e.fails
	f.mu.Lock()
	defer f.mu.Unlock()
	rec, ok := f.m[email]
	if !ok {
		if len(f.m) > 100_000 {
			f.m = map[string]*failure{} // bound memory under a spray attack
		}
		rec = &failure{}
		f.m[email] = rec
	}
	rec.count++
	rec.last = e.Now()
}

// ClearFailures forgets the account's failures after a good password.
func (e *Engine) ClearFailures(ctx context.Context, email string) {
	f := e.fails
	f.mu.Lock()
	delete(f.m, email)
	f.mu.Unlock()
}
