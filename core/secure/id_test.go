package secure

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// chunkReader yields one recorded getRandomValues fill per Read and fails the
// test if the generator asks for a buffer of another size.
type chunkReader struct {
	t      *testing.T
	chunks [][]byte
}

func (r *chunkReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		r.t.Fatalf("generator wanted %d more bytes than recorded", len(p))
	}
	c := r.chunks[0]
	r.chunks = r.chunks[1:]
	if len(p) != len(c) {
		r.t.Fatalf("generator filled %d bytes, Better Auth filled %d", len(p), len(c))
	}
	return copy(p, c), nil
}

func TestGeneratorFixture(t *testing.T) {
	f := loadFixture(t)
	charsets := map[string]string{
		"AlphaNum": AlphaNum, "LowerAlphaNum": LowerAlphaNum, "Alpha": Alpha,
		"URLSafe": URLSafe, "BackupCode": BackupCode,
	}
	if len(f.IDs.Cases) == 0 {
		t.Fatal("fixture has no ids cases")
	}

	for _, c := range f.IDs.Cases {
		t.Run(c.Label, func(t *testing.T) {
			alphabet := ""
			for name, cs := range charsets {
				if cs == c.Charset {
					alphabet = cs
					t.Logf("charset is %s", name)
				}
			}
			if alphabet == "" {
				t.Fatalf("no constant equals Better Auth charset %q", c.Charset)
			}

			r := &chunkReader{t: t}
			for _, h := range c.RandomBytesHex {
				b, err := hex.DecodeString(h)
				if err != nil {
					t.Fatal(err)
				}
				r.chunks = append(r.chunks, b)
			}

			got := NewGenerator(r).String(len(c.Output), alphabet)
			if got != c.Output {
				t.Errorf("String = %q, Better Auth gave %q", got, c.Output)
			}
			if len(r.chunks) != 0 {
				t.Errorf("%d recorded fills left unused", len(r.chunks))
			}
		})
	}
}

func TestGeneratorIDMatchesGenerateID(t *testing.T) {
	f := loadFixture(t)
	for _, c := range f.IDs.Cases {
		if c.Charset != AlphaNum || len(c.Output) != IDLength {
			continue
		}
		b, _ := hex.DecodeString(c.RandomBytesHex[0])
		if got := NewGenerator(bytes.NewReader(b)).ID(); got != c.Output {
			t.Errorf("ID = %q, want %q", got, c.Output)
		}
		return
	}
	t.Fatal("fixture has no generateId() case")
}

func TestGeneratorRejectionSampling(t *testing.T) {
	// 62 characters: bytes 248..255 must be skipped, 0 maps to 'a', 247 to
	// AlphaNum[247%62].
	stream := []byte{248, 255, 0, 250, 247, 61}
	r := &chunkReader{t: t, chunks: [][]byte{stream}}
	got := NewGenerator(r).String(3, AlphaNum)
	want := string([]byte{AlphaNum[0], AlphaNum[247%62], AlphaNum[61]})
	if got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	// The buffer is refilled whole once every byte is used.
	r = &chunkReader{t: t, chunks: [][]byte{{255, 255}, {1, 2}}}
	if got := NewGenerator(r).String(1, AlphaNum); got != "b" {
		t.Fatalf("after refill got %q, want %q", got, "b")
	}
}

func TestRandomFormats(t *testing.T) {
	f := loadFixture(t)
	idRE := regexp.MustCompile(`^[A-Za-z0-9]{32}$`)
	urlRE := regexp.MustCompile(`^[A-Za-z0-9_-]{32}$`)

	for _, s := range f.IDs.Samples.GenerateID {
		if !idRE.MatchString(s) {
			t.Errorf("fixture sample %q does not match %s", s, idRE)
		}
	}
	for _, s := range f.IDs.Samples.GenerateRandomString32 {
		if !urlRE.MatchString(s) {
			t.Errorf("fixture sample %q does not match %s", s, urlRE)
		}
	}

	seen := make(map[string]bool)
	for range 200 {
		id := GenerateID()
		if !idRE.MatchString(id) {
			t.Fatalf("GenerateID() = %q", id)
		}
		if seen[id] {
			t.Fatalf("GenerateID() repeated %q", id)
		}
		seen[id] = true
		if s := RandomString(32, URLSafe); !urlRE.MatchString(s) {
			t.Fatalf("RandomString(32, URLSafe) = %q", s)
		}
	}

	// A long string exercises the heap buffer and covers the whole alphabet.
	long := RandomString(5000, LowerAlphaNum)
	for _, c := range LowerAlphaNum {
		if !strings.ContainsRune(long, c) {
			t.Errorf("5000 draws never produced %q", c)
		}
	}
	if strings.Trim(long, LowerAlphaNum) != "" {
		t.Error("output has characters outside the alphabet")
	}
}

func TestRandomStringEdges(t *testing.T) {
	if s := RandomString(0, AlphaNum); s != "" {
		t.Errorf("RandomString(0) = %q", s)
	}
	if s := RandomString(-1, AlphaNum); s != "" {
		t.Errorf("RandomString(-1) = %q", s)
	}
	for _, alphabet := range []string{"", strings.Repeat("a", 257)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("alphabet of %d bytes did not panic", len(alphabet))
				}
			}()
			RandomString(4, alphabet)
		}()
	}
}

func ExampleRandomString() {
	code := RandomString(10, BackupCode)
	fmt.Println(len(code[:5] + "-" + code[5:]))
	// Output: 11
}

func BenchmarkGenerateID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		GenerateID()
	}
}
