-- Core schema: Better Auth's user, session, account and verification models
-- (snake_case, plural), plus our security-event log and job outbox.
-- Timestamps are TEXT in db.TimeLayout (UTC, milliseconds), so they compare
-- as text; booleans are INTEGER 0/1.

-- +goose Up
CREATE TABLE users (
    id             TEXT NOT NULL PRIMARY KEY,
    name           TEXT NOT NULL,
    email          TEXT NOT NULL UNIQUE,
    email_verified INTEGER NOT NULL DEFAULT 0 CHECK (email_verified IN (0, 1)),
    image          TEXT,
    role           TEXT NOT NULL DEFAULT 'user',
    created_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at     TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT users_email_lower CHECK (email = lower(email) AND email <> '')
) STRICT;

CREATE TABLE sessions (
    id            TEXT NOT NULL PRIMARY KEY,
    token         TEXT NOT NULL UNIQUE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at    TEXT NOT NULL,
    created_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ip_address    TEXT,
    user_agent    TEXT,
    dont_remember INTEGER NOT NULL DEFAULT 0 CHECK (dont_remember IN (0, 1))
) STRICT;
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE accounts (
    id                       TEXT NOT NULL PRIMARY KEY,
    account_id               TEXT NOT NULL,
    provider_id              TEXT NOT NULL,
    user_id                  TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_token             TEXT,
    refresh_token            TEXT,
    id_token                 TEXT,
    access_token_expires_at  TEXT,
    refresh_token_expires_at TEXT,
    scope                    TEXT,
    password                 TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT accounts_provider_account_key UNIQUE (provider_id, account_id)
) STRICT;
CREATE INDEX accounts_user_id_idx ON accounts (user_id);

CREATE TABLE verifications (
    id         TEXT NOT NULL PRIMARY KEY,
    identifier TEXT NOT NULL UNIQUE,
    value      TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX verifications_expires_at_idx ON verifications (expires_at);

CREATE TABLE security_events (
    id         TEXT NOT NULL PRIMARY KEY,
    user_id    TEXT REFERENCES users (id) ON DELETE CASCADE,
    event      TEXT NOT NULL,
    outcome    TEXT NOT NULL,
    ip_address TEXT,
    user_agent TEXT,
    detail     TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX security_events_user_id_created_at_idx
    ON security_events (user_id, created_at);
CREATE INDEX security_events_created_at_idx ON security_events (created_at);

CREATE TABLE outbox (
    id              TEXT NOT NULL PRIMARY KEY,
    kind            TEXT NOT NULL,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    last_error      TEXT,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
) STRICT;
CREATE INDEX outbox_next_attempt_at_idx ON outbox (next_attempt_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE security_events;
DROP TABLE verifications;
DROP TABLE accounts;
DROP TABLE sessions;
DROP TABLE users;
