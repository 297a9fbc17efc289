// Package magiclink is passwordless sign-in by email, wire-compatible with
// Better Auth's magicLink plugin (reference §10): POST
// /sign-in/magic-link mails a single-use link, GET /magic-link/verify signs
// in (creating the user on first use when sign-up is allowed) and
// redirects to the callback URLs the origin checker accepted.
//
// Tokens are 32 letters, stored only as their SHA-256 (verification
// "magic-link:<base64url hash>"), live 5 minutes and are consumed by one
// conditional statement inside the transaction that acts on them. When a
// link adopts an existing account whose email was never verified, the
// password and sessions an earlier party set are removed in that same
// transaction (the pre-account hijacking case, GHSA-qq9h-g4jm-xgf3).
package magiclink
