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

/// Appends a change to the project's feed inside the change's transaction. It has no cursor yet:
/// [`sequence_changes`] gives it one once committed, so writers take no lock for it.
pub async fn append_change(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    event_type: &str,
    data: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO changes (project_id, id, type, data, occurred_at)
         VALUES ($1, $2, $3, $4, clock_timestamp())",
    )
    .bind(project_id)
    .bind(Uuid::now_v7())
    .bind(event_type)
    .bind(Json(data))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The key of the advisory lock that makes the sequencer one at a time.
const SEQUENCER_LOCK: i64 = 0x5357_4154_4645_4544;

/// Takes the sequencer's lock until `tx` ends.
pub async fn lock_sequencer(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(SEQUENCER_LOCK)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Numbers up to `limit` committed changes without a cursor (of `project_id` only, when given),
/// in insertion order, with their projects' next cursors, and copies them to the outbox; call
/// under [`lock_sequencer`]. Returns the projects whose feed grew.
pub async fn sequence_changes(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "WITH pending AS (
             SELECT c.seq, c.project_id, p.key AS project_key,
                    row_number() OVER (PARTITION BY c.project_id ORDER BY c.seq) AS n
             FROM changes c JOIN projects p ON p.id = c.project_id
             WHERE c.cursor IS NULL AND ($1::uuid IS NULL OR c.project_id = $1)
             ORDER BY c.seq
             LIMIT $2
         ), counts AS (
             SELECT project_id, count(*) AS added FROM pending GROUP BY project_id
         ), heads AS (
             INSERT INTO change_heads AS h (project_id, last_cursor)
             SELECT project_id, added FROM counts
             ON CONFLICT (project_id) DO UPDATE SET last_cursor = h.last_cursor + EXCLUDED.last_cursor
             RETURNING h.project_id, h.last_cursor
         ), numbered AS (
             SELECT pending.seq, pending.project_key,
                    heads.last_cursor - counts.added + pending.n AS cursor
             FROM pending JOIN counts USING (project_id) JOIN heads USING (project_id)
         ), done AS (
             UPDATE changes c SET cursor = numbered.cursor FROM numbered
             WHERE c.seq = numbered.seq
             RETURNING c.project_id, c.id, c.type, c.data, c.occurred_at, c.cursor,
                       numbered.project_key
         ), outbox AS (
             INSERT INTO change_outbox (id, type, project_key, cursor, data, occurred_at)
             SELECT id, type, project_key, cursor, data, occurred_at FROM done ORDER BY cursor
         )
         SELECT DISTINCT project_id FROM done",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Whether the project has changes the sequencer has not numbered yet.
pub async fn has_unsequenced_changes(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM changes WHERE project_id = $1 AND cursor IS NULL)",
    )
    .bind(project_id)
    .fetch_one(db)
    .await
}

/// Puts the `project.deleted` event of a project about to be deleted in the outbox only (its
/// feed goes with it), with the cursor after the project's last; call under
/// [`lock_sequencer`], after numbering the project's pending changes.
pub async fn append_project_deleted(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    project_key: &str,
    data: &serde_json::Value,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO change_outbox (id, type, project_key, cursor, data, occurred_at)
         SELECT $2, 'project.deleted', $3,
                COALESCE((SELECT last_cursor FROM change_heads WHERE project_id = $1), 0) + 1,
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
             DELETE FROM changes WHERE seq IN (
                 SELECT seq FROM changes
                 WHERE occurred_at < $1 AND cursor IS NOT NULL
                 LIMIT $2
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

/// Sends `pg_notify(channel, project id)` for each project.
pub async fn notify_projects(
    db: impl PgExecutor<'_>,
    channel: &str,
    project_ids: &[Uuid],
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, id::text) FROM unnest($2::uuid[]) id")
        .bind(channel)
        .bind(project_ids)
        .execute(db)
        .await?;
    Ok(())
}
