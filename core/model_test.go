package core

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzAppendString checks our JSON string writer against encoding/json:
// the output is valid JSON that decodes to what encoding/json's would.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote\\`, "<b>&</b>", "\x00\x1f\n\t", "\u2028",
		"é😀", "\xff\xfe bad", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var got, want string
		if err := json.Unmarshal(appendString(nil, s), &got); err != nil {
			t.Fatalf("invalid JSON for %q: %v", s, err)
		}
		ref, _ := json.Marshal(s)
		_ = json.Unmarshal(ref, &want)
		if got != want {
			t.Fatalf("%q: got %q want %q", s, got, want)
		}
	})
}

func TestUserJSON(t *testing.T) {
	img := "https://x/<a>.png"
	at := time.Date(2026, 1, 2, 3, 4, 5, 6_789_000, time.UTC)
	u := &User{ID: "u1", Name: `A "B"`, Email: "a@b.co", Image: &img, Role: "user",
		CreatedAt: at, UpdatedAt: at, Fields: map[string]any{"twoFactorEnabled": true,
			"banned": nil, "n": int64(3), "since": Time{at}}}
	b, err := u.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"u1","name":"A \"B\"","email":"a@b.co","emailVerified":false,` +
		`"image":"https://x/<a>.png","role":"user","createdAt":"2026-01-02T03:04:05.006Z",` +
		`"updatedAt":"2026-01-02T03:04:05.006Z","banned":null,"n":3,` +
		`"since":"2026-01-02T03:04:05.006Z","twoFactorEnabled":true}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}
