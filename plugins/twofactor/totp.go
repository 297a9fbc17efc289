package twofactor

import (
	"encoding/base32"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/mana/mana-auth/core/secure"
)

// TOTP parameters of Better Auth (reference §9.4): HMAC-SHA1, 6 digits,
// 30-second steps, one step of drift either way.
const (
	totpPeriod = 30
	totpSkew   = 1
	// secretLen is the length of a TOTP secret: 32 characters of
	// [A-Za-z0-9_-], whose UTF-8 bytes are the HMAC key.
	secretLen = 32
	// base32Prefix marks an imported secret stored in base32 form.
	base32Prefix = "base32:"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: totpSkew,
	Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// newSecret returns a fresh TOTP secret in Better Auth's format.
func newSecret() string { return secure.RandomString(secretLen, secure.URLSafe) }

// totpKey is the base32 form that pquerna/otp decodes into the HMAC key.
// Better Auth keys the HMAC with the UTF-8 bytes of the secret string, so
// those bytes are encoded; a secret imported as "base32:<KEY>" is already
// base32.
func totpKey(secret string) string {
	if k, ok := strings.CutPrefix(secret, base32Prefix); ok {
		return strings.ToUpper(strings.TrimRight(k, "="))
	}
	return b32.EncodeToString([]byte(secret))
}

// GenerateTOTP returns the 6-digit code of secret (in Better Auth's stored
// form, before encryption) at t.
func GenerateTOTP(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(totpKey(secret), t, totpOpts)
}

// ValidateTOTP reports whether code is valid for secret at t, one step of
// drift either way. It does not know about replays; the endpoints use the
// step-aware matcher.
func ValidateTOTP(code, secret string, t time.Time) bool {
	ok, err := totp.ValidateCustom(code, totpKey(secret), t, totpOpts)
	return err == nil && ok
}

// step returns the TOTP time step of t.
func step(t time.Time) int64 { return t.Unix() / totpPeriod }

// matchTOTP finds the time step within the window at t whose code is code
// and which is later than after (the last accepted step). It compares every
// candidate in constant time and returns the latest match.
func matchTOTP(secret, code string, t time.Time, after int64) (int64, bool) {
	if !sixDigits(code) {
		return 0, false
	}
	key := totpKey(secret)
	cur := step(t)
	var found int64
	ok := false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		s := cur + d
		if s < 0 || s <= after {
			continue
		}
		want, err := totp.GenerateCodeCustom(key, time.Unix(s*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0, false
		}
		if secure.Equal(want, code) {
			found, ok = s, true
		}
	}
	return found, ok
}

func sixDigits(s string) bool {
	if len(s) != 6 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// TOTPURI builds the otpauth:// URI Better Auth's createOTP(...).url
// writes: the label is encodeURIComponent(issuer) + ":" +
// encodeURIComponent(account), the query is URLSearchParams-encoded.
func TOTPURI(secret, issuer, account string) string {
	var b strings.Builder
	b.WriteString("otpauth://totp/")
	b.WriteString(encodeURIComponent(issuer))
	b.WriteByte(':')
	b.WriteString(encodeURIComponent(account))
	b.WriteString("?secret=")
	b.WriteString(formEncode(totpKey(secret)))
	b.WriteString("&issuer=")
	b.WriteString(formEncode(issuer))
	b.WriteString("&digits=6&period=30")
	return b.String()
}

const upperHex = "0123456789ABCDEF"

// encodeURIComponent is JavaScript's: everything but A-Z a-z 0-9 and
// -_.!~*'() is percent-encoded as UTF-8.
func encodeURIComponent(s string) string {
	return escape(s, func(c byte) bool {
		return alnum(c) || strings.IndexByte("-_.!~*'()", c) >= 0
	}, false)
}

// formEncode is the application/x-www-form-urlencoded serializer of
// URLSearchParams: A-Z a-z 0-9 and *-._ stay, a space becomes '+'.
func formEncode(s string) string {
	return escape(s, func(c byte) bool {
		return alnum(c) || strings.IndexByte("*-._", c) >= 0
	}, true)
}

func alnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func escape(s string, keep func(byte) bool, plus bool) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case keep(c):
			b.WriteByte(c)
		case plus && c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		}
	}
	return b.String()
}

// newBackupCodes returns BackupCodeCount codes shaped xxxxx-xxxxx from
// [A-Za-z0-9], as Better Auth generates them.
func newBackupCodes() []string {
	out := make([]string, BackupCodeCount)
	for i := range out {
		s := secure.RandomString(10, secure.BackupCode)
		out[i] = s[:5] + "-" + s[5:]
	}
	return out
}
