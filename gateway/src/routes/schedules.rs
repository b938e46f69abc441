//! `/v1/schedules`: scheduled reports, made at the due times of a cron expression in a time zone
//! (docs/api.md, "Scheduled reports"). Only a schedule's owner (and admins) see it; everyone else
//! gets 404, as for schedules that do not exist.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::reporting::v1::{self as pb, scheduled_report::Report};
use utoipa::{IntoParams, ToSchema};

use super::{
    Page, PageQuery, broken_answer, fields::empty_as_none, json, limits, located, no_content,
    paths::ScheduleId, required_rfc3339, rfc3339,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey},
    openapi::problem_example,
    state::AppState,
};

/// What each run makes, by `kind`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScheduledReport {
    /// The project over the `period_days` days before each due time. The caller must see the
    /// project when the schedule is made; a run whose owner no longer does makes a failed job.
    Project {
        #[schema(schema_with = limits::project_key)]
        project_key: String,
        /// 1–366, default 30.
        #[schema(minimum = 1, maximum = 366, example = 7)]
        period_days: Option<i32>,
    },
    /// The owner's monthly report of the last complete month before each due time, in the
    /// schedule's time zone.
    UserMonthly {},
}

impl ScheduledReport {
    fn into_pb(self) -> Result<pb::ScheduledReport, ApiError> {
        let report = match self {
            // The service reads 0 as "the default"; here the default is an absent field.
            ScheduledReport::Project {
                period_days: Some(0),
                ..
            } => {
                return Err(ApiError::invalid_field(
                    "period_days",
                    "must be from 1 to 366",
                ));
            }
            ScheduledReport::Project {
                project_key,
                period_days,
            } => Report::Project(pb::ScheduledProjectReport {
                project_key,
                period_days: period_days.unwrap_or(0),
            }),
            ScheduledReport::UserMonthly {} => {
                Report::UserMonthly(pb::ScheduledUserMonthlyReport {})
            }
        };
        Ok(pb::ScheduledReport {
            report: Some(report),
        })
    }

    fn from_pb(report: Option<pb::ScheduledReport>) -> Result<Self, ApiError> {
        match report.and_then(|r| r.report) {
            Some(Report::Project(p)) => Ok(ScheduledReport::Project {
                project_key: p.project_key,
                period_days: Some(p.period_days),
            }),
            Some(Report::UserMonthly(_)) => Ok(ScheduledReport::UserMonthly {}),
            None => Err(broken_answer("schedule.report")),
        }
    }
}

/// `POST /v1/schedules` body.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "report": {"kind": "project", "project_key": "SWAT", "period_days": 7},
    "cron": "0 8 * * 1",
    "time_zone": "Europe/Berlin",
    "deliver_event": true,
    "name": "Weekly SWAT"
}))]
pub struct CreateScheduleRequest {
    pub report: ScheduledReport,
    #[schema(schema_with = limits::cron)]
    pub cron: String,
    #[schema(schema_with = limits::time_zone)]
    pub time_zone: Option<String>,
    /// Publish `schedule.report_ready` / `schedule.report_failed` when a run's job ends
    /// (default false).
    pub deliver_event: Option<bool>,
    #[schema(schema_with = limits::schedule_name)]
    pub name: Option<String>,
}

/// A scheduled report.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "owner_id": "01936f8e-0000-7c42-8e5f-4a3b2c1d0e9f",
    "name": "Weekly SWAT",
    "report": {"kind": "project", "project_key": "SWAT", "period_days": 7},
    "cron": "0 8 * * 1",
    "time_zone": "Europe/Berlin",
    "deliver_event": true,
    "paused": false,
    "next_run_at": "2026-12-07T07:00:00Z",
    "last_run_at": "2026-11-30T07:00:00Z",
    "last_job_id": "01936f8e-9999-7c42-8e5f-4a3b2c1d0e9f",
    "created_at": "2026-11-22T09:30:00.123456Z"
}))]
pub struct Schedule {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub owner_id: String,
    pub name: String,
    pub report: ScheduledReport,
    pub cron: String,
    pub time_zone: String,
    pub deliver_event: bool,
    pub paused: bool,
    /// The next due time; `null` while paused.
    #[schema(format = DateTime, required = true)]
    pub next_run_at: Option<String>,
    /// The due time of the last run.
    #[schema(format = DateTime, required = true)]
    pub last_run_at: Option<String>,
    /// The job of the last run (`GET /v1/jobs/{id}`).
    #[schema(format = Uuid, required = true)]
    pub last_job_id: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl TryFrom<pb::Schedule> for Schedule {
    type Error = ApiError;

    fn try_from(s: pb::Schedule) -> Result<Self, ApiError> {
        Ok(Schedule {
            report: ScheduledReport::from_pb(s.report)?,
            created_at: required_rfc3339("schedule.created_at", s.created_at)?,
            next_run_at: s.next_run_at.and_then(rfc3339),
            last_run_at: s.last_run_at.and_then(rfc3339),
            last_job_id: Some(s.last_job_id).filter(|id| !id.is_empty()),
            id: s.id,
            owner_id: s.owner_id,
            name: s.name,
            cron: s.cron,
            time_zone: s.time_zone,
            deliver_event: s.deliver_event,
            paused: s.paused,
        })
    }
}

/// `GET /v1/schedules` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListSchedulesQuery {
    /// Admins only: every user's schedules.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub all: Option<bool>,
}

/// Schedule a report: made at every due time of `cron` in `time_zone`, exactly once per due
/// time. Follow the runs' jobs in `GET /v1/jobs`.
#[utoipa::path(
    post,
    path = "/v1/schedules",
    tag = "schedules",
    security(("bearer" = [])),
    params(IdempotencyKey),
    request_body(content = CreateScheduleRequest, examples(
        ("project" = (summary = "A project's week, Mondays at 08:00 in Berlin", value = json!({"report": {"kind": "project", "project_key": "SWAT", "period_days": 7}, "cron": "0 8 * * 1", "time_zone": "Europe/Berlin", "deliver_event": true, "name": "Weekly SWAT"}))),
        ("user_monthly" = (summary = "My last month, on the 1st at 06:00 UTC", value = json!({"report": {"kind": "user_monthly"}, "cron": "0 6 1 * *"}))),
    )),
    responses(
        (status = 201, description = "The schedule", body = Schedule,
            headers(("Location" = String, description = "/v1/schedules/{id}"))),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "A bad report, cron expression (or one that never fires), time zone or name, or the Idempotency-Key was used with another body", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "cron", "must be five fields (minute hour day-of-month month day-of-week) of numbers, names, `*`, ranges, lists and steps"))),
        (status = 429, description = "The caller already has as many schedules as the configured limit allows"),
    ),
)]
pub async fn create_schedule(
    State(state): State<AppState>,
    caller: Authenticated,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CreateScheduleRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let schedule = state
        .reporting()
        .create_schedule(caller.request(pb::CreateScheduleRequest {
            report: Some(body.report.into_pb()?),
            cron: body.cron,
            time_zone: body.time_zone.unwrap_or_default(),
            deliver_event: body.deliver_event.unwrap_or(false),
            name: body.name.unwrap_or_default(),
            request_id,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::CREATED,
        &format!("/v1/schedules/{}", schedule.id),
        Json(Schedule::try_from(schedule)?),
    )
}

/// The caller's schedules (admins with `all=true`: everyone's), soonest next run first, paused
/// ones last.
#[utoipa::path(
    get,
    path = "/v1/schedules",
    tag = "schedules",
    security(("bearer" = [])),
    params(ListSchedulesQuery, PageQuery),
    responses(
        (status = 200, description = "One page of schedules", body = Page<Schedule>),
        (status = 403, description = "`all=true` from someone who is not an admin"),
        (status = 422, description = "A bad page size or page token"),
    ),
)]
pub async fn list_schedules(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListSchedulesQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Schedule>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .reporting()
        .list_schedules(caller.request(pb::ListSchedulesRequest {
            all: query.all.unwrap_or(false),
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.schedules, response.next_page_token)
}

/// One schedule.
#[utoipa::path(
    get,
    path = "/v1/schedules/{id}",
    tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleId),
    responses(
        (status = 200, description = "The schedule", body = Schedule),
        (status = 404, description = "No such schedule, or another user's"),
    ),
)]
pub async fn get_schedule(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ScheduleId { id }): ApiPath<ScheduleId>,
) -> Result<Json<Schedule>, ApiError> {
    let request = caller.request(pb::GetScheduleRequest { id: id.to_string() });
    json(state.reporting().get_schedule(request).await)
}

/// Delete a schedule; the jobs its runs made stay.
#[utoipa::path(
    delete,
    path = "/v1/schedules/{id}",
    tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleId),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such schedule, or another user's"),
    ),
)]
pub async fn delete_schedule(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ScheduleId { id }): ApiPath<ScheduleId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteScheduleRequest { id: id.to_string() });
    no_content(state.reporting().delete_schedule(request).await)
}

/// Pause a schedule: no run is made until it is resumed (pausing a paused one changes nothing).
#[utoipa::path(
    post,
    path = "/v1/schedules/{id}/pause",
    tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleId),
    responses(
        (status = 200, description = "The schedule, paused", body = Schedule),
        (status = 404, description = "No such schedule, or another user's"),
    ),
)]
pub async fn pause_schedule(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ScheduleId { id }): ApiPath<ScheduleId>,
) -> Result<Json<Schedule>, ApiError> {
    let request = caller.request(pb::PauseScheduleRequest { id: id.to_string() });
    json(state.reporting().pause_schedule(request).await)
}

/// Resume a paused schedule from its next due time after now; the due times it skipped while
/// paused are not made (resuming a running one changes nothing).
#[utoipa::path(
    post,
    path = "/v1/schedules/{id}/resume",
    tag = "schedules",
    security(("bearer" = [])),
    params(ScheduleId),
    responses(
        (status = 200, description = "The schedule, running again", body = Schedule),
        (status = 404, description = "No such schedule, or another user's"),
    ),
)]
pub async fn resume_schedule(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ScheduleId { id }): ApiPath<ScheduleId>,
) -> Result<Json<Schedule>, ApiError> {
    let request = caller.request(pb::ResumeScheduleRequest { id: id.to_string() });
    json(state.reporting().resume_schedule(request).await)
}
