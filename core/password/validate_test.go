package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

func TestValidateLength(t *testing.T) {
	h := New(Options{})
	key := "🔑" // one rune, two UTF-16 units

	cases := []struct {
		name string
		pw   string
		want error
	}{
		{"7 ascii", "xK9#mQ2", ErrTooShort},
		{"8 ascii", "xK9#mQ2v", nil},
		{"3 astral = 6 units", strings.Repeat(key, 3), ErrTooShort},
		{"4 astral = 8 units", strings.Repeat(key, 4), nil},
		{"7 two-byte runes", strings.Repeat("é", 7), ErrTooShort},
		{"8 two-byte runes", "éàüößçñø", nil},
		{"128 ascii", "a1" + strings.Repeat("xK9#mQ2v", 15) + "zY9#mQ", nil},
		{"129 ascii", "a1" + strings.Repeat("xK9#mQ2v", 15) + "zY9#mQ2", ErrTooLong},
		{"64 astral = 128 units", strings.Repeat(key, 64), nil},
		{"1 + 64 astral = 129 units", "a" + strings.Repeat(key, 64), ErrTooLong},
		// Length is counted before NFKC: "ﬁ" is one unit, "fi" after.
		{"ligatures count once", strings.Repeat("ﬁ", 7), ErrTooShort},
		{"empty", "", ErrTooShort},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Validate(c.pw, "")
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Validate(%d units) = %v, want %v", utf16Len(c.pw), err, c.want)
			}
		})
	}

	custom := New(Options{MinLength: 12, MaxLength: 16})
	if err := custom.Validate("xK9#mQ2vzY9", ""); !errors.Is(err, ErrTooShort) {
		t.Errorf("MinLength 12: %v", err)
	}
	if err := custom.Validate("xK9#mQ2vzY9#mQ2vA", ""); !errors.Is(err, ErrTooLong) {
		t.Errorf("MaxLength 16: %v", err)
	}
}

func TestValidateCompromised(t *testing.T) {
	h := New(Options{})
	cases := []struct {
		name, pw, email string
		want            error
	}{
		{"top password", "password", "", ErrCompromised},
		{"digits", "12345678", "", ErrCompromised},
		{"upper case", "PASSWORD123", "", ErrCompromised},
		{"full-width folds by NFKC", "ｐａｓｓｗｏｒｄ１２３", "", ErrCompromised},
		{"keyboard walk", "1qaz2wsx3edc", "", ErrCompromised},
		{"season and year", "Summer2024!", "", ErrCompromised},
		{"repeat", "aaaaaaaaaa", "", ErrCompromised},
		{"leet", "P@ssw0rd1", "", ErrCompromised},
		{"email local part", "JohnSmith!2024", "johnsmith@example.com", ErrCompromised},
		{"whole email", "me@x.io-secure", "me@x.io", ErrCompromised},
		{"email case-insensitive", "x-ALICEWONDER-x", "AliceWonder@Example.com",
			ErrCompromised},
		{"short local part ignored", "bob-runs-far-9", "bob@example.com", nil},
		{"passphrase", "correct horse battery staple", "a@example.com", nil},
		{"random", "Zx9#kLm2$vQ", "someone@example.com", nil},
		{"no email", "Zx9#kLm2$vQ", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Validate(c.pw, c.email)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("Validate(%q, %q) = %v, want %v", c.pw, c.email, err, c.want)
			}
		})
	}
}

func TestCommonList(t *testing.T) {
	set := common()
	long := 0
	for pw := range set {
		if pw != strings.ToLower(norm.NFKC.String(pw)) {
			t.Errorf("entry %q is not lower-case NFKC", pw)
		}
		if utf8.RuneCountInString(pw) >= 8 {
			long++
		}
	}
	if long < 1000 {
		t.Errorf("only %d entries of 8+ characters", long)
	}
	for _, must := range []string{"password", "12345678", "qwertyuiop", "iloveyou",
		"password1", "sunshine", "1qaz2wsx", "summer2024", "welcome1", "trustno1"} {
		if _, ok := set[must]; !ok {
			t.Errorf("list lacks %q", must)
		}
	}
	for pw := range set {
		if strings.HasPrefix(pw, "#") && strings.Contains(pw, " ") {
			t.Errorf("comment line loaded as entry %q", pw)
		}
	}
}

func BenchmarkValidate(b *testing.B) {
	h := New(Options{})
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Validate("Zx9#kLm2$vQ-long-enough", "someone@example.com")
	}
}
