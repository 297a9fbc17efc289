package jwt

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/mana/mana-auth/core/db"
)

// Errors of key handling.
var (
	// ErrKeyUnavailable means the signing key's private half cannot be read
	// (AUTH_SECRET changed since it was written); `mana-auth keys rotate`
	// replaces it.
	ErrKeyUnavailable = errors.New("jwt: signing key does not decrypt")
	// errLostRace means another instance rotated at the same moment.
	errLostRace = errors.New("jwt: another instance rotated the signing key")
)

// The only algorithm and curve this plugin signs and accepts.
const (
	algEdDSA = "EdDSA"
	crvEd    = "Ed25519"
)

// unknownKIDReloadGap is the least time between two reloads caused by
// tokens naming a kid we do not know.
const unknownKIDReloadGap = 5 * time.Second

// keySet is an immutable snapshot of the jwks table: what signs, what
// verifies and the /jwks body. It is replaced as a whole on every reload.
type keySet struct {
	signing *signingKey // nil when there is no usable signing key
	active  *activeKey  // the row without expires_at, even if it did not load
	public  map[string]*verifyKey
	jwks    []byte
	// nextExpiry is the earliest expires_at of a retired key (zero: none);
	// from then on jwks is stale.
	nextExpiry time.Time
}

// signingKey signs tokens; its go-jose signer is built once.
type signingKey struct {
	kid       string
	createdAt time.Time
	signer    jose.Signer
}

// activeKey is the current signing row.
type activeKey struct {
	kid       string
	createdAt time.Time
}

// verifyKey is a published public key.
type verifyKey struct {
	pub       ed25519.PublicKey
	expiresAt time.Time // zero: the signing key, no end yet
}

// due reports whether a key created at c should be replaced at now.
func (p *Plugin) due(c, now time.Time) bool {
	return !now.Before(c.Add(p.set.RotationInterval))
}

// currentSigner returns the signing key. Once loaded it costs no database
// read; a due rotation or a missing key takes the slow path.
func (p *Plugin) currentSigner(ctx context.Context) (*signingKey, error) {
	if ks := p.keys.Load(); ks != nil && ks.signing != nil &&
		!p.due(ks.signing.createdAt, p.e.Now()) {
		return ks.signing, nil
	}
	return p.ensureSigner(ctx)
}

// ensureSigner reloads the keys and, when there is no signing key or it is
// due, rotates. Callers racing here wait for one rotation.
func (p *Plugin) ensureSigner(ctx context.Context) (*signingKey, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 3 {
		ks, err := p.reloadLocked(ctx)
		if err != nil {
			return nil, err
		}
		now := p.e.Now()
		if ks.signing != nil && !p.due(ks.signing.createdAt, now) {
			return ks.signing, nil
		}
		if ks.active != nil && ks.signing == nil && !p.due(ks.active.createdAt, now) {
			return nil, ErrKeyUnavailable
		}
		if _, err := p.rotateLocked(ctx, ks); err != nil && !errors.Is(err, errLostRace) {
			return nil, err
		}
	}
	return nil, errors.New("jwt: no signing key after three rotations")
}

// Rotate replaces the signing key now: a new key signs from here on, the
// old one keeps verifying and stays in /jwks for the grace period. It
// returns the new key id. Other instances switch at their next reload.
func (p *Plugin) Rotate(ctx context.Context) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range 3 {
		ks, err := p.reloadLocked(ctx)
		if err != nil {
			return "", err
		}
		kid, err := p.rotateLocked(ctx, ks)
		if errors.Is(err, errLostRace) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, err = p.reloadLocked(ctx)
		return kid, err
	}
	return "", errLostRace
}

// Reload re-reads the keys from the database (pruning expired ones) and
// replaces the in-memory set.
func (p *Plugin) Reload(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.reloadLocked(ctx)
	return err
}

func (p *Plugin) reloadLocked(ctx context.Context) (*keySet, error) {
	now := p.e.Now()
	if _, err := pruneKeys(ctx, p.e.DB, now); err != nil {
		return nil, fmt.Errorf("jwt: pruning keys: %w", err)
	}
	rows, err := loadRows(ctx, p.e.DB, now)
	if err != nil {
		return nil, fmt.Errorf("jwt: loading keys: %w", err)
	}
	ks := p.buildSet(ctx, rows)
	p.keys.Store(ks)
	return ks, nil
}

// rotateLocked retires the signing key ks knows (if any) and inserts a new
// one, in one transaction. It returns errLostRace when another instance
// changed the signing key since ks was loaded.
func (p *Plugin) rotateLocked(ctx context.Context, ks *keySet) (string, error) {
	now := p.e.Now()
	row, err := p.newKeyRow(now)
	if err != nil {
		return "", err
	}
	err = p.e.DB.Tx(ctx, func(tx db.Tx) error {
		if ks.active != nil {
			ok, err := retireKey(ctx, tx, ks.active.kid, now.Add(p.set.GracePeriod))
			if err != nil {
				return err
			}
			if !ok {
				return errLostRace
			}
		}
		return insertKey(ctx, tx, row)
	})
	if errors.Is(err, db.ErrConflict) || errors.Is(err, errLostRace) {
		return "", errLostRace
	}
	if err != nil {
		return "", fmt.Errorf("jwt: storing a new key: %w", err)
	}
	p.metrics.rotations.Inc()
	old := ""
	if ks.active != nil {
		old = ks.active.kid
	}
	p.log.InfoContext(ctx, "jwt signing key rotated", "kid", row.ID, "retired", old,
		"retired_until", now.Add(p.set.GracePeriod))
	return row.ID, nil
}

// buildSet turns rows into a key set. Rows that are not Ed25519 or do not
// parse are left out with a warning; they never make loading fail.
func (p *Plugin) buildSet(ctx context.Context, rows []keyRow) *keySet {
	ks := &keySet{public: make(map[string]*verifyKey, len(rows))}
	var b bytes.Buffer
	b.WriteString(`{"keys":[`)
	for i := range rows {
		r := &rows[i]
		if r.Alg != nil && *r.Alg != algEdDSA {
			p.log.WarnContext(ctx, "jwks row skipped: only EdDSA keys are supported",
				"kid", r.ID, "alg", *r.Alg)
			continue
		}
		pub, err := parsePublicJWK(r.PublicKey)
		if err != nil {
			p.log.WarnContext(ctx, "jwks row skipped: bad public key", "kid", r.ID,
				"err", err)
			continue
		}
		vk := &verifyKey{pub: pub}
		if r.ExpiresAt != nil {
			vk.expiresAt = *r.ExpiresAt
			if ks.nextExpiry.IsZero() || vk.expiresAt.Before(ks.nextExpiry) {
				ks.nextExpiry = vk.expiresAt
			}
		}
		ks.public[r.ID] = vk
		if len(ks.public) > 1 {
			b.WriteByte(',')
		}
		appendJWK(&b, r.ID, pub)

		if r.ExpiresAt != nil || ks.active != nil {
			continue
		}
		ks.active = &activeKey{kid: r.ID, createdAt: r.CreatedAt}
		sk, err := p.loadSigner(r, pub)
		if err != nil {
			p.log.ErrorContext(ctx, "the jwks signing key cannot be used; check AUTH_SECRET "+
				"or run `mana-auth keys rotate`", "kid", r.ID, "err", err)
			continue
		}
		ks.signing = sk
	}
	b.WriteString("]}")
	ks.jwks = b.Bytes()
	return ks
}

// loadSigner decrypts a row's private key and builds its signer.
func (p *Plugin) loadSigner(r *keyRow, pub ed25519.PublicKey) (*signingKey, error) {
	plain, err := p.privateJWK(r.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrKeyUnavailable, err)
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(plain)); err != nil {
		return nil, fmt.Errorf("private jwk: %w", err)
	}
	priv, ok := jwk.Key.(ed25519.PrivateKey)
	if !ok {
		return nil, errors.New("private jwk is not an Ed25519 private key")
	}
	if !bytes.Equal(priv.Public().(ed25519.PublicKey), pub) {
		return nil, errors.New("private key does not match public_key")
	}
	return newSigningKey(r.ID, r.CreatedAt, priv)
}

func newSigningKey(kid string, created time.Time, priv ed25519.PrivateKey) (*signingKey,
	error) {
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA,
		Key: jose.JSONWebKey{Key: priv, KeyID: kid}}, nil)
	if err != nil {
		return nil, fmt.Errorf("jwt: building signer: %w", err)
	}
	return &signingKey{kid: kid, createdAt: created, signer: s}, nil
}

// privateJWK reads Better Auth's private_key column: a JSON string around
// the encrypted JWK, or (jwks.disablePrivateKeyEncryption) the JWK itself.
func (p *Plugin) privateJWK(col string) (string, error) {
	col = strings.TrimSpace(col)
	switch {
	case strings.HasPrefix(col, `"`):
		var sealed string
		if err := json.Unmarshal([]byte(col), &sealed); err != nil {
			return "", fmt.Errorf("private_key is not a JSON string: %w", err)
		}
		return p.e.Secrets.Decrypt(sealed)
	case strings.HasPrefix(col, "{"):
		return col, nil
	default:
		return p.e.Secrets.Decrypt(col)
	}
}

// newKeyRow generates an Ed25519 key and encodes it as Better Auth does.
func (p *Plugin) newKeyRow(now time.Time) (*keyRow, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	x := base64.RawURLEncoding.EncodeToString(pub)
	d := base64.RawURLEncoding.EncodeToString(priv.Seed())
	// Key order as jose's exportJWK writes them.
	sealed, err := p.e.Secrets.Encrypt(`{"crv":"Ed25519","d":"` + d + `","x":"` + x +
		`","kty":"OKP"}`)
	if err != nil {
		return nil, err
	}
	quoted, _ := json.Marshal(sealed)
	alg, crv := algEdDSA, crvEd
	return &keyRow{
		ID:         p.e.NewID(),
		PublicKey:  `{"crv":"Ed25519","x":"` + x + `","kty":"OKP"}`,
		PrivateKey: string(quoted),
		CreatedAt:  now,
		Alg:        &alg,
		Crv:        &crv,
	}, nil
}

// parsePublicJWK imports a public Ed25519 JWK (the public_key column, or a
// JWKS entry) through go-jose, which also refuses low-order points.
func parsePublicJWK(s string) (ed25519.PublicKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(s)); err != nil {
		return nil, err
	}
	pub, ok := jwk.Key.(ed25519.PublicKey)
	if !ok {
		return nil, errors.New("not an Ed25519 public key")
	}
	return pub, nil
}

// appendJWK writes one /jwks entry in Better Auth's key order:
// alg, crv, then the public JWK (x, kty), then kid.
func appendJWK(b *bytes.Buffer, kid string, pub ed25519.PublicKey) {
	b.WriteString(`{"alg":"EdDSA","crv":"Ed25519","x":"`)
	b.WriteString(base64.RawURLEncoding.EncodeToString(pub))
	b.WriteString(`","kty":"OKP","kid":`)
	k, _ := json.Marshal(kid)
	b.Write(k)
	b.WriteByte('}')
}

// keyForKID returns the public key for kid. An unknown kid reloads the keys
// (another instance may have rotated), at most once per unknownKIDReloadGap
// so that forged kids cannot make every request read the database.
func (p *Plugin) keyForKID(ctx context.Context, kid string) *verifyKey {
	ks := p.keys.Load()
	if ks != nil {
		if k := ks.public[kid]; k != nil {
			return k
		}
		now := time.Now().UnixNano()
		last := p.lastMiss.Load()
		if now-last < int64(unknownKIDReloadGap) {
			return nil
		}
		if !p.lastMiss.CompareAndSwap(last, now) {
			return nil
		}
	}
	if err := p.Reload(ctx); err != nil {
		p.log.WarnContext(ctx, "reloading keys for an unknown kid", "err", err)
		return nil
	}
	return p.keys.Load().public[kid]
}
