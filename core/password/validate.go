package password

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

//go:embed common.txt
var commonText string

var (
	commonOnce sync.Once
	commonSet  map[string]struct{}
)

// common returns the embedded list as a set, built on first use.
func common() map[string]struct{} {
	commonOnce.Do(func() {
		commonSet = make(map[string]struct{}, strings.Count(commonText, "\n"))
		for line := range strings.Lines(commonText) {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' {
				continue
			}
			commonSet[strings.ToLower(norm.NFKC.String(line))] = struct{}{}
		}
	})
	return commonSet
}

// minEmailPart is the shortest email local part that Validate looks for
// inside a password; shorter ones would reject too many good passwords.
const minEmailPart = 4

// Validate applies the rules for a new password: its length in UTF-16 code
// units (JavaScript's string length, before normalisation) must lie within
// MinLength..MaxLength (ErrTooShort, ErrTooLong); and, compared
// case-insensitively after NFKC, it must not be in the embedded list of
// common and breached passwords, contain the whole email, or contain the
// email's local part when that has 4 or more characters (ErrCompromised).
// email may be empty.
func (h *Hasher) Validate(pw, email string) error {
	n := utf16Len(pw)
	if n < h.min {
		return ErrTooShort
	}
	if n > h.max {
		return ErrTooLong
	}

	folded := strings.ToLower(norm.NFKC.String(pw))
	if _, found := common()[folded]; found {
		return ErrCompromised
	}

	email = strings.ToLower(norm.NFKC.String(strings.TrimSpace(email)))
	if email == "" {
		return nil
	}
	if strings.Contains(folded, email) {
		return ErrCompromised
	}
	local := email
	if at := strings.LastIndexByte(email, '@'); at >= 0 {
		local = email[:at]
	}
	if utf8.RuneCountInString(local) >= minEmailPart && strings.Contains(folded, local) {
		return ErrCompromised
	}
	return nil
}

// utf16Len is the length JavaScript reports for s: one unit per rune, two
// for runes outside the Basic Multilingual Plane. Invalid bytes count one
// each, as U+FFFD would.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}
