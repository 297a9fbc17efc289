package secure

import (
	"encoding/json"
	"os"
	"testing"
)

// fixturePath is the Better Auth 1.7.25 ground truth, relative to this package.
const fixturePath = "../../testdata/better-auth-1.7.25.json"

type fixture struct {
	Inputs struct {
		Secret string `json:"secret"`
		UserID string `json:"userId"`
	} `json:"inputs"`

	SignedCookie struct {
		Cases []struct {
			Label           string `json:"label"`
			Token           string `json:"token"`
			SignatureBase64 string `json:"signatureBase64"`
			CookieValue     string `json:"cookieValue"`
			SetCookie       string `json:"setCookie"`
		} `json:"cases"`
		DontRemember struct {
			Value       string `json:"value"`
			CookieValue string `json:"cookieValue"`
		} `json:"dontRemember"`
		Tampered []struct {
			Label       string `json:"label"`
			CookieValue string `json:"cookieValue"`
		} `json:"tampered"`
		ObservedSignIn struct {
			SetCookie string `json:"setCookie"`
			Token     string `json:"token"`
		} `json:"observedSignIn"`
	} `json:"signedCookie"`

	SymmetricEncryption struct {
		Params struct {
			KeyHex     string `json:"keyHex"`
			NonceBytes int    `json:"nonceBytes"`
			TagBytes   int    `json:"tagBytes"`
		} `json:"params"`
		Cases []struct {
			Label         string `json:"label"`
			Plaintext     string `json:"plaintext"`
			CiphertextHex string `json:"ciphertextHex"`
			NonceHex      string `json:"nonceHex"`
		} `json:"cases"`
		VersionedEnvelope struct {
			Secrets []struct {
				Version int    `json:"version"`
				Value   string `json:"value"`
			} `json:"secrets"`
			CurrentVersion int    `json:"currentVersion"`
			Plaintext      string `json:"plaintext"`
			V1             string `json:"v1"`
			V2             string `json:"v2"`
		} `json:"versionedEnvelope"`
	} `json:"symmetricEncryption"`

	TwoFactorCookies struct {
		TwoFactor struct {
			Identifier         string `json:"identifier"`
			CookieValue        string `json:"cookieValue"`
			ObservedSetCookie  string `json:"observedSetCookie"`
			ObservedIdentifier string `json:"observedIdentifier"`
		} `json:"twoFactor"`
		TrustDevice struct {
			UserID               string `json:"userId"`
			TrustIdentifier      string `json:"trustIdentifier"`
			HMACMessage          string `json:"hmacMessage"`
			HMACBase64URLNoPad   string `json:"hmacBase64urlNoPad"`
			SignedValue          string `json:"signedValue"`
			CookieValue          string `json:"cookieValue"`
			ObservedSetCookie    string `json:"observedSetCookie"`
			ObservedSignedValue  string `json:"observedSignedValue"`
			WrongUserCookieValue string `json:"wrongUserCookieValue"`
		} `json:"trustDevice"`
	} `json:"twoFactorCookies"`

	EmailVerification struct {
		Claims struct {
			Email  string `json:"email"`
			UserID string `json:"userId"`
			Iat    int64  `json:"iat"`
			Exp    int64  `json:"exp"`
		} `json:"claims"`
		Token           string `json:"token"`
		HeaderJSON      string `json:"headerJSON"`
		PayloadJSON     string `json:"payloadJSON"`
		SignatureB64url string `json:"signatureB64url"`
		SigningInput    string `json:"signingInput"`
		Expired         struct {
			Token  string `json:"token"`
			Claims struct {
				Exp int64 `json:"exp"`
			} `json:"claims"`
		} `json:"expired"`
		Tampered string `json:"tampered"`
	} `json:"emailVerification"`

	IDs struct {
		Cases []struct {
			Label          string   `json:"label"`
			Charset        string   `json:"charset"`
			RandomBytesHex []string `json:"randomBytesHex"`
			Output         string   `json:"output"`
		} `json:"cases"`
		Samples struct {
			GenerateID             []string `json:"generateId"`
			GenerateRandomString32 []string `json:"generateRandomString32"`
		} `json:"samples"`
	} `json:"ids"`
}

func loadFixture(t testing.TB) *fixture {
	t.Helper()
	data, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatalf("reading fixture: %v", err)
	}
	var f fixture
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("decoding fixture: %v", err)
	}
	if f.Inputs.Secret == "" {
		t.Fatal("fixture has no inputs.secret")
	}
	return &f
}

// fixtureSecrets returns Secrets holding only the fixture secret.
func fixtureSecrets(t testing.TB, f *fixture) *Secrets {
	t.Helper()
	s, err := NewSecrets(f.Inputs.Secret)
	if err != nil {
		t.Fatalf("NewSecrets: %v", err)
	}
	return s
}

// setCookieValue extracts the value from a "name=value; attrs" line.
func setCookieValue(t testing.TB, line string) string {
	t.Helper()
	for i := 0; i < len(line); i++ {
		if line[i] == '=' {
			rest := line[i+1:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == ';' {
					return rest[:j]
				}
			}
			return rest
		}
	}
	t.Fatalf("no value in Set-Cookie %q", line)
	return ""
}
