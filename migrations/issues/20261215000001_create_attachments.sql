-- Attachments of issues and comments (docs/api.md, "Attachments"). The bytes live in the object
-- store under `object_key`; a row is `pending` from the upload request until the confirm has
-- verified the object, then `ready`. Rows go with their issue, comment or project (cascades),
-- and every deleted row leaves its objects in `attachment_object_deletions` in the same
-- transaction, for the sweeper to delete from the store: an object is never orphaned by a
-- crash between the two.
CREATE TABLE attachments (
    id               uuid        PRIMARY KEY,
    project_id       uuid        NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    issue_id         uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    comment_id       uuid        REFERENCES comments (id) ON DELETE CASCADE,
    uploaded_by      uuid        NOT NULL,
    -- Sanitized at the request (no path, control characters or bidirectional overrides).
    file_name        text        NOT NULL,
    declared_type    text        NOT NULL,
    -- The sniffed type once ready; the declared one while pending.
    content_type     text        NOT NULL,
    size             bigint      NOT NULL CHECK (size > 0),
    -- Lower-case hex; the declared digest while pending (if any), the computed one once ready.
    sha256           text,
    state            text        NOT NULL CHECK (state IN ('pending', 'ready')),
    object_key       text        NOT NULL UNIQUE,
    thumbnail_state  text        NOT NULL DEFAULT 'none'
                                 CHECK (thumbnail_state IN ('none', 'ready', 'refused')),
    thumbnail_key    text,
    thumbnail_width  integer,
    thumbnail_height integer,
    created_at       timestamptz NOT NULL DEFAULT now(),
    confirmed_at     timestamptz,
    -- A pending upload is swept (row and object) after this.
    expires_at       timestamptz,
    CONSTRAINT attachments_pending_expires CHECK ((state = 'pending') = (expires_at IS NOT NULL))
);

CREATE INDEX attachments_issue_idx ON attachments (issue_id, created_at, id);
CREATE INDEX attachments_comment_idx ON attachments (comment_id) WHERE comment_id IS NOT NULL;
CREATE INDEX attachments_project_idx ON attachments (project_id);
CREATE INDEX attachments_pending_expiry_idx ON attachments (expires_at) WHERE state = 'pending';

-- Objects to delete from the store, written by the trigger below whenever an attachment row
-- goes (deleted, swept, or cascaded from its issue, comment or project).
CREATE TABLE attachment_object_deletions (
    object_key  text        PRIMARY KEY,
    enqueued_at timestamptz NOT NULL DEFAULT now()
);

-- Per-project usage against the quota, kept by the trigger; the row is also what uploads to a
-- project lock to check the quota one at a time.
CREATE TABLE attachment_usage (
    project_id    uuid   PRIMARY KEY REFERENCES projects (id) ON DELETE CASCADE,
    used_bytes    bigint NOT NULL DEFAULT 0,
    pending_bytes bigint NOT NULL DEFAULT 0,
    ready_count   bigint NOT NULL DEFAULT 0
);

-- Confirmed attachments of an issue and of its comments, on the issue (lists and reports read
-- it without a join).
ALTER TABLE issues ADD COLUMN attachment_count integer NOT NULL DEFAULT 0;

CREATE FUNCTION attachments_bookkeeping() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_ready boolean := TG_OP <> 'INSERT' AND OLD.state = 'ready';
    new_ready boolean := TG_OP <> 'DELETE' AND NEW.state = 'ready';
    row_project uuid;
    row_issue uuid;
    row_size bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        row_project := OLD.project_id; row_issue := OLD.issue_id; row_size := OLD.size;
        INSERT INTO attachment_object_deletions (object_key) VALUES (OLD.object_key)
            ON CONFLICT DO NOTHING;
        IF OLD.thumbnail_key IS NOT NULL THEN
            INSERT INTO attachment_object_deletions (object_key) VALUES (OLD.thumbnail_key)
                ON CONFLICT DO NOTHING;
        END IF;
    ELSE
        row_project := NEW.project_id; row_issue := NEW.issue_id; row_size := NEW.size;
    END IF;
    IF old_ready = new_ready AND TG_OP = 'UPDATE' THEN
        RETURN NULL;
    END IF;
    -- The usage row is made with the project's first attachment (never on delete: when a
    -- project delete cascades here, the project, its usage row and the issue are gone already
    -- and the updates below touch nothing).
    IF TG_OP = 'INSERT' THEN
        INSERT INTO attachment_usage (project_id) VALUES (row_project) ON CONFLICT DO NOTHING;
    END IF;
    UPDATE attachment_usage SET
        used_bytes    = used_bytes
                        + CASE WHEN new_ready THEN row_size ELSE 0 END
                        - CASE WHEN old_ready THEN row_size ELSE 0 END,
        pending_bytes = pending_bytes
                        + CASE WHEN TG_OP <> 'DELETE' AND NOT new_ready THEN row_size ELSE 0 END
                        - CASE WHEN TG_OP <> 'INSERT' AND NOT old_ready THEN row_size ELSE 0 END,
        ready_count   = ready_count
                        + CASE WHEN new_ready THEN 1 ELSE 0 END
                        - CASE WHEN old_ready THEN 1 ELSE 0 END
    WHERE project_id = row_project;
    IF old_ready <> new_ready THEN
        UPDATE issues SET attachment_count = attachment_count + CASE WHEN new_ready THEN 1 ELSE -1 END
        WHERE id = row_issue;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER attachments_bookkeeping
    AFTER INSERT OR UPDATE OF state OR DELETE ON attachments
    FOR EACH ROW EXECUTE FUNCTION attachments_bookkeeping();
