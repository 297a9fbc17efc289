-- Two-factor authentication: the users.two_factor_enabled flag (Better
-- Auth's user.twoFactorEnabled) and one two_factors row per enrolled user.
-- secret and backup_codes hold Better Auth's XChaCha20-Poly1305 envelope;
-- secret is NULL for a user whose only method is the emailed code.
-- Timestamps are TEXT in db.TimeLayout; booleans INTEGER 0/1.

-- +goose Up
ALTER TABLE users ADD COLUMN two_factor_enabled INTEGER NOT NULL DEFAULT 0
    CHECK (two_factor_enabled IN (0, 1));

CREATE TABLE two_factors (
    id                        TEXT NOT NULL PRIMARY KEY,
    user_id                   TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    secret                    TEXT,
    backup_codes              TEXT NOT NULL,
    verified                  INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
    failed_verification_count INTEGER NOT NULL DEFAULT 0,
    locked_until              TEXT,
    last_totp_step            INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT two_factors_failed_nonneg CHECK (failed_verification_count >= 0),
    CONSTRAINT two_factors_step_nonneg CHECK (last_totp_step >= 0),
    CONSTRAINT two_factors_verified_has_secret CHECK (verified = 0 OR secret IS NOT NULL),
    CONSTRAINT two_factors_backup_codes_nonempty CHECK (backup_codes <> '')
) STRICT;

-- +goose Down
DROP TABLE two_factors;
ALTER TABLE users DROP COLUMN two_factor_enabled;
