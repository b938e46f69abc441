-- Relations between issues (docs/api.md, "Relations"). Each is stored once, in one direction:
-- `blocks` (source blocks target), `duplicates` (source duplicates target) and `relates_to`
-- (stored with the smaller id as source; it has no direction). Sub-issues are not rows here but
-- `issues.parent_id`: an issue has at most one parent, and a tree is walked by that column.
CREATE TABLE issue_relations (
    source_id  uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    target_id  uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    kind       text        NOT NULL,
    created_by uuid        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT issue_relations_pkey PRIMARY KEY (source_id, kind, target_id),
    CONSTRAINT issue_relations_kind_check CHECK (kind IN ('blocks', 'duplicates', 'relates_to')),
    CONSTRAINT issue_relations_not_self_check CHECK (source_id <> target_id)
);

-- The other side of each relation ("blocked by", "duplicated by").
CREATE INDEX issue_relations_target_idx ON issue_relations (target_id, kind, source_id);

ALTER TABLE issues
    ADD COLUMN parent_id uuid REFERENCES issues (id) ON DELETE SET NULL,
    ADD CONSTRAINT issues_parent_not_self_check CHECK (parent_id <> id);

-- An issue's sub-issues.
CREATE INDEX issues_parent_idx ON issues (parent_id, status) WHERE parent_id IS NOT NULL;
