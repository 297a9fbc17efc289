package transport

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mana/mana-auth/core"
)

// Counter counts hits of a key in fixed windows. Incr returns the count in
// the current window, including this hit, and the time left in it.
type Counter interface {
	Incr(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error)
}

// Limiter applies rate-limit rules per client bucket (BucketKey) and path.
// The first rule whose pattern matches the path wins; the default rule
// covers the rest. Counting is a fixed window that starts at a bucket's
// first hit, which Redis expresses in one INCR + PEXPIRE.
type Limiter struct {
	rules   []core.RateRule
	def     core.RateRule
	counter Counter
}

// DefaultRules are Better Auth's special rules (reference §5.3) plus the
// same strictness for the v1 token API's sign-in paths.
func DefaultRules(base string) []core.RateRule {
	return []core.RateRule{
		{Pattern: base + "/sign-in*", Window: 10 * time.Second, Max: 3},
		{Pattern: base + "/sign-up*", Window: 10 * time.Second, Max: 3},
		{Pattern: base + "/change-password*", Window: 10 * time.Second, Max: 3},
		{Pattern: base + "/change-email*", Window: 10 * time.Second, Max: 3},
		{Pattern: base + "/request-password-reset", Window: time.Minute, Max: 3},
		{Pattern: base + "/send-verification-email", Window: time.Minute, Max: 3},
		{Pattern: "/api/v1/auth/login", Window: 10 * time.Second, Max: 3},
		{Pattern: "/api/v1/auth/register", Window: 10 * time.Second, Max: 3},
		{Pattern: "/api/v1/auth/two-factor", Window: 10 * time.Second, Max: 3},
	}
}

// NewLimiter builds a limiter; plugin rules come before the defaults.
func NewLimiter(c Counter, def core.RateRule, rules ...core.RateRule) *Limiter {
	return &Limiter{rules: rules, def: def, counter: c}
}

func (l *Limiter) rule(path string) core.RateRule {
	for _, r := range l.rules {
		if match(r.Pattern, path) {
			return r
		}
	}
	return l.def
}

func match(pattern, path string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(path, p)
	}
	return pattern == path
}

// Allow counts the request and reports whether it may pass; when not, it
// returns how long to wait.
func (l *Limiter) Allow(ctx context.Context, bucket, path string) (bool, time.Duration,
	string, error) {
	r := l.rule(path)
	if r.Max <= 0 {
		return true, 0, r.Pattern, nil
	}
	n, ttl, err := l.counter.Incr(ctx, bucket+"|"+path, r.Window)
	if err != nil {
		return true, 0, r.Pattern, err
	}
	if n > int64(r.Max) {
		return false, ttl, r.Pattern, nil
	}
	return true, 0, r.Pattern, nil
}

func (s *Server) rateLimit(next http.Handler) http.Handler {
	if s.limiter == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if !strings.HasPrefix(path, "/api/") {
			next.ServeHTTP(w, r)
			return
		}
		bucket := BucketKey(ClientIPFrom(r.Context()))
		ok, wait, rule, err := s.limiter.Allow(r.Context(), bucket, path)
		if err != nil {
			// Fail open: a Redis outage must not take sign-in down; the
			// per-account throttle in the engine still holds.
			s.e.Log.WarnContext(r.Context(), "rate limiter unavailable", "err", err)
		}
		if !ok {
			s.metrics.limited.WithLabelValues(rule).Inc()
			secs := int(wait.Round(time.Second).Seconds())
			if secs < 1 {
				secs = 1
			}
			w.Header().Set("X-Retry-After", strconv.Itoa(secs))
			s.encodeError(r.Context(), core.ErrTooManyRequests, w)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// MemoryCounter counts in this process; it forgets buckets whose window
// has passed. At most maxKeys buckets are kept; when that many windows are
// live, new keys pass uncounted until some expire (existing counts are never
// dropped early).
type MemoryCounter struct {
	mu      sync.Mutex
	m       map[string]*window
	maxKeys int
	now     func() time.Time
}

type window struct {
	n     int64
	until time.Time
}

// NewMemoryCounter builds an in-process counter.
func NewMemoryCounter() *MemoryCounter {
	return &MemoryCounter{m: map[string]*window{}, maxKeys: 100_000, now: time.Now}
}

// Incr implements Counter.
func (c *MemoryCounter) Incr(_ context.Context, key string, win time.Duration) (int64,
	time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	w, ok := c.m[key]
	if !ok || !now.Before(w.until) {
		if !ok && len(c.m) >= c.maxKeys {
			c.sweep(now)
			if len(c.m) >= c.maxKeys {
				// Full of live windows: do not track a new key rather than
				// forget the ones counting (a flood must not reset limits).
				return 1, win, nil
			}
		}
		w = &window{until: now.Add(win)}
		c.m[key] = w
	}
	w.n++
	return w.n, w.until.Sub(now), nil
}

func (c *MemoryCounter) sweep(now time.Time) {
	for k, w := range c.m {
		if !now.Before(w.until) {
			delete(c.m, k)
		}
	}
}

// RedisCounter counts in Redis, so limits hold across instances.
type RedisCounter struct {
	c      redis.UniversalClient
	prefix string
}

// NewRedisCounter builds a Redis-backed counter.
func NewRedisCounter(c redis.UniversalClient) *RedisCounter {
	return &RedisCounter{c: c, prefix: "mana-auth:rl:"}
}

var incrScript = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return {n, redis.call("PTTL", KEYS[1])}`)

// Incr implements Counter with one atomic script call.
func (r *RedisCounter) Incr(ctx context.Context, key string, win time.Duration) (int64,
	time.Duration, error) {
	res, err := incrScript.Run(ctx, r.c, []string{r.prefix + key}, win.Milliseconds()).
		Int64Slice()
	if err != nil {
		return 0, 0, err
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

// EngineLimiter builds the limiter of an engine: the operator's rules
// (RATE_LIMIT_RULES) first, then every plugin's, then DefaultRules, then the
// default rule (Better Auth's 100 per 10 s unless RATE_LIMIT_DEFAULT says).
func EngineLimiter(e *core.Engine, c Counter) *Limiter {
	rules := append([]core.RateRule(nil), e.Config.RateRules...)
	for _, p := range e.Plugins() {
		if rp, ok := p.(core.RateLimitProvider); ok {
			rules = append(rules, rp.RateLimits()...)
		}
	}
	rules = append(rules, DefaultRules(e.Config.BasePath)...)
	return NewLimiter(c, e.Config.RateDefault, rules...)
}
