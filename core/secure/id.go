package secure

import (
	"crypto/rand"
	"io"
	"strings"
)

// Character sets in the order Better Auth concatenates its alphabets. The
// order matters only for reproducing Better Auth output from a fixed random
// stream; the distribution is uniform either way.
const (
	// AlphaNum is generateId()'s set ("a-z", "A-Z", "0-9"): row ids, session
	// tokens, password-reset tokens.
	AlphaNum = "abcdefghijklmnopqrstuvwxyz" +
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "0123456789"
	// LowerAlphaNum is "0-9", "a-z": delete-account tokens.
	LowerAlphaNum = "0123456789abcdefghijklmnopqrstuvwxyz"
	// Alpha is "a-z", "A-Z": magic-link tokens.
	Alpha = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	// URLSafe is generateRandomString()'s default ("a-z", "0-9", "A-Z", "-_"):
	// TOTP secrets, two-factor challenge ids, trust-device ids.
	URLSafe = "abcdefghijklmnopqrstuvwxyz" + "0123456789" +
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "-_"
	// BackupCode is "a-z", "0-9", "A-Z": two-factor backup codes.
	BackupCode = "abcdefghijklmnopqrstuvwxyz" + "0123456789" +
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
)

// IDLength is the length of GenerateID's output.
const IDLength = 32

// Generator draws random strings from an entropy source the way Better Auth's
// createRandomStringGenerator does: for a string of n characters it fills a
// buffer of 2n bytes, refills the whole buffer when it runs out, and keeps
// byte b only if b < floor(256/len)*len, mapping it to alphabet[b % len].
//
// A Generator keeps no state between calls; it is safe for concurrent use when
// its reader is (crypto/rand's is).
type Generator struct {
	r io.Reader
}

// NewGenerator returns a Generator reading from r; nil means crypto/rand.
// Tests pass a reader that yields recorded bytes to reproduce Better Auth
// output exactly.
func NewGenerator(r io.Reader) *Generator {
	return &Generator{r: r}
}

var defaultGenerator = NewGenerator(nil)

// GenerateID returns a new 32-character id from [a-zA-Z0-9], as Better Auth's
// generateId() does. It is used for row ids and session tokens.
func GenerateID() string {
	return defaultGenerator.ID()
}

// RandomString returns n characters drawn uniformly from alphabet with a
// CSPRNG. The alphabet must hold 1 to 256 single-byte characters; it panics
// otherwise (a programmer error). n <= 0 gives "".
func RandomString(n int, alphabet string) string {
	return defaultGenerator.String(n, alphabet)
}

// ID returns a 32-character string from AlphaNum.
func (g *Generator) ID() string {
	return g.String(IDLength, AlphaNum)
}

// String returns n characters from alphabet (see RandomString for the
// contract). Like crypto/rand.Read, it panics if the reader fails, because no
// caller can do anything sensible without randomness.
func (g *Generator) String(n int, alphabet string) string {
	size := len(alphabet)
	if size == 0 || size > 256 {
		panic("secure: alphabet must hold 1 to 256 bytes")
	}
	if n <= 0 {
		return ""
	}

	maxValid := 256 / size * size
	var small [128]byte
	buf := small[:0]
	if 2*n <= len(small) {
		buf = small[:2*n]
	} else {
		buf = make([]byte, 2*n)
	}

	var out strings.Builder
	out.Grow(n)
	pos := len(buf)
	for out.Len() < n {
		if pos == len(buf) {
			g.fill(buf)
			pos = 0
		}
		b := int(buf[pos])
		pos++
		if b < maxValid {
			out.WriteByte(alphabet[b%size])
		}
	}
	return out.String()
}

func (g *Generator) fill(buf []byte) {
	if g.r == nil {
		rand.Read(buf) // never fails; crashes the program if it could
		return
	}
	if _, err := io.ReadFull(g.r, buf); err != nil {
		panic("secure: reading randomness: " + err.Error())
	}
}
