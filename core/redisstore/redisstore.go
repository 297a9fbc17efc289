// Package redisstore keeps the state that must be shared between instances
// in Redis: the session cache (Better Auth's secondary-storage idea) and the
// per-account sign-in failure counters. Rate-limit counters live in
// transport.RedisCounter.
package redisstore

import (
	"context"
	"encoding/json"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mana/mana-auth/core"
)

// MaxCacheTTL bounds how long a session stays cached, so a change made
// behind the engine's back (a manual SQL fix) is seen within minutes.
const MaxCacheTTL = 5 * time.Minute

// SessionCache is a core.SessionCache in Redis. Keys:
//
//	<p>s:<token>        the cached session and user (JSON), TTL ≤ MaxCacheTTL
//	<p>u:<userID>       set of the user's cached tokens
//	<p>rt:<token>       tombstone of a revoked token (refuses late Sets)
//	<p>ru:<userID>      time (ms) the user's cache was last invalidated
//
// Every operation is one round trip (a pipeline or a script). Errors are
// logged and treated as a miss: the database stays the source of truth.
type SessionCache struct {
	c   redis.UniversalClient
	p   string
	log *slog.Logger
	// bypassUntil (unix ms): after a revocation could not reach Redis, this
	// instance reads no cached session until the stale entries must have
	// expired, and the failed delete is retried in the background.
	bypassUntil atomic.Int64
}

var _ core.SessionCache = (*SessionCache)(nil)

// NewSessionCache builds a cache on c.
func NewSessionCache(c redis.UniversalClient, log *slog.Logger) *SessionCache {
	return &SessionCache{c: c, p: "mana-auth:", log: log}
}

// record is the cache encoding; unlike the wire JSON it keeps every field.
type record struct {
	S sessionRec `json:"s"`
	U userRec    `json:"u"`
}

type sessionRec struct {
	ID, Token, UserID, IP, UA string
	Exp, Created, Updated     int64
	DontRemember              bool           `json:",omitempty"`
	Fields                    map[string]any `json:",omitempty"`
}

type userRec struct {
	ID, Name, Email, Role string
	Verified              bool
	Image                 *string `json:",omitempty"`
	Created, Updated      int64
	Fields                map[string]any `json:",omitempty"`
}

func ms(t time.Time) int64     { return t.UnixMilli() }
func fromMS(n int64) time.Time { return time.UnixMilli(n).UTC() }

// Get implements core.SessionCache.
func (c *SessionCache) Get(ctx context.Context, token string) (*core.SessionWithUser, bool) {
	if time.Now().UnixMilli() < c.bypassUntil.Load() {
		return nil, false
	}
	b, err := c.c.Get(ctx, c.p+"s:"+token).Bytes()
	if err != nil {
		if err != redis.Nil {
			c.log.WarnContext(ctx, "session cache get", "err", err)
		}
		return nil, false
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, false
	}
	s := &core.Session{ID: r.S.ID, Token: r.S.Token, UserID: r.S.UserID, IPAddress: r.S.IP,
		UserAgent: r.S.UA, ExpiresAt: fromMS(r.S.Exp), CreatedAt: fromMS(r.S.Created),
		UpdatedAt: fromMS(r.S.Updated), DontRemember: r.S.DontRemember, Fields: r.S.Fields}
	u := &core.User{ID: r.U.ID, Name: r.U.Name, Email: r.U.Email, Role: r.U.Role,
		EmailVerified: r.U.Verified, Image: r.U.Image, CreatedAt: fromMS(r.U.Created),
		UpdatedAt: fromMS(r.U.Updated), Fields: r.U.Fields}
	return &core.SessionWithUser{Session: s, User: u}, true
}

// setScript stores a session unless it was revoked, or its user
// invalidated, after the data was loaded.
var setScript = redis.NewScript(`
if redis.call("EXISTS", KEYS[3]) == 1 then return 0 end
local inval = redis.call("GET", KEYS[4])
if inval and tonumber(inval) >= tonumber(ARGV[3]) then return 0 end
redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
redis.call("SADD", KEYS[2], ARGV[4])
redis.call("PEXPIRE", KEYS[2], ARGV[5])
return 1`)

// Set implements core.SessionCache.
func (c *SessionCache) Set(ctx context.Context, sw *core.SessionWithUser, ttl time.Duration,
	loadedAt time.Time) {
	ttl = min(ttl, MaxCacheTTL)
	if ttl <= 0 {
		return
	}
	s, u := sw.Session, sw.User
	b, err := json.Marshal(record{
		S: sessionRec{ID: s.ID, Token: s.Token, UserID: s.UserID, IP: s.IPAddress,
			UA: s.UserAgent, Exp: ms(s.ExpiresAt), Created: ms(s.CreatedAt),
			Updated: ms(s.UpdatedAt), DontRemember: s.DontRemember, Fields: s.Fields},
		U: userRec{ID: u.ID, Name: u.Name, Email: u.Email, Role: u.Role,
			Verified: u.EmailVerified, Image: u.Image, Created: ms(u.CreatedAt),
			Updated: ms(u.UpdatedAt), Fields: u.Fields},
	})
	if err != nil {
		return
	}
	keys := []string{c.p + "s:" + s.Token, c.p + "u:" + s.UserID, c.p + "rt:" + s.Token,
		c.p + "ru:" + s.UserID}
	err = setScript.Run(ctx, c.c, keys, b, ttl.Milliseconds(), ms(loadedAt), s.Token,
		(MaxCacheTTL + time.Minute).Milliseconds()).Err()
	if err != nil {
		c.log.WarnContext(ctx, "session cache set", "err", err)
	}
}

// Delete implements core.SessionCache: the tokens are dropped and
// tombstoned for as long as a stale Set could arrive.
func (c *SessionCache) Delete(ctx context.Context, userID string, tokens ...string) {
	c.must(ctx, "delete", func(ctx context.Context) error {
		pipe := c.c.TxPipeline()
		for _, t := range tokens {
			pipe.Del(ctx, c.p+"s:"+t)
			pipe.Set(ctx, c.p+"rt:"+t, 1, MaxCacheTTL+time.Minute)
			pipe.SRem(ctx, c.p+"u:"+userID, t)
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

var deleteUserScript = redis.NewScript(`
redis.call("SET", KEYS[2], ARGV[1], "PX", ARGV[2])
local toks = redis.call("SMEMBERS", KEYS[1])
for _, t in ipairs(toks) do redis.call("DEL", ARGV[3] .. t) end
redis.call("DEL", KEYS[1])
return #toks`)

// DeleteUser implements core.SessionCache: every cached session of the user
// goes, and Sets of data loaded before now are refused.
func (c *SessionCache) DeleteUser(ctx context.Context, userID string) {
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	c.must(ctx, "delete user", func(ctx context.Context) error {
		return deleteUserScript.Run(ctx, c.c, []string{c.p + "u:" + userID,
			c.p + "ru:" + userID}, now, (MaxCacheTTL + time.Minute).Milliseconds(),
			c.p+"s:").Err()
	})
}

// must runs an invalidation, retrying briefly. If Redis still refuses, a
// revoked session must not be served from the cache: this instance stops
// reading it until every entry cached before now has expired, and the
// invalidation keeps being retried in the background for that long, so
// the other instances' reads stop finding it as soon as Redis answers.
func (c *SessionCache) must(ctx context.Context, op string, f func(context.Context) error) {
	var err error
	for i := range 3 {
		if err = f(ctx); err == nil {
			return
		}
		time.Sleep(time.Duration(25<<i) * time.Millisecond)
	}
	until := time.Now().Add(MaxCacheTTL + time.Minute)
	c.bypassUntil.Store(until.UnixMilli())
	c.log.ErrorContext(ctx, "session cache "+op+" failed; bypassing the cache here and "+
		"retrying", "err", err)
	go func() {
		bg := context.Background()
		for time.Now().Before(until) {
			time.Sleep(2 * time.Second)
			if f(bg) == nil {
				return
			}
		}
	}()
}

// Failures is a core.FailureStore in Redis: a hash per account with the
// count and the time of the last failure, expiring after core.FailureTTL.
type Failures struct {
	c redis.UniversalClient
	p string
}

var _ core.FailureStore = (*Failures)(nil)

// NewFailures builds the store on c.
func NewFailures(c redis.UniversalClient) *Failures {
	return &Failures{c: c, p: "mana-auth:fail:"}
}

// Get implements core.FailureStore.
func (f *Failures) Get(ctx context.Context, key string) (int, time.Time, error) {
	v, err := f.c.HMGet(ctx, f.p+key, "n", "last").Result()
	if err != nil {
		return 0, time.Time{}, err
	}
	n, _ := strconv.Atoi(str(v[0]))
	last, _ := strconv.ParseInt(str(v[1]), 10, 64)
	return n, time.UnixMilli(last), nil
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// Add implements core.FailureStore.
func (f *Failures) Add(ctx context.Context, key string, now time.Time) error {
	pipe := f.c.TxPipeline()
	pipe.HIncrBy(ctx, f.p+key, "n", 1)
	pipe.HSet(ctx, f.p+key, "last", now.UnixMilli())
	pipe.Expire(ctx, f.p+key, core.FailureTTL)
	_, err := pipe.Exec(ctx)
	return err
}

// Clear implements core.FailureStore.
func (f *Failures) Clear(ctx context.Context, key string) error {
	return f.c.Del(ctx, f.p+key).Err()
}
