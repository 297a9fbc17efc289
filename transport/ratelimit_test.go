package transport

import (
	"context"
	"testing"
	"time"
)

// A flood of new keys must not reset the counters already counting.
func TestMemoryCounterFloodKeepsCounts(t *testing.T) {
	c := NewMemoryCounter()
	c.maxKeys = 3
	ctx := context.Background()
	for range 3 {
		_, _, _ = c.Incr(ctx, "victim", time.Minute)
	}
	_, _, _ = c.Incr(ctx, "a", time.Minute)
	_, _, _ = c.Incr(ctx, "b", time.Minute)
	if n, _, _ := c.Incr(ctx, "flood-1", time.Minute); n != 1 {
		t.Errorf("untracked key counted %d", n)
	}
	if n, _, _ := c.Incr(ctx, "victim", time.Minute); n != 4 {
		t.Errorf("victim count after flood = %d, want 4", n)
	}
	// Expired windows make room again.
	c.now = func() time.Time { return time.Now().Add(2 * time.Minute) }
	if n, _, _ := c.Incr(ctx, "flood-2", time.Minute); n != 1 || len(c.m) != 1 {
		t.Errorf("after expiry: n=%d keys=%d", n, len(c.m))
	}
}
