package vault

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"time"

	"github.com/mana/mana-auth/core"
	"github.com/mana/mana-auth/core/db"
)

// Audit actions, one per route (a /zero-knowledge body that names no
// direction is audited as "zero_knowledge").
const (
	actionStatus         = "status" // metrics only, never audited
	actionInit           = "init"
	actionKey            = "key"
	actionRotate         = "rotate"
	actionSetRecovery    = "recovery_wrap_set"
	actionDeleteRecovery = "recovery_wrap_delete"
	actionZK             = "zero_knowledge"
	actionZKEnable       = "zero_knowledge_enable"
	actionZKDisable      = "zero_knowledge_disable"
)

// Audit outcomes: success; denied (the request was refused, a 4xx); error
// (the server failed).
const (
	outcomeSuccess = "success"
	outcomeDenied  = "denied"
	outcomeError   = "error"
)

// maxUserAgent bounds the stored user agent.
const maxUserAgent = 512

// keyBody is the answer carrying the master key (/init, /key, /rotate).
type keyBody struct {
	MasterKey     string `json:"masterKey"`
	FormatVersion int    `json:"formatVersion"`
	KEKID         string `json:"kekId"`
}

func newKeyBody(mk []byte, format int, kekID string) keyBody {
	return keyBody{MasterKey: b64(mk), FormatVersion: format, KEKID: kekID}
}

// recoveryBody is the answer in zero-knowledge mode: the client opens the
// recovery wrap with the key it derives from the user's recovery code.
type recoveryBody struct {
	RequiresRecoveryCode bool   `json:"requiresRecoveryCode"`
	RecoveryWrappedMK    string `json:"recoveryWrappedMk"`
	RecoveryIV           string `json:"recoveryIv"`
}

// statusBody is /status's answer.
type statusBody struct {
	VaultExists     bool       `json:"vaultExists"`
	HasRecoveryWrap bool       `json:"hasRecoveryWrap"`
	ZeroKnowledge   bool       `json:"zeroKnowledge"`
	RecoverySetAt   *core.Time `json:"recoverySetAt"`
}

func (p *Plugin) hStatus(ctx context.Context, r *core.Request) (*core.Response, error) {
	var st vaultStatus
	err := p.read(ctx, r.User.ID, func(q db.Querier) error {
		var err error
		st, err = loadStatus(ctx, q, r.User.ID)
		return err
	})
	if err != nil {
		p.metrics.observe(actionStatus, outcomeError)
		return nil, p.e.DBError(ctx, "vault status", err)
	}
	p.metrics.observe(actionStatus, outcomeSuccess)
	return core.JSON(statusOf(st)), nil
}

func statusOf(st vaultStatus) statusBody {
	b := statusBody{VaultExists: st.Exists, HasRecoveryWrap: st.HasRecoveryWrap,
		ZeroKnowledge: st.ZeroKnowledge}
	if st.RecoverySetAt != nil {
		b.RecoverySetAt = &core.Time{Time: *st.RecoverySetAt}
	}
	return b
}

// hInit creates the vault or, when it exists, answers as /key does. The
// insert does nothing on conflict, so racing calls create exactly one key.
func (p *Plugin) hInit(ctx context.Context, r *core.Request) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionInit, func(tx db.Tx, now time.Time) (any, error) {
		mk := newMasterKey()
		defer clear(mk)
		w, err := p.keys.wrapKey(uid, mk)
		if err != nil {
			return nil, err
		}
		created, err := insertRecord(ctx, tx, uid, w, keyCheck(uid, mk), now)
		if err != nil {
			return nil, err
		}
		if !created {
			return p.readKey(ctx, tx, uid, now)
		}
		p.log.InfoContext(ctx, "vault created", slog.String("user_id", uid),
			slog.String("kek_id", w.kekID))
		return newKeyBody(mk, FormatVersion, w.kekID), nil
	})
}

// hKey is the hot path: one indexed read, one AES-GCM open, one audit
// insert (plus a rewrap when the KEK was a previous one).
func (p *Plugin) hKey(ctx context.Context, r *core.Request) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionKey, func(tx db.Tx, now time.Time) (any, error) {
		return p.readKey(ctx, tx, uid, now)
	})
}

// readKey loads userID's vault and answers with its key, or with the
// recovery wrap in zero-knowledge mode. A wrap under a previous KEK (or an
// older format) is rewrapped under the current KEK in the same transaction.
func (p *Plugin) readKey(ctx context.Context, tx db.Tx, userID string,
	now time.Time) (any, error) {
	v, err := loadRecord(ctx, tx, userID)
	if errors.Is(err, db.ErrNoRows) {
		return nil, ErrNotInitialized
	}
	if err != nil {
		return nil, err
	}
	if !v.hasKEKWrap() {
		return recoveryBody{RequiresRecoveryCode: true,
			RecoveryWrappedMK: b64(v.RecoveryMK), RecoveryIV: b64(v.RecoveryIV)}, nil
	}

	kekID := *v.KEKID
	mk, stale, err := p.keys.unwrapKey(userID, v.FormatVersion, kekID, v.WrappedMK,
		v.WrapIV)
	if err != nil {
		return nil, fmt.Errorf("unwrapping master key (kek %s): %w", kekID, err)
	}
	defer clear(mk)
	format := v.FormatVersion
	if stale || format != FormatVersion {
		w, err := p.keys.wrapKey(userID, mk)
		if err != nil {
			return nil, err
		}
		n, err := rewrapRecord(ctx, tx, userID, kekID, w, now)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			p.log.DebugContext(ctx, "vault rewrapped lazily",
				slog.String("user_id", userID), slog.String("from_kek", kekID),
				slog.String("to_kek", w.kekID))
			kekID, format = w.kekID, FormatVersion
		}
	}
	return newKeyBody(mk, format, kekID), nil
}

// hRotate replaces the master key. The recovery wrap wraps the old key, so
// it is dropped; the client sets a new one.
func (p *Plugin) hRotate(ctx context.Context, r *core.Request) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionRotate, func(tx db.Tx, now time.Time) (any, error) {
		mk := newMasterKey()
		defer clear(mk)
		w, err := p.keys.wrapKey(uid, mk)
		if err != nil {
			return nil, err
		}
		n, err := rotateRecord(ctx, tx, uid, w, keyCheck(uid, mk), now)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, p.refusal(ctx, tx, uid, ErrZKRotateForbidden)
		}
		p.e.SecurityTx(ctx, tx, r, uid, "vault_key_rotated", outcomeSuccess,
			map[string]any{"kekId": w.kekID})
		return newKeyBody(mk, FormatVersion, w.kekID), nil
	})
}

// refusal explains why a conditional update matched no row: no vault at
// all, or the state the condition excluded (err).
func (p *Plugin) refusal(ctx context.Context, q db.Querier, userID string,
	err error) error {
	st, lerr := loadStatus(ctx, q, userID)
	if lerr != nil {
		return lerr
	}
	if !st.Exists {
		return ErrNotInitialized
	}
	return err
}

type recoveryWrapInput struct {
	RecoveryWrappedMK string `json:"recoveryWrappedMk"`
	RecoveryIV        string `json:"recoveryIv"`
}

func (p *Plugin) hSetRecoveryWrap(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	uid := r.User.ID
	var in recoveryWrapInput
	if err := r.Bind(&in); err != nil {
		return nil, p.fail(ctx, r, actionSetRecovery, err)
	}
	sealed, ok1 := decodeFixed(in.RecoveryWrappedMK, WrapSize)
	iv, ok2 := decodeFixed(in.RecoveryIV, NonceSize)
	if !ok1 || !ok2 {
		return nil, p.fail(ctx, r, actionSetRecovery, ErrInvalidRecoveryWrap)
	}
	return p.do(ctx, r, actionSetRecovery, func(tx db.Tx, now time.Time) (any, error) {
		n, err := setRecoveryWrap(ctx, tx, uid, sealed, iv, now)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, ErrNotInitialized
		}
		p.e.SecurityTx(ctx, tx, r, uid, "vault_recovery_wrap_set", outcomeSuccess, nil)
		return map[string]any{"hasRecoveryWrap": true,
			"recoverySetAt": core.Time{Time: now}}, nil
	})
}

func (p *Plugin) hDeleteRecoveryWrap(ctx context.Context,
	r *core.Request) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionDeleteRecovery, func(tx db.Tx, now time.Time) (any, error) {
		n, err := clearRecoveryWrap(ctx, tx, uid, now)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return nil, p.refusal(ctx, tx, uid, ErrZKActive)
		}
		p.e.SecurityTx(ctx, tx, r, uid, "vault_recovery_wrap_removed", outcomeSuccess,
			nil)
		return map[string]any{"hasRecoveryWrap": false}, nil
	})
}

type zeroKnowledgeInput struct {
	Enable    *bool   `json:"enable"`
	MasterKey *string `json:"masterKey"`
}

func (p *Plugin) hZeroKnowledge(ctx context.Context, r *core.Request) (*core.Response,
	error) {
	var in zeroKnowledgeInput
	if err := r.Bind(&in); err != nil {
		return nil, p.fail(ctx, r, actionZK, err)
	}
	if in.Enable == nil {
		return nil, p.fail(ctx, r, actionZK, core.MissingField("body.enable", "boolean"))
	}
	if *in.Enable {
		return p.enableZK(ctx, r)
	}
	var mk []byte
	if in.MasterKey != nil {
		mk, _ = decodeFixed(*in.MasterKey, MasterKeySize)
	}
	if mk == nil {
		return nil, p.fail(ctx, r, actionZKDisable, ErrInvalidMasterKey)
	}
	defer clear(mk)
	return p.disableZK(ctx, r, mk)
}

// enableZK deletes the KEK wrap; from then on only the client can produce
// the master key. It needs a recovery wrap and is idempotent.
func (p *Plugin) enableZK(ctx context.Context, r *core.Request) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionZKEnable, func(tx db.Tx, now time.Time) (any, error) {
		st, err := loadStatus(ctx, tx, uid)
		if err != nil {
			return nil, err
		}
		switch {
		case !st.Exists:
			return nil, ErrNotInitialized
		case st.ZeroKnowledge:
			return map[string]any{"zeroKnowledge": true}, nil
		case !st.HasRecoveryWrap:
			return nil, ErrRecoveryWrapMissing
		}
		n, err := enableZK(ctx, tx, uid, now)
		if err != nil {
			return nil, err
		}
		if n == 0 { // the recovery wrap went in between
			return nil, ErrRecoveryWrapMissing
		}
		p.e.SecurityTx(ctx, tx, r, uid, "vault_zero_knowledge_enabled", outcomeSuccess,
			nil)
		return map[string]any{"zeroKnowledge": true}, nil
	})
}

// disableZK wraps the master key the client handed back under the KEK
// again. The key must match the vault's key check value (set when the key
// was made), so a wrong key cannot silently replace the real one.
func (p *Plugin) disableZK(ctx context.Context, r *core.Request,
	mk []byte) (*core.Response, error) {
	uid := r.User.ID
	return p.do(ctx, r, actionZKDisable, func(tx db.Tx, now time.Time) (any, error) {
		v, err := loadRecord(ctx, tx, uid)
		if errors.Is(err, db.ErrNoRows) {
			return nil, ErrNotInitialized
		}
		if err != nil {
			return nil, err
		}
		if !v.ZeroKnowledge {
			return map[string]any{"zeroKnowledge": false}, nil
		}
		if !checkKey(uid, mk, v.MKCheck) {
			return nil, ErrInvalidMasterKey
		}
		w, err := p.keys.wrapKey(uid, mk)
		if err != nil {
			return nil, err
		}
		n, err := disableZK(ctx, tx, uid, w, keyCheck(uid, mk), now)
		if err != nil {
			return nil, err
		}
		if n == 1 {
			p.e.SecurityTx(ctx, tx, r, uid, "vault_zero_knowledge_disabled",
				outcomeSuccess, nil)
		}
		return map[string]any{"zeroKnowledge": false}, nil
	})
}

// do runs one audited vault action: fn runs in a transaction bound to the
// user, and the success audit row is written in that same transaction, so
// no change is ever committed without its row. When fn fails the
// transaction rolls back and fail audits the failure on its own.
func (p *Plugin) do(ctx context.Context, r *core.Request, action string,
	fn func(tx db.Tx, now time.Time) (any, error)) (*core.Response, error) {
	uid := r.User.ID
	var body any
	err := inTx(ctx, p.e.DB, uid, func(tx db.Tx) error {
		now := p.e.Now()
		b, err := fn(tx, now)
		if err != nil {
			return err
		}
		body = b
		if err := p.audit(ctx, tx, r, action, outcomeSuccess, now); err != nil {
			return err
		}
		if action == actionKey {
			return nil // the hot path keeps to one write
		}
		return pruneAudit(ctx, tx, uid, now.Add(-p.cfg.SecurityRetention))
	})
	if err != nil {
		return nil, p.fail(ctx, r, action, err)
	}
	p.metrics.observe(action, outcomeSuccess)
	return core.JSON(body), nil
}

// fail records a failed action (audit row, metric, log) and returns the
// error for the client: APIErrors as they are, storage errors through
// DBError, key errors as a bare 500.
func (p *Plugin) fail(ctx context.Context, r *core.Request, action string,
	err error) error {
	uid := r.User.ID
	outcome := outcomeError
	if ae, ok := core.AsAPIError(err); ok && ae.Status < 500 {
		outcome = outcomeDenied
	}
	p.metrics.observe(action, outcome)

	// The request's context may be gone (client left); the row must not be.
	actx := context.WithoutCancel(ctx)
	aerr := inTx(actx, p.e.DB, uid, func(tx db.Tx) error {
		return p.audit(actx, tx, r, action, outcome, p.e.Now())
	})
	if aerr != nil {
		p.log.WarnContext(ctx, "vault audit row not stored",
			slog.String("action", action), slog.String("outcome", outcome),
			slog.String("err", aerr.Error()))
	}

	if errors.Is(err, ErrUnwrap) || errors.Is(err, ErrUnknownKEK) {
		p.log.ErrorContext(ctx, "vault master key does not unwrap",
			slog.String("user_id", uid), slog.String("action", action),
			slog.String("err", err.Error()))
		return core.ErrInternal
	}
	return p.e.DBError(ctx, "vault "+action, err)
}

// audit writes one audit row with the request's client IP and user agent.
func (p *Plugin) audit(ctx context.Context, q db.Querier, r *core.Request, action,
	outcome string, now time.Time) error {
	return insertAudit(ctx, q, p.e.NewID(), r.User.ID, action, outcome, r.ClientIP,
		core.ClipText(r.UserAgent, maxUserAgent), now)
}

// read runs a read-only fn for userID: on PostgreSQL in a transaction bound
// to the user (row-level security needs it), on SQLite on the pool, where
// plain SELECTs use the reader connections.
func (p *Plugin) read(ctx context.Context, userID string,
	fn func(q db.Querier) error) error {
	if p.e.DB.Dialect() != db.Postgres {
		return fn(p.e.DB)
	}
	return withUser(ctx, p.e.DB, userID, fn)
}

// decodeFixed decodes standard base64 that must yield exactly n bytes.
func decodeFixed(s string, n int) ([]byte, bool) {
	if s == "" || len(s) != base64.StdEncoding.EncodedLen(n) {
		return nil, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != n {
		return nil, false
	}
	return b, true
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// mustSub returns the subtree dir of an embedded FS that is known to exist.
func mustSub(f fs.FS, dir string) fs.FS {
	sub, err := fs.Sub(f, dir)
	if err != nil {
		panic(err)
	}
	return sub
}
