-- Issue lists by due date and by estimate (docs/api.md, "Searching issues"), read like the other
-- orders: one ordered scan per (project, status). Issues without a value come last in both
-- directions, so each direction has its own key: the value (a due date as days since
-- 1970-01-01), or past the end of that direction when there is none. The list query writes
-- these expressions exactly so.
CREATE INDEX issues_project_status_due_asc_idx
    ON issues (project_id, status, (coalesce(due_on - DATE '1970-01-01', 2147483647)), id);
CREATE INDEX issues_project_status_due_desc_idx
    ON issues (project_id, status, (coalesce(due_on - DATE '1970-01-01', -2147483648)) DESC, id DESC);
CREATE INDEX issues_project_status_estimate_asc_idx
    ON issues (project_id, status, (coalesce(estimate, 2147483647)), id);
CREATE INDEX issues_project_status_estimate_desc_idx
    ON issues (project_id, status, (coalesce(estimate, -2147483648)) DESC, id DESC);

-- Saved views: a user's named query (and order) of a project's issues, seen by that user only.
CREATE TABLE saved_views (
    id         uuid        PRIMARY KEY,
    project_id uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL,
    name       text        NOT NULL,
    query      text        NOT NULL,
    sort       text        NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT saved_views_user_project_name_key UNIQUE (user_id, project_id, name)
);
