//! The operator dashboard's queries: worker heartbeats, dead letters, and job activity.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use super::JobRow;

/// A row of `workers`, with whether it is alive (a heartbeat within three of its intervals).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WorkerRow {
    pub id: Uuid,
    pub hostname: String,
    pub started_at: DateTime<Utc>,
    pub last_heartbeat_at: DateTime<Utc>,
    pub concurrency: i32,
    pub job_ids: Vec<Uuid>,
    pub alive: bool,
}

/// A worker's heartbeat as it sends it.
#[derive(Debug, Clone)]
pub struct Heartbeat<'a> {
    pub id: Uuid,
    pub hostname: &'a str,
    pub started_at: DateTime<Utc>,
    pub interval: Duration,
    pub concurrency: i32,
    pub job_ids: &'a [Uuid],
}

/// Records a worker's heartbeat: its row is made at the first one (and again should it have
/// been pruned while the worker was cut off).
pub async fn record_heartbeat(db: impl PgExecutor<'_>, beat: &Heartbeat<'_>) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO workers (id, hostname, started_at, heartbeat_interval, concurrency, job_ids)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = now(), job_ids = EXCLUDED.job_ids",
    )
    .bind(beat.id)
    .bind(beat.hostname)
    .bind(beat.started_at)
    .bind(beat.interval)
    .bind(beat.concurrency)
    .bind(beat.job_ids)
    .execute(db)
    .await?;
    Ok(())
}

/// A worker that shut down cleanly leaves the list.
pub async fn delete_worker(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM workers WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Forgets the workers not heard from for `silent`; returns how many.
pub async fn prune_workers(db: impl PgExecutor<'_>, silent: Duration) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("DELETE FROM workers WHERE last_heartbeat_at < now() - $1::interval")
            .bind(silent)
            .execute(db)
            .await?
            .rows_affected(),
    )
}

/// Every worker, the longest-running first.
pub async fn list_workers(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<WorkerRow>> {
    sqlx::query_as(
        "SELECT id, hostname, started_at, last_heartbeat_at, concurrency, job_ids,
                last_heartbeat_at > now() - 3 * heartbeat_interval AS alive
         FROM workers ORDER BY started_at, id",
    )
    .fetch_all(db)
    .await
}

/// A row of `dead_letters`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeadLetterRow {
    pub id: Uuid,
    pub message_key: String,
    pub job_id: Option<Uuid>,
    pub attempt: Option<i32>,
    pub reason: String,
    pub dead_lettered_at: DateTime<Utc>,
    pub payload: String,
}

/// A dead letter as read from the dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDeadLetter {
    pub message_key: String,
    pub job_id: Option<Uuid>,
    pub attempt: Option<i32>,
    pub reason: String,
    pub dead_lettered_at: DateTime<Utc>,
    pub payload: String,
}

/// Stores a dead letter once: `false` if a letter with its key is already there (a redelivery).
pub async fn insert_dead_letter(
    db: impl PgExecutor<'_>,
    letter: &NewDeadLetter,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO dead_letters (message_key, job_id, attempt, reason, dead_lettered_at, payload)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT ON CONSTRAINT dead_letters_message_key_key DO NOTHING",
    )
    .bind(&letter.message_key)
    .bind(letter.job_id)
    .bind(letter.attempt)
    .bind(&letter.reason)
    .bind(letter.dead_lettered_at)
    .bind(&letter.payload)
    .execute(db)
    .await?
    .rows_affected()
        == 1)
}

/// Dead letters newest first after `(dead_lettered_at, id)`.
pub async fn list_dead_letters(
    db: impl PgExecutor<'_>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<DeadLetterRow>> {
    sqlx::query_as(
        "SELECT * FROM dead_letters
         WHERE $1::timestamptz IS NULL OR (dead_lettered_at, id) < ($1, $2)
         ORDER BY dead_lettered_at DESC, id DESC LIMIT $3",
    )
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn count_dead_letters(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM dead_letters")
        .fetch_one(db)
        .await
}

/// Removes a dead letter (in a transaction: kept if it rolls back); `None` if there is none.
pub async fn take_dead_letter(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<DeadLetterRow>> {
    sqlx::query_as("DELETE FROM dead_letters WHERE id = $1 RETURNING *")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// The jobs among `ids` that exist.
pub async fn jobs_by_ids(db: impl PgExecutor<'_>, ids: &[Uuid]) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as("SELECT * FROM jobs WHERE id = ANY($1)")
        .bind(ids)
        .fetch_all(db)
        .await
}

/// The most recently failed jobs.
pub async fn recently_failed_jobs(
    db: impl PgExecutor<'_>,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT * FROM jobs WHERE state = 'failed'
         ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Jobs of one kind that reached a state within one minute.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActivityRow {
    pub minute: DateTime<Utc>,
    pub kind: String,
    pub created: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub retrying: i64,
    pub run_seconds_avg: f64,
    pub run_seconds_max: f64,
}

/// Per minute since `since` and kind: jobs created (at `created_at`), finished succeeded, failed
/// or cancelled (at `finished_at`), and waiting for a retry (at their last change, `updated_at`);
/// and of those that succeeded, the run time from the first start to the finish. Jobs are
/// counted as they stand now: a job failed and then retried counts under its current state.
pub async fn job_activity(
    db: impl PgExecutor<'_>,
    since: DateTime<Utc>,
) -> sqlx::Result<Vec<ActivityRow>> {
    sqlx::query_as(
        "WITH events AS (
             SELECT date_trunc('minute', created_at) AS minute, kind, 'created' AS what,
                    NULL::float8 AS run_seconds
             FROM jobs WHERE created_at >= $1
             UNION ALL
             SELECT date_trunc('minute', finished_at), kind, state,
                    CASE WHEN state = 'succeeded' AND started_at IS NOT NULL
                         THEN EXTRACT(EPOCH FROM finished_at - started_at)::float8 END
             FROM jobs
             WHERE finished_at >= $1 AND state IN ('succeeded', 'failed', 'cancelled')
             UNION ALL
             SELECT date_trunc('minute', updated_at), kind, 'retrying', NULL
             FROM jobs WHERE state = 'retrying' AND updated_at >= $1
         )
         SELECT minute, kind,
                count(*) FILTER (WHERE what = 'created') AS created,
                count(*) FILTER (WHERE what = 'succeeded') AS succeeded,
                count(*) FILTER (WHERE what = 'failed') AS failed,
                count(*) FILTER (WHERE what = 'cancelled') AS cancelled,
                count(*) FILTER (WHERE what = 'retrying') AS retrying,
                COALESCE(avg(run_seconds), 0)::float8 AS run_seconds_avg,
                COALESCE(max(run_seconds), 0)::float8 AS run_seconds_max
         FROM events GROUP BY minute, kind ORDER BY minute, kind",
    )
    .bind(since)
    .fetch_all(db)
    .await
}
