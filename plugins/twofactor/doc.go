// Package twofactor is mana-auth's second factor, wire-compatible with
// Better Auth's twoFactor plugin: TOTP (RFC 6238 with Better Auth's key
// format, so secrets enrolled under Better Auth keep working), ten
// single-use backup codes, a code sent by email, and trusted devices.
//
// A password sign-in of a user with two_factor_enabled passes through the
// plugin's sign-in gate: no session is created; the client gets
// {twoFactorRedirect, twoFactorMethods} and a signed two_factor cookie (or,
// on the v1 token API, the challenge token), and one of the verify
// endpoints completes the sign-in through core.Engine.CompleteSignIn.
//
// Every one-time secret is consumed by one conditional statement inside the
// transaction that acts on it: the challenge, the emailed code, a backup
// code (compare-and-swap on the stored ciphertext) and the TOTP time step
// (a step is accepted only if it is later than the last accepted one), so
// two racing requests never both win.
package twofactor
