-- Two-factor authentication: the users.two_factor_enabled flag (Better
-- Auth's user.twoFactorEnabled) and one two_factors row per enrolled user.
-- secret and backup_codes hold Better Auth's XChaCha20-Poly1305 envelope;
-- secret is NULL for a user whose only method is the emailed code.

-- +goose Up
ALTER TABLE users ADD COLUMN two_factor_enabled boolean NOT NULL DEFAULT false;

CREATE TABLE two_factors (
    id                        text PRIMARY KEY,
    user_id                   text NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    secret                    text,
    backup_codes              text NOT NULL,
    verified                  boolean NOT NULL DEFAULT false,
    failed_verification_count integer NOT NULL DEFAULT 0,
    locked_until              timestamptz(3),
    last_totp_step            bigint NOT NULL DEFAULT 0,
    created_at                timestamptz(3) NOT NULL DEFAULT now(),
    updated_at                timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT two_factors_failed_nonneg CHECK (failed_verification_count >= 0),
    CONSTRAINT two_factors_step_nonneg CHECK (last_totp_step >= 0),
    CONSTRAINT two_factors_verified_has_secret CHECK (NOT verified OR secret IS NOT NULL),
    CONSTRAINT two_factors_backup_codes_nonempty CHECK (backup_codes <> '')
);

-- +goose Down
DROP TABLE two_factors;
ALTER TABLE users DROP COLUMN two_factor_enabled;
