package secure

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
)

func TestSignCookieFixture(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	sc := f.SignedCookie
	tf := f.TwoFactorCookies

	type tc struct{ name, value, cookie string }
	cases := []tc{
		{"dont_remember", sc.DontRemember.Value, sc.DontRemember.CookieValue},
		{"two_factor", tf.TwoFactor.Identifier, tf.TwoFactor.CookieValue},
		{"trust_device", tf.TrustDevice.SignedValue, tf.TrustDevice.CookieValue},
	}
	for _, c := range sc.Cases {
		cases = append(cases, tc{c.Label, c.Token, c.CookieValue})
		if v := setCookieValue(t, c.SetCookie); v != c.CookieValue {
			t.Fatalf("%s: fixture setCookie value %q != cookieValue", c.Label, v)
		}
	}
	if len(cases) < 5 {
		t.Fatalf("fixture has only %d signed cookies", len(cases))
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := s.SignCookie(c.value); got != c.cookie {
				t.Errorf("SignCookie = %q\nBetter Auth  %q", got, c.cookie)
			}
			got, ok := s.VerifyCookie(c.cookie)
			if !ok || got != c.value {
				t.Errorf("VerifyCookie = %q, %v; want %q, true", got, ok, c.value)
			}
		})
	}
}

func TestSignCookieSignatureFixture(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	for _, c := range f.SignedCookie.Cases {
		// The unescaped cookie value is token "." signature.
		want := c.Token + "." + c.SignatureBase64
		got, ok := unescapeComponent(s.SignCookie(c.Token))
		if !ok || got != want {
			t.Errorf("%s: unescaped cookie %q, want %q", c.Label, got, want)
		}
	}
}

func TestVerifyCookieObserved(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	tf := f.TwoFactorCookies

	cases := []struct{ name, setCookie, want string }{
		{"sign-in session", f.SignedCookie.ObservedSignIn.SetCookie,
			f.SignedCookie.ObservedSignIn.Token},
		{"two_factor", tf.TwoFactor.ObservedSetCookie, tf.TwoFactor.ObservedIdentifier},
		{"trust_device", tf.TrustDevice.ObservedSetCookie,
			tf.TrustDevice.ObservedSignedValue},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.want == "" {
				t.Fatal("fixture value missing")
			}
			value := setCookieValue(t, c.setCookie)
			got, ok := s.VerifyCookie(value)
			if !ok || got != c.want {
				t.Fatalf("VerifyCookie = %q, %v; want %q", got, ok, c.want)
			}
			if s.SignCookie(got) != value {
				t.Errorf("re-signing %q does not give the observed cookie", got)
			}
		})
	}
}

func TestTrustDeviceHMAC(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	td := f.TwoFactorCookies.TrustDevice

	if td.HMACMessage != td.UserID+"!"+td.TrustIdentifier {
		t.Fatalf("fixture hmacMessage is not userId!trustId")
	}
	mac := s.HMACBase64URL(td.HMACMessage)
	if mac != td.HMACBase64URLNoPad {
		t.Fatalf("HMACBase64URL = %q, Better Auth %q", mac, td.HMACBase64URLNoPad)
	}
	if mac+"!"+td.TrustIdentifier != td.SignedValue {
		t.Fatalf("signed value layout differs from the fixture")
	}

	check := func(cookie string) bool {
		t.Helper()
		value, ok := s.VerifyCookie(cookie)
		if !ok {
			t.Fatalf("outer signature of %q rejected", cookie)
		}
		inner, trustID, ok := strings.Cut(value, "!")
		if !ok {
			t.Fatalf("no '!' in %q", value)
		}
		return s.VerifyHMACBase64URL(td.UserID+"!"+trustID, inner)
	}
	if !check(td.CookieValue) {
		t.Error("trust_device cookie for the right user rejected")
	}
	if check(td.WrongUserCookieValue) {
		t.Error("trust_device cookie naming another user accepted")
	}
}

func TestVerifyCookieRejects(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	good := f.SignedCookie.Cases[0].CookieValue
	raw, _ := unescapeComponent(good)

	cases := map[string]string{
		"empty":             "",
		"dot only":          ".",
		"no dot":            strings.ReplaceAll(raw, ".", ""),
		"signature only":    raw[strings.LastIndexByte(raw, '.'):],
		"43-char signature": raw[:len(raw)-1],
		"no padding":        raw[:len(raw)-1] + "A",
		"45-char signature": raw + "=",
		"bad base64":        raw[:len(raw)-3] + "*A=",
		"double padding":    raw[:len(raw)-2] + "==",
		"dangling percent":  good + "%",
		"bad escape":        good[:10] + "%zz" + good[10:],
		"invalid utf-8":     "%FF" + good,
		"value appended":    strings.Replace(raw, ".", "x.", 1),
		"other secret":      mustSecrets(t, "another-secret").SignCookie("token"),
	}
	for _, c := range f.SignedCookie.Tampered {
		cases["fixture "+c.Label] = c.CookieValue
	}

	for name, cookie := range cases {
		t.Run(name, func(t *testing.T) {
			if v, ok := s.VerifyCookie(cookie); ok || v != "" {
				t.Errorf("VerifyCookie(%q) = %q, %v; want rejection", cookie, v, ok)
			}
		})
	}
}

func TestVerifyCookieForms(t *testing.T) {
	f := loadFixture(t)
	s := fixtureSecrets(t, f)
	c := f.SignedCookie.Cases[1] // signature with '+' and '/'
	raw := c.Token + "." + c.SignatureBase64
	if !strings.HasPrefix(c.CookieValue, c.Token+".") {
		t.Fatal("fixture token needs no escaping; layout changed")
	}
	sig := c.CookieValue[len(c.Token)+1:]

	// Forms Better Auth also accepts, as better-call decodes them.
	forms := map[string]string{
		"as set":          c.CookieValue,
		"raw (no %)":      raw,
		"lower-case hex":  c.Token + "." + lowerEscapes(sig),
		"escaped token":   fmt.Sprintf("%%%02X", c.Token[0]) + c.CookieValue[1:],
		"escaped the dot": c.Token + "%2E" + sig,
	}
	for name, cookie := range forms {
		got, ok := s.VerifyCookie(cookie)
		if !ok || got != c.Token {
			t.Errorf("%s: VerifyCookie(%q) = %q, %v", name, cookie, got, ok)
		}
	}
}

func lowerEscapes(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) {
			b.WriteString(strings.ToLower(s[i : i+3]))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func TestSignCookieEscaping(t *testing.T) {
	s := mustSecrets(t, "k")
	cases := []struct{ value, prefix string }{
		{"plain", "plain."},
		{"a b+c/d=e", "a%20b%2Bc%2Fd%3De."},
		{"!~*'()-_.", "!~*'()-_.."},
		{"café 🔑", "caf%C3%A9%20%F0%9F%94%91."},
		{"50%;x,y", "50%25%3Bx%2Cy."},
		{"", "."},
	}
	for _, c := range cases {
		cookie := s.SignCookie(c.value)
		if !strings.HasPrefix(cookie, c.prefix) {
			t.Errorf("SignCookie(%q) = %q, want prefix %q", c.value, cookie, c.prefix)
		}
		if got, ok := s.VerifyCookie(cookie); !ok || got != c.value {
			t.Errorf("round trip of %q gave %q, %v", c.value, got, ok)
		}
	}
}

func TestCookieRotation(t *testing.T) {
	f := loadFixture(t)
	rotated := mustSecrets(t, "brand-new-secret-after-rotation", f.Inputs.Secret)
	c := f.SignedCookie.Cases[0]

	if got, ok := rotated.VerifyCookie(c.CookieValue); !ok || got != c.Token {
		t.Fatalf("cookie signed with the previous secret rejected: %q %v", got, ok)
	}
	if rotated.SignCookie(c.Token) == c.CookieValue {
		t.Fatal("signing still uses the previous secret")
	}
	td := f.TwoFactorCookies.TrustDevice
	if !rotated.VerifyHMACBase64URL(td.HMACMessage, td.HMACBase64URLNoPad) {
		t.Error("trust-device MAC from the previous secret rejected")
	}

	// Dropping the old secret signs its cookies out.
	fresh := mustSecrets(t, "brand-new-secret-after-rotation")
	if _, ok := fresh.VerifyCookie(c.CookieValue); ok {
		t.Fatal("cookie verified without its secret")
	}
}

func mustSecrets(t testing.TB, current string, previous ...string) *Secrets {
	t.Helper()
	s, err := NewSecrets(current, previous...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzVerifyCookie checks that no input panics, and that whatever verifies
// re-signs to a cookie carrying the same value and the same MAC.
func FuzzVerifyCookie(f *testing.F) {
	fx := loadFixture(f)
	s := fixtureSecrets(f, fx)
	for _, c := range fx.SignedCookie.Cases {
		f.Add(c.CookieValue)
		f.Add(c.Token + "." + c.SignatureBase64)
	}
	for _, c := range fx.SignedCookie.Tampered {
		f.Add(c.CookieValue)
	}
	f.Add(fx.TwoFactorCookies.TrustDevice.CookieValue)
	f.Add("%")
	f.Add("a.%3D")
	f.Add("")

	f.Fuzz(func(t *testing.T, cookie string) {
		value, ok := s.VerifyCookie(cookie)
		if !ok {
			if value != "" {
				t.Fatalf("rejected cookie returned value %q", value)
			}
			return
		}

		resigned := s.SignCookie(value)
		again, ok := s.VerifyCookie(resigned)
		if !ok || again != value {
			t.Fatalf("re-signed cookie %q does not verify to %q", resigned, value)
		}

		// Same MAC: the accepted signature decodes to HMAC(secret, value).
		raw := cookie
		if strings.Contains(raw, "%") {
			raw, _ = unescapeComponent(raw)
		}
		sigPart := raw[strings.LastIndexByte(raw, '.')+1:]
		sig, err := base64.StdEncoding.DecodeString(sigPart)
		m := hmac.New(sha256.New, []byte(fx.Inputs.Secret))
		m.Write([]byte(value))
		if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
			t.Fatalf("accepted %q whose signature is not the value's MAC", cookie)
		}
	})
}

func BenchmarkSignCookie(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	token := GenerateID()
	b.ReportAllocs()
	for b.Loop() {
		s.SignCookie(token)
	}
}

func BenchmarkVerifyCookie(b *testing.B) {
	s := mustSecrets(b, "benchmark-secret-0123456789abcdef0123456789")
	cookie := s.SignCookie(GenerateID())
	raw, _ := unescapeComponent(cookie)
	for _, bc := range []struct{ name, cookie string }{
		{"escaped", cookie}, {"raw", raw},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, ok := s.VerifyCookie(bc.cookie); !ok {
					b.Fatal("rejected")
				}
			}
		})
	}
}

func ExampleSecrets_SignCookie() {
	s, _ := NewSecrets("example-secret")
	cookie := s.SignCookie("sessionToken")
	token, ok := s.VerifyCookie(cookie)
	fmt.Println(token, ok)
	// Output: sessionToken true
}
