package secure

import (
	"bytes"
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
)

const wycheproofDir = "../../testdata/wycheproof/"

func readWycheproof(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(wycheproofDir + name)
	if err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decoding %s: %v", name, err)
	}
}

func unhexT(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestWycheproofHMAC runs the HMAC-SHA256 vectors through the pooled MAC that
// cookies, trust-device MACs and JWTs use. Truncated-tag groups compare the
// tag's prefix.
func TestWycheproofHMAC(t *testing.T) {
	var file struct {
		TestGroups []struct {
			TagSize int `json:"tagSize"`
			Tests   []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				Key     string `json:"key"`
				Msg     string `json:"msg"`
				Tag     string `json:"tag"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readWycheproof(t, "hmac_sha256_test.json", &file)

	valid, invalid := 0, 0
	for _, g := range file.TestGroups {
		for _, tc := range g.Tests {
			k := newSecretKey(-1, string(unhexT(t, tc.Key)))
			var mac [32]byte
			k.mac(string(unhexT(t, tc.Msg)), &mac)
			tag := unhexT(t, tc.Tag)
			match := len(tag) == g.TagSize/8 && hmac.Equal(mac[:len(tag)], tag)

			switch tc.Result {
			case "valid":
				valid++
				if !match {
					t.Errorf("tcId %d (%s): valid tag rejected", tc.TcID, tc.Comment)
				}
			case "invalid":
				invalid++
				if match {
					t.Errorf("tcId %d (%s): invalid tag accepted", tc.TcID, tc.Comment)
				}
			default:
				t.Fatalf("tcId %d: unknown result %q", tc.TcID, tc.Result)
			}
		}
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("ran %d valid and %d invalid vectors", valid, invalid)
	}
}

// TestWycheproofHKDF runs the HKDF-SHA256 vectors through deriveKey, the
// function behind DeriveKey. Invalid vectors (oversized output) must fail.
func TestWycheproofHKDF(t *testing.T) {
	var file struct {
		TestGroups []struct {
			Tests []struct {
				TcID    int    `json:"tcId"`
				Comment string `json:"comment"`
				IKM     string `json:"ikm"`
				Salt    string `json:"salt"`
				Info    string `json:"info"`
				Size    int    `json:"size"`
				OKM     string `json:"okm"`
				Result  string `json:"result"`
			} `json:"tests"`
		} `json:"testGroups"`
	}
	readWycheproof(t, "hkdf_sha256_test.json", &file)

	valid, invalid := 0, 0
	for _, g := range file.TestGroups {
		for _, tc := range g.Tests {
			okm, err := deriveKey(unhexT(t, tc.IKM), unhexT(t, tc.Salt),
				unhexT(t, tc.Info), tc.Size)
			match := err == nil && bytes.Equal(okm, unhexT(t, tc.OKM))

			switch tc.Result {
			case "valid":
				valid++
				if !match {
					t.Errorf("tcId %d (%s): err %v, output mismatch",
						tc.TcID, tc.Comment, err)
				}
			case "invalid":
				invalid++
				if match || err == nil {
					t.Errorf("tcId %d (%s): invalid vector accepted", tc.TcID, tc.Comment)
				}
			default:
				t.Fatalf("tcId %d: unknown result %q", tc.TcID, tc.Result)
			}
		}
	}
	if valid == 0 || invalid == 0 {
		t.Fatalf("ran %d valid and %d invalid vectors", valid, invalid)
	}
}

func TestDeriveKey(t *testing.T) {
	s := mustSecrets(t, "derive-secret", "old-secret")
	a := s.DeriveKey("mana-auth/test/a", 32)
	want, err := deriveKey([]byte("derive-secret"), nil, []byte("mana-auth/test/a"), 32)
	if err != nil || !bytes.Equal(a, want) {
		t.Fatalf("DeriveKey is not HKDF-SHA256(current, no salt, label)")
	}
	if bytes.Equal(a, s.DeriveKey("mana-auth/test/b", 32)) {
		t.Error("different labels gave the same key")
	}
	if !bytes.Equal(a[:16], s.DeriveKey("mana-auth/test/a", 16)) {
		t.Error("shorter output is not a prefix")
	}
	if bytes.Equal(a, mustSecrets(t, "old-secret").DeriveKey("mana-auth/test/a", 32)) {
		t.Error("key does not depend on the current secret")
	}

	for _, n := range []int{0, -1, 255*32 + 1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("DeriveKey(n=%d) did not panic", n)
				}
			}()
			s.DeriveKey("x", n)
		}()
	}
}

func TestEqual(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "ab", false},
		{"", "a", false},
	}
	for _, c := range cases {
		if got := Equal(c.a, c.b); got != c.want {
			t.Errorf("Equal(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

func TestHashToken(t *testing.T) {
	// SHA-256("abc") from FIPS 180-2, in base64url without padding.
	if got := HashToken("abc"); got != "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0" {
		t.Errorf("HashToken(abc) = %q", got)
	}
	if HashToken("a") == HashToken("b") {
		t.Error("different tokens hash equal")
	}
}

func TestSecretsNeverPrinted(t *testing.T) {
	const secret = "super-secret-value-0123456789"
	s := mustSecrets(t, secret, "previous-secret-value")

	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("config", "secrets", s)
	out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s) + logged.String()
	for _, leak := range []string{secret, "previous-secret-value"} {
		if strings.Contains(out, leak) {
			t.Fatalf("secret printed: %s", out)
		}
	}
}
