// Package mana is the ecosystem glue: it initialises a new user's credits
// in mana-credits. The call never blocks or fails sign-up: it is queued in
// the core outbox inside the sign-up transaction and retried until
// mana-credits confirms.
package mana
