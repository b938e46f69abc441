//! The reporting service's storage: one function per query against `swatter_reporting`.
//!
//! Every write a worker makes to a running job is conditional on `attempts` still being the
//! attempt it claimed (the fencing token): a worker that lost its lease changes nothing.

use chrono::{DateTime, Utc};
use sqlx::{
    PgExecutor, PgPool, Postgres, Transaction, postgres::PgArguments, query::Query, types::Json,
};
use uuid::Uuid;

use crate::domain::{FailureKind, JobState, ReportKind, ReportParams};

pub mod schedules;

/// A row of `jobs`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct JobRow {
    pub id: Uuid,
    pub owner_id: Uuid,
    pub owner_username: String,
    pub kind: ReportKind,
    pub params: Json<ReportParams>,
    pub state: JobState,
    pub attempts: i32,
    pub max_attempts: i32,
    pub progress: i32,
    pub cancel_requested: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_expires_at: Option<DateTime<Utc>>,
    pub error_kind: Option<FailureKind>,
    pub error_message: Option<String>,
    pub artifact_key: Option<String>,
    pub artifact_size: Option<i64>,
    pub artifact_sha256: Option<String>,
    pub artifact_content_type: Option<String>,
}

/// A stored artifact.
#[derive(Debug, Clone)]
pub struct ArtifactRecord<'a> {
    pub key: &'a str,
    pub size: i64,
    pub sha256: &'a str,
    pub content_type: &'a str,
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub job_id: Uuid,
    pub attempt: i32,
    pub destination: Destination,
    pub trace_context: Json<std::collections::HashMap<String, String>>,
}

/// Where an outbox message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum Destination {
    Work,
    Dead,
}

pub async fn insert_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    owner_id: Uuid,
    owner_username: &str,
    params: &ReportParams,
    max_attempts: i32,
) -> sqlx::Result<JobRow> {
    sqlx::query_as(
        "INSERT INTO jobs (id, owner_id, owner_username, kind, params, max_attempts)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING *",
    )
    .bind(id)
    .bind(owner_id)
    .bind(owner_username)
    .bind(params.kind())
    .bind(Json(params))
    .bind(max_attempts)
    .fetch_one(db)
    .await
}

/// The job of `schedule`'s run due at `scheduled_for`, the schedule owner's: queued, or failed
/// at once (`permanent`, with `refused` as its message) when the run may not take a job slot.
/// `None` if that due time already has its job (a due time makes at most one job:
/// `jobs_schedule_run_idx`).
pub async fn insert_scheduled_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    schedule: &schedules::ScheduleRow,
    scheduled_for: DateTime<Utc>,
    params: &ReportParams,
    max_attempts: i32,
    refused: Option<&str>,
) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "INSERT INTO jobs (id, owner_id, owner_username, kind, params, max_attempts, schedule_id,
                           scheduled_for, state, finished_at, error_kind, error_message)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8,
                 CASE WHEN $9::text IS NULL THEN 'queued' ELSE 'failed' END,
                 CASE WHEN $9::text IS NULL THEN NULL ELSE now() END,
                 CASE WHEN $9::text IS NULL THEN NULL ELSE 'permanent' END, $9)
         ON CONFLICT (schedule_id, scheduled_for) DO NOTHING RETURNING *",
    )
    .bind(id)
    .bind(schedule.owner_id)
    .bind(&schedule.owner_username)
    .bind(params.kind())
    .bind(Json(params))
    .bind(max_attempts)
    .bind(schedule.id)
    .bind(scheduled_for)
    .bind(refused)
    .fetch_optional(db)
    .await
}

/// Whether `owner_id` may add one more job in flight under `limit`. Call it inside the
/// transaction that adds the job: from here until it ends, `owner_id`'s other transactions that
/// add jobs wait, so two of them cannot both take the last slot.
pub async fn take_job_slot(
    tx: &mut Transaction<'_, Postgres>,
    owner_id: Uuid,
    limit: u32,
) -> sqlx::Result<bool> {
    lock_owner_jobs(tx, owner_id).await?;
    Ok(count_active_jobs(&mut **tx, owner_id).await? < i64::from(limit))
}

/// Serialises, until `tx` ends, the transactions that may add to `owner_id`'s jobs in flight
/// (creating or retrying a job), so that counting them with [`count_active_jobs`] and adding one
/// cannot interleave with another request of the same user.
pub async fn lock_owner_jobs(
    tx: &mut Transaction<'_, Postgres>,
    owner_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query(
        "SELECT pg_advisory_xact_lock(hashtextextended('swatter_jobs_of:' || $1::text, 0))",
    )
    .bind(owner_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// `owner_id`'s jobs in flight: queued, running or retrying.
pub async fn count_active_jobs(db: impl PgExecutor<'_>, owner_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT count(*) FROM jobs
         WHERE owner_id = $1 AND state IN ('queued', 'running', 'retrying')",
    )
    .bind(owner_id)
    .fetch_one(db)
    .await
}

/// Queues a message for the relay, in the caller's transaction.
pub async fn insert_outbox(
    db: impl PgExecutor<'_>,
    job_id: Uuid,
    attempt: i32,
    destination: Destination,
    not_before: DateTime<Utc>,
    trace_context: &std::collections::HashMap<String, String>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO outbox (job_id, attempt, destination, not_before, trace_context)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(job_id)
    .bind(attempt)
    .bind(destination)
    .bind(not_before)
    .bind(Json(trace_context))
    .execute(db)
    .await?;
    Ok(())
}

/// The trace context of the job's latest message (empty if it has none), so that a message the
/// sweeper sends in its place stays in the same trace.
pub async fn latest_trace_context(
    db: impl PgExecutor<'_>,
    job_id: Uuid,
) -> sqlx::Result<std::collections::HashMap<String, String>> {
    let latest: Option<Json<std::collections::HashMap<String, String>>> = sqlx::query_scalar(
        "SELECT trace_context FROM outbox WHERE job_id = $1 ORDER BY id DESC LIMIT 1",
    )
    .bind(job_id)
    .fetch_optional(db)
    .await?;
    Ok(latest.map(|json| json.0).unwrap_or_default())
}

pub async fn job_by_id(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as("SELECT * FROM jobs WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Jobs newest first after `(created_at, id)`; one owner's, or everyone's.
pub async fn list_jobs(
    db: impl PgExecutor<'_>,
    owner_id: Option<Uuid>,
    only_projects: Option<&[String]>,
    states: &[&str],
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    // `only_projects`: the reports of these projects only (a token limited to them).
    sqlx::query_as(
        "SELECT * FROM jobs
         WHERE ($1::uuid IS NULL OR owner_id = $1)
           AND (cardinality($2::text[]) = 0 OR state = ANY($2))
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
           AND ($6::text[] IS NULL OR (kind = 'project' AND params->>'project_key' = ANY($6)))
         ORDER BY created_at DESC, id DESC
         LIMIT $5",
    )
    .bind(owner_id)
    .bind(states)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .bind(only_projects)
    .fetch_all(db)
    .await
}

/// queued/retrying → cancelled.
pub async fn cancel_waiting_job(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "UPDATE jobs SET state = 'cancelled', finished_at = now(), next_attempt_at = NULL,
                updated_at = now()
         WHERE id = $1 AND state IN ('queued', 'retrying') RETURNING *",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// Asks the worker of a running job to stop at its next checkpoint.
pub async fn request_cancel(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "UPDATE jobs SET cancel_requested = true, updated_at = now()
         WHERE id = $1 AND state = 'running' RETURNING *",
    )
    .bind(id)
    .fetch_optional(db)
    .await
}

/// failed/cancelled → queued, with a fresh budget of `max_attempts` attempts on top of those used.
pub async fn requeue_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    max_attempts: i32,
) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "UPDATE jobs SET state = 'queued', max_attempts = attempts + $2, progress = 0,
                cancel_requested = false, finished_at = NULL, next_attempt_at = NULL,
                error_kind = NULL, error_message = NULL, updated_at = now()
         WHERE id = $1 AND state IN ('failed', 'cancelled') RETURNING *",
    )
    .bind(id)
    .bind(max_attempts)
    .fetch_optional(db)
    .await
}

/// Starts `attempt` of a waiting job: only if it is queued or retrying, not cancelled, and
/// `attempt` is the next one (a duplicate or stale message claims nothing).
pub async fn claim_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    lease: std::time::Duration,
) -> sqlx::Result<Option<JobRow>> {
    sqlx::query_as(
        "UPDATE jobs SET state = 'running', attempts = $2, progress = 5,
                started_at = COALESCE(started_at, now()), next_attempt_at = NULL,
                lease_expires_at = now() + $3, updated_at = now()
         WHERE id = $1 AND state IN ('queued', 'retrying') AND attempts = $2 - 1
           AND NOT cancel_requested
         RETURNING *",
    )
    .bind(id)
    .bind(attempt)
    .bind(lease)
    .fetch_optional(db)
    .await
}

/// What a heartbeat learnt about the lease of its attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lease {
    /// Renewed: the attempt goes on.
    Renewed,
    /// Renewed, and the owner asked to cancel: stop at the next checkpoint.
    CancelRequested,
    /// Another attempt owns the job now (fenced off): touch nothing.
    Lost,
}

/// Extends the lease and records progress.
pub async fn heartbeat(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    lease: std::time::Duration,
    progress: i32,
) -> sqlx::Result<Lease> {
    let cancel_requested: Option<bool> = sqlx::query_scalar(&format!(
        "UPDATE jobs SET lease_expires_at = now() + $3, progress = GREATEST(progress, $4),
                updated_at = now()
         {FENCE} RETURNING cancel_requested"
    ))
    .bind(id)
    .bind(attempt)
    .bind(lease)
    .bind(progress)
    .fetch_optional(db)
    .await?;
    Ok(match cancel_requested {
        None => Lease::Lost,
        Some(true) => Lease::CancelRequested,
        Some(false) => Lease::Renewed,
    })
}

/// The condition of every write of a worker to its job (`$1`): the job is still running the
/// attempt (`$2`) the worker claimed.
const FENCE: &str = "WHERE id = $1 AND attempts = $2 AND state = 'running'";

/// A fenced write that ends the attempt (`UPDATE jobs SET {set}`, the lease released).
fn end_attempt(set: &str) -> String {
    format!("UPDATE jobs SET {set}, lease_expires_at = NULL, updated_at = now() {FENCE}")
}

/// Runs a fenced write; `false` if the attempt was fenced off (nothing changed).
async fn fenced(
    db: impl PgExecutor<'_>,
    query: Query<'_, Postgres, PgArguments>,
) -> sqlx::Result<bool> {
    Ok(query.execute(db).await?.rows_affected() == 1)
}

/// running → succeeded with its artifact; `false` if the attempt was fenced off.
pub async fn complete_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    artifact: &ArtifactRecord<'_>,
) -> sqlx::Result<bool> {
    let sql = end_attempt(
        "state = 'succeeded', progress = 100, finished_at = now(), error_kind = NULL,
         error_message = NULL, artifact_key = $3, artifact_size = $4, artifact_sha256 = $5,
         artifact_content_type = $6",
    );
    let query = sqlx::query(&sql)
        .bind(id)
        .bind(attempt)
        .bind(artifact.key)
        .bind(artifact.size)
        .bind(artifact.sha256)
        .bind(artifact.content_type);
    fenced(db, query).await
}

/// running → retrying until `next_attempt_at`; `false` if fenced off.
pub async fn schedule_retry(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    next_attempt_at: DateTime<Utc>,
    message: &str,
) -> sqlx::Result<bool> {
    let sql = end_attempt(
        "state = 'retrying', next_attempt_at = $3, error_kind = 'transient', error_message = $4",
    );
    let query = sqlx::query(&sql)
        .bind(id)
        .bind(attempt)
        .bind(next_attempt_at)
        .bind(message);
    fenced(db, query).await
}

/// running → failed; `false` if fenced off.
pub async fn fail_job(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
    kind: FailureKind,
    message: &str,
) -> sqlx::Result<bool> {
    let sql = end_attempt(
        "state = 'failed', finished_at = now(), next_attempt_at = NULL, error_kind = $3,
         error_message = $4",
    );
    fenced(
        db,
        sqlx::query(&sql)
            .bind(id)
            .bind(attempt)
            .bind(kind)
            .bind(message),
    )
    .await
}

/// running → cancelled (the worker honoured a cancel request); `false` if fenced off.
pub async fn finish_cancelled(
    db: impl PgExecutor<'_>,
    id: Uuid,
    attempt: i32,
) -> sqlx::Result<bool> {
    let sql = end_attempt("state = 'cancelled', finished_at = now()");
    fenced(db, sqlx::query(&sql).bind(id).bind(attempt)).await
}

/// Running jobs whose lease has lapsed (their worker died or hangs), locked for the sweeper.
pub async fn lock_expired_leases(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT * FROM jobs WHERE state = 'running' AND lease_expires_at < now()
         ORDER BY lease_expires_at LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

/// Waiting jobs with nothing in the outbox for them and no progress for `stale`: their message
/// was lost somewhere; they get a new one (duplicates are harmless, claims are fenced).
pub async fn lock_stale_waiting_jobs(
    tx: &mut Transaction<'_, Postgres>,
    stale: std::time::Duration,
    limit: i64,
) -> sqlx::Result<Vec<JobRow>> {
    sqlx::query_as(
        "SELECT * FROM jobs j
         WHERE state IN ('queued', 'retrying')
           AND COALESCE(next_attempt_at, updated_at) < now() - $1
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.job_id = j.id AND o.sent_at IS NULL)
         LIMIT $2 FOR UPDATE SKIP LOCKED",
    )
    .bind(stale)
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn touch_job(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE jobs SET updated_at = now() WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Due outbox messages, locked so that concurrent relays publish each once.
pub async fn lock_due_outbox(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "SELECT id, job_id, attempt, destination, trace_context FROM outbox
         WHERE sent_at IS NULL AND not_before <= now()
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn mark_outbox_sent(db: impl PgExecutor<'_>, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(db)
        .await?;
    Ok(())
}

/// When the next delayed outbox message becomes due.
pub async fn next_outbox_due(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT min(not_before) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(db)
        .await
}

/// Jobs per state.
pub async fn count_by_state(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(JobState, i64)>> {
    sqlx::query_as("SELECT state, count(*) FROM jobs GROUP BY state")
        .fetch_all(db)
        .await
}

/// When the oldest job still queued was accepted.
pub async fn oldest_queued(db: impl PgExecutor<'_>) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar("SELECT min(created_at) FROM jobs WHERE state = 'queued'")
        .fetch_one(db)
        .await
}

/// Outbox messages not yet published, and for how many seconds the oldest due one has been due.
pub async fn outbox_backlog(db: impl PgExecutor<'_>) -> sqlx::Result<(i64, f64)> {
    sqlx::query_as(
        "SELECT count(*),
                COALESCE(EXTRACT(EPOCH FROM now() - min(not_before) FILTER (WHERE not_before <= now())), 0)::float8
         FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(db)
    .await
}

pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}

mod dashboard;
pub use dashboard::*;
