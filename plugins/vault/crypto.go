package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// Sizes of the vault's keys and wraps, in bytes.
const (
	// MasterKeySize is the size of a master key.
	MasterKeySize = 32
	// NonceSize is the size of an AES-GCM nonce (IV), for KEK and recovery
	// wraps alike.
	NonceSize = 12
	// WrapSize is the size of a wrapped master key: the key plus the GCM tag.
	WrapSize = MasterKeySize + 16
	// KEKSize is the size of a key-encryption key.
	KEKSize = 32
)

// FormatVersion is the wrap format written today. It is bound into every
// wrap's additional data, so a wrap cannot be replayed under another format.
const FormatVersion = 1

// Errors of the key layer. None of them carries key material.
var (
	// ErrUnknownKEK means a wrap names a KEK that is neither the current one
	// nor a previous one.
	ErrUnknownKEK = errors.New("vault: wrap names an unknown KEK")
	// ErrUnwrap means a wrap failed authentication: wrong KEK, wrong user,
	// wrong format version or tampered bytes.
	ErrUnwrap = errors.New("vault: wrap does not open")
	// ErrBadKEK means a KEK is not 32 bytes.
	ErrBadKEK = errors.New("vault: KEK must be 32 bytes")
)

// errNonceSize and errSealedSize guard seal and open against inputs the
// vault never produces.
var (
	errNonceSize  = errors.New("vault: nonce must be 12 bytes")
	errSealedSize = errors.New("vault: sealed data shorter than a tag")
)

// newAEAD returns AES-256-GCM with a 12-byte nonce and 16-byte tag under key.
func newAEAD(key []byte) (cipher.AEAD, error) {
	if len(key) != KEKSize {
		return nil, ErrBadKEK
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// seal encrypts plaintext with aead under nonce and aad and appends the
// ciphertext and tag to dst. Only 12-byte nonces are accepted.
func seal(aead cipher.AEAD, dst, nonce, plaintext, aad []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, errNonceSize
	}
	return aead.Seal(dst, nonce, plaintext, aad), nil
}

// open authenticates and decrypts sealed (ciphertext and tag) with aead
// under nonce and aad, appending the plaintext to dst. Any failure, a
// wrong nonce size included, is an error; nothing is returned unverified.
func open(aead cipher.AEAD, dst, nonce, sealed, aad []byte) ([]byte, error) {
	if len(nonce) != NonceSize {
		return nil, errNonceSize
	}
	if len(sealed) < aead.Overhead() {
		return nil, errSealedSize
	}
	out, err := aead.Open(dst, nonce, sealed, aad)
	if err != nil {
		return nil, ErrUnwrap
	}
	return out, nil
}

// kek is one key-encryption key, ready to use. A cipher.AEAD from
// crypto/cipher holds no per-call state, so one kek serves every request.
type kek struct {
	id   string
	aead cipher.AEAD
}

// KEKID returns the stable, non-secret identifier of a KEK: the first 8
// bytes, in hex, of HMAC-SHA256(KEK, "mana-vault-kek-id"). It is stored
// next to every wrap so unwrapping can pick the right KEK.
func KEKID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("mana-vault-kek-id"))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

func newKEK(key []byte) (*kek, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	return &kek{id: KEKID(key), aead: aead}, nil
}

// keyring holds the current KEK, which wraps, and the previous ones, which
// only unwrap. It is immutable after newKeyring.
type keyring struct {
	current *kek
	byID    map[string]*kek
}

// newKeyring builds the ring from the current KEK and previous ones;
// duplicates (and a previous KEK equal to the current one) are dropped.
func newKeyring(current []byte, previous [][]byte) (*keyring, error) {
	cur, err := newKEK(current)
	if err != nil {
		return nil, fmt.Errorf("MANA_AUTH_KEK: %w", err)
	}
	kr := &keyring{current: cur, byID: map[string]*kek{cur.id: cur}}
	for _, p := range previous {
		k, err := newKEK(p)
		if err != nil {
			return nil, fmt.Errorf("MANA_AUTH_KEK_PREVIOUS: %w", err)
		}
		if _, dup := kr.byID[k.id]; !dup {
			kr.byID[k.id] = k
		}
	}
	return kr, nil
}

// wrap is a master key sealed under a KEK.
type wrap struct {
	sealed []byte // WrapSize bytes
	iv     []byte // NonceSize bytes
	kekID  string
}

// aad builds the additional data of a KEK wrap: "mana-vault|v<format>|<user>".
// It binds the wrap to its row, so a wrap copied to another user fails.
func aad(userID string, format int) []byte {
	b := make([]byte, 0, 16+len(userID))
	b = append(b, "mana-vault|v"...)
	b = strconv.AppendInt(b, int64(format), 10)
	b = append(b, '|')
	return append(b, userID...)
}

// wrapKey seals mk for userID under the current KEK with a fresh nonce.
func (kr *keyring) wrapKey(userID string, mk []byte) (wrap, error) {
	buf := make([]byte, NonceSize, NonceSize+WrapSize)
	iv := buf[:NonceSize:NonceSize]
	_, _ = rand.Read(iv) // crypto/rand.Read never fails (Go 1.24+)
	ad := aad(userID, FormatVersion)
	sealed, err := seal(kr.current.aead, buf[NonceSize:], iv, mk, ad)
	if err != nil {
		return wrap{}, err
	}
	return wrap{sealed: sealed, iv: iv, kekID: kr.current.id}, nil
}

// unwrapKey opens a wrap of userID's master key with the KEK it names.
// stale reports that the KEK is a previous one, so the caller should
// rewrap under the current KEK.
func (kr *keyring) unwrapKey(userID string, format int, kekID string, sealed,
	iv []byte) (mk []byte, stale bool, err error) {
	k, ok := kr.byID[kekID]
	if !ok {
		return nil, false, ErrUnknownKEK
	}
	if len(sealed) != WrapSize {
		return nil, false, ErrUnwrap
	}
	dst := make([]byte, 0, MasterKeySize)
	mk, err = open(k.aead, dst, iv, sealed, aad(userID, format))
	if err != nil {
		return nil, false, err
	}
	return mk, k != kr.current, nil
}

// newMasterKey returns 32 fresh random bytes.
func newMasterKey() []byte {
	mk := make([]byte, MasterKeySize)
	_, _ = rand.Read(mk)
	return mk
}

// keyCheck is a key check value for userID's master key:
// HMAC-SHA256(MK, "mana-vault|mk-check|v1|<user>"). It lets the server
// verify a master key a client hands back (disabling zero-knowledge) without
// being able to produce the key: HMAC is a one-way function of the key.
func keyCheck(userID string, mk []byte) []byte {
	m := hmac.New(sha256.New, mk)
	m.Write([]byte("mana-vault|mk-check|v1|"))
	m.Write([]byte(userID))
	return m.Sum(nil)
}

// checkKey reports, in constant time, whether mk matches the stored check
// value. A vault without one (none written by this code) accepts any key.
func checkKey(userID string, mk, check []byte) bool {
	if len(check) == 0 {
		return true
	}
	return subtle.ConstantTimeCompare(keyCheck(userID, mk), check) == 1
}

// allZero reports whether b holds only zero bytes (the development KEK).
func allZero(b []byte) bool {
	var acc byte
	for _, c := range b {
		acc |= c
	}
	return acc == 0
}
