-- Core schema: Better Auth's user, session, account and verification models
-- (snake_case, plural), plus our security-event log and job outbox.

-- +goose Up
CREATE TABLE users (
    id             text PRIMARY KEY,
    name           text NOT NULL,
    email          text NOT NULL UNIQUE,
    email_verified boolean NOT NULL DEFAULT false,
    image          text,
    role           text NOT NULL DEFAULT 'user',
    created_at     timestamptz(3) NOT NULL DEFAULT now(),
    updated_at     timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT users_email_lower CHECK (email = lower(email) AND email <> '')
);

CREATE TABLE sessions (
    id            text PRIMARY KEY,
    token         text NOT NULL UNIQUE,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at    timestamptz(3) NOT NULL,
    created_at    timestamptz(3) NOT NULL DEFAULT now(),
    updated_at    timestamptz(3) NOT NULL DEFAULT now(),
    ip_address    text,
    user_agent    text,
    dont_remember boolean NOT NULL DEFAULT false
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);

CREATE TABLE accounts (
    id                       text PRIMARY KEY,
    account_id               text NOT NULL,
    provider_id              text NOT NULL,
    user_id                  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access_token             text,
    refresh_token            text,
    id_token                 text,
    access_token_expires_at  timestamptz(3),
    refresh_token_expires_at timestamptz(3),
    scope                    text,
    password                 text,
    created_at               timestamptz(3) NOT NULL DEFAULT now(),
    updated_at               timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT accounts_provider_account_key UNIQUE (provider_id, account_id)
);
CREATE INDEX accounts_user_id_idx ON accounts (user_id);

CREATE TABLE verifications (
    id         text PRIMARY KEY,
    identifier text NOT NULL UNIQUE,
    value      text NOT NULL,
    expires_at timestamptz(3) NOT NULL,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    updated_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX verifications_expires_at_idx ON verifications (expires_at);

CREATE TABLE security_events (
    id         text PRIMARY KEY,
    user_id    text REFERENCES users (id) ON DELETE CASCADE,
    event      text NOT NULL,
    outcome    text NOT NULL,
    ip_address text,
    user_agent text,
    detail     text,
    created_at timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX security_events_user_id_created_at_idx
    ON security_events (user_id, created_at);
CREATE INDEX security_events_created_at_idx ON security_events (created_at);

CREATE TABLE outbox (
    id              text PRIMARY KEY,
    kind            text NOT NULL,
    payload         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz(3) NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz(3) NOT NULL DEFAULT now()
);
CREATE INDEX outbox_next_attempt_at_idx ON outbox (next_attempt_at);

-- +goose Down
DROP TABLE outbox;
DROP TABLE security_events;
DROP TABLE verifications;
DROP TABLE accounts;
DROP TABLE sessions;
DROP TABLE users;
