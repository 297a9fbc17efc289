-- Organization plugin: Better Auth's organization, member, invitation, team,
-- teamMember and organizationRole models (snake_case, plural), and the
-- session's active organization and team. Timestamps are TEXT in
-- db.TimeLayout (UTC, milliseconds).

-- +goose Up
CREATE TABLE organizations (
    id         TEXT NOT NULL PRIMARY KEY,
    name       TEXT NOT NULL,
    slug       TEXT NOT NULL,
    logo       TEXT,
    metadata   TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT organizations_name_nonempty CHECK (name <> ''),
    CONSTRAINT organizations_slug_nonempty CHECK (slug <> '')
) STRICT;

CREATE TABLE members (
    id              TEXT NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL DEFAULT 'member',
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT members_organization_user_key UNIQUE (organization_id, user_id),
    CONSTRAINT members_role_nonempty CHECK (role <> '')
) STRICT;
CREATE INDEX members_user_id_idx ON members (user_id);

CREATE TABLE invitations (
    id              TEXT NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           TEXT NOT NULL,
    role            TEXT NOT NULL,
    team_id         TEXT,
    status          TEXT NOT NULL DEFAULT 'pending',
    expires_at      TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    inviter_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT invitations_status_check
        CHECK (status IN ('pending', 'accepted', 'rejected', 'canceled')),
    CONSTRAINT invitations_email_lower CHECK (email = lower(email) AND email <> ''),
    CONSTRAINT invitations_role_nonempty CHECK (role <> '')
) STRICT;
CREATE INDEX invitations_organization_id_status_idx ON invitations (organization_id, status);
CREATE INDEX invitations_email_idx ON invitations (email);
CREATE INDEX invitations_inviter_id_idx ON invitations (inviter_id);

CREATE TABLE teams (
    id              TEXT NOT NULL PRIMARY KEY,
    name            TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT,
    CONSTRAINT teams_name_nonempty CHECK (name <> '')
) STRICT;
CREATE INDEX teams_organization_id_idx ON teams (organization_id);

CREATE TABLE team_members (
    id         TEXT NOT NULL PRIMARY KEY,
    team_id    TEXT NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT team_members_team_user_key UNIQUE (team_id, user_id)
) STRICT;
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

-- Roles defined at run time per organization. A role name is one entry of
-- a comma-joined member role, so it is lower case and holds no comma.
CREATE TABLE organization_roles (
    id              TEXT NOT NULL PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    permission      TEXT NOT NULL,
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at      TEXT,
    CONSTRAINT organization_roles_organization_role_key UNIQUE (organization_id, role),
    CONSTRAINT organization_roles_role_name
        CHECK (role = lower(role) AND role <> '' AND instr(role, ',') = 0)
) STRICT;

ALTER TABLE sessions ADD COLUMN active_organization_id TEXT;
ALTER TABLE sessions ADD COLUMN active_team_id TEXT;
CREATE INDEX sessions_active_organization_id_idx ON sessions (active_organization_id);
CREATE INDEX sessions_active_team_id_idx ON sessions (active_team_id);

-- +goose Down
DROP INDEX sessions_active_team_id_idx;
DROP INDEX sessions_active_organization_id_idx;
ALTER TABLE sessions DROP COLUMN active_team_id;
ALTER TABLE sessions DROP COLUMN active_organization_id;
DROP TABLE organization_roles;
DROP TABLE team_members;
DROP TABLE teams;
DROP TABLE invitations;
DROP TABLE members;
DROP TABLE organizations;
