package gdpr

import (
	"encoding/json"
	"testing"
)

func TestCountItems(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want any
	}{
		{"absent (404)", "", 0},
		{"array", `[{"id":1},{"id":2}]`, 2},
		{"empty array", `[]`, 0},
		{"object with transactions", `{"transactions":[1,2,3],"next":null}`, 3},
		{"object with items", `{"items":[1]}`, 1},
		{"object with data", `{"data":[]}`, 0},
		{"object without a list", `{"total":5}`, nil},
		{"list under another key", `{"transactions":{"a":1}}`, nil},
		{"scalar", `42`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var in json.RawMessage
			if c.in != "" {
				in = json.RawMessage(c.in)
			}
			if got := countItems(in); got != c.want {
				t.Errorf("countItems(%s) = %v, want %v", c.in, got, c.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := map[string]any{
		"list":   []int{1, 2, 3},
		"flag":   true,
		"name":   "x",
		"nested": map[string]any{"a": []string{"p"}, "b": map[string]any{"c": 1}},
		"deep":   map[string]any{"l1": map[string]any{"l2": map[string]any{"l3": 1, "m": 2}}},
		"big":    9007199254740993,
	}
	got, err := summarize(in)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(got)
	want := `{"big":9007199254740993,"deep":{"l1":{"l2":2}},"flag":true,"list":3,` +
		`"name":"x","nested":{"a":1,"b":{"c":1}}}`
	if string(b) != want {
		t.Errorf("summarize = %s\nwant        %s", b, want)
	}
	if _, err := summarize(func() {}); err == nil {
		t.Error("summarize accepted a value that is not JSON")
	}
	if got, _ := summarize([]string{"a", "b"}); got != 2 {
		t.Errorf("top-level list = %v", got)
	}
}

// FuzzCountItems: whatever mana-credits answers, counting never panics and
// yields a count, zero or null.
func FuzzCountItems(f *testing.F) {
	for _, s := range []string{`[]`, `{"transactions":[1]}`, `{"items":`, `null`, `"x"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		switch v := countItems(json.RawMessage(b)).(type) {
		case nil:
		case int:
			if v < 0 {
				t.Fatalf("negative count %d", v)
			}
		default:
			t.Fatalf("countItems returned %T", v)
		}
	})
}
