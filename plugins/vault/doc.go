// Package vault is the encryption-vault plugin: custody of one master key
// (MK, 32 random bytes) per user, with which the browser encrypts the user's
// data. The MK is stored only wrapped with AES-256-GCM under the service's
// key-encryption key (KEK, MANA_AUTH_KEK), which never touches the database.
//
// The routes live under /api/v1/me/encryption-vault (WIRE.md §2.3). In
// zero-knowledge mode the KEK wrap is deleted and only a recovery wrap,
// built by the client under a key the server never sees, remains.
//
// Every route but /status writes a row to encryption_vault_audit in the
// transaction of the change it records. On PostgreSQL both tables are
// guarded by forced row-level security: every query runs in a transaction
// that first sets mana.user_id to the acting user.
//
// KEK rotation: wraps record the id of their KEK; previous KEKs
// (MANA_AUTH_KEK_PREVIOUS) still unwrap, /key rewraps lazily and
// Plugin.Rewrap (`mana-auth vault rewrap`) rewraps every vault in batches.
package vault
