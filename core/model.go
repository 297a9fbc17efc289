package core

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
	"unicode/utf8"
)

// TimeLayout is Better Auth's date format on the wire: UTC, exactly three
// fractional digits, Z (JavaScript's Date#toJSON).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// Time is a timestamp that marshals as TimeLayout, so the better-auth
// client revives it into a Date.
type Time struct{ time.Time }

// MarshalJSON implements json.Marshaler.
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(TimeLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// User is a person with an account. Fields holds the columns plugins add to
// the users table (twoFactorEnabled, …), keyed by their JSON name.
type User struct {
	ID            string
	Name          string
	Email         string
	EmailVerified bool
	Image         *string
	Role          string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Fields        map[string]any
}

// MarshalJSON writes the user as Better Auth does: core fields, then plugin
// fields. Secrets never live on User, so nothing needs stripping.
func (u *User) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 256)
	b = append(b, `{"id":`...)
	b = appendString(b, u.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, u.Name)
	b = append(b, `,"email":`...)
	b = appendString(b, u.Email)
	b = append(b, `,"emailVerified":`...)
	b = strconv.AppendBool(b, u.EmailVerified)
	b = append(b, `,"image":`...)
	if u.Image == nil {
		b = append(b, "null"...)
	} else {
		b = appendString(b, *u.Image)
	}
	b = append(b, `,"role":`...)
	b = appendString(b, u.Role)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, u.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, u.UpdatedAt)
	b = appendFields(b, u.Fields)
	return append(b, '}'), nil
}

// Session is one signed-in device. Token is the bearer secret; it is only
// sent to its owner. Fields holds plugin columns (activeOrganizationId, …).
type Session struct {
	ID           string
	Token        string
	UserID       string
	ExpiresAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	IPAddress    string
	UserAgent    string
	DontRemember bool
	Fields       map[string]any
}

// MarshalJSON writes the session as Better Auth does, token included.
func (s *Session) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, 320)
	b = append(b, `{"id":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"token":`...)
	b = appendString(b, s.Token)
	b = append(b, `,"userId":`...)
	b = appendString(b, s.UserID)
	b = append(b, `,"expiresAt":`...)
	b = appendTime(b, s.ExpiresAt)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, s.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, s.UpdatedAt)
	b = append(b, `,"ipAddress":`...)
	b = appendString(b, s.IPAddress)
	b = append(b, `,"userAgent":`...)
	b = appendString(b, s.UserAgent)
	b = appendFields(b, s.Fields)
	return append(b, '}'), nil
}

// Account links a user to a way of signing in. ProviderID "credential" with
// AccountID == UserID holds the password hash.
type Account struct {
	ID         string
	AccountID  string
	ProviderID string
	UserID     string
	Password   *string
	Scope      *string
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// CredentialProvider is the provider id of password accounts.
const CredentialProvider = "credential"

// SessionWithUser is what get-session answers.
type SessionWithUser struct {
	Session *Session `json:"session"`
	User    *User    `json:"user"`
}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, TimeLayout)
	return append(b, '"')
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string the way JSON.stringify does: no
// HTML escaping, control characters as \u00XX. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, "\ufffd"...)
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendFields writes plugin fields in key order. Values are plain JSON
// types or Time.
func appendFields(b []byte, f map[string]any) []byte {
	if len(f) == 0 {
		return b
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b = append(b, ',')
		b = appendString(b, k)
		b = append(b, ':')
		switch v := f[k].(type) {
		case nil:
			b = append(b, "null"...)
		case string:
			b = appendString(b, v)
		case bool:
			b = strconv.AppendBool(b, v)
		case Time:
			b = appendTime(b, v.Time)
		default:
			j, err := json.Marshal(v)
			if err != nil {
				j = []byte("null")
			}
			b = append(b, j...)
		}
	}
	return b
}
