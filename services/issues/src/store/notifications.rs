//! Watchers of issues and the notification inbox. Most notifications are written by the
//! `issue_events_notify` trigger (migration `…0030`); mentions are written here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use swatter_common::pagination::CursorTime;
use uuid::Uuid;

use crate::domain::NotificationReason;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WatcherRow {
    pub user_id: Uuid,
    pub reason: String,
    pub since: DateTime<Utc>,
}

/// Makes `user_id` watch the issue (`manual`); someone already watching keeps their reason.
pub async fn watch_issue(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO issue_watchers (issue_id, user_id, reason) VALUES ($1, $2, 'manual')
         ON CONFLICT (issue_id, user_id) DO NOTHING",
    )
    .bind(issue_id)
    .bind(user_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn unwatch_issue(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM issue_watchers WHERE issue_id = $1 AND user_id = $2")
        .bind(issue_id)
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Watchers of an issue, longest-watching first, after `(since, user_id)`.
pub async fn list_watchers(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<WatcherRow>> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("SELECT user_id, reason, since FROM issue_watchers WHERE issue_id = ");
    q.push_bind(issue_id);
    if let Some((since, user_id)) = after {
        q.push(" AND (since, user_id) > (")
            .push_bind(since)
            .push(", ")
            .push_bind(user_id)
            .push(")");
    }
    q.push(" ORDER BY since, user_id LIMIT ").push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// A change that mentions people: what the notification of each says.
pub struct Mention<'a> {
    pub project_id: Uuid,
    pub issue_id: Uuid,
    pub actor_id: Uuid,
    pub change_type: &'a str,
    pub summary: &'a str,
}

/// Notifies the members of the project among `usernames` (others are ignored) of `mention`, and
/// makes them watch the issue. Within the change's transaction a user already notified of it
/// keeps one notification, whose reason becomes `mentioned` unless it was stronger. The actor
/// is never notified. Returns how many were notified.
pub async fn notify_mentions(
    db: impl PgExecutor<'_>,
    mention: &Mention<'_>,
    usernames: &[String],
) -> sqlx::Result<u64> {
    if usernames.is_empty() {
        return Ok(0);
    }
    let notified = sqlx::query(
        "WITH mentioned AS (
             SELECT user_id FROM members
             WHERE project_id = $1 AND username = ANY($2) AND user_id <> $4
         ),
         watching AS (
             INSERT INTO issue_watchers (issue_id, user_id, reason)
             SELECT $3, user_id, 'mentioned' FROM mentioned
             ON CONFLICT (issue_id, user_id) DO NOTHING
         )
         INSERT INTO notifications (id, user_id, project_id, issue_id, project_key,
                                    issue_number, actor_id, reason, change_type, summary,
                                    change_xact)
         SELECT gen_random_uuid(), m.user_id, $1, $3, p.key, i.number, $4, 'mentioned', $5, $6,
                pg_current_xact_id()::text::bigint
         FROM mentioned m
         JOIN issues i ON i.id = $3
         JOIN projects p ON p.id = i.project_id
         ON CONFLICT (user_id, issue_id, change_xact) DO UPDATE SET
             reason = CASE
                 WHEN notification_reason_rank(notifications.reason)
                      >= notification_reason_rank('mentioned')
                 THEN notifications.reason ELSE 'mentioned' END",
    )
    .bind(mention.project_id)
    .bind(usernames)
    .bind(mention.issue_id)
    .bind(mention.actor_id)
    .bind(mention.change_type)
    .bind(mention.summary)
    .execute(db)
    .await?
    .rows_affected();
    Ok(notified)
}

/// Whose inbox is read and what of it they may see now: members see their projects' (an admin
/// every project's), and a personal access token limited to projects sees only those.
pub struct Reader<'a> {
    pub user_id: Uuid,
    pub admin: bool,
    pub projects: Option<&'a [String]>,
}

impl Reader<'_> {
    /// The conditions on `n` (notifications) that keep what the reader may see.
    fn push_visible(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push(" n.user_id = ").push_bind(self.user_id);
        if !self.admin {
            q.push(
                " AND EXISTS (SELECT 1 FROM members m
                   WHERE m.project_id = n.project_id AND m.user_id = n.user_id)",
            );
        }
        if let Some(keys) = self.projects {
            q.push(" AND n.project_key = ANY(")
                .push_bind(keys.to_vec())
                .push(")");
        }
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NotificationRow {
    pub id: Uuid,
    pub reason: NotificationReason,
    pub project_key: String,
    pub issue_number: i64,
    pub actor_id: Uuid,
    pub change_type: String,
    pub summary: String,
    pub unread: bool,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

const NOTIFICATION_COLUMNS: &str = "n.id, n.reason, n.project_key, n.issue_number, n.actor_id,
     n.change_type, n.summary, n.unread, n.created_at, n.read_at";

/// Where a page of the inbox starts: after this row in the order unread first, then newest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InboxCursor {
    unread: bool,
    at: CursorTime,
    id: Uuid,
}

impl InboxCursor {
    pub fn after(row: &NotificationRow) -> Self {
        InboxCursor {
            unread: row.unread,
            at: row.created_at.into(),
            id: row.id,
        }
    }
}

/// What an inbox page holds.
pub struct InboxFilter<'a> {
    pub reasons: &'a [NotificationReason],
    pub unread_only: bool,
}

/// A page of the reader's inbox: unread first, then newest first. Each shape of filter is its own
/// statement, so every page is one range of `notifications_inbox_idx`.
pub async fn list_notifications(
    db: impl PgExecutor<'_>,
    reader: &Reader<'_>,
    filter: &InboxFilter<'_>,
    after: Option<&InboxCursor>,
    limit: i64,
) -> sqlx::Result<Vec<NotificationRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "SELECT {NOTIFICATION_COLUMNS} FROM notifications n WHERE"
    ));
    reader.push_visible(&mut q);
    if filter.unread_only {
        q.push(" AND n.unread");
    }
    if !filter.reasons.is_empty() {
        q.push(" AND n.reason = ANY(")
            .push_bind(filter.reasons.to_vec())
            .push(")");
    }
    if let Some(cursor) = after {
        q.push(" AND (n.unread, n.created_at, n.id) < (")
            .push_bind(cursor.unread)
            .push(", ")
            .push_bind(cursor.at.get())
            .push(", ")
            .push_bind(cursor.id)
            .push(")");
    }
    q.push(" ORDER BY n.unread DESC, n.created_at DESC, n.id DESC LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// The unread count stops here: a client shows "999+" beyond (one index range of at most this
/// many entries, however large a backlog is).
pub const UNREAD_COUNT_CAP: i64 = 1000;

/// Unread notifications the reader may see, up to [`UNREAD_COUNT_CAP`]. The projects the reader
/// may see are worked out first, so the count is one index-only range of
/// `notifications_unread_idx`.
pub async fn count_unread(db: impl PgExecutor<'_>, reader: &Reader<'_>) -> sqlx::Result<i64> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "SELECT count(*) FROM (SELECT 1 FROM notifications n WHERE n.unread AND n.user_id = ",
    );
    q.push_bind(reader.user_id);
    match (reader.admin, reader.projects) {
        (true, None) => {}
        (true, Some(keys)) => {
            q.push(" AND n.project_id = ANY(ARRAY(SELECT id FROM projects WHERE key = ANY(")
                .push_bind(keys.to_vec())
                .push(")))");
        }
        (false, keys) => {
            q.push(" AND n.project_id = ANY(ARRAY(SELECT m.project_id FROM members m");
            if keys.is_some() {
                q.push(" JOIN projects p ON p.id = m.project_id");
            }
            q.push(" WHERE m.user_id = ").push_bind(reader.user_id);
            if let Some(keys) = keys {
                q.push(" AND p.key = ANY(")
                    .push_bind(keys.to_vec())
                    .push(")");
            }
            q.push("))");
        }
    }
    q.push(" LIMIT ")
        .push_bind(UNREAD_COUNT_CAP)
        .push(") AS unread");
    q.build_query_scalar().fetch_one(db).await
}

/// Marks one notification of the reader read (kept as it is when it already was); `None` when
/// the reader has no such notification they may see.
pub async fn mark_notification_read(
    db: impl PgExecutor<'_>,
    reader: &Reader<'_>,
    id: Uuid,
) -> sqlx::Result<Option<NotificationRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "UPDATE notifications n SET read_at = coalesce(n.read_at, now()) WHERE n.id = ",
    );
    q.push_bind(id).push(" AND");
    reader.push_visible(&mut q);
    q.push(" RETURNING ").push(NOTIFICATION_COLUMNS);
    q.build_query_as().fetch_optional(db).await
}

/// Marks every unread notification the reader may see read; returns how many.
pub async fn mark_all_notifications_read(
    db: impl PgExecutor<'_>,
    reader: &Reader<'_>,
) -> sqlx::Result<u64> {
    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new("UPDATE notifications n SET read_at = now() WHERE n.unread AND");
    reader.push_visible(&mut q);
    Ok(q.build().execute(db).await?.rows_affected())
}

/// Deletes up to `limit` notifications read before `read_before` or made before
/// `created_before`; returns how many.
pub async fn prune_notifications(
    db: impl PgExecutor<'_>,
    read_before: DateTime<Utc>,
    created_before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM notifications WHERE id IN (
             SELECT id FROM notifications WHERE created_at < $2
             UNION ALL
             SELECT id FROM notifications WHERE read_at < $1
             LIMIT $3)",
    )
    .bind(read_before)
    .bind(created_before)
    .bind(limit)
    .execute(db)
    .await?
    .rows_affected())
}
