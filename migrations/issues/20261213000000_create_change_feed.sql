-- The change feed (docs/api.md, "Change feed"). Every change to a project, its members, issues
-- and comments appends one row to `changes` in the change's own transaction, with the next
-- cursor of the project, taken from its `change_heads` row: that row lock orders the project's
-- writers, so cursors are gap-free and a reader never sees cursor n+1 committed before n.
CREATE TABLE change_heads (
    project_id     uuid   PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    last_cursor    bigint NOT NULL,
    -- Changes up to this cursor were pruned by retention: a client after an older cursor has
    -- missed some and must resynchronise.
    pruned_through bigint NOT NULL DEFAULT 0
);

CREATE TABLE changes (
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    cursor      bigint      NOT NULL,
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    -- The resource as the REST API shows it (its id only for a delete).
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    CONSTRAINT changes_pkey PRIMARY KEY (project_id, cursor)
);

-- Retention prunes by age.
CREATE INDEX changes_occurred_idx ON changes (occurred_at);

-- Events waiting to be published to the broker; the relay deletes a row once the broker
-- confirmed it. No foreign key: a deleted project's `project.deleted` event outlives it.
CREATE TABLE change_outbox (
    seq         bigserial   PRIMARY KEY,
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    project_key text        NOT NULL,
    cursor      bigint      NOT NULL,
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL
);
