-- Encryption vault: one wrapped master key per user and an audit trail.
-- Both tables are under forced row-level security: a query sees only the
-- rows of the user named by the transaction's mana.user_id setting, and
-- the table owner is bound too. Superusers and BYPASSRLS roles are not
-- bound, so production must connect as an ordinary role.

-- +goose Up
CREATE TABLE encryption_vaults (
    user_id             text PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    wrapped_mk          bytea,
    wrap_iv             bytea,
    kek_id              text,
    format_version      integer NOT NULL DEFAULT 1,
    mk_check            bytea,
    recovery_wrapped_mk bytea,
    recovery_iv         bytea,
    recovery_set_at     timestamptz(3),
    zero_knowledge      boolean NOT NULL DEFAULT false,
    created_at          timestamptz(3) NOT NULL DEFAULT now(),
    updated_at          timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT encryption_vaults_has_wrap
        CHECK (wrapped_mk IS NOT NULL OR recovery_wrapped_mk IS NOT NULL),
    CONSTRAINT encryption_vaults_wrap_iv_pair
        CHECK ((recovery_wrapped_mk IS NULL) = (recovery_iv IS NULL)),
    CONSTRAINT encryption_vaults_zk_consistency
        CHECK (NOT zero_knowledge
               OR (recovery_wrapped_mk IS NOT NULL AND wrapped_mk IS NULL)),
    CONSTRAINT encryption_vaults_kek_wrap_shape
        CHECK ((wrapped_mk IS NULL AND wrap_iv IS NULL AND kek_id IS NULL)
               OR (coalesce(octet_length(wrapped_mk), 0) = 48
                   AND coalesce(octet_length(wrap_iv), 0) = 12
                   AND coalesce(kek_id, '') <> '')),
    CONSTRAINT encryption_vaults_recovery_shape
        CHECK (recovery_wrapped_mk IS NULL
               OR (octet_length(recovery_wrapped_mk) = 48
                   AND octet_length(recovery_iv) = 12
                   AND recovery_set_at IS NOT NULL)),
    CONSTRAINT encryption_vaults_mk_check_shape
        CHECK (mk_check IS NULL OR octet_length(mk_check) = 32),
    CONSTRAINT encryption_vaults_format_version CHECK (format_version >= 1)
);

CREATE TABLE encryption_vault_audit (
    id         text PRIMARY KEY,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action     text NOT NULL,
    outcome    text NOT NULL,
    ip_address text,
    user_agent text,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT encryption_vault_audit_outcome
        CHECK (outcome IN ('success', 'denied', 'error'))
);
CREATE INDEX encryption_vault_audit_user_id_created_at_idx
    ON encryption_vault_audit (user_id, created_at);

ALTER TABLE encryption_vaults ENABLE ROW LEVEL SECURITY;
ALTER TABLE encryption_vaults FORCE ROW LEVEL SECURITY;
CREATE POLICY encryption_vaults_owner ON encryption_vaults
    USING (user_id = current_setting('mana.user_id', true))
    WITH CHECK (user_id = current_setting('mana.user_id', true));

ALTER TABLE encryption_vault_audit ENABLE ROW LEVEL SECURITY;
ALTER TABLE encryption_vault_audit FORCE ROW LEVEL SECURITY;
CREATE POLICY encryption_vault_audit_owner ON encryption_vault_audit
    USING (user_id = current_setting('mana.user_id', true))
    WITH CHECK (user_id = current_setting('mana.user_id', true));

-- +goose Down
DROP TABLE encryption_vault_audit;
DROP TABLE encryption_vaults;
