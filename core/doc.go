// Package core is mana-auth's engine: users, credential accounts, sessions,
// verification tokens, cookies, password policy and the security log, and
// the Better Auth core endpoints at /api/auth that sit on them.
//
// Everything else is a plugin. The contract is in plugin.go: a plugin has an
// ID and implements whichever capabilities it needs (routes, migrations,
// endpoint hooks, events, sign-in gates, user fields, user data, metrics,
// rate rules, lifecycle hooks, outbox jobs); the engine discovers them by
// type assertion. The core never imports a plugin, and plugins never import
// each other; where they cooperate they do so through interfaces declared
// here (ChallengeVerifier, UserDataProvider, AccountAdoptHook, …).
//
// Security rules live in one place each: the one sign-in path
// (SignInPassword → SignIn → CompleteSignIn), one cookie builder (Cookies),
// one password policy (CheckNewPassword), one-time secrets consumed by a
// conditional statement (ConsumeVerification), one service-key check
// (CheckServiceKey). The only error whose text reaches a client is
// *APIError; storage errors become 503 (database away) or a bare 500.
//
// An Engine is safe for concurrent use once Init has returned.
package core
