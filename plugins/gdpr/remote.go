package gdpr

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"sync"
	"time"

	"github.com/mana/mana-auth/core/db"
)

// maxRemoteBody bounds what we read from mana-credits.
const maxRemoteBody = 8 << 20

// errRemote is a remote service that did not answer usefully; the section
// becomes {"unavailable": true}.
var errRemote = errors.New("remote service unavailable")

// creditsClient talks to mana-credits' internal API with the service key.
// It never follows redirects, so the key cannot be forwarded elsewhere.
type creditsClient struct {
	base string
	key  string
	hc   *http.Client
}

func newCreditsClient(base, key string) *creditsClient {
	return &creditsClient{base: base, key: key, hc: &http.Client{
		Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}}
}

// userURL is the internal URL of a user's resource at mana-credits.
func (c *creditsClient) userURL(userID, rest string) string {
	return c.base + "/api/v1/internal/users/" + url.PathEscape(userID) + rest
}

// do sends one request and returns the status and body. Transport errors
// lose their URL, so no address or credential reaches a log or the outbox.
func (c *creditsClient) do(ctx context.Context, method, u string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("building mana-credits request: %w", errRemote)
	}
	req.Header.Set("X-Service-Key", c.key)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, nil, fmt.Errorf("calling mana-credits: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRemoteBody+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading mana-credits answer: %w", err)
	}
	if len(b) > maxRemoteBody {
		return 0, nil, fmt.Errorf("mana-credits answer too large: %w", errRemote)
	}
	return resp.StatusCode, b, nil
}

// getJSON reads one JSON document; a 404 (the user has no credits account)
// is nil, nil.
func (c *creditsClient) getJSON(ctx context.Context, u string) (json.RawMessage, error) {
	st, b, err := c.do(ctx, http.MethodGet, u)
	if err != nil {
		return nil, err
	}
	if st == http.StatusNotFound {
		return nil, nil
	}
	if st < 200 || st > 299 {
		return nil, fmt.Errorf("mana-credits answered %d: %w", st, errRemote)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("mana-credits answered invalid JSON: %w", errRemote)
	}
	return bytes.TrimSpace(b), nil
}

// creditsData is what mana-credits holds about a user: the balance
// document and the transactions document, as mana-credits wrote them.
type creditsData struct {
	Balance      json.RawMessage
	Transactions json.RawMessage
}

// fetch reads a user's balance and transactions.
func (c *creditsClient) fetch(ctx context.Context, userID string) (*creditsData, error) {
	bal, err := c.getJSON(ctx, c.userURL(userID, "/balance"))
	if err != nil {
		return nil, err
	}
	tx, err := c.getJSON(ctx, c.userURL(userID, "/transactions"))
	if err != nil {
		return nil, err
	}
	return &creditsData{Balance: bal, Transactions: tx}, nil
}

// erase asks mana-credits to delete a user. 2xx and 404 (nothing there)
// both mean done.
func (c *creditsClient) erase(ctx context.Context, userID string) error {
	st, _, err := c.do(ctx, http.MethodDelete, c.userURL(userID, ""))
	if err != nil {
		return err
	}
	if st == http.StatusNotFound || (st >= 200 && st <= 299) {
		return nil
	}
	return fmt.Errorf("mana-credits answered %d to the erasure", st)
}

// summary is the credits section of a summary: the balance document as is
// and the number of transactions.
func (d *creditsData) summary() map[string]any {
	return map[string]any{"balance": rawOrNull(d.Balance),
		"transactions": countItems(d.Transactions)}
}

// export is the credits section of an export: both documents as is.
func (d *creditsData) export() map[string]any {
	tx := d.Transactions
	if tx == nil {
		tx = json.RawMessage("[]")
	}
	return map[string]any{"balance": rawOrNull(d.Balance), "transactions": tx}
}

func rawOrNull(b json.RawMessage) json.RawMessage {
	if b == nil {
		return json.RawMessage("null")
	}
	return b
}

// countItems counts the transactions in mana-credits' answer: a JSON array,
// or an object holding the array under "transactions", "items" or "data".
// Anything else counts as null (unknown).
func countItems(b json.RawMessage) any {
	if b == nil {
		return 0
	}
	var arr []json.RawMessage
	if json.Unmarshal(b, &arr) == nil {
		return len(arr)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(b, &obj) != nil {
		return nil
	}
	for _, k := range []string{"transactions", "items", "data"} {
		if json.Unmarshal(obj[k], &arr) == nil && obj[k] != nil {
			return len(arr)
		}
	}
	return nil
}

// syncStore is the mana-sync database, opened on first use (so a database
// that is down at start-up costs a section, not the server) and reopened
// after a failed open. We only read it, except for erasure.
//
// Assumption: the database has a table sync_entities with at least the
// columns user_id and app (text), one row per synced entity. On
// PostgreSQL the table is looked up in the schema named by the URL's
// search_path parameter, else in public.
type syncStore struct {
	url    string
	schema string
	log    *slog.Logger

	mu sync.Mutex
	d  db.DB
}

// schemaParam is the shape of schema names db.Open accepts.
var schemaParam = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func newSyncStore(raw string, log *slog.Logger) (*syncStore, error) {
	if err := validSyncURL(raw); err != nil {
		return nil, err
	}
	s := &syncStore{url: raw, schema: "public", log: log}
	if u, err := url.Parse(raw); err == nil && u.Scheme != "sqlite" {
		if sp := u.Query().Get("search_path"); sp != "" {
			if !schemaParam.MatchString(sp) {
				return nil, fmt.Errorf("search_path %q: want one lower-case schema name",
					sp)
			}
			s.schema = sp
		}
	}
	return s, nil
}

// db returns the open pool, opening it when needed.
func (s *syncStore) db(ctx context.Context) (db.DB, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d != nil {
		return s.d, nil
	}
	d, err := db.Open(ctx, s.url,
		db.Options{Schema: s.schema, MaxConns: 2, Logger: s.log})
	if err != nil {
		return nil, fmt.Errorf("opening the sync database: %w", err)
	}
	s.d = d
	return d, nil
}

// counts returns how many entities a user has per app.
func (s *syncStore) counts(ctx context.Context, userID string) (map[string]int64, error) {
	d, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := d.Query(ctx, "SELECT app, count(*) FROM sync_entities WHERE user_id = $1 "+
		"GROUP BY app ORDER BY app", userID)
	if err != nil {
		return nil, fmt.Errorf("counting sync entities: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var app string
		var n int64
		if err := rows.Scan(&app, &n); err != nil {
			return nil, fmt.Errorf("counting sync entities: %w", err)
		}
		out[app] = n
	}
	return out, rows.Err()
}

// erase deletes every entity of a user and reports how many went.
func (s *syncStore) erase(ctx context.Context, userID string) (int64, error) {
	d, err := s.db(ctx)
	if err != nil {
		return 0, err
	}
	n, err := d.Exec(ctx, "DELETE FROM sync_entities WHERE user_id = $1", userID)
	if err != nil {
		return 0, fmt.Errorf("erasing sync entities: %w", err)
	}
	return n, nil
}

// Close closes the pool if it was opened.
func (s *syncStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.d == nil {
		return nil
	}
	err := s.d.Close()
	s.d = nil
	return err
}

// projectsSection renders per-app counts: {"apps": {app: n}, "total": n}.
func projectsSection(counts map[string]int64) map[string]any {
	var total int64
	for _, n := range counts {
		total += n
	}
	return map[string]any{"apps": counts, "total": total}
}
