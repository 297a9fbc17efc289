// Package gdpr is GDPR self-service across the mana ecosystem (WIRE.md
// §2.2): a summary of what is stored about a user, a download of all of
// it, and erasure everywhere, plus the same summary and erasure for
// administrators (§2.4).
//
// The plugin owns no table. Local data comes from the core (user,
// sessions, accounts, security log) and from every other plugin through
// core.UserDataProvider, so it never imports a plugin. Remote data comes
// from mana-credits over HTTP (MANA_CREDITS_URL, MANA_SERVICE_KEY) and from
// the mana-sync database (SYNC_DATABASE_URL). A remote source that is down
// turns its section into {"unavailable": true} and the answer partial.
//
// Erasure deletes the auth data in one transaction (core.Engine.DeleteUser)
// and, in that same transaction, records one outbox job per remote service
// that is owed an erasure. The plugin is the core.OutboxHandler for those
// jobs: the engine's outbox worker retries each until the service
// confirms. Nothing remote is reported erased before it is.
package gdpr
