// Package password hashes and checks user passwords in Better Auth's scrypt
// format, so that account.password values move between Better Auth and
// mana-auth unchanged.
//
// The format: scrypt(N=16384, r=16, p=1, 64 bytes) of the NFKC-normalised
// password's UTF-8 bytes, salted with the ASCII bytes of a 32-character
// lower-case hex string (16 random bytes), stored as "<salt>:<128 hex key>".
//
// One Hasher serves the whole process. It bounds how many hashes run at once,
// because each costs 32 MiB (128·N·r bytes) and tens of milliseconds of CPU;
// callers waiting for a slot give up when their context ends.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"

	"golang.org/x/crypto/scrypt"
	"golang.org/x/text/unicode/norm"
)

// Better Auth's scrypt parameters (@better-auth/utils/password).
const (
	costN    = 16384
	costR    = 16
	costP    = 1
	keyLen   = 64
	saltLen  = 16
	saltHex  = 2 * saltLen
	keyHex   = 2 * keyLen
	hashSize = saltHex + 1 + keyHex
)

// Default length limits, in UTF-16 code units as JavaScript counts them.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 128
)

// Errors returned by the Hasher.
var (
	// ErrMalformedHash: a stored value is not "<salt>:<128 hex>".
	ErrMalformedHash = errors.New("password: malformed stored hash")
	// ErrTooShort: fewer UTF-16 units than MinLength (PASSWORD_TOO_SHORT).
	ErrTooShort = errors.New("password: too short")
	// ErrTooLong: more UTF-16 units than MaxLength (PASSWORD_TOO_LONG).
	ErrTooLong = errors.New("password: too long")
	// ErrCompromised: the password is common, breached, or made of the email.
	ErrCompromised = errors.New("password: too common or guessable")
)

// Options configures a Hasher. Zero values take the defaults.
type Options struct {
	// MaxConcurrent bounds the hashes running at once; default
	// 2*GOMAXPROCS. Each running hash holds 32 MiB.
	MaxConcurrent int
	// MinLength and MaxLength bound Validate, in UTF-16 code units (the
	// JavaScript string length, before normalisation); default 8 and 128.
	MinLength, MaxLength int
}

// Hasher hashes and verifies passwords with bounded concurrency. It is safe
// for concurrent use; make one per process.
type Hasher struct {
	sem      chan struct{}
	inFlight atomic.Int64
	min, max int

	// Test hooks: the scrypt cost, and a call made while a slot is held.
	n       int
	onStart func()
}

// New returns a Hasher configured by o.
func New(o Options) *Hasher {
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = 2 * runtime.GOMAXPROCS(0)
	}
	if o.MinLength <= 0 {
		o.MinLength = DefaultMinLength
	}
	if o.MaxLength <= 0 {
		o.MaxLength = DefaultMaxLength
	}
	return &Hasher{
		sem: make(chan struct{}, o.MaxConcurrent),
		min: o.MinLength,
		max: o.MaxLength,
		n:   costN,
	}
}

// InFlight returns how many hashes are running right now (not those waiting
// for a slot), for a metrics gauge.
func (h *Hasher) InFlight() int {
	return int(h.inFlight.Load())
}

// Hash returns a new "<32 hex salt>:<128 hex key>" for pw. It waits for a
// free slot and returns ctx.Err() if ctx ends first. Hash does not apply the
// length rules; call Validate on new passwords.
func (h *Hasher) Hash(ctx context.Context, pw string) (string, error) {
	var raw [saltLen]byte
	rand.Read(raw[:]) // never fails
	salt := hex.EncodeToString(raw[:])

	key, err := h.derive(ctx, pw, salt)
	if err != nil {
		return "", err
	}
	return salt + ":" + hex.EncodeToString(key), nil
}

// Verify reports whether pw matches the stored hash, comparing keys in
// constant time. A stored value that is not "<salt>:<128 hex key>" gives
// false and ErrMalformedHash without any hashing. Like Hash, it returns
// ctx.Err() if ctx ends while it waits for a slot.
func (h *Hasher) Verify(ctx context.Context, stored, pw string) (bool, error) {
	salt, want, err := parse(stored)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, pw, salt)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is a well-formed stored value that no password is known to
// match; VerifyDummy spends one full hash on it.
const dummyHash = "6d616e612d617574682d64756d6d7921:" +
	"0000000000000000000000000000000000000000000000000000000000000000" +
	"0000000000000000000000000000000000000000000000000000000000000000"

// VerifyDummy costs what Verify of a real account costs and discards the
// result. Sign-in calls it for unknown emails, so response time does not tell
// whether an account exists.
func (h *Hasher) VerifyDummy(ctx context.Context, pw string) {
	_, _ = h.Verify(ctx, dummyHash, pw)
}

// derive runs scrypt on NFKC(pw) with the salt string's bytes, holding one
// slot of the semaphore.
func (h *Hasher) derive(ctx context.Context, pw, salt string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()

	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.onStart != nil {
		h.onStart()
	}

	input := norm.NFKC.String(pw)
	key, err := scrypt.Key([]byte(input), []byte(salt), h.n, costR, costP, keyLen)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	return key, nil
}

// parse splits a stored "<salt>:<key>" value. Like Better Auth, it takes the
// salt string as it is (it is the scrypt salt) and needs a 64-byte hex key.
func parse(stored string) (salt string, key []byte, err error) {
	salt, keyPart, ok := strings.Cut(stored, ":")
	if !ok || salt == "" || len(salt) > 2*saltHex || len(keyPart) != keyHex {
		return "", nil, ErrMalformedHash
	}
	key, err = hex.DecodeString(keyPart)
	if err != nil {
		return "", nil, ErrMalformedHash
	}
	return salt, key, nil
}
