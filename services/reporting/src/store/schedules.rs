//! The queries of scheduled reports (`schedules`, and the jobs their runs make).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::{PgExecutor, Postgres, Transaction, types::Json};
use uuid::Uuid;

use crate::domain::schedule::{ScheduleSpec, ScheduledReport};

/// A row of `schedules` (also read from the JSON the event trigger stores).
#[derive(Debug, Clone, sqlx::FromRow, Deserialize)]
pub struct ScheduleRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub owner_username: String,
    pub name: String,
    pub report: Json<ScheduledReport>,
    pub cron: String,
    pub time_zone: String,
    pub deliver_event: bool,
    pub paused: bool,
    pub next_run_at: Option<DateTime<Utc>>,
    pub last_run_at: Option<DateTime<Utc>>,
    pub last_job_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where a page of schedules starts: after this (paused, next run, id), in list order.
pub type ScheduleKey = (bool, Option<DateTime<Utc>>, Uuid);

pub async fn insert_schedule(
    db: impl PgExecutor<'_>,
    id: Uuid,
    owner_id: Uuid,
    owner_username: &str,
    spec: &ScheduleSpec,
    deliver_event: bool,
) -> sqlx::Result<ScheduleRow> {
    sqlx::query_as(
        "INSERT INTO schedules (id, owner_id, owner_username, name, report, cron, time_zone,
                                deliver_event, next_run_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING *",
    )
    .bind(id)
    .bind(owner_id)
    .bind(owner_username)
    .bind(&spec.name)
    .bind(Json(&spec.report))
    .bind(spec.cron.as_str())
    .bind(spec.zone.name())
    .bind(deliver_event)
    .bind(spec.first_run)
    .fetch_one(db)
    .await
}

/// Serialises, until `tx` ends, the transactions that add a schedule for `owner_id`, so that
/// counting them with [`count_schedules`] and adding one cannot interleave.
pub async fn lock_owner_schedules(
    tx: &mut Transaction<'_, Postgres>,
    owner_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('swatter_schedules_of:' || $1::text, 0))",
    )
    .bind(owner_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub async fn count_schedules(db: impl PgExecutor<'_>, owner_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM schedules WHERE owner_id = $1")
        .bind(owner_id)
        .fetch_one(db)
        .await
}

pub async fn schedule_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as("SELECT * FROM schedules WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Schedules soonest next run first, paused ones last, after `after`; one owner's or everyone's.
pub async fn list_schedules(
    db: impl PgExecutor<'_>,
    owner_id: Option<Uuid>,
    only_projects: Option<&[String]>,
    after: Option<ScheduleKey>,
    limit: i64,
) -> sqlx::Result<Vec<ScheduleRow>> {
    // `only_projects`: the schedules of these projects only (a token limited to them).
    sqlx::query_as(
        "SELECT * FROM schedules
         WHERE ($1::uuid IS NULL OR owner_id = $1)
           AND ($2::text[] IS NULL
                OR (report->>'kind' = 'project' AND report->>'project_key' = ANY($2)))
           AND ($3::boolean IS NULL
                OR (NOT $3 AND (paused OR (next_run_at, id) > ($4, $5)))
                OR ($3 AND paused AND id > $5))
         ORDER BY paused, next_run_at, id
         LIMIT $6",
    )
    .bind(owner_id)
    .bind(only_projects)
    .bind(after.map(|a| a.0))
    .bind(after.and_then(|a| a.1))
    .bind(after.map(|a| a.2))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Running schedules due by the transaction's `now()`, soonest first, locked for this
/// scheduler: the schedulers of other replicas skip them until `tx` ends.
pub async fn lock_due_schedules(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<ScheduleRow>> {
    sqlx::query_as(
        "SELECT * FROM schedules WHERE NOT paused AND next_run_at <= now()
         ORDER BY next_run_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// How long the most overdue running schedule has been due, in seconds (0 when none is): a
/// scheduler that runs keeps it near its tick.
pub async fn schedule_lag(db: impl PgExecutor<'_>) -> sqlx::Result<f64> {
    sqlx::query_scalar(
        "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(next_run_at)), 0)::float8
         FROM schedules WHERE NOT paused AND next_run_at <= now()",
    )
    .fetch_one(db)
    .await
}

/// The database's clock: the start of the current transaction.
pub async fn transaction_now(db: impl PgExecutor<'_>) -> sqlx::Result<DateTime<Utc>> {
    sqlx::query_scalar("SELECT now()").fetch_one(db).await
}

/// Records the run due at `due` (its job, if it made one) and moves the schedule on to `next`;
/// with no next due time the schedule is paused.
pub async fn record_run(
    db: impl PgExecutor<'_>,
    id: Uuid,
    due: DateTime<Utc>,
    job_id: Option<Uuid>,
    next: Option<DateTime<Utc>>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE schedules SET last_run_at = $2, last_job_id = COALESCE($3, last_job_id),
                next_run_at = $4, paused = $4 IS NULL, updated_at = now()
         WHERE id = $1",
    )
    .bind(id)
    .bind(due)
    .bind(job_id)
    .bind(next)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn pause_schedule(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as(
        "UPDATE schedules SET paused = true, next_run_at = NULL, updated_at = now()
         WHERE id = $1 RETURNING *",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A paused schedule runs again from `next`; `None` if it is gone or was not paused.
pub async fn resume_schedule(
    db: impl PgExecutor<'_>,
    id: Uuid,
    next: DateTime<Utc>,
) -> sqlx::Result<Option<ScheduleRow>> {
    sqlx::query_as(
        "UPDATE schedules SET paused = false, next_run_at = $2, updated_at = now()
         WHERE id = $1 AND paused RETURNING *",
    )
    .bind(id)
    .bind(next)
    .fetch_optional(db)
    .await
}

/// Deletes a schedule; the jobs it made stay (their `schedule_id` becomes NULL).
pub async fn delete_schedule(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM schedules WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}
