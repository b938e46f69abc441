-- Watchers of issues and each user's notification inbox (docs/api.md, "Watching and
-- notifications"). Every write path records its history with `issue_events`; the trigger below
-- turns each statement's new history rows into automatic watching and notifications, in the same
-- transaction, so no writer has to call anything else. Mentions need the text, so they are
-- written by the handlers that have it (with the same "one per user and change" key).

CREATE TABLE issue_watchers (
    issue_id uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    user_id  uuid        NOT NULL,
    -- Why they watch: the first reason that made them (kept while they watch).
    reason   text        NOT NULL,
    since    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT issue_watchers_pkey PRIMARY KEY (issue_id, user_id),
    CONSTRAINT issue_watchers_reason_check
        CHECK (reason IN ('author', 'assignee', 'commenter', 'mentioned', 'manual'))
);

-- ListWatchers pages by (since, user_id).
CREATE INDEX issue_watchers_issue_since_idx ON issue_watchers (issue_id, since, user_id);
-- A removed member stops watching the project's issues.
CREATE INDEX issue_watchers_user_idx ON issue_watchers (user_id);

CREATE TABLE notifications (
    id          uuid        PRIMARY KEY,
    user_id     uuid        NOT NULL,
    -- The issue's project (no foreign key: the issue's cascade covers a project's deletion).
    project_id  uuid        NOT NULL,
    issue_id    uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    -- The issue's key, kept here (keys never change) so that reading the inbox joins nothing.
    project_key text        NOT NULL,
    issue_number bigint     NOT NULL,
    actor_id    uuid        NOT NULL,
    reason      text        NOT NULL,
    change_type text        NOT NULL,
    summary     text        NOT NULL,
    -- The transaction of the change: one notification per user, issue and change.
    change_xact bigint      NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    read_at     timestamptz,
    unread      boolean     GENERATED ALWAYS AS (read_at IS NULL) STORED,
    CONSTRAINT notifications_change_key UNIQUE (user_id, issue_id, change_xact),
    CONSTRAINT notifications_reason_check
        CHECK (reason IN ('assigned', 'mentioned', 'watching', 'status_changed'))
);

-- The inbox: unread first, then newest; one index range per page.
CREATE INDEX notifications_inbox_idx
    ON notifications (user_id, unread DESC, created_at DESC, id DESC);
-- The unread count, per project (an index-only scan).
CREATE INDEX notifications_unread_idx ON notifications (user_id, project_id) WHERE unread;
-- Deleting an issue, removing a member (by project), retention.
CREATE INDEX notifications_issue_idx ON notifications (issue_id);
CREATE INDEX notifications_project_user_idx ON notifications (project_id, user_id);
CREATE INDEX notifications_created_idx ON notifications (created_at);
CREATE INDEX notifications_read_idx ON notifications (read_at) WHERE read_at IS NOT NULL;

-- How strong a reason is: a change that gives a user several keeps the strongest.
CREATE FUNCTION notification_reason_rank(reason text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE reason
        WHEN 'assigned' THEN 4
        WHEN 'mentioned' THEN 3
        WHEN 'status_changed' THEN 2
        ELSE 1
    END
$$;

-- A history value as the id it names, or NULL when it is none: a writer's odd value must not
-- make its change fail here.
CREATE FUNCTION notification_uuid(value text) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN value ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        THEN value::uuid
    END
$$;

-- Text as one line of at most `width` characters. (PL/pgSQL rather than SQL functions: these
-- run once per history row inside the trigger, and PL/pgSQL keeps its plans for the session
-- where a non-inlined SQL function is planned again in every statement that calls it.)
CREATE FUNCTION notification_snippet(body text, width integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    line text := btrim(regexp_replace(coalesce(body, ''), '\s+', ' ', 'g'));
BEGIN
    IF length(line) > width THEN
        RETURN left(line, width - 1) || '…';
    END IF;
    RETURN line;
END
$$;

-- One history row in words, e.g. "status: open → resolved".
CREATE FUNCTION issue_event_summary(
    kind text, field text, old_value text, new_value text
) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    CASE
        WHEN kind = 'created' THEN
            RETURN 'created: ' || notification_snippet(new_value, 120);
        WHEN kind = 'comment_added' THEN
            RETURN 'commented: ' || notification_snippet(
                (SELECT c.body FROM comments c WHERE c.id = notification_uuid(new_value)), 120);
        WHEN kind = 'comment_removed' THEN
            RETURN 'deleted a comment';
        WHEN kind = 'assignee' AND new_value IS NULL THEN
            RETURN 'unassigned';
        WHEN kind = 'assignee' THEN
            RETURN 'assigned to ' || coalesce(
                (SELECT m.username FROM members m WHERE m.user_id = notification_uuid(new_value) LIMIT 1),
                'a user');
        WHEN field = 'description' THEN
            RETURN 'description edited';
        WHEN field = 'milestone_id' THEN
            RETURN 'milestone: '
                || coalesce((SELECT ms.title FROM milestones ms WHERE ms.id = notification_uuid(old_value)), 'none')
                || ' → '
                || coalesce((SELECT ms.title FROM milestones ms WHERE ms.id = notification_uuid(new_value)), 'none');
        WHEN field <> '' THEN
            RETURN field || ': '
                || notification_snippet(coalesce(nullif(old_value, ''), 'none'), 60) || ' → '
                || notification_snippet(coalesce(nullif(new_value, ''), 'none'), 60);
        ELSE
            RETURN replace(kind, '_', ' ');
    END CASE;
END
$$;

-- Set-based: one run per INSERT statement on issue_events, whatever its number of rows (a bulk
-- edit of 500 issues costs one join, not 500 loops).
CREATE FUNCTION notify_issue_events() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    xact bigint := pg_current_xact_id()::text::bigint;
BEGIN
    -- Automatic watching: the author of a new issue and its assignee, a new assignee, a
    -- commenter. Someone who watches already keeps their first reason.
    INSERT INTO issue_watchers (issue_id, user_id, reason, since)
    SELECT DISTINCT ON (w.issue_id, w.user_id) w.issue_id, w.user_id, w.reason, w.at
    FROM (
        SELECT e.issue_id, e.actor_id AS user_id, 'author' AS reason, e.created_at AS at, 1 AS pick
        FROM new_events e WHERE e.kind = 'created'
        UNION ALL
        SELECT e.issue_id, i.assignee_id, 'assignee', e.created_at, 2
        FROM new_events e JOIN issues i ON i.id = e.issue_id
        WHERE e.kind = 'created' AND i.assignee_id IS NOT NULL
        UNION ALL
        SELECT e.issue_id, notification_uuid(e.new_value), 'assignee', e.created_at, 2
        FROM new_events e WHERE e.kind = 'assignee' AND notification_uuid(e.new_value) IS NOT NULL
        UNION ALL
        SELECT e.issue_id, e.actor_id, 'commenter', e.created_at, 3
        FROM new_events e WHERE e.kind = 'comment_added'
    ) AS w
    ORDER BY w.issue_id, w.user_id, w.pick
    ON CONFLICT (issue_id, user_id) DO NOTHING;

    -- One notification per user and issue changed: the strongest reason, never to the actor.
    WITH changed AS (
        SELECT e.issue_id,
               (array_agg(e.actor_id ORDER BY e.id))[1] AS actor_id,
               max(e.created_at) AS at,
               bool_or(e.kind = 'status') AS status_changed,
               bool_or(e.kind = 'created') AS created,
               array_agg(notification_uuid(e.new_value)) FILTER (
                   WHERE e.kind = 'assignee' AND notification_uuid(e.new_value) IS NOT NULL) AS new_assignees,
               CASE
                   WHEN bool_or(e.kind = 'created') THEN 'issue.created'
                   WHEN bool_and(e.kind = 'comment_added') THEN 'comment.created'
                   WHEN bool_and(e.kind = 'comment_removed') THEN 'comment.deleted'
                   ELSE 'issue.updated'
               END AS change_type,
               notification_snippet(
                   string_agg(issue_event_summary(e.kind, e.field, e.old_value, e.new_value),
                              '; ' ORDER BY e.id),
                   300) AS summary
        FROM new_events e
        GROUP BY e.issue_id
    ),
    recipients AS (
        SELECT c.issue_id, w.user_id,
               CASE WHEN c.status_changed THEN 'status_changed' ELSE 'watching' END AS reason
        FROM changed c JOIN issue_watchers w ON w.issue_id = c.issue_id
        UNION ALL
        SELECT c.issue_id, a.user_id, 'assigned'
        FROM changed c CROSS JOIN LATERAL unnest(c.new_assignees) AS a (user_id)
        UNION ALL
        SELECT c.issue_id, i.assignee_id, 'assigned'
        FROM changed c JOIN issues i ON i.id = c.issue_id
        WHERE c.created AND i.assignee_id IS NOT NULL
    )
    INSERT INTO notifications (id, user_id, project_id, issue_id, project_key, issue_number,
                               actor_id, reason, change_type, summary, change_xact, created_at)
    SELECT DISTINCT ON (r.issue_id, r.user_id)
           gen_random_uuid(), r.user_id, i.project_id, r.issue_id, p.key, i.number, c.actor_id,
           r.reason, c.change_type, c.summary, xact, c.at
    FROM recipients r
    JOIN changed c ON c.issue_id = r.issue_id
    JOIN issues i ON i.id = r.issue_id
    JOIN projects p ON p.id = i.project_id
    WHERE r.user_id <> c.actor_id
    ORDER BY r.issue_id, r.user_id, notification_reason_rank(r.reason) DESC
    ON CONFLICT (user_id, issue_id, change_xact) DO UPDATE SET
        reason = CASE
            WHEN notification_reason_rank(EXCLUDED.reason)
                 > notification_reason_rank(notifications.reason)
            THEN EXCLUDED.reason ELSE notifications.reason END,
        summary = CASE
            WHEN position(EXCLUDED.summary IN notifications.summary) > 0 THEN notifications.summary
            ELSE notification_snippet(notifications.summary || '; ' || EXCLUDED.summary, 300) END,
        change_type = CASE
            WHEN notifications.change_type = EXCLUDED.change_type THEN notifications.change_type
            WHEN 'issue.created' IN (notifications.change_type, EXCLUDED.change_type)
            THEN 'issue.created'
            ELSE 'issue.updated' END;
    RETURN NULL;
END
$$;

CREATE TRIGGER issue_events_notify
    AFTER INSERT ON issue_events
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION notify_issue_events();

-- A member who leaves a project stops watching its issues and loses its notifications (reads
-- also check membership, so nothing shows even between the two).
CREATE FUNCTION forget_removed_members() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM issue_watchers w
    USING old_members o, issues i
    WHERE w.user_id = o.user_id AND i.id = w.issue_id AND i.project_id = o.project_id;
    DELETE FROM notifications n
    USING old_members o
    WHERE n.user_id = o.user_id AND n.project_id = o.project_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER members_forget_removed
    AFTER DELETE ON members
    REFERENCING OLD TABLE AS old_members
    FOR EACH STATEMENT EXECUTE FUNCTION forget_removed_members();
