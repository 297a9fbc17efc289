-- Admin: users.access_tier, the user's access tier (one of ACCESS_TIERS).
-- NULL means the default tier, the first of ACCESS_TIERS, resolved when it
-- is read, so a changed ACCESS_TIERS moves every default user along.

-- +goose Up
ALTER TABLE users ADD COLUMN access_tier TEXT
    CONSTRAINT users_access_tier_nonempty CHECK (access_tier IS NULL OR access_tier <> '');

-- +goose Down
ALTER TABLE users DROP COLUMN access_tier;
