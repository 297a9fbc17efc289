package secure

import (
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"unsafe"
)

// Equal reports whether a and b are equal, in time that depends only on their
// lengths. Use it for every comparison of tokens, codes and MACs.
func Equal(a, b string) bool {
	return subtle.ConstantTimeCompare(readOnlyBytes(a), readOnlyBytes(b)) == 1
}

// HashToken returns base64url without padding of SHA-256(t): the form in
// which tokens are stored so that a database leak reveals none of them. It is
// Better Auth's hashed-identifier format for verification rows.
func HashToken(t string) string {
	sum := sha256.Sum256(readOnlyBytes(t))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// DeriveKey returns n bytes of HKDF-SHA256 keyed with the current secret, no
// salt, and info = label. Each key that mana-auth introduces gets its own
// label (for example "mana-auth/csrf/v1"); Better Auth formats never use it.
// It panics if n is not in 1..8160, the HKDF-SHA256 limit (a programmer
// error).
func (s *Secrets) DeriveKey(label string, n int) []byte {
	if n <= 0 {
		panic("secure: DeriveKey: key length out of range")
	}
	key, err := deriveKey(s.keys[0].raw, nil, []byte(label), n)
	if err != nil {
		panic("secure: DeriveKey: " + err.Error())
	}
	return key
}

// deriveKey is HKDF-SHA256 (RFC 5869) as DeriveKey uses it.
func deriveKey(ikm, salt, info []byte, n int) ([]byte, error) {
	return hkdf.Key(sha256.New, ikm, salt, string(info), n)
}

// readOnlyBytes views s as a byte slice without copying. The slice must never
// be written to; it only feeds functions that read (hashes, comparisons).
func readOnlyBytes(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
