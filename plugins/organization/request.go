package organization

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// arg reads a parameter of a read endpoint: the query string (GET) or, for
// the same endpoint called with POST, a string or number in the body.
func arg(r *core.Request, name string) string {
	if v := r.Query.Get(name); v != "" {
		return v
	}
	raw, ok := r.Body[name]
	if !ok {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

// isNull reports whether the body sets key to JSON null.
func isNull(r *core.Request, key string) bool {
	raw, ok := r.Body[key]
	return ok && string(bytes.TrimSpace(raw)) == "null"
}

// stringList decodes a value that may be a string or an array of strings
// (Better Auth's role and teamId fields). Absent gives nil.
func stringList(raw json.RawMessage, path string) ([]string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, nil
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list, nil
	}
	return nil, core.ValidationError(path, "Invalid input")
}

// requireString is core.Required with a body path, for nested fields.
func requireString(path string, v *string) error {
	if v == nil {
		return core.MissingField(path, "string")
	}
	return nil
}

// nonEmpty is zod's min(1) on a string.
func nonEmpty(path, v string) error {
	if v == "" {
		return core.ValidationError(path, "Too small: expected string to have >=1 characters")
	}
	return nil
}

// intArg parses a numeric parameter; a missing or bad value gives def.
func intArg(v string, def int) int {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return def
	}
	return n
}

// inTx runs fn in a transaction. API errors pass through; storage errors
// become the core's 500/503.
func (p *Plugin) inTx(ctx context.Context, op string, fn func(tx db.Tx) error) error {
	err := p.e.DB.Tx(ctx, fn)
	if err == nil {
		return nil
	}
	if _, ok := core.AsAPIError(err); ok {
		return err
	}
	return p.e.DBError(ctx, op, err)
}

// dbErr maps a storage error outside a transaction.
func (p *Plugin) dbErr(ctx context.Context, op string, err error) error {
	if _, ok := core.AsAPIError(err); ok {
		return err
	}
	return p.e.DBError(ctx, op, err)
}

// invalidate drops cached sessions of users whose session rows changed.
func (p *Plugin) invalidate(ctx context.Context, userIDs ...string) {
	for _, id := range userIDs {
		p.e.InvalidateUser(ctx, id)
	}
}

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
