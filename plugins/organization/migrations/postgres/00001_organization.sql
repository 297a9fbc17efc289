-- Organization plugin: Better Auth's organization, member, invitation, team,
-- teamMember and organizationRole models (snake_case, plural), and the
-- session's active organization and team.

-- +goose Up
CREATE TABLE organizations (
    id         text PRIMARY KEY,
    name       text NOT NULL,
    slug       text NOT NULL,
    logo       text,
    metadata   text,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT organizations_slug_key UNIQUE (slug),
    CONSTRAINT organizations_name_nonempty CHECK (name <> ''),
    CONSTRAINT organizations_slug_nonempty CHECK (slug <> '')
);

CREATE TABLE members (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            text NOT NULL DEFAULT 'member',
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT members_organization_user_key UNIQUE (organization_id, user_id),
    CONSTRAINT members_role_nonempty CHECK (role <> '')
);
CREATE INDEX members_user_id_idx ON members (user_id);

CREATE TABLE invitations (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    email           text NOT NULL,
    role            text NOT NULL,
    team_id         text,
    status          text NOT NULL DEFAULT 'pending',
    expires_at      timestamptz(3) NOT NULL,
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    inviter_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT invitations_status_check
        CHECK (status IN ('pending', 'accepted', 'rejected', 'canceled')),
    CONSTRAINT invitations_email_lower CHECK (email = lower(email) AND email <> ''),
    CONSTRAINT invitations_role_nonempty CHECK (role <> '')
);
CREATE INDEX invitations_organization_id_status_idx ON invitations (organization_id, status);
CREATE INDEX invitations_email_idx ON invitations (email);
CREATE INDEX invitations_inviter_id_idx ON invitations (inviter_id);

CREATE TABLE teams (
    id              text PRIMARY KEY,
    name            text NOT NULL,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    updated_at      timestamptz(3),
    CONSTRAINT teams_name_nonempty CHECK (name <> '')
);
CREATE INDEX teams_organization_id_idx ON teams (organization_id);

CREATE TABLE team_members (
    id         text PRIMARY KEY,
    team_id    text NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id    text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at timestamptz(3) NOT NULL DEFAULT now(),
    CONSTRAINT team_members_team_user_key UNIQUE (team_id, user_id)
);
CREATE INDEX team_members_user_id_idx ON team_members (user_id);

-- Roles defined at run time per organization. A role name is one entry of
-- a comma-joined member role, so it is lower case and holds no comma.
CREATE TABLE organization_roles (
    id              text PRIMARY KEY,
    organization_id text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    role            text NOT NULL,
    permission      text NOT NULL,
    created_at      timestamptz(3) NOT NULL DEFAULT now(),
    updated_at      timestamptz(3),
    CONSTRAINT organization_roles_organization_role_key UNIQUE (organization_id, role),
    CONSTRAINT organization_roles_role_name
        CHECK (role = lower(role) AND role <> '' AND position(',' IN role) = 0)
);

ALTER TABLE sessions ADD COLUMN active_organization_id text;
ALTER TABLE sessions ADD COLUMN active_team_id text;
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
