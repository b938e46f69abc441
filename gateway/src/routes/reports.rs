//! `POST /v1/reports`: ask for a PDF report or an export of issues (CSV or JSON); it is made in
//! the background as a job (docs/api.md).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};
use swatter_proto::reporting::v1::{self as pb, report_params::Params};
use utoipa::ToSchema;

use super::{
    issues::ListIssuesQuery,
    jobs, limits, located,
    wire::{self, IssueStatus, Priority, ReportKind},
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, Authenticated, IdempotencyKey, decode_value},
    openapi::problem_example,
    state::AppState,
};

/// The report to render, by `kind`.
// `decode` reads the body, by `kind`. `untagged` is read by utoipa only: the schema is then a
// `oneOf` of the named kinds with a `kind` discriminator, from which client generators make one
// named type per kind.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(property_name = "kind", mapping(
    ("project" = "#/components/schemas/ProjectReportRequest"),
    ("user_monthly" = "#/components/schemas/UserMonthlyReportRequest"),
    ("issues_csv" = "#/components/schemas/ExportRequest"),
    ("issues_json" = "#/components/schemas/ExportRequest"),
)))]
#[schema(example = json!({"kind": "project", "project_key": "SWAT", "from": "2026-10-01T00:00:00Z"}))]
pub enum CreateReportRequest {
    Project(ProjectReportRequest),
    UserMonthly(UserMonthlyReportRequest),
    Export(ExportRequest),
}

/// One project over a period (default: the last 30 days). The caller must see the project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectReportRequest {
    #[schema(schema_with = wire::project_kind)]
    pub kind: ReportKind,
    #[schema(schema_with = limits::project_key)]
    pub project_key: String,
    /// RFC 3339; default 30 days before `to`.
    #[schema(format = DateTime)]
    pub from: Option<String>,
    /// RFC 3339; default now.
    #[schema(format = DateTime)]
    pub to: Option<String>,
}

/// Every project the caller belongs to, for one month.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserMonthlyReportRequest {
    #[schema(schema_with = wire::user_monthly_kind)]
    pub kind: ReportKind,
    /// `YYYY-MM`, from 2000 on and not in the future; default the current month.
    #[schema(pattern = "^[2-9][0-9]{3}-(0[1-9]|1[0-2])$", example = "2026-11")]
    pub month: Option<String>,
}

/// An export of the issues a list shows (`GET /v1/issues`, or `GET /v1/projects/{key}/issues`
/// with `project_key`): the same filters under the same names, every page of the list in its
/// order, as CSV (`issues_csv`) or JSON (`issues_json`). A filter or query the list refuses is
/// refused here, naming the field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "issues_csv", "project_key": "SWAT", "status": ["open", "in_progress"], "q": "label:bug priority:>=high", "sort": "-priority"}))]
pub struct ExportRequest {
    #[schema(schema_with = wire::export_kind)]
    pub kind: ReportKind,
    /// Only this project's issues; without it, every project the caller is a member of (a
    /// personal access token limited to some projects must name one of them).
    #[schema(schema_with = limits::project_key)]
    pub project_key: Option<String>,
    /// Any of these statuses.
    #[serde(default)]
    pub status: Vec<IssueStatus>,
    /// Any of these priorities.
    #[serde(default)]
    pub priority: Vec<Priority>,
    #[schema(schema_with = limits::assignee_filter)]
    pub assignee: Option<String>,
    #[schema(schema_with = limits::author_filter)]
    pub author: Option<String>,
    #[schema(schema_with = limits::label_filter)]
    pub label: Option<String>,
    #[schema(schema_with = limits::issue_query)]
    pub q: Option<String>,
    #[schema(schema_with = limits::issue_sort)]
    pub sort: Option<String>,
}

impl ExportRequest {
    /// The list's own request, as `GET /v1/issues` would send it.
    fn into_pb(self) -> Result<pb::IssueExportParams, ApiError> {
        let list = ListIssuesQuery {
            status: self.status,
            priority: self.priority,
            assignee: self.assignee,
            author: self.author,
            label: self.label,
            q: self.q,
            sort: self.sort,
            page_size: None,
            page_token: None,
        };
        Ok(pb::IssueExportParams {
            filter: Some(list.into_pb(self.project_key.unwrap_or_default())?),
        })
    }
}

fn timestamp(
    field: &'static str,
    raw: Option<String>,
) -> Result<Option<prost_types::Timestamp>, ApiError> {
    raw.map(|raw| {
        let at = DateTime::parse_from_rfc3339(raw.trim())
            .map_err(|_| ApiError::invalid_field(field, "must be an RFC 3339 timestamp"))?
            .with_timezone(&Utc);
        Ok(prost_types::Timestamp {
            seconds: at.timestamp(),
            nanos: at.timestamp_subsec_nanos() as i32,
        })
    })
    .transpose()
}

impl CreateReportRequest {
    /// Reads the body: `kind` first (so an unknown kind is named as such), then that kind's fields.
    fn decode(body: Map<String, Value>) -> Result<Self, ApiError> {
        let kind = match body.get("kind") {
            None => return Err(ApiError::invalid_field("kind", "is required")),
            Some(Value::String(kind)) => kind.parse::<ReportKind>().ok(),
            Some(_) => None,
        };
        let body = Value::Object(body);
        match kind.ok_or_else(|| ApiError::invalid_field("kind", ReportKind::EXPECTED))? {
            ReportKind::Project => decode_value(body).map(CreateReportRequest::Project),
            ReportKind::UserMonthly => decode_value(body).map(CreateReportRequest::UserMonthly),
            ReportKind::IssuesCsv | ReportKind::IssuesJson => {
                decode_value(body).map(CreateReportRequest::Export)
            }
        }
    }

    fn into_pb(self) -> Result<pb::ReportParams, ApiError> {
        let params = match self {
            CreateReportRequest::Project(project) => Params::Project(pb::ProjectReportParams {
                project_key: project.project_key,
                from: timestamp("from", project.from)?,
                to: timestamp("to", project.to)?,
            }),
            CreateReportRequest::UserMonthly(monthly) => {
                Params::UserMonthly(pb::UserMonthlyReportParams {
                    month: monthly.month.unwrap_or_default(),
                })
            }
            CreateReportRequest::Export(export) => match export.kind {
                ReportKind::IssuesJson => Params::IssuesJson(export.into_pb()?),
                _ => Params::IssuesCsv(export.into_pb()?),
            },
        };
        Ok(pb::ReportParams {
            params: Some(params),
        })
    }
}

/// Ask for a report or an export. It is made in the background: follow the job at its
/// `Location` (or its `/events`), then download the PDF, CSV or JSON.
#[utoipa::path(
    post,
    path = "/v1/reports",
    tag = "reports",
    security(("bearer" = [])),
    params(
        IdempotencyKey,
    ),
    request_body(content = CreateReportRequest, examples(
        ("project" = (summary = "A project over a period", value = json!({"kind": "project", "project_key": "SWAT", "from": "2026-10-01T00:00:00Z", "to": "2026-11-01T00:00:00Z"}))),
        ("user_monthly" = (summary = "My projects this month", value = json!({"kind": "user_monthly", "month": "2026-11"}))),
        ("issues_csv" = (summary = "A project's open bugs as CSV", value = json!({"kind": "issues_csv", "project_key": "SWAT", "status": ["open", "in_progress"], "q": "label:bug", "sort": "-priority"}))),
        ("issues_json" = (summary = "My work across projects as JSON", value = json!({"kind": "issues_json", "assignee": "me", "status": ["open"]}))),
    )),
    responses(
        (status = 202, description = "The job was accepted", body = jobs::Job,
            headers(("Location" = String, description = "/v1/jobs/{id}"))),
        (status = 403, description = "A user report, or an export without `project_key`, asked for with a personal access token limited to some projects"),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "An unknown kind, a bad period or month, an export filter or query `q` the issue lists refuse, or the Idempotency-Key was used with another body", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "month", "must be a month as YYYY-MM"))),
        (status = 429, description = "The caller already has as many jobs queued, running or retrying as the configured limit allows; see Retry-After"),
    ),
)]
pub async fn create_report(
    State(state): State<AppState>,
    caller: Authenticated,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> Result<impl IntoResponse, ApiError> {
    let params = CreateReportRequest::decode(body)?.into_pb()?;
    let job = state
        .reporting()
        .create_report(caller.request(pb::CreateReportRequest {
            params: Some(params),
            request_id,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::ACCEPTED,
        &format!("/v1/jobs/{}", job.id),
        Json(jobs::Job::try_from(job)?),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: Value) -> Result<CreateReportRequest, ApiError> {
        match body {
            Value::Object(map) => CreateReportRequest::decode(map),
            _ => unreachable!(),
        }
    }

    fn field_of(body: Value) -> String {
        decode(body).unwrap_err().errors()[0].field.clone()
    }

    #[test]
    fn both_kinds_are_read() {
        assert!(matches!(
            decode(serde_json::json!({"kind": "project", "project_key": "SWAT"})).unwrap(),
            CreateReportRequest::Project(_)
        ));
        assert!(matches!(
            decode(serde_json::json!({"kind": "user_monthly"})).unwrap(),
            CreateReportRequest::UserMonthly(UserMonthlyReportRequest { month: None, .. })
        ));
    }

    #[test]
    fn exports_carry_the_list_filters_under_their_list_names() {
        let body = serde_json::json!({
            "kind": "issues_json", "project_key": "SWAT", "status": ["open", "in_progress"],
            "priority": ["urgent"], "assignee": "me", "author": "me", "label": "bug",
            "q": "crash", "sort": "-priority",
        });
        let Some(Params::IssuesJson(export)) = decode(body).unwrap().into_pb().unwrap().params
        else {
            panic!("an issues_json export");
        };
        let filter = export.filter.unwrap();
        assert_eq!(filter.project_key, "SWAT");
        assert_eq!(filter.statuses.len(), 2);
        assert_eq!(filter.priorities.len(), 1);
        assert_eq!(
            (filter.assignee.as_str(), filter.author_id.as_str()),
            ("me", "me")
        );
        assert_eq!(
            (filter.label.as_str(), filter.query.as_str()),
            ("bug", "crash")
        );
        assert_eq!(filter.sort, "-priority");
        let csv = decode(serde_json::json!({"kind": "issues_csv"})).unwrap();
        assert!(matches!(
            csv.into_pb().unwrap().params,
            Some(Params::IssuesCsv(_))
        ));
    }

    #[test]
    fn bad_bodies_name_their_field() {
        assert_eq!(field_of(serde_json::json!({})), "kind");
        assert_eq!(field_of(serde_json::json!({"kind": "weekly"})), "kind");
        assert_eq!(field_of(serde_json::json!({"kind": 3})), "kind");
        assert_eq!(
            field_of(serde_json::json!({"kind": "project"})),
            "project_key"
        );
        assert_eq!(
            field_of(serde_json::json!({"kind": "user_monthly", "project_key": "SWAT"})),
            "project_key"
        );
        let bad_from =
            decode(serde_json::json!({"kind": "project", "project_key": "S", "from": "yesterday"}))
                .unwrap()
                .into_pb()
                .unwrap_err();
        assert_eq!(bad_from.errors()[0].field, "from");
        assert_eq!(
            field_of(serde_json::json!({"kind": "issues_csv", "status": ["later"]})),
            "status[0]"
        );
        assert_eq!(
            field_of(serde_json::json!({"kind": "issues_csv", "month": "2026-11"})),
            "month"
        );
    }
}
