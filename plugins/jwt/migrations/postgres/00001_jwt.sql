-- The JWT plugin's signing keys, in Better Auth's jwks model (snake_case):
-- id is the JWS kid, public_key the public JWK as JSON text, private_key a
-- JSON string literal around the encrypted private JWK (so rows written by
-- Better Auth load as they are).
--
-- expires_at NULL marks the one key that signs; a retired key keeps
-- verifying and stays in /jwks until its expires_at, then it is pruned.

-- +goose Up
CREATE TABLE jwks (
    id          text PRIMARY KEY,
    public_key  text NOT NULL,
    private_key text NOT NULL,
    created_at  timestamptz(3) NOT NULL DEFAULT now(),
    expires_at  timestamptz(3),
    alg         text,
    crv         text,
    CONSTRAINT jwks_id_present CHECK (id <> ''),
    CONSTRAINT jwks_keys_present CHECK (public_key <> '' AND private_key <> ''),
    CONSTRAINT jwks_expiry_after_creation CHECK (expires_at IS NULL OR expires_at > created_at)
);
-- At most one signing key, so two instances rotating at once cannot both win.
CREATE UNIQUE INDEX jwks_one_signing_key ON jwks ((expires_at IS NULL))
    WHERE expires_at IS NULL;

-- +goose Down
DROP TABLE jwks;
