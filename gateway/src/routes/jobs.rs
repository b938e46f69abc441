//! `/v1/jobs`: report jobs, their artifacts, live progress, and the admin statistics (docs/api.md).
//! Only a job's owner (and admins) see it; everyone else gets 404, as for jobs that do not exist.

use std::{collections::BTreeMap, convert::Infallible, time::Duration};

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
};
use futures::{Stream, StreamExt, future::ready};
use serde::{Deserialize, Serialize};
use swatter_proto::reporting::v1::{self as pb, report_params::Params};
use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{RefOr, Schema},
};

use super::{
    Page, PageQuery, broken_answer,
    fields::{comma_list, empty_as_none},
    json,
    paths::JobId,
    required_rfc3339, rfc3339,
    wire::{self, IssueStatus, JobState, Priority, ReportKind},
};
use crate::{
    error::ApiError,
    extract::{ApiPath, ApiQuery, Authenticated},
    state::AppState,
};

/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// What a report covers, as it was asked for (defaults filled in), by `kind`.
// Serialized as the variant's own fields, its `kind` among them; the schema is a `oneOf` of the
// named kinds with a `kind` discriminator, as for `reports::CreateReportRequest`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("project" = "#/components/schemas/ProjectReportParams"),
    ("user_monthly" = "#/components/schemas/UserMonthlyReportParams"),
    ("issues_csv" = "#/components/schemas/ExportParams"),
    ("issues_json" = "#/components/schemas/ExportParams"),
)))]
pub enum ReportParams {
    Project(ProjectReportParams),
    UserMonthly(UserMonthlyReportParams),
    Export(ExportParams),
}

/// An export: the filters of the issue list it writes, under the list's names (`null` or empty
/// where none was given).
#[derive(Debug, Serialize, ToSchema)]
pub struct ExportParams {
    #[schema(schema_with = wire::export_kind)]
    pub kind: ReportKind,
    #[schema(required = true)]
    pub project_key: Option<String>,
    pub status: Vec<IssueStatus>,
    pub priority: Vec<Priority>,
    #[schema(required = true)]
    pub assignee: Option<String>,
    #[schema(required = true)]
    pub author: Option<String>,
    #[schema(required = true)]
    pub label: Option<String>,
    #[schema(required = true)]
    pub q: Option<String>,
    #[schema(required = true)]
    pub sort: Option<String>,
}

impl ExportParams {
    fn from_pb(kind: ReportKind, params: pb::IssueExportParams) -> Result<Self, ApiError> {
        let filter = params.filter.unwrap_or_default();
        let text = |value: String| Some(value).filter(|v| !v.is_empty());
        let status = filter
            .statuses
            .iter()
            .map(|raw| IssueStatus::from_pb(*raw).ok_or_else(|| broken_answer("filter.statuses")))
            .collect::<Result<_, _>>()?;
        let priority = filter
            .priorities
            .iter()
            .map(|raw| Priority::from_pb(*raw).ok_or_else(|| broken_answer("filter.priorities")))
            .collect::<Result<_, _>>()?;
        Ok(ExportParams {
            kind,
            project_key: text(filter.project_key),
            status,
            priority,
            assignee: text(filter.assignee),
            author: text(filter.author_id),
            label: text(filter.label),
            q: text(filter.query),
            sort: text(filter.sort),
        })
    }
}

/// One project over a period.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProjectReportParams {
    #[schema(schema_with = wire::project_kind)]
    pub kind: ReportKind,
    pub project_key: String,
    #[schema(format = DateTime)]
    pub from: Option<String>,
    #[schema(format = DateTime)]
    pub to: Option<String>,
}

/// Every project of the user, for one month.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserMonthlyReportParams {
    #[schema(schema_with = wire::user_monthly_kind)]
    pub kind: ReportKind,
    /// `YYYY-MM`.
    pub month: String,
}

impl ReportParams {
    fn from_pb(params: Option<pb::ReportParams>) -> Result<Self, ApiError> {
        match params.and_then(|p| p.params) {
            Some(Params::Project(p)) => Ok(ReportParams::Project(ProjectReportParams {
                kind: ReportKind::Project,
                project_key: p.project_key,
                from: p.from.and_then(rfc3339),
                to: p.to.and_then(rfc3339),
            })),
            Some(Params::UserMonthly(m)) => {
                Ok(ReportParams::UserMonthly(UserMonthlyReportParams {
                    kind: ReportKind::UserMonthly,
                    month: m.month,
                }))
            }
            Some(Params::IssuesCsv(e)) => {
                ExportParams::from_pb(ReportKind::IssuesCsv, e).map(ReportParams::Export)
            }
            Some(Params::IssuesJson(e)) => {
                ExportParams::from_pb(ReportKind::IssuesJson, e).map(ReportParams::Export)
            }
            None => Err(broken_answer("job.params")),
        }
    }
}

/// Why a job failed (or, while it waits for another attempt, why the last one did).
#[derive(Debug, Serialize, ToSchema)]
pub struct JobError {
    /// `transient`, `permanent`, `exhausted` or `cancelled`.
    pub kind: String,
    pub message: String,
}

/// The file a succeeded job produced: a PDF, or an export's CSV or JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArtifactInfo {
    pub size_bytes: i64,
    /// Hex SHA-256 of the file.
    pub sha256: String,
    pub content_type: String,
}

/// A report job.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "kind": "project",
    "params": {"kind": "project", "project_key": "SWAT",
        "from": "2026-10-23T09:30:00Z", "to": "2026-11-22T09:30:00Z"},
    "state": "succeeded",
    "attempts": 1,
    "max_attempts": 5,
    "progress": 100,
    "owner_id": "01936f8e-0000-7c42-8e5f-4a3b2c1d0e9f",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "started_at": "2026-11-22T09:30:00.5Z",
    "finished_at": "2026-11-22T09:30:02Z",
    "next_attempt_at": null,
    "error": null,
    "artifact": {"size_bytes": 48213, "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        "content_type": "application/pdf"}
}))]
pub struct Job {
    #[schema(format = Uuid)]
    pub id: String,
    pub kind: ReportKind,
    pub params: ReportParams,
    pub state: JobState,
    /// Attempts started so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// 0–100.
    pub progress: i32,
    #[schema(format = Uuid)]
    pub owner_id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime, required = true)]
    pub started_at: Option<String>,
    #[schema(format = DateTime, required = true)]
    pub finished_at: Option<String>,
    /// When a `retrying` job is tried again.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_at: Option<String>,
    #[schema(required = true)]
    pub error: Option<JobError>,
    /// Present once the job has succeeded.
    #[schema(required = true)]
    pub artifact: Option<ArtifactInfo>,
}

impl TryFrom<pb::Job> for Job {
    type Error = ApiError;

    fn try_from(job: pb::Job) -> Result<Self, ApiError> {
        Ok(Job {
            kind: ReportKind::from_pb(job.kind).ok_or_else(|| broken_answer("job.kind"))?,
            params: ReportParams::from_pb(job.params)?,
            state: JobState::from_pb(job.state).ok_or_else(|| broken_answer("job.state"))?,
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            progress: job.progress.clamp(0, 100),
            owner_id: job.owner_id,
            created_at: required_rfc3339("job.created_at", job.created_at)?,
            started_at: job.started_at.and_then(rfc3339),
            finished_at: job.finished_at.and_then(rfc3339),
            next_attempt_at: job.next_attempt_at.and_then(rfc3339),
            error: job.error.map(|e| JobError {
                kind: e.kind,
                message: e.message,
            }),
            artifact: job.artifact.map(|a| ArtifactInfo {
                size_bytes: a.size_bytes,
                sha256: a.sha256,
                content_type: a.content_type,
            }),
            id: job.id,
        })
    }
}

/// Where to download a succeeded job's file (PDF, CSV or JSON).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "url": "https://s3.example.com/swatter-reports/reports/01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f.pdf?X-Amz-Signature=…",
    "expires_at": "2026-11-22T09:45:00Z",
    "size_bytes": 48213,
    "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "content_type": "application/pdf"
}))]
pub struct Artifact {
    /// A presigned URL: fetch it without a token until `expires_at`.
    pub url: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    pub size_bytes: i64,
    pub sha256: String,
    /// `application/pdf`, `text/csv; charset=utf-8` or `application/json`.
    pub content_type: String,
}

/// The file's bytes.
// The schema of `GET /v1/jobs/{id}/artifact/content`: a binary string, which client generators
// turn into a file or a blob (`Vec<u8>` would be an array of numbers).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Pdf(pub Vec<u8>);

/// The state of the job pipeline.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "jobs_by_state": {"queued": 2, "running": 1, "retrying": 0, "succeeded": 40, "failed": 1, "cancelled": 3},
    "queue_depth": 2,
    "dead_lettered": 1,
    "oldest_queued_age_seconds": 4
}))]
pub struct JobStats {
    pub jobs_by_state: BTreeMap<String, i64>,
    /// Messages waiting in the work queue.
    pub queue_depth: i64,
    /// Dead letters: those moved into the database (listed by `GET /v1/admin/dead-letters`)
    /// and those still waiting in the dead-letter queue.
    pub dead_lettered: i64,
    /// Seconds since the oldest queued job was accepted; 0 when none is queued.
    pub oldest_queued_age_seconds: i64,
}

/// `GET /v1/jobs` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListJobsQuery {
    /// Only jobs in these states (comma-separated).
    #[param(value_type = Option<Vec<JobState>>, style = Form, explode = false, example = "queued,running")]
    #[serde(default, deserialize_with = "comma_list")]
    pub state: Vec<JobState>,
    /// Admins only: every user's jobs.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub all: Option<bool>,
}

/// The caller's report jobs (admins with `all=true`: everyone's), newest first.
#[utoipa::path(
    get,
    path = "/v1/jobs",
    tag = "jobs",
    security(("bearer" = [])),
    params(ListJobsQuery, PageQuery),
    responses(
        (status = 200, description = "One page of jobs, newest first", body = Page<Job>),
        (status = 403, description = "`all=true` from someone who is not an admin"),
        (status = 422, description = "A bad state, page size or page token"),
    ),
)]
pub async fn list_jobs(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListJobsQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Job>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .reporting()
        .list_jobs(caller.request(pb::ListJobsRequest {
            states: query.state.iter().map(|s| s.to_pb()).collect(),
            all: query.all.unwrap_or(false),
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.jobs, response.next_page_token)
}

/// One job.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 404, description = "No such job, or another user's"),
    ),
)]
pub async fn get_job(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::GetJobRequest { id: id.to_string() });
    json(state.reporting().get_job(request).await)
}

/// Cancel a job: queued or retrying jobs at once, a running one at its next checkpoint.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/cancel",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "The job, cancelled (or to be cancelled at its next checkpoint)", body = Job),
        (status = 404, description = "No such job, or another user's"),
        (status = 409, description = "The job has already finished"),
    ),
)]
pub async fn cancel_job(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::CancelJobRequest { id: id.to_string() });
    json(state.reporting().cancel_job(request).await)
}

/// Queue a failed or cancelled job again, as a new attempt.
#[utoipa::path(
    post,
    path = "/v1/jobs/{id}/retry",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "The job, queued again", body = Job),
        (status = 404, description = "No such job, or another user's"),
        (status = 409, description = "The job is neither failed nor cancelled"),
        (status = 429, description = "The job's owner already has as many jobs queued, running or retrying as allowed; see Retry-After"),
    ),
)]
pub async fn retry_job(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::RetryJobRequest { id: id.to_string() });
    json(state.reporting().retry_job(request).await)
}

/// A presigned URL of a succeeded job's file, with its size and checksum.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/artifact",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "Where to download the file", body = Artifact),
        (status = 404, description = "No such job, or another user's"),
        (status = 409, description = "The job has not succeeded (yet)"),
    ),
)]
pub async fn get_artifact(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Artifact>, ApiError> {
    let artifact = state
        .reporting()
        .get_artifact(caller.request(pb::GetArtifactRequest { id: id.to_string() }))
        .await?
        .into_inner();
    Ok(Json(Artifact {
        url: artifact.url,
        expires_at: required_rfc3339("artifact.expires_at", artifact.expires_at)?,
        size_bytes: artifact.size_bytes,
        sha256: artifact.sha256,
        content_type: artifact.content_type,
    }))
}

/// The file of a succeeded job (a report's PDF, an export's CSV or JSON), streamed through the
/// gateway.
#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/artifact/content",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "The file: a report's PDF, an export's CSV or JSON",
            content(
                (inline(Pdf) = "application/pdf"),
                (inline(Pdf) = "text/csv; charset=utf-8"),
                // An `issues_json` export: the issues as `GET /v1/issues/{key}` shows them.
                (Vec<super::issues::Issue> = "application/json"),
            ),
            headers(
                ("Content-Length" = u64, description = "The file's size"),
                ("Content-Disposition" = String, description = "attachment; filename=\"report-{id}.pdf\" (exports: \"export-{id}.csv\" or \"export-{id}.json\")"),
            )),
        (status = 404, description = "No such job, or another user's"),
        (status = 409, description = "The job has not succeeded (yet)"),
    ),
)]
pub async fn download_artifact(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Response, ApiError> {
    let mut chunks = state
        .reporting()
        .download_artifact(caller.request(pb::DownloadArtifactRequest { id: id.to_string() }))
        .await?
        .into_inner();
    // The first chunk carries the metadata; the headers need it before the body starts.
    let first = chunks
        .message()
        .await?
        .ok_or_else(|| broken_answer("artifact chunk"))?;
    let metadata = first
        .metadata
        .ok_or_else(|| broken_answer("artifact_chunk.metadata"))?;
    let content_type = if metadata.content_type.is_empty() {
        HeaderValue::from_static("application/pdf")
    } else {
        super::header_value(&metadata.content_type)?
    };
    let rest = chunks.map(|chunk| chunk.map(|chunk| bytes::Bytes::from(chunk.data)));
    let body = futures::stream::once(ready(Ok(bytes::Bytes::from(first.data)))).chain(rest);
    let mut response = Body::from_stream(body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Ok(size) = u64::try_from(metadata.size_bytes) {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    }
    headers.insert(
        header::CONTENT_DISPOSITION,
        super::header_value(&format!(
            "attachment; filename=\"{}\"",
            file_name(&id.to_string(), &metadata.content_type)
        ))?,
    );
    Ok(response)
}

/// The name a downloaded artifact is saved under, by its content type.
fn file_name(id: &str, content_type: &str) -> String {
    if content_type.starts_with("text/csv") {
        format!("export-{id}.csv")
    } else if content_type.starts_with("application/json") {
        format!("export-{id}.json")
    } else {
        format!("report-{id}.pdf")
    }
}

/// The job's state and progress as Server-Sent Events: one `job` event with the job per change,
/// starting with its current state; the stream ends once the job is terminal.
/// One Server-Sent Event of a job's stream, described as OpenAPI 3.1 tools read the schema of
/// an event stream: one event, its `data` the job as JSON.
pub struct JobEvent;

/// The `event:` name of every event of a job's stream.
const JOB_EVENT: &str = "job";

impl PartialSchema for JobEvent {
    fn schema() -> RefOr<Schema> {
        super::sse_event_schema(
            Some(&[JOB_EVENT]),
            false,
            serde_json::json!({"$ref": "#/components/schemas/Job"}),
            "The whole job (a Job), as JSON",
            "One event of a job's stream",
        )
    }
}

impl ToSchema for JobEvent {}

#[utoipa::path(
    get,
    path = "/v1/jobs/{id}/events",
    tag = "jobs",
    security(("bearer" = [])),
    params(JobId),
    responses(
        (status = 200, description = "Server-Sent Events: `event: job` with the whole job as JSON `data`, first its current state and then one per change, until the job is terminal; comments keep the connection alive. The schema describes one event",
            content_type = "text/event-stream", body = JobEvent),
        (status = 404, description = "No such job, or another user's"),
        (status = 429, description = "The caller has as many job event streams open as the configured limit allows; see Retry-After"),
    ),
)]
pub async fn job_events(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let updates = state
        .reporting()
        .watch_job(caller.request(pb::WatchJobRequest { id: id.to_string() }))
        .await?
        .into_inner();
    let events = updates
        .take_while(|update| {
            if let Err(status) = update {
                tracing::warn!(grpc_code = ?status.code(), "a job's event stream broke off");
            }
            ready(update.is_ok())
        })
        .filter_map(|update| {
            ready(
                update
                    .ok()
                    .and_then(|job| Job::try_from(job).ok())
                    .and_then(|job| Event::default().event(JOB_EVENT).json_data(job).ok())
                    .map(Ok),
            )
        });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

/// Admins only: jobs per state, queue depths and the age of the oldest queued job.
#[utoipa::path(
    get,
    path = "/v1/admin/jobs/stats",
    tag = "jobs",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The pipeline's state", body = JobStats),
        (status = 403, description = "The caller is not an admin"),
    ),
)]
pub async fn job_stats(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<JobStats>, ApiError> {
    let stats = state
        .reporting()
        .get_job_stats(caller.request(pb::GetJobStatsRequest {}))
        .await?
        .into_inner();
    Ok(Json(JobStats::from(stats)))
}

impl From<pb::JobStats> for JobStats {
    fn from(stats: pb::JobStats) -> Self {
        JobStats {
            jobs_by_state: stats.jobs_by_state.into_iter().collect(),
            queue_depth: stats.queue_depth,
            dead_lettered: stats.dead_lettered,
            oldest_queued_age_seconds: stats.oldest_queued_age_seconds,
        }
    }
}
