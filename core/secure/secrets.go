package secure

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"log/slog"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrNoSecret is returned when a Secrets value is built without a current
// secret, or with an empty entry.
var ErrNoSecret = errors.New("secure: empty secret")

// VersionedSecret is one entry of Better Auth's `secrets` option (or of
// BETTER_AUTH_SECRETS="2:new,1:old"): a secret with the version number that
// names it in `$ba$<version>$` encryption envelopes.
type VersionedSecret struct {
	Version int
	Value   string
}

// Secrets is the server secret together with the secrets it replaced. The
// current secret signs and encrypts; every secret is tried, current first,
// when verifying or decrypting, so a rotation signs nobody out and keeps data
// at rest readable.
//
// A Secrets value is immutable and safe for concurrent use. Its String and
// LogValue methods never reveal key material. The zero value holds no secret
// and must not be used; build one with NewSecrets or NewVersionedSecrets.
type Secrets struct {
	keys      []*secretKey // keys[0] is the current secret
	byVersion map[int]*secretKey
	versioned bool // Encrypt writes `$ba$<v>$` envelopes
}

// secretKey holds everything derived from one secret, computed once.
type secretKey struct {
	version int
	raw     []byte
	aead    cipher.AEAD // XChaCha20-Poly1305 keyed with SHA-256(raw)
	macs    sync.Pool   // *macState keyed with raw
}

// NewSecrets returns Secrets with current as the signing and encryption
// secret and previous as older secrets that still verify and decrypt, newest
// first. Encrypt writes Better Auth's plain hex format, as better-auth 1.7.25
// does with a single `secret`. It fails with ErrNoSecret when any secret is
// empty.
func NewSecrets(current string, previous ...string) (*Secrets, error) {
	all := append([]string{current}, previous...)
	s := &Secrets{}
	for i, v := range all {
		if v == "" {
			return nil, fmt.Errorf("secret %d: %w", i, ErrNoSecret)
		}
		s.keys = append(s.keys, newSecretKey(-1, v))
	}
	return s, nil
}

// NewVersionedSecrets mirrors Better Auth's `secrets` option: the first entry
// is current, and Encrypt writes `$ba$<version>$<hex>` envelopes with it.
// Decrypt opens an envelope with the secret of its version. legacy, when not
// empty, is the plain `secret` that older bare-hex values were written with;
// it joins the verification and decryption keys last.
//
// Versions must be non-negative and distinct, and values non-empty.
func NewVersionedSecrets(list []VersionedSecret, legacy string) (*Secrets, error) {
	if len(list) == 0 {
		return nil, fmt.Errorf("versioned secrets: %w", ErrNoSecret)
	}

	s := &Secrets{byVersion: make(map[int]*secretKey), versioned: true}
	for _, vs := range list {
		if vs.Value == "" {
			return nil, fmt.Errorf("secret version %d: %w", vs.Version, ErrNoSecret)
		}
		if vs.Version < 0 {
			return nil, fmt.Errorf("secret version %d: must not be negative", vs.Version)
		}
		if _, dup := s.byVersion[vs.Version]; dup {
			return nil, fmt.Errorf("secret version %d: listed twice", vs.Version)
		}
		k := newSecretKey(vs.Version, vs.Value)
		s.keys = append(s.keys, k)
		s.byVersion[vs.Version] = k
	}

	if legacy != "" {
		s.keys = append(s.keys, newSecretKey(-1, legacy))
	}
	return s, nil
}

func newSecretKey(version int, secret string) *secretKey {
	k := &secretKey{version: version, raw: []byte(secret)}

	sum := sha256.Sum256(k.raw)
	aead, err := chacha20poly1305.NewX(sum[:])
	if err != nil {
		panic("secure: " + err.Error()) // unreachable: the key is 32 bytes
	}
	k.aead = aead

	k.macs.New = func() any {
		return &macState{h: hmac.New(sha256.New, k.raw)}
	}
	return k
}

// String describes s without revealing any secret.
func (s *Secrets) String() string {
	return fmt.Sprintf("secure.Secrets{%d keys, redacted}", len(s.keys))
}

// GoString is like String, for %#v.
func (s *Secrets) GoString() string { return s.String() }

// LogValue keeps secrets out of slog output.
func (s *Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }

// macState is a reusable HMAC-SHA256 with space for its output, so that hot
// paths compute MACs without allocating.
type macState struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// mac writes HMAC-SHA256(k, msg) into dst.
func (k *secretKey) mac(msg string, dst *[sha256.Size]byte) {
	k.macBytes(readOnlyBytes(msg), dst) // io.Writer contract: never modified
}

// macBytes writes HMAC-SHA256(k, msg) into dst.
func (k *secretKey) macBytes(msg []byte, dst *[sha256.Size]byte) {
	st := k.macs.Get().(*macState)
	st.h.Reset()
	st.h.Write(msg)
	st.h.Sum(st.sum[:0])
	*dst = st.sum
	k.macs.Put(st)
}
