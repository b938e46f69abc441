-- Planning (docs/api.md, "Milestones", "Resolution, due date, estimate"): milestones per project,
-- and four fields of an issue: why it was resolved or closed, when it is due, how big it is, and
-- the milestone it belongs to (at most one; deleting the milestone detaches its issues).
CREATE TABLE milestones (
    id          uuid        PRIMARY KEY,
    project_id  uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title       text        NOT NULL,
    description text        NOT NULL DEFAULT '',
    due_on      date,
    state       text        NOT NULL DEFAULT 'open',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    closed_at   timestamptz,
    CONSTRAINT milestones_project_title_key UNIQUE (project_id, title),
    CONSTRAINT milestones_state_check CHECK (state IN ('open', 'closed')),
    CONSTRAINT milestones_due_on_check CHECK (due_on BETWEEN '1900-01-01' AND '9999-12-31')
);

-- Listed by due date (none last), then title.
CREATE INDEX milestones_project_due_idx ON milestones (project_id, due_on ASC NULLS LAST, title, id);

ALTER TABLE issues
    ADD COLUMN resolution   text,
    ADD COLUMN due_on       date,
    ADD COLUMN estimate     integer,
    ADD COLUMN milestone_id uuid REFERENCES milestones (id) ON DELETE SET NULL,
    ADD CONSTRAINT issues_resolution_check
        CHECK (resolution IN ('fixed', 'wont_fix', 'duplicate', 'cannot_reproduce')),
    ADD CONSTRAINT issues_due_on_check CHECK (due_on BETWEEN '1900-01-01' AND '9999-12-31'),
    ADD CONSTRAINT issues_estimate_check CHECK (estimate >= 0);

-- A milestone's issues (its counts, its detachment on delete).
CREATE INDEX issues_milestone_idx ON issues (milestone_id, status) WHERE milestone_id IS NOT NULL;
