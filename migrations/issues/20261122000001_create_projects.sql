-- Projects and their members. `next_issue_number` is the per-project counter: creating an issue
-- increments it in the same transaction (a row lock), so two issues never share a key.
CREATE TABLE projects (
    id                uuid        PRIMARY KEY,
    key               text        NOT NULL,
    name              text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    next_issue_number bigint      NOT NULL DEFAULT 1,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projects_key_key UNIQUE (key)
);

CREATE TABLE members (
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    -- Cached from identity when the member is added, for listing without a round trip.
    username   text        NOT NULL,
    role       text        NOT NULL,
    added_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_pkey PRIMARY KEY (project_id, user_id),
    CONSTRAINT members_role_check CHECK (role IN ('viewer', 'reporter', 'maintainer', 'owner'))
);

-- "Projects I am a member of".
CREATE INDEX members_user_idx ON members (user_id, project_id);
