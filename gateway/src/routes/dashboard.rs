//! `/v1/admin/dashboard` and `/v1/admin/dead-letters`: the operator dashboard's data for tools,
//! with a bearer token (admins only; docs/api.md, "Operator dashboard"). The browser page under
//! `/admin/` shows the same JSON (`routes::admin`).

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use swatter_proto::reporting::v1 as pb;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    Page, PageQuery, broken_answer,
    jobs::{Job, JobStats},
    json, no_content, required_rfc3339,
    schedules::Schedule,
};
use crate::{
    error::ApiError,
    extract::{ApiPath, ApiQuery, Authenticated},
    state::AppState,
};

/// `{id}` of a dead letter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeadLetterId {
    /// The dead letter's id
    pub id: Uuid,
}

/// Jobs of one kind that reached a state within one minute.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "minute": "2026-12-16T09:30:00Z", "kind": "project",
    "counts": {"created": 4, "succeeded": 3, "failed": 1, "cancelled": 0, "retrying": 0},
    "run_seconds_avg": 1.8, "run_seconds_max": 2.4
}))]
pub struct JobActivity {
    #[schema(format = DateTime)]
    pub minute: String,
    pub kind: String,
    /// `created`, `succeeded`, `failed`, `cancelled`, `retrying` → jobs.
    pub counts: BTreeMap<String, i64>,
    /// Of the jobs that succeeded in that minute: seconds from their first start to the finish.
    pub run_seconds_avg: f64,
    pub run_seconds_max: f64,
}

/// A worker process, as its last heartbeat left it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WorkerStatus {
    #[schema(format = Uuid)]
    pub id: String,
    pub hostname: String,
    #[schema(format = DateTime)]
    pub started_at: String,
    #[schema(format = DateTime)]
    pub last_heartbeat_at: String,
    pub concurrency: i32,
    /// The jobs it runs now.
    pub job_ids: Vec<String>,
    /// A heartbeat within its last three intervals.
    pub alive: bool,
}

/// A job message the work queue gave up on.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-9999-7c42-8e5f-4a3b2c1d0e9f",
    "job_id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "dead_lettered_at": "2026-12-16T09:31:02Z",
    "reason": "exhausted",
    "job": null
}))]
pub struct DeadLetter {
    #[schema(format = Uuid)]
    pub id: String,
    /// `null` for a message that could not be read.
    #[schema(format = Uuid, required = true)]
    pub job_id: Option<String>,
    #[schema(format = DateTime)]
    pub dead_lettered_at: String,
    /// `exhausted` (attempts used up), or the broker's: `rejected`, `delivery_limit`, ...
    pub reason: String,
    /// The job as it stands now, when it still exists.
    #[schema(required = true)]
    pub job: Option<Job>,
}

impl TryFrom<pb::DeadLetter> for DeadLetter {
    type Error = ApiError;

    fn try_from(letter: pb::DeadLetter) -> Result<Self, ApiError> {
        Ok(DeadLetter {
            id: letter.id,
            job_id: Some(letter.job_id).filter(|id| !id.is_empty()),
            dead_lettered_at: required_rfc3339(
                "dead_letter.dead_lettered_at",
                letter.dead_lettered_at,
            )?,
            reason: letter.reason,
            job: letter.job.map(Job::try_from).transpose()?,
        })
    }
}

/// Everything the operator dashboard shows, at one instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct Dashboard {
    #[schema(format = DateTime)]
    pub at: String,
    pub stats: JobStats,
    /// The last 60 minutes, oldest first, per kind (minutes without activity are left out).
    pub activity: Vec<JobActivity>,
    pub workers: Vec<WorkerStatus>,
    /// The 20 most recently failed jobs.
    pub failed_jobs: Vec<Job>,
    /// The 20 newest dead letters.
    pub dead_letters: Vec<DeadLetter>,
    /// Dead letters stored in all.
    pub dead_letter_count: i64,
    /// The 20 schedules due soonest (paused ones last).
    pub schedules: Vec<Schedule>,
    /// Jobs queued, running or retrying, newest first (at most 50).
    pub active_jobs: Vec<Job>,
}

impl TryFrom<pb::Dashboard> for Dashboard {
    type Error = ApiError;

    fn try_from(d: pb::Dashboard) -> Result<Self, ApiError> {
        let jobs = |jobs: Vec<pb::Job>| {
            jobs.into_iter()
                .map(Job::try_from)
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Dashboard {
            at: required_rfc3339("dashboard.at", d.at)?,
            stats: JobStats::from(d.stats.ok_or_else(|| broken_answer("dashboard.stats"))?),
            activity: d
                .activity
                .into_iter()
                .map(|a| {
                    Ok(JobActivity {
                        minute: required_rfc3339("job_activity.minute", a.minute)?,
                        kind: a.kind,
                        counts: a.counts.into_iter().collect(),
                        run_seconds_avg: a.run_seconds_avg,
                        run_seconds_max: a.run_seconds_max,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            workers: d
                .workers
                .into_iter()
                .map(|w| {
                    Ok(WorkerStatus {
                        started_at: required_rfc3339("worker.started_at", w.started_at)?,
                        last_heartbeat_at: required_rfc3339(
                            "worker.last_heartbeat_at",
                            w.last_heartbeat_at,
                        )?,
                        id: w.id,
                        hostname: w.hostname,
                        concurrency: w.concurrency,
                        job_ids: w.job_ids,
                        alive: w.alive,
                    })
                })
                .collect::<Result<_, ApiError>>()?,
            failed_jobs: jobs(d.failed_jobs)?,
            dead_letters: d
                .dead_letters
                .into_iter()
                .map(DeadLetter::try_from)
                .collect::<Result<_, _>>()?,
            dead_letter_count: d.dead_letter_count,
            schedules: d
                .schedules
                .into_iter()
                .map(Schedule::try_from)
                .collect::<Result<_, _>>()?,
            active_jobs: jobs(d.active_jobs)?,
        })
    }
}

/// Admins only: the operator dashboard's data (as `GET /admin/api/dashboard` shows it to the
/// page): statistics, activity per minute, workers, failed and active jobs, dead letters.
#[utoipa::path(
    get,
    path = "/v1/admin/dashboard",
    tag = "jobs",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The dashboard now", body = Dashboard),
        (status = 403, description = "The caller is not an admin (or the token is limited to some projects)"),
    ),
)]
pub async fn get_dashboard(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<Dashboard>, ApiError> {
    json(
        state
            .reporting()
            .get_dashboard(caller.request(pb::GetDashboardRequest {}))
            .await,
    )
}

/// Admins only: dead letters (job messages the work queue gave up on), newest first.
#[utoipa::path(
    get,
    path = "/v1/admin/dead-letters",
    tag = "jobs",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of dead letters, newest first", body = Page<DeadLetter>),
        (status = 403, description = "The caller is not an admin"),
        (status = 422, description = "A bad page size or page token"),
    ),
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<DeadLetter>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .reporting()
        .list_dead_letters(caller.request(pb::ListDeadLettersRequest {
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.dead_letters, response.next_page_token)
}

/// Admins only: queue the dead letter's job again (as `POST /v1/jobs/{id}/retry` does) and
/// remove the dead letter, in one transaction.
#[utoipa::path(
    post,
    path = "/v1/admin/dead-letters/{id}/requeue",
    tag = "jobs",
    security(("bearer" = [])),
    params(DeadLetterId),
    responses(
        (status = 200, description = "The job, queued again", body = Job),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "No such dead letter"),
        (status = 409, description = "The job is not failed or cancelled (already queued or running, or it succeeded), no longer exists, or the message named none"),
        (status = 429, description = "The job's owner already has as many jobs queued, running or retrying as allowed; see Retry-After"),
    ),
)]
pub async fn requeue_dead_letter(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(DeadLetterId { id }): ApiPath<DeadLetterId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::RequeueDeadLetterRequest { id: id.to_string() });
    json(state.reporting().requeue_dead_letter(request).await)
}

/// Admins only: remove a dead letter without queueing anything (one that names no job, whose
/// job is gone, or whose job succeeded or was retried since); its job is left as it is.
#[utoipa::path(
    delete,
    path = "/v1/admin/dead-letters/{id}",
    tag = "jobs",
    security(("bearer" = [])),
    params(DeadLetterId),
    responses(
        (status = 204, description = "Discarded"),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "No such dead letter"),
    ),
)]
pub async fn discard_dead_letter(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(DeadLetterId { id }): ApiPath<DeadLetterId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DiscardDeadLetterRequest { id: id.to_string() });
    no_content(state.reporting().discard_dead_letter(request).await)
}
