package vault

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mana/mana-auth/core"
)

type wycheproofFile struct {
	TestGroups []struct {
		KeySize int `json:"keySize"`
		IVSize  int `json:"ivSize"`
		TagSize int `json:"tagSize"`
		Tests   []struct {
			TcID    int    `json:"tcId"`
			Comment string `json:"comment"`
			Key     string `json:"key"`
			IV      string `json:"iv"`
			AAD     string `json:"aad"`
			Msg     string `json:"msg"`
			CT      string `json:"ct"`
			Tag     string `json:"tag"`
			Result  string `json:"result"`
		} `json:"tests"`
	} `json:"testGroups"`
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWycheproofAESGCM runs Wycheproof's AES-256-GCM vectors through seal
// and open: with 96-bit IVs valid vectors seal to ct||tag and open to msg,
// invalid ones fail to open; every other IV size is refused outright.
func TestWycheproofAESGCM(t *testing.T) {
	raw, err := os.ReadFile("../../testdata/wycheproof/aes_gcm_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var f wycheproofFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	var valid, invalid, refused int
	for _, g := range f.TestGroups {
		if g.KeySize != 256 || g.TagSize != 128 {
			continue
		}
		for _, tc := range g.Tests {
			key, iv := unhex(t, tc.Key), unhex(t, tc.IV)
			aad, msg := unhex(t, tc.AAD), unhex(t, tc.Msg)
			sealed := append(unhex(t, tc.CT), unhex(t, tc.Tag)...)
			aead, err := newAEAD(key)
			if err != nil {
				t.Fatalf("tc %d: %v", tc.TcID, err)
			}
			got, openErr := open(aead, nil, iv, sealed, aad)
			if g.IVSize != 96 {
				if openErr == nil {
					t.Errorf("tc %d: %d-bit IV accepted", tc.TcID, g.IVSize)
				}
				if _, err := seal(aead, nil, iv, msg, aad); err == nil {
					t.Errorf("tc %d: sealed with a %d-bit IV", tc.TcID, g.IVSize)
				}
				refused++
				continue
			}
			switch tc.Result {
			case "valid":
				valid++
				if openErr != nil || !bytes.Equal(got, msg) {
					t.Errorf("tc %d (%s): open = %x, %v", tc.TcID, tc.Comment, got, openErr)
				}
				out, err := seal(aead, nil, iv, msg, aad)
				if err != nil || !bytes.Equal(out, sealed) {
					t.Errorf("tc %d (%s): seal = %x, %v", tc.TcID, tc.Comment, out, err)
				}
			case "invalid":
				invalid++
				if openErr == nil {
					t.Errorf("tc %d (%s): invalid vector opened", tc.TcID, tc.Comment)
				}
			default:
				t.Fatalf("tc %d: result %q", tc.TcID, tc.Result)
			}
		}
	}
	if valid < 30 || invalid < 10 || refused < 10 {
		t.Fatalf("ran %d valid, %d invalid, %d refused vectors", valid, invalid, refused)
	}
	t.Logf("%d valid, %d invalid, %d refused (IV size) vectors", valid, invalid, refused)
}

func testRing(t testing.TB, cur byte, prev ...byte) *keyring {
	t.Helper()
	var ps [][]byte
	for _, p := range prev {
		ps = append(ps, bytes.Repeat([]byte{p}, KEKSize))
	}
	kr, err := newKeyring(bytes.Repeat([]byte{cur}, KEKSize), ps)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestWrapBinding(t *testing.T) {
	kr := testRing(t, 1, 2)
	mk := newMasterKey()
	w, err := kr.wrapKey("user-a", mk)
	if err != nil || len(w.sealed) != WrapSize || len(w.iv) != NonceSize ||
		w.kekID != KEKID(bytes.Repeat([]byte{1}, 32)) {
		t.Fatalf("wrap: %+v, %v", w, err)
	}
	w2, _ := kr.wrapKey("user-a", mk)
	if bytes.Equal(w.iv, w2.iv) || bytes.Equal(w.sealed, w2.sealed) {
		t.Fatal("two wraps share a nonce")
	}

	got, stale, err := kr.unwrapKey("user-a", FormatVersion, w.kekID, w.sealed, w.iv)
	if err != nil || stale || !bytes.Equal(got, mk) {
		t.Fatalf("unwrap: %v stale=%v", err, stale)
	}
	flipped := bytes.Clone(w.sealed)
	flipped[3] ^= 1
	for _, tc := range []struct {
		name   string
		user   string
		format int
		kekID  string
		sealed []byte
		iv     []byte
		want   error
	}{
		{"other user", "user-b", FormatVersion, w.kekID, w.sealed, w.iv, ErrUnwrap},
		{"user prefix", "user-", FormatVersion, w.kekID, w.sealed, w.iv, ErrUnwrap},
		{"other format", "user-a", 2, w.kekID, w.sealed, w.iv, ErrUnwrap},
		{"previous KEK", "user-a", FormatVersion, KEKID(bytes.Repeat([]byte{2}, 32)),
			w.sealed, w.iv, ErrUnwrap},
		{"unknown KEK", "user-a", FormatVersion, "0011223344556677", w.sealed, w.iv,
			ErrUnknownKEK},
		{"tampered", "user-a", FormatVersion, w.kekID, flipped, w.iv, ErrUnwrap},
		{"truncated", "user-a", FormatVersion, w.kekID, w.sealed[:47], w.iv, ErrUnwrap},
		{"short iv", "user-a", FormatVersion, w.kekID, w.sealed, w.iv[:11], nil},
		{"empty", "user-a", FormatVersion, w.kekID, nil, nil, ErrUnwrap},
	} {
		mk, _, err := kr.unwrapKey(tc.user, tc.format, tc.kekID, tc.sealed, tc.iv)
		if err == nil || mk != nil || (tc.want != nil && !errors.Is(err, tc.want)) {
			t.Errorf("%s: %v, %x", tc.name, err, mk)
		}
	}

	// A previous KEK still opens, and says the wrap is stale.
	old := testRing(t, 2)
	ow, _ := old.wrapKey("user-a", mk)
	got, stale, err = kr.unwrapKey("user-a", FormatVersion, ow.kekID, ow.sealed, ow.iv)
	if err != nil || !stale || !bytes.Equal(got, mk) {
		t.Fatalf("previous KEK: %v stale=%v", err, stale)
	}
}

func TestKeyring(t *testing.T) {
	kr := testRing(t, 1, 2, 2, 1)
	if len(kr.byID) != 2 {
		t.Errorf("duplicates kept: %d KEKs", len(kr.byID))
	}
	if _, err := newKeyring(make([]byte, 31), nil); !errors.Is(err, ErrBadKEK) {
		t.Errorf("31-byte KEK: %v", err)
	}
	if _, err := newKeyring(make([]byte, 32), [][]byte{{1}}); !errors.Is(err, ErrBadKEK) {
		t.Errorf("1-byte previous KEK: %v", err)
	}
	a, b := KEKID(bytes.Repeat([]byte{1}, 32)), KEKID(bytes.Repeat([]byte{2}, 32))
	if len(a) != 16 || a == b || a != KEKID(bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("KEKID: %q %q", a, b)
	}
	if !allZero(make([]byte, 32)) || allZero([]byte{0, 0, 1}) {
		t.Error("allZero")
	}
}

func TestKeyCheck(t *testing.T) {
	mk := newMasterKey()
	c := keyCheck("u1", mk)
	if len(c) != 32 || bytes.Contains(c, mk[:8]) {
		t.Fatalf("check value %x", c)
	}
	other := bytes.Clone(mk)
	other[0] ^= 1
	if !checkKey("u1", mk, c) || checkKey("u1", other, c) || checkKey("u2", mk, c) {
		t.Error("checkKey")
	}
	if !checkKey("u1", other, nil) {
		t.Error("a vault without a check value refused the key")
	}
}

func TestDecodeFixed(t *testing.T) {
	b48 := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 48))
	for _, tc := range []struct {
		name string
		in   string
		n    int
		ok   bool
	}{
		{"48 bytes", b48, 48, true},
		{"12 bytes", base64.StdEncoding.EncodeToString(make([]byte, 12)), 12, true},
		{"32 bytes padded", base64.StdEncoding.EncodeToString(make([]byte, 32)), 32, true},
		{"32 bytes unpadded", base64.RawStdEncoding.EncodeToString(make([]byte, 32)), 32,
			false},
		{"url alphabet", base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 48)),
			48, false},
		{"wrong length", b48, 32, false},
		{"empty", "", 12, false},
		{"junk", strings.Repeat("*", 16), 12, false},
		{"non-canonical padding bits", strings.Repeat("A", 41) + "AB=", 32, false},
	} {
		got, ok := decodeFixed(tc.in, tc.n)
		if ok != tc.ok || (ok && len(got) != tc.n) {
			t.Errorf("%s: %v %d", tc.name, ok, len(got))
		}
	}
}

// FuzzDecodeFixed: untrusted base64 never panics and never yields a key of
// the wrong size.
func FuzzDecodeFixed(f *testing.F) {
	f.Add("AAAAAAAAAAAAAAAA", 12)
	f.Add(base64.StdEncoding.EncodeToString(make([]byte, 48)), 48)
	f.Add("====", 32)
	f.Fuzz(func(t *testing.T, s string, n int) {
		if n < 0 || n > 1024 {
			return
		}
		b, ok := decodeFixed(s, n)
		if ok && (len(b) != n || base64.StdEncoding.EncodeToString(b) != s) {
			t.Fatalf("decodeFixed(%q, %d) = %x", s, n, b)
		}
	})
}

func TestClip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"short", "short"},
		{"abcdé", "abcd"}, // é is two bytes; cut at 5 would split it
		{"ab\xffcd", "abcd"},
	} {
		got := core.ClipText(tc.in, 5)
		if got != tc.want || !utf8.ValidString(got) {
			t.Errorf("ClipText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
