// Package origin is mana-auth's one origin and callback-URL checker. Every
// route that reads an Origin or Referer header, answers CORS, or redirects to a
// client-supplied URL (callbackURL, redirectTo, errorCallbackURL,
// newUserCallbackURL) asks a Checker; no handler decides on its own.
//
// # Patterns
//
// A Checker is built from the base URL (its origin is always trusted) and a
// list of trusted entries, in Better Auth's pattern language:
//
//	https://app.mana.how       exact origin: scheme, host and port
//	*.mana.how                 host wildcard, on http and https
//	https://*.mana.how         host wildcard, on that scheme only
//	localhost:*                host wildcard with a port wildcard
//	192.168.*.*                digits-only wildcard: matches IPv4 literals only
//	myapp://                   custom scheme: any authority, any path
//	myapp://callback/auth      custom scheme: that authority, paths under /auth
//	exp://192.168.*.*:*/**     custom scheme with a wildcard authority
//
// The globs are '*' (any run of characters, dots included, possibly empty)
// and '?' (exactly one character). They apply to hosts and ports only; schemes
// and custom-scheme paths are literal, except that a trailing "/**" on a custom
// path means "any path".
//
// # Deliberate differences from Better Auth
//
// These close holes or turn silent no-ops into configuration errors:
//
//   - A scheme-less wildcard such as "*.mana.how" covers http and https only.
//     Better Auth matched it on any scheme, so "javascript://x.mana.how/..."
//     was trusted; a custom scheme must be listed explicitly.
//   - "*.mana.how" does not match "mana.how": the literal ".mana.how" suffix
//     needs at least one label before it, as with certificate wildcards. The
//     apex is often a different site (a marketing page), so it must be listed
//     on its own ("https://mana.how").
//   - A host wildcard must end in a fixed domain of at least two labels
//     ("*.mana.how", "app-*-team.vercel.app"); "*.com", "*mana.how" (which
//     would match evilmana.how) and "app.mana.*" are refused. The exceptions
//     are "*.localhost" and digits-only IPv4 wildcards.
//   - A wildcard without a port matches only the default port; write
//     "localhost:*" or "https://*.mana.how:*" to allow any port.
//   - URLs with userinfo ("https://evil@app.mana.how"), a backslash, a percent
//     sign in the authority, control characters, spaces or non-ASCII bytes are
//     never trusted, because browsers and Go parse such URLs differently.
//   - Entries that can never match (an origin with a path, a bare host without
//     a scheme), that trust every host ("*", "https://*"), or that name a
//     script-capable scheme (javascript:, data:, vbscript:, file:, blob:) are
//     rejected by New with an error naming the entry.
//   - Custom-scheme URLs must have the "scheme://" form; "myapp:/path" is not
//     recognised.
//
// Shortcoming: internationalised host names are not converted to punycode;
// write them as "xn--…" labels (browsers send Origin headers in that form) —
// a callback URL with a Unicode host is rejected, which is safe but strict.
//
// A Checker is immutable after New and safe for concurrent use. None of its
// methods panics on any input.
package origin
