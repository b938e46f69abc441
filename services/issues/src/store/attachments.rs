//! Attachments, the project's usage they are admitted against, and the queue of objects the
//! sweeper deletes. The bookkeeping (usage, `issues.attachment_count`, the deletion queue) is the
//! `attachments_bookkeeping` trigger's.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{
    Role,
    attachments::{AttachmentState, Holdings, ThumbnailState},
};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub issue_id: Uuid,
    pub issue_key: String,
    pub comment_id: Option<Uuid>,
    pub uploaded_by: Uuid,
    pub file_name: String,
    pub declared_type: String,
    pub content_type: String,
    pub size: i64,
    pub sha256: Option<String>,
    pub state: AttachmentState,
    pub object_key: String,
    pub thumbnail_state: ThumbnailState,
    pub thumbnail_key: Option<String>,
    pub thumbnail_width: Option<i32>,
    pub thumbnail_height: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// The caller's role in the project (`None` where a query does not join it).
    pub my_role: Option<Role>,
}

/// Attachments with their issue and project, before the join of the caller's membership `m`.
const SELECT_ATTACHMENTS: &str = "SELECT a.id, a.project_id, p.key AS project_key, a.issue_id, \
     p.key || '-' || i.number AS issue_key, a.comment_id, a.uploaded_by, a.file_name, \
     a.declared_type, a.content_type, a.size, a.sha256, a.state, a.object_key, \
     a.thumbnail_state, a.thumbnail_key, a.thumbnail_width, a.thumbnail_height, a.created_at, \
     a.confirmed_at, a.expires_at, m.role AS my_role FROM attachments a \
     JOIN issues i ON i.id = a.issue_id JOIN projects p ON p.id = a.project_id";

/// A pending upload to insert.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub issue_id: Uuid,
    pub comment_id: Option<Uuid>,
    pub uploaded_by: Uuid,
    pub file_name: &'a str,
    pub declared_type: &'a str,
    pub size: i64,
    pub sha256: Option<&'a str>,
    pub object_key: &'a str,
    pub expires_at: DateTime<Utc>,
}

/// What a project's attachments take, from `attachment_usage`.
#[derive(Debug, Clone, Copy, Default, sqlx::FromRow)]
pub struct UsageRow {
    pub used_bytes: i64,
    pub pending_bytes: i64,
    pub ready_count: i64,
}

/// What the project and the issue hold, read with the project's usage row locked until `tx`
/// ends (made first if the project has none): uploads to one project are admitted one at a time.
pub async fn lock_holdings(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    issue_id: Uuid,
) -> sqlx::Result<Holdings> {
    sqlx::query("INSERT INTO attachment_usage (project_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .bind(project_id)
        .execute(&mut **tx)
        .await?;
    let usage: UsageRow = sqlx::query_as(
        "SELECT used_bytes, pending_bytes, ready_count FROM attachment_usage
         WHERE project_id = $1 FOR UPDATE",
    )
    .bind(project_id)
    .fetch_one(&mut **tx)
    .await?;
    let issue_count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM attachments WHERE issue_id = $1")
            .bind(issue_id)
            .fetch_one(&mut **tx)
            .await?;
    Ok(Holdings {
        project_bytes: u64::try_from(usage.used_bytes + usage.pending_bytes).unwrap_or(0),
        issue_count: u64::try_from(issue_count).unwrap_or(0),
    })
}

pub async fn insert_pending(db: impl PgExecutor<'_>, new: &NewAttachment<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO attachments (id, project_id, issue_id, comment_id, uploaded_by, file_name,
             declared_type, content_type, size, sha256, state, object_key, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, 'pending', $10, $11)",
    )
    .bind(new.id)
    .bind(new.project_id)
    .bind(new.issue_id)
    .bind(new.comment_id)
    .bind(new.uploaded_by)
    .bind(new.file_name)
    .bind(new.declared_type)
    .bind(new.size)
    .bind(new.sha256)
    .bind(new.object_key)
    .bind(new.expires_at)
    .execute(db)
    .await?;
    Ok(())
}

/// An attachment with its issue key and the caller's role in the project.
pub async fn attachment_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
    caller: Uuid,
) -> sqlx::Result<Option<AttachmentRow>> {
    attachment_where_id(db, id, caller, "").await
}

/// Like [`attachment_by_id`], locking the attachment row until `tx` ends.
pub async fn lock_attachment(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    caller: Uuid,
) -> sqlx::Result<Option<AttachmentRow>> {
    attachment_where_id(&mut **tx, id, caller, "FOR UPDATE OF a").await
}

async fn attachment_where_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
    caller: Uuid,
    lock: &str,
) -> sqlx::Result<Option<AttachmentRow>> {
    sqlx::query_as(&format!(
        "{SELECT_ATTACHMENTS}
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE a.id = $1 {lock}"
    ))
    .bind(id)
    .bind(caller)
    .fetch_optional(db)
    .await
}

/// Names the thumbnail's key on a pending attachment before the thumbnail is stored, so that
/// the row's deletion queues it whatever happens next.
pub async fn set_thumbnail_key(db: impl PgExecutor<'_>, id: Uuid, key: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE attachments SET thumbnail_key = $2 WHERE id = $1 AND state = 'pending'")
        .bind(id)
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}

/// What the verification of an upload found.
#[derive(Debug, Clone)]
pub struct ReadyFields<'a> {
    pub content_type: &'a str,
    pub sha256: &'a str,
    pub thumbnail_state: ThumbnailState,
    pub thumbnail_width: Option<i32>,
    pub thumbnail_height: Option<i32>,
}

/// Marks a (locked, pending) upload ready.
pub async fn mark_ready(
    db: impl PgExecutor<'_>,
    id: Uuid,
    ready: &ReadyFields<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE attachments SET state = 'ready', content_type = $2, sha256 = $3,
             thumbnail_state = $4, thumbnail_width = $5, thumbnail_height = $6,
             confirmed_at = now(), expires_at = NULL
         WHERE id = $1",
    )
    .bind(id)
    .bind(ready.content_type)
    .bind(ready.sha256)
    .bind(ready.thumbnail_state)
    .bind(ready.thumbnail_width)
    .bind(ready.thumbnail_height)
    .execute(db)
    .await?;
    Ok(())
}

/// Attachments of an issue (only those of `comment_id` if given), oldest first, after
/// `(created_at, id)`: the ready ones, and `viewer`'s pending ones.
pub async fn list_attachments(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    comment_id: Option<Uuid>,
    viewer: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<AttachmentRow>> {
    sqlx::query_as(&format!(
        "{SELECT_ATTACHMENTS}
         LEFT JOIN members m ON false
         WHERE a.issue_id = $1 AND ($2::uuid IS NULL OR a.comment_id = $2)
           AND (a.state = 'ready' OR a.uploaded_by = $3)
           AND ($4::timestamptz IS NULL OR (a.created_at, a.id) > ($4, $5))
         ORDER BY a.created_at, a.id
         LIMIT $6"
    ))
    .bind(issue_id)
    .bind(comment_id)
    .bind(viewer)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes an attachment (its objects are queued by the trigger); whether it was there.
pub async fn delete_attachment(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    let done = sqlx::query("DELETE FROM attachments WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// A project's usage; zeros before its first attachment.
pub async fn attachment_usage(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<UsageRow> {
    Ok(sqlx::query_as(
        "SELECT used_bytes, pending_bytes, ready_count FROM attachment_usage WHERE project_id = $1",
    )
    .bind(project_id)
    .fetch_optional(db)
    .await?
    .unwrap_or_default())
}

/// Deletes up to `limit` pending uploads past their `expires_at` (their objects are queued by
/// the trigger), skipping any a confirm holds; how many.
pub async fn sweep_expired_uploads(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "DELETE FROM attachments WHERE id IN (
             SELECT id FROM attachments WHERE state = 'pending' AND expires_at < now()
             ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)",
    )
    .bind(limit)
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}

/// An object queued for deletion from the store.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct QueuedObject {
    pub object_key: String,
    pub enqueued_at: DateTime<Utc>,
}

/// Up to `limit` objects to delete, longest queued first.
pub async fn queued_objects(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<QueuedObject>> {
    sqlx::query_as(
        "SELECT object_key, enqueued_at FROM attachment_object_deletions
         ORDER BY enqueued_at, object_key LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Forgets a queued object once the store deleted it for good.
pub async fn forget_queued_object(db: impl PgExecutor<'_>, key: &str) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM attachment_object_deletions WHERE object_key = $1")
        .bind(key)
        .execute(db)
        .await?;
    Ok(())
}
