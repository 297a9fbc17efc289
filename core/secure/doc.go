// Package secure holds mana-auth's small cryptographic building blocks: random
// ids and tokens, the signed-cookie value, at-rest encryption of secrets, the
// HS256 email-verification token, and keyed hashing.
//
// Everything that meets Better Auth data is bit-exact with better-auth 1.7.25
// (see testdata/better-auth-1.7.25.json): ids use its rejection sampling,
// cookies its `value.base64(HMAC)` envelope, encryption its XChaCha20-Poly1305
// hex format with the key SHA-256(secret), and tokens its HS256 JWT layout.
// Keys that mana-auth introduces itself are derived per purpose with HKDF
// (Secrets.DeriveKey) and never reuse a Better Auth derivation.
//
// All exported functions and methods are safe for concurrent use, and none of
// them panics on malformed input; the few that panic do so only on programmer
// errors (an empty alphabet, an impossible key length), as documented.
package secure
