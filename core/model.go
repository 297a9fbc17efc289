package core

import (
	"bytes"
	"encoding/json"
	"sort"
	"time"
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
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	writeJSON(&b, u.ID)
	b.WriteString(`,"name":`)
	writeJSON(&b, u.Name)
	b.WriteString(`,"email":`)
	writeJSON(&b, u.Email)
	b.WriteString(`,"emailVerified":`)
	writeJSON(&b, u.EmailVerified)
	b.WriteString(`,"image":`)
	writeJSON(&b, u.Image)
	b.WriteString(`,"role":`)
	writeJSON(&b, u.Role)
	b.WriteString(`,"createdAt":`)
	writeJSON(&b, Time{u.CreatedAt})
	b.WriteString(`,"updatedAt":`)
	writeJSON(&b, Time{u.UpdatedAt})
	writeFields(&b, u.Fields)
	b.WriteByte('}')
	return b.Bytes(), nil
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
	var b bytes.Buffer
	b.WriteString(`{"id":`)
	writeJSON(&b, s.ID)
	b.WriteString(`,"token":`)
	writeJSON(&b, s.Token)
	b.WriteString(`,"userId":`)
	writeJSON(&b, s.UserID)
	b.WriteString(`,"expiresAt":`)
	writeJSON(&b, Time{s.ExpiresAt})
	b.WriteString(`,"createdAt":`)
	writeJSON(&b, Time{s.CreatedAt})
	b.WriteString(`,"updatedAt":`)
	writeJSON(&b, Time{s.UpdatedAt})
	b.WriteString(`,"ipAddress":`)
	writeJSON(&b, s.IPAddress)
	b.WriteString(`,"userAgent":`)
	writeJSON(&b, s.UserAgent)
	writeFields(&b, s.Fields)
	b.WriteByte('}')
	return b.Bytes(), nil
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

func writeJSON(b *bytes.Buffer, v any) {
	enc := json.NewEncoder(b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	b.Truncate(b.Len() - 1) // Encode appends a newline
}

func writeFields(b *bytes.Buffer, f map[string]any) {
	if len(f) == 0 {
		return
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteByte(',')
		writeJSON(b, k)
		b.WriteByte(':')
		writeJSON(b, f[k])
	}
}
