package secure

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrDecrypt is returned for any value that does not decrypt: bad hex, too
// short, an unknown envelope, or a failed authentication under every key.
var ErrDecrypt = errors.New("secure: decryption failed")

// envelopePrefix starts Better Auth's versioned ciphertexts: $ba$<v>$<hex>.
const envelopePrefix = "$ba$"

// Encrypt seals plaintext as Better Auth's symmetricEncrypt does, under the
// current secret: XChaCha20-Poly1305 with key SHA-256(secret), a random
// 24-byte nonce prepended, no associated data, lower-case hex of
// nonce || ciphertext || tag. Secrets built by NewVersionedSecrets wrap the
// hex in a `$ba$<version>$` envelope, as Better Auth does with `secrets`.
// Used for TOTP secrets, backup codes and JWKS private keys.
func (s *Secrets) Encrypt(plaintext string) (string, error) {
	k := s.keys[0]
	size := chacha20poly1305.NonceSizeX + len(plaintext) + k.aead.Overhead()

	buf := make([]byte, chacha20poly1305.NonceSizeX, size)
	if _, err := rand.Read(buf); err != nil {
		return "", err // unreachable: crypto/rand never fails
	}
	buf = k.aead.Seal(buf, buf, readOnlyBytes(plaintext), nil)

	var b strings.Builder
	prefix := ""
	if s.versioned {
		prefix = envelopePrefix + strconv.Itoa(k.version) + "$"
	}
	b.Grow(len(prefix) + hex.EncodedLen(len(buf)))
	b.WriteString(prefix)
	writeHex(&b, buf)
	return b.String(), nil
}

// Decrypt opens a value written by Encrypt or by Better Auth. A bare hex value
// is tried under the current secret, then the previous ones. A `$ba$<v>$<hex>`
// envelope is opened with the secret of version v when that version is
// configured, otherwise under every secret in turn (so a server configured
// with a plain secret list still reads Better Auth's versioned data). Every
// failure is ErrDecrypt.
func (s *Secrets) Decrypt(data string) (string, error) {
	version, body, ok := parseEnvelope(data)
	if !ok {
		return "", ErrDecrypt
	}

	sealed, err := hex.DecodeString(body)
	if err != nil {
		return "", ErrDecrypt
	}
	if len(sealed) < chacha20poly1305.NonceSizeX+chacha20poly1305.Overhead {
		return "", ErrDecrypt
	}
	nonce := sealed[:chacha20poly1305.NonceSizeX]
	ct := sealed[chacha20poly1305.NonceSizeX:]

	if k := s.byVersion[version]; version >= 0 && k != nil {
		return open(k, nonce, ct)
	}
	for _, k := range s.keys {
		if pt, err := open(k, nonce, ct); err == nil {
			return pt, nil
		}
	}
	return "", ErrDecrypt
}

// open decrypts into a fresh buffer, leaving ct intact for the next key.
func open(k *secretKey, nonce, ct []byte) (string, error) {
	pt, err := k.aead.Open(nil, nonce, ct, nil)
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// parseEnvelope splits `$ba$<v>$<hex>` into v and hex; bare hex comes back
// with version -1. Like Better Auth's parseEnvelope, v must be a non-negative
// decimal integer.
func parseEnvelope(data string) (version int, body string, ok bool) {
	rest, found := strings.CutPrefix(data, envelopePrefix)
	if !found {
		return -1, data, true
	}

	num, body, found := strings.Cut(rest, "$")
	if !found || num == "" || len(num) > 9 {
		return 0, "", false
	}
	for i := 0; i < len(num); i++ {
		if num[i] < '0' || num[i] > '9' {
			return 0, "", false
		}
	}
	v, err := strconv.Atoi(num)
	if err != nil {
		return 0, "", false
	}
	return v, body, true
}

func writeHex(b *strings.Builder, p []byte) {
	const hexLower = "0123456789abcdef"
	for _, c := range p {
		b.WriteByte(hexLower[c>>4])
		b.WriteByte(hexLower[c&15])
	}
}
