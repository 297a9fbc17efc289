package secure

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestDecryptFixture(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	se := f.SymmetricEncryption

	key := sha256.Sum256([]byte(f.Inputs.Secret))
	if hex.EncodeToString(key[:]) != se.Params.KeyHex {
		t.Fatalf("SHA-256(secret) differs from the fixture keyHex")
	}
	if len(se.Cases) == 0 {
		t.Fatal("fixture has no encryption cases")
	}

	for _, c := range se.Cases {
		t.Run(c.Label, func(t *testing.T) {
			if !strings.HasPrefix(c.CiphertextHex, c.NonceHex) ||
				len(c.NonceHex) != 2*se.Params.NonceBytes {
				t.Fatal("fixture layout is not nonce || ciphertext || tag")
			}
			got, err := s.Decrypt(c.CiphertextHex)
			if err != nil || got != c.Plaintext {
				t.Fatalf("Decrypt = %q, %v; want %q", got, err, c.Plaintext)
			}
			want := 2 * (se.Params.NonceBytes + len(c.Plaintext) + se.Params.TagBytes)
			if len(c.CiphertextHex) != want {
				t.Errorf("ciphertext has %d hex chars, want %d",
					len(c.CiphertextHex), want)
			}
		})
	}
}

func TestDecryptVersionedEnvelope(t *testing.T) {
	f := loadFixture(t)
	ve := f.SymmetricEncryption.VersionedEnvelope

	var list []VersionedSecret
	var values []string
	for _, v := range ve.Secrets {
		list = append(list, VersionedSecret{Version: v.Version, Value: v.Value})
		values = append(values, v.Value)
	}
	if len(list) < 2 || list[0].Version != ve.CurrentVersion {
		t.Fatal("fixture lists the current version first, with an older one")
	}
	versioned, err := NewVersionedSecrets(list, "")
	if err != nil {
		t.Fatal(err)
	}
	plain := mustSecrets(t, values[0], values[1:]...)

	for _, s := range []struct {
		name string
		s    *Secrets
	}{{"versioned", versioned}, {"plain list", plain}} {
		for label, data := range map[string]string{"v1": ve.V1, "v2": ve.V2} {
			got, err := s.s.Decrypt(data)
			if err != nil || got != ve.Plaintext {
				t.Errorf("%s: Decrypt(%s) = %q, %v", s.name, label, got, err)
			}
		}
	}

	// The v1 envelope must be opened with v1's secret only: swapping the
	// versions' values makes both fail.
	swapped, err := NewVersionedSecrets([]VersionedSecret{
		{Version: list[0].Version, Value: list[1].Value},
		{Version: list[1].Version, Value: list[0].Value},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := swapped.Decrypt(ve.V1); !errors.Is(err, ErrDecrypt) {
		t.Errorf("v1 opened under the wrong version's secret: %v", err)
	}

	// Versioned Secrets write envelopes of the current version; the body is
	// the plain format under that version's secret.
	sealed, err := versioned.Encrypt("round trip")
	if err != nil {
		t.Fatal(err)
	}
	prefix := "$ba$" + strconv.Itoa(ve.CurrentVersion) + "$"
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		t.Fatalf("Encrypt = %q, want prefix %q", sealed, prefix)
	}
	got, err := mustSecrets(t, values[0]).Decrypt(body)
	if err != nil || got != "round trip" {
		t.Errorf("envelope body does not decrypt as plain hex: %q, %v", got, err)
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	hexRE := regexp.MustCompile(`^[0-9a-f]+$`)

	for _, pt := range []string{"", "x", "FixtureTOTPsecret-0123456789_abc",
		`["a1B2c-D3e4F"]`, "caf\u00e9 \U0001F511", strings.Repeat("long ", 2000)} {
		a, err := s.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := s.Encrypt(pt)
		if a == b {
			t.Error("two encryptions are identical: nonce not random")
		}
		if !hexRE.MatchString(a) || len(a) != 2*(24+len(pt)+16) {
			t.Errorf("Encrypt(%.10q) = %.40q... not Better Auth's hex layout", pt, a)
		}
		if got, err := s.Decrypt(a); err != nil || got != pt {
			t.Errorf("round trip of %.10q gave %.10q, %v", pt, got, err)
		}
	}
}

func TestDecryptRotation(t *testing.T) {
	f := loadFixture(t)
	c := f.SymmetricEncryption.Cases[0]

	rotated := mustSecrets(t, "brand-new-secret", f.Inputs.Secret)
	if got, err := rotated.Decrypt(c.CiphertextHex); err != nil || got != c.Plaintext {
		t.Fatalf("previous secret no longer decrypts: %q, %v", got, err)
	}
	sealed, _ := rotated.Encrypt("x")
	if _, err := fixtureSecrets(t, f).Decrypt(sealed); err == nil {
		t.Fatal("new values are still written with the previous secret")
	}

	legacy, err := NewVersionedSecrets(
		[]VersionedSecret{{Version: 3, Value: "brand-new-secret"}}, f.Inputs.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := legacy.Decrypt(c.CiphertextHex); err != nil || got != c.Plaintext {
		t.Fatalf("legacy secret does not decrypt bare hex: %q, %v", got, err)
	}
}

func TestDecryptRejects(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	good := f.SymmetricEncryption.Cases[0].CiphertextHex
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == '0' {
			b[i] = '1'
		} else {
			b[i] = '0'
		}
		return string(b)
	}

	cases := map[string]string{
		"empty":            "",
		"not hex":          "zz" + good[2:],
		"odd length":       good[:len(good)-1],
		"shorter than tag": good[:2*(24+15)],
		"nonce flipped":    flip(3),
		"body flipped":     flip(60),
		"tag flipped":      flip(len(good) - 1),
		"envelope only":    "$ba$",
		"no version":       "$ba$$" + good,
		"version not num":  "$ba$x$" + good,
		"negative version": "$ba$-1$" + good,
		"no second $":      "$ba$1" + good,
		"huge version":     "$ba$99999999999999999999$" + good,
		"wrong secret":     mustSecrets(t, "other").mustEncrypt(t, "secret data"),
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := s.Decrypt(data)
			if !errors.Is(err, ErrDecrypt) || got != "" {
				t.Errorf("Decrypt = %q, %v; want ErrDecrypt", got, err)
			}
		})
	}
}

func (s *Secrets) mustEncrypt(t *testing.T, pt string) string {
	t.Helper()
	out, err := s.Encrypt(pt)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestNewSecretsErrors(t *testing.T) {
	if _, err := NewSecrets(""); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty current: %v", err)
	}
	if _, err := NewSecrets("a", "b", ""); !errors.Is(err, ErrNoSecret) {
		t.Errorf("empty previous: %v", err)
	}
	bad := map[string][]VersionedSecret{
		"none":      nil,
		"empty":     {{Version: 1}},
		"negative":  {{Version: -1, Value: "a"}},
		"duplicate": {{Version: 1, Value: "a"}, {Version: 1, Value: "b"}},
	}
	for name, list := range bad {
		if _, err := NewVersionedSecrets(list, ""); err == nil {
			t.Errorf("%s: NewVersionedSecrets accepted %v", name, list)
		}
	}
}

// FuzzDecrypt checks that no input panics and that whatever decrypts
// survives an Encrypt/Decrypt round trip.
func FuzzDecrypt(f *testing.F) {
	fx := loadFixture(f)
	s := fixtureSecrets(f, fx)
	for _, c := range fx.SymmetricEncryption.Cases {
		f.Add(c.CiphertextHex)
	}
	f.Add(fx.SymmetricEncryption.VersionedEnvelope.V1)
	f.Add(fx.SymmetricEncryption.VersionedEnvelope.V2)
	f.Add("$ba$1$00")
	f.Add("")

	f.Fuzz(func(t *testing.T, data string) {
		pt, err := s.Decrypt(data)
		if err != nil {
			if !errors.Is(err, ErrDecrypt) || pt != "" {
				t.Fatalf("failure gave %q, %v", pt, err)
			}
			return
		}
		sealed, err := s.Encrypt(pt)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := s.Decrypt(sealed); err != nil || again != pt {
			t.Fatalf("round trip of %q gave %q, %v", pt, again, err)
		}
	})
}

func BenchmarkEncrypt(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	pt := RandomString(32, URLSafe) // a TOTP secret
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Encrypt(pt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	sealed, _ := s.Encrypt(RandomString(32, URLSafe))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Decrypt(sealed); err != nil {
			b.Fatal(err)
		}
	}
}
