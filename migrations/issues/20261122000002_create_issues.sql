-- Issues. Priority is stored as its rank (1 low … 4 urgent) so that sorting is by urgency.
CREATE TABLE issues (
    id          uuid        PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    number      bigint      NOT NULL,
    title       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    status      text        NOT NULL DEFAULT 'open',
    priority    smallint    NOT NULL DEFAULT 2,
    labels      text[]      NOT NULL DEFAULT '{}',
    author_id   uuid        NOT NULL,
    assignee_id uuid,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,
    version     bigint      NOT NULL DEFAULT 1,
    search      tsvector    GENERATED ALWAYS AS (
                    to_tsvector('simple', title || ' ' || description)
                ) STORED,
    CONSTRAINT issues_project_number_key UNIQUE (project_id, number),
    CONSTRAINT issues_status_check CHECK (status IN ('open', 'in_progress', 'resolved', 'closed')),
    CONSTRAINT issues_priority_check CHECK (priority BETWEEN 1 AND 4)
);

-- One index per supported order, each ending in id so keyset pagination is exact.
CREATE INDEX issues_project_updated_idx ON issues (project_id, updated_at DESC, id DESC);
CREATE INDEX issues_project_created_idx ON issues (project_id, created_at DESC, id DESC);
CREATE INDEX issues_project_priority_idx ON issues (project_id, priority DESC, id DESC);
-- Filters that are selective enough to drive a plan on their own.
CREATE INDEX issues_project_status_updated_idx ON issues (project_id, status, updated_at DESC, id DESC);
CREATE INDEX issues_project_priority_rank_updated_idx ON issues (project_id, priority, updated_at DESC, id DESC);
CREATE INDEX issues_assignee_updated_idx ON issues (assignee_id, updated_at DESC, id DESC);
CREATE INDEX issues_author_updated_idx ON issues (author_id, updated_at DESC, id DESC);
CREATE INDEX issues_labels_idx ON issues USING gin (labels);
CREATE INDEX issues_search_idx ON issues USING gin (search);
