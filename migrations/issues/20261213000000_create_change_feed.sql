-- The change feed (docs/api.md, "Change feed"). Every change to a project, its members, issues
-- and comments inserts one row into `changes` in the change's own transaction, without a cursor:
-- writers take no lock for it. The sequencer (one at a time, under an advisory lock) then gives
-- the committed rows their project's next cursors from `change_heads`, and copies them to the
-- outbox, in one transaction: cursors are gap-free, and a reader never sees cursor n+1 before n.
CREATE TABLE change_heads (
    project_id     uuid   PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    last_cursor    bigint NOT NULL,
    -- Changes up to this cursor were pruned by retention: a client after an older cursor has
    -- missed some and must resynchronise.
    pruned_through bigint NOT NULL DEFAULT 0
);

CREATE TABLE changes (
    seq         bigserial   PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    -- NULL until the sequencer numbers the row.
    cursor      bigint,
    id          uuid        NOT NULL,
    type        text        NOT NULL,
    -- The resource as the REST API shows it (its id only for a delete).
    data        jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL,
    CONSTRAINT changes_project_cursor_key UNIQUE (project_id, cursor)
);

-- What the sequencer has still to number.
CREATE INDEX changes_unsequenced_idx ON changes (project_id, seq) WHERE cursor IS NULL;
-- Retention prunes by age. Rows arrive in time order, so a BRIN index finds old ones at a
-- fraction of a B-tree's cost on every write.
CREATE INDEX changes_occurred_idx ON changes USING brin (occurred_at);

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
