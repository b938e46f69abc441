//! The change feed and its outbox (migration `create_change_feed`).

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction, types::Json};
use uuid::Uuid;

/// One change of a project's feed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChangeRow {
    pub cursor: i64,
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub event_type: String,
    /// The JSON text, passed on as it is stored.
    pub data: String,
    pub occurred_at: DateTime<Utc>,
}

/// An event waiting in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub seq: i64,
    pub id: Uuid,
    #[sqlx(rename = "type")]
    pub event_type: String,
    pub project_key: String,
    pub cursor: i64,
    pub data: Json<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
}

/// Appends a change to the project's feed and to the outbox, inside the change's transaction,
/// and returns its cursor. The project's head row stays locked until the transaction ends, so
/// call this last, just before commit: the project's other writers wait only for the commit.
pub async fn append_change(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    project_key: &str,
    event_type: &str,
    data: &serde_json::Value,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "WITH head AS (
             INSERT INTO change_heads AS h (project_id, last_cursor) VALUES ($1, 1)
             ON CONFLICT (project_id) DO UPDATE SET last_cursor = h.last_cursor + 1
             RETURNING last_cursor
         ), c AS (
             INSERT INTO changes (project_id, cursor, id, type, data, occurred_at)
             SELECT $1, last_cursor, $2, $3, $4, clock_timestamp() FROM head
             RETURNING cursor, occurred_at
         ), o AS (
             INSERT INTO change_outbox (id, type, project_key, cursor, data, occurred_at)
             SELECT $2, $3, $5, cursor, $4, occurred_at FROM c
         )
         SELECT cursor FROM c",
    )
    .bind(project_id)
    .bind(Uuid::now_v7())
    .bind(event_type)
    .bind(Json(data))
    .bind(project_key)
    .fetch_one(&mut **tx)
    .await
}

/// Puts the `project.deleted` event of a project about to be deleted in the outbox only (its
/// feed goes with it), with the cursor after the project's last.
pub async fn append_project_deleted(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    project_key: &str,
    data: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO change_outbox (id, type, project_key, cursor, data, occurred_at)
         SELECT $2, 'project.deleted', $3,
                COALESCE((SELECT last_cursor FROM change_heads WHERE project_id = $1 FOR UPDATE), 0) + 1,
                $4, clock_timestamp()",
    )
    .bind(project_id)
    .bind(Uuid::now_v7())
    .bind(project_key)
    .bind(Json(data))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The project's newest cursor and the newest one pruned (both 0 for a project without changes).
pub async fn change_head(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<(i64, i64)> {
    Ok(
        sqlx::query_as(
            "SELECT last_cursor, pruned_through FROM change_heads WHERE project_id = $1",
        )
        .bind(project_id)
        .fetch_optional(db)
        .await?
        .unwrap_or((0, 0)),
    )
}

/// Up to `limit` changes of the project after `after`, oldest first.
pub async fn list_changes(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<ChangeRow>> {
    sqlx::query_as(
        "SELECT cursor, id, type, data::text AS data, occurred_at FROM changes
         WHERE project_id = $1 AND cursor > $2
         ORDER BY cursor
         LIMIT $3",
    )
    .bind(project_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Deletes up to `limit` changes that occurred before `before`, recording per project the
/// newest cursor pruned; returns how many were deleted.
pub async fn prune_changes(
    db: impl PgExecutor<'_>,
    before: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<u64> {
    let pruned: i64 = sqlx::query_scalar(
        "WITH gone AS (
             DELETE FROM changes WHERE (project_id, cursor) IN (
                 SELECT project_id, cursor FROM changes WHERE occurred_at < $1 LIMIT $2
             )
             RETURNING project_id, cursor
         ), per_project AS (
             SELECT project_id, max(cursor) AS through, count(*) AS n FROM gone GROUP BY project_id
         ), heads AS (
             UPDATE change_heads h SET pruned_through = GREATEST(h.pruned_through, p.through)
             FROM per_project p WHERE h.project_id = p.project_id
         )
         SELECT COALESCE(sum(n), 0)::bigint FROM per_project",
    )
    .bind(before)
    .bind(limit)
    .fetch_one(db)
    .await?;
    Ok(u64::try_from(pruned).unwrap_or(0))
}

/// Locks up to `limit` outbox rows, oldest first, skipping rows another relay holds.
pub async fn lock_outbox(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "SELECT seq, id, type, project_key, cursor, data, occurred_at FROM change_outbox
         ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Events waiting in the outbox.
pub async fn outbox_pending(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM change_outbox")
        .fetch_one(db)
        .await
}

/// Removes published rows from the outbox.
pub async fn delete_outbox(db: impl PgExecutor<'_>, seqs: &[i64]) -> sqlx::Result<()> {
    if seqs.is_empty() {
        return Ok(());
    }
    sqlx::query("DELETE FROM change_outbox WHERE seq = ANY($1)")
        .bind(seqs)
        .execute(db)
        .await?;
    Ok(())
}

/// Wakes the listeners of the projects' feeds (watchers, relays) in every replica.
pub async fn notify_changes(db: impl PgExecutor<'_>, project_ids: &[Uuid]) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify('swatter_changes', id::text) FROM unnest($1::uuid[]) id")
        .bind(project_ids)
        .execute(db)
        .await?;
    Ok(())
}
