package db

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCacheSize bounds the prepared statements kept per SQLite pool. Our SQL
// is a fixed set of constants; a caller that builds SQL dynamically simply
// stops being cached once the cache is full.
const stmtCacheSize = 512

// stmtCache keeps one prepared *sql.Stmt per query text on a SQLite pool.
// SQLite spends about half of a primary-key lookup parsing and planning the
// statement, which preparing once saves. database/sql prepares the statement
// on each connection it runs on and never shares a connection's statement
// between two callers at once.
type stmtCache struct {
	db *sql.DB
	mu sync.RWMutex
	m  map[string]*sql.Stmt
}

func newStmtCache(d *sql.DB) *stmtCache {
	return &stmtCache{db: d, m: make(map[string]*sql.Stmt)}
}

// get returns the cached statement for query, preparing it on first use. It
// returns nil and no error when the cache is full.
func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.RLock()
	st, ok := c.m[query]
	full := len(c.m) >= stmtCacheSize
	c.mu.RUnlock()
	if ok {
		return st, nil
	}
	if full {
		return nil, nil
	}

	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[query]; ok { // prepared concurrently
		_ = st.Close()
		return prev, nil
	}
	if c.m == nil { // closed meanwhile
		_ = st.Close()
		return nil, errors.New("sql: database is closed")
	}
	c.m[query] = st
	return st, nil
}

// close closes every cached statement; get fails afterwards.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		_ = st.Close()
	}
	c.m = nil
}
