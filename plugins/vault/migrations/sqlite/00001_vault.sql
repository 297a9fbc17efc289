-- Encryption vault: one wrapped master key per user and an audit trail.
-- Timestamps are TEXT in db.TimeLayout, booleans INTEGER 0/1, keys BLOB.
-- SQLite has no row-level security; the code scopes every query by user.

-- +goose Up
CREATE TABLE encryption_vaults (
    user_id             TEXT NOT NULL PRIMARY KEY
                        REFERENCES users (id) ON DELETE CASCADE,
    wrapped_mk          BLOB,
    wrap_iv             BLOB,
    kek_id              TEXT,
    format_version      INTEGER NOT NULL DEFAULT 1,
    mk_check            BLOB,
    recovery_wrapped_mk BLOB,
    recovery_iv         BLOB,
    recovery_set_at     TEXT,
    zero_knowledge      INTEGER NOT NULL DEFAULT 0 CHECK (zero_knowledge IN (0, 1)),
    created_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT encryption_vaults_has_wrap
        CHECK (wrapped_mk IS NOT NULL OR recovery_wrapped_mk IS NOT NULL),
    CONSTRAINT encryption_vaults_wrap_iv_pair
        CHECK ((recovery_wrapped_mk IS NULL) = (recovery_iv IS NULL)),
    CONSTRAINT encryption_vaults_zk_consistency
        CHECK (zero_knowledge = 0
               OR (recovery_wrapped_mk IS NOT NULL AND wrapped_mk IS NULL)),
    CONSTRAINT encryption_vaults_kek_wrap_shape
        CHECK ((wrapped_mk IS NULL AND wrap_iv IS NULL AND kek_id IS NULL)
               OR (coalesce(length(wrapped_mk), 0) = 48
                   AND coalesce(length(wrap_iv), 0) = 12
                   AND coalesce(kek_id, '') <> '')),
    CONSTRAINT encryption_vaults_recovery_shape
        CHECK (recovery_wrapped_mk IS NULL
               OR (length(recovery_wrapped_mk) = 48
                   AND length(recovery_iv) = 12
                   AND recovery_set_at IS NOT NULL)),
    CONSTRAINT encryption_vaults_mk_check_shape
        CHECK (mk_check IS NULL OR length(mk_check) = 32),
    CONSTRAINT encryption_vaults_format_version CHECK (format_version >= 1)
) STRICT;

CREATE TABLE encryption_vault_audit (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action     TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT encryption_vault_audit_outcome
        CHECK (outcome IN ('success', 'denied', 'error'))
) STRICT;
CREATE INDEX encryption_vault_audit_user_id_created_at_idx
    ON encryption_vault_audit (user_id, created_at);

-- +goose Down
DROP TABLE encryption_vault_audit;
DROP TABLE encryption_vaults;
