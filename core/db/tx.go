package db

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// maxTxAttempts bounds how often Tx runs a function whose transaction hit a
// serialization failure, deadlock or lock timeout.
const maxTxAttempts = 5

// retryTx calls run until it succeeds, fails with an error retryable does not
// accept, or maxTxAttempts is reached, sleeping a short, growing, jittered
// delay in between.
func retryTx(ctx context.Context, log *slog.Logger, retryable func(error) bool,
	run func() error) error {
	for attempt := 1; ; attempt++ {
		err := run()
		if err == nil || attempt == maxTxAttempts || !retryable(err) {
			return err
		}

		base := time.Duration(attempt*attempt) * 5 * time.Millisecond
		delay := base + rand.N(base)
		log.DebugContext(ctx, "retrying transaction",
			slog.Int("attempt", attempt), slog.Duration("delay", delay),
			slog.String("error", err.Error()))
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}
