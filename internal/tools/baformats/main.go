// Command baformats writes, as JSON on stdout, values in Better Auth's
// formats made by mana-auth's own code: a password hash, a signed cookie, an
// encrypted secret and an email-verification JWT. The e2e suite
// (e2e/formats.test.mjs) checks each with Better Auth's own functions, so
// "what we write, Better Auth accepts" is tested, not assumed.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/mana/mana-auth/core/password"
	"github.com/mana/mana-auth/core/secure"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "baformats:", err)
		os.Exit(1)
	}
}

func run() error {
	secret := "formats-secret-" + secure.RandomString(24, secure.AlphaNum)
	s, err := secure.NewSecrets(secret)
	if err != nil {
		return err
	}
	pw := "Ünïcode ﬁ pass " + secure.RandomString(8, secure.AlphaNum)
	hash, err := password.New(password.Options{}).Hash(context.Background(), pw)
	if err != nil {
		return err
	}
	token := secure.GenerateID()
	plaintext := `["abcde-fghij","klmno-pqrst"]`
	ct, err := s.Encrypt(plaintext)
	if err != nil {
		return err
	}
	now := time.Now().Unix()
	jwt, err := s.SignJWT(map[string]any{"email": "f@example.com", "userId": "u1",
		"iat": now, "exp": now + 3600})
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]string{
		"secret": secret, "password": pw, "hash": hash,
		"token": token, "cookieValue": s.SignCookie(token),
		"plaintext": plaintext, "ciphertext": ct, "jwt": jwt,
	})
}
