// Package jwt is mana-auth's JWT plugin (id "jwt") and the v1 token API.
//
// It signs short-lived EdDSA (Ed25519) access tokens with claims sub, email,
// role, sid, iat, exp, iss and aud, and publishes the verification keys at
// GET /api/auth/jwks so that other services verify tokens on their own. The
// keys live in the jwks table in Better Auth's format (public JWK JSON, the
// private JWK encrypted with AUTH_SECRET), so keys written by Better Auth
// load and keep verifying. Keys rotate on an interval with a grace period in
// which retired keys still verify; `mana-auth keys rotate` rotates at once.
//
// Better Auth routes: GET /api/auth/token and GET /api/auth/jwks, plus the
// set-auth-jwt header on get-session. The v1 token API under /api/v1/auth
// (register, login, two-factor, refresh, logout, validate, session) serves
// clients without cookies through the engine's one sign-in path.
//
// Build with -tags mana_omit_jwt to leave the plugin out.
package jwt
