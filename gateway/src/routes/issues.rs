//! `/v1/projects/{key}/issues`, `/v1/issues…`: file, find, read, change (with `If-Match`) and
//! delete issues, and read their history (docs/api.md).

use axum::{
    Json,
    extract::State,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::{
    Page, PageQuery, broken_answer,
    fields::{comma_list, empty_as_none, not_null, nullable},
    header_value, limits, located,
    milestones::{estimate_points, nullable_estimate, refuse_empty_date, refuse_empty_id},
    no_content, page_size,
    paths::{IssueKey, ProjectKey},
    required_rfc3339, rfc3339, update_mask,
    wire::{IssueStatus, Priority, Resolution},
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey, IfMatch, IfNoneMatch},
    openapi::problem_example,
    state::AppState,
};

/// An issue. Its `ETag` (on `GET`, `POST` and `PATCH` answers) changes with `version`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b",
    "key": "SWAT-42",
    "project_key": "SWAT",
    "number": 42,
    "title": "Login fails when the username has capitals",
    "description": "Steps: sign up as Alice, log in as alice.",
    "status": "in_progress",
    "priority": "high",
    "labels": ["auth", "bug"],
    "author_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "assignee_id": "01936f8e-9d2a-7e31-b4c5-6d7e8f9a0b1c",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "updated_at": "2026-11-23T14:05:12.5Z",
    "closed_at": null,
    "version": 3,
    "resolution": null,
    "due_on": "2026-12-24",
    "estimate": 3,
    "milestone_id": "01936f90-1b2c-7d3e-8f4a-5b6c7d8e9f0a",
    "parent_key": "SWAT-40",
    "sub_issues": {"total": 2, "done": 1},
    "blocked": false,
    "duplicate_of": null,
    "attachment_count": 1
}))]
pub struct Issue {
    #[schema(format = Uuid)]
    pub id: String,
    /// `KEY-n`.
    pub key: String,
    pub project_key: String,
    /// Per project, from 1; never reused.
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: IssueStatus,
    pub priority: Priority,
    /// Sorted, without duplicates; case matters.
    pub labels: Vec<String>,
    #[schema(format = Uuid)]
    pub author_id: String,
    /// `null` when nobody is assigned.
    #[schema(format = Uuid, required = true)]
    pub assignee_id: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// When it was resolved or closed; `null` while open or in progress.
    #[schema(format = DateTime, required = true)]
    pub closed_at: Option<String>,
    /// Grows with every change (comments included).
    pub version: i64,
    /// Why it was resolved or closed; `null` while open or in progress (or when not said).
    #[schema(required = true)]
    pub resolution: Option<Resolution>,
    /// A calendar date (`YYYY-MM-DD`); `null` when none.
    #[schema(format = Date, required = true)]
    pub due_on: Option<String>,
    /// Points; `null` when not estimated.
    #[schema(minimum = 0, required = true)]
    pub estimate: Option<i32>,
    /// The milestone it belongs to; `null` when none.
    #[schema(format = Uuid, required = true)]
    pub milestone_id: Option<String>,
    /// The parent issue (this one is its sub-issue); `null` when none, or when the caller may
    /// not see the parent (`parent_hidden`).
    #[schema(required = true)]
    pub parent_key: Option<String>,
    /// The issue has a parent the caller may not see.
    pub parent_hidden: bool,
    /// Its sub-issues: how many, and how many of them are resolved or closed.
    pub sub_issues: SubIssueProgress,
    /// An issue that blocks this one is neither resolved nor closed.
    pub blocked: bool,
    /// With `resolution` `duplicate`: the issue it duplicates; `null` otherwise or when hidden.
    #[schema(required = true)]
    pub duplicate_of: Option<String>,
    /// Confirmed attachments of the issue and of its comments.
    #[schema(minimum = 0)]
    pub attachment_count: i32,
}

/// Sub-issue progress of an issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubIssueProgress {
    #[schema(minimum = 0)]
    pub total: i32,
    /// Resolved or closed.
    #[schema(minimum = 0)]
    pub done: i32,
}

impl TryFrom<pb::Issue> for Issue {
    type Error = ApiError;

    fn try_from(issue: pb::Issue) -> Result<Self, ApiError> {
        Ok(Issue {
            id: issue.id,
            key: issue.key,
            project_key: issue.project_key,
            number: issue.number,
            title: issue.title,
            description: issue.description,
            status: IssueStatus::from_pb(issue.status)
                .ok_or_else(|| broken_answer("issue.status"))?,
            priority: Priority::from_pb(issue.priority)
                .ok_or_else(|| broken_answer("issue.priority"))?,
            labels: issue.labels,
            author_id: issue.author_id,
            assignee_id: issue.assignee_id.filter(|id| !id.is_empty()),
            created_at: required_rfc3339("issue.created_at", issue.created_at)?,
            updated_at: required_rfc3339("issue.updated_at", issue.updated_at)?,
            closed_at: issue.closed_at.and_then(rfc3339),
            version: issue.version,
            resolution: Resolution::from_pb(issue.resolution),
            due_on: issue.due_on.filter(|d| !d.is_empty()),
            estimate: issue.estimate,
            milestone_id: issue.milestone_id.filter(|id| !id.is_empty()),
            parent_key: Some(issue.parent_key).filter(|k| !k.is_empty()),
            parent_hidden: issue.parent_hidden,
            sub_issues: SubIssueProgress {
                total: issue.sub_issues_total,
                done: issue.sub_issues_done,
            },
            blocked: issue.blocked,
            duplicate_of: Some(issue.duplicate_of).filter(|k| !k.is_empty()),
            attachment_count: issue.attachment_count,
        })
    }
}

/// The answer about one issue: the issue, with its entity tag in `ETag`.
pub struct TaggedIssue {
    etag: HeaderValue,
    issue: Issue,
}

impl TryFrom<pb::Issue> for TaggedIssue {
    type Error = ApiError;

    fn try_from(issue: pb::Issue) -> Result<Self, ApiError> {
        Ok(TaggedIssue {
            etag: header_value(&issue.etag)?,
            issue: issue.try_into()?,
        })
    }
}

impl IntoResponse for TaggedIssue {
    fn into_response(self) -> Response {
        ([(header::ETAG, self.etag)], Json(self.issue)).into_response()
    }
}

/// A new issue.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Login fails when the username has capitals",
    "description": "Steps: sign up as Alice, log in as alice.",
    "priority": "high",
    "labels": ["bug", "auth"]
}))]
pub struct CreateIssueRequest {
    #[schema(schema_with = limits::title)]
    pub title: String,
    #[schema(schema_with = limits::description)]
    pub description: Option<String>,
    /// Default `medium`.
    pub priority: Option<Priority>,
    #[schema(schema_with = limits::assignee_id)]
    pub assignee_id: Option<String>,
    #[schema(schema_with = limits::labels)]
    pub labels: Option<Vec<String>>,
    /// Setting it is for maintainers and owners.
    #[schema(schema_with = limits::due_on)]
    pub due_on: Option<String>,
    /// Setting it is for maintainers and owners.
    #[serde(default, deserialize_with = "nullable_estimate")]
    #[schema(schema_with = limits::estimate)]
    pub estimate: Option<Option<i64>>,
    /// Setting it is for maintainers and owners.
    #[schema(schema_with = limits::milestone_id)]
    pub milestone_id: Option<String>,
}

/// Changes to an issue; absent fields stay as they are. Reporters may change the title and
/// description of their own issues and the status of issues assigned to them; maintainers and
/// owners may change anything.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "resolved", "assignee_id": null, "labels": ["bug"]}))]
pub struct UpdateIssueRequest {
    /// With `resolution` `duplicate` (now or already): the issue this one duplicates, recorded
    /// as a `duplicates` relation. May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::issue_key, required = false)]
    pub duplicate_of: Option<String>,
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::title, required = false)]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::description, required = false)]
    pub description: Option<Option<String>>,
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = IssueStatus, required = false)]
    pub status: Option<IssueStatus>,
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Priority, required = false)]
    pub priority: Option<Priority>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::assignee_id, required = false)]
    pub assignee_id: Option<Option<String>>,
    /// Replaces the labels; `[]` or `null` removes them all.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::labels, required = false)]
    pub labels: Option<Option<Vec<String>>>,
    /// Why it was resolved or closed: only with the status `resolved` or `closed` (after this
    /// change); `null` clears it. Reopening clears it too.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Resolution>, required = false)]
    pub resolution: Option<Option<Resolution>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::due_on, required = false)]
    pub due_on: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable_estimate")]
    #[schema(schema_with = limits::estimate, required = false)]
    pub estimate: Option<Option<i64>>,
    /// `null` detaches the issue from its milestone.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::milestone_id, required = false)]
    pub milestone_id: Option<Option<String>>,
}

impl UpdateIssueRequest {
    /// The update: the fields the body carries are the `update_mask`, so a `null` (named in the
    /// mask, unset) removes the assignee, the labels or the description.
    fn into_pb(
        self,
        issue_key: String,
        if_match: String,
    ) -> Result<pb::UpdateIssueRequest, ApiError> {
        let assignee_id = match self.assignee_id {
            Some(Some(id)) if id.trim().is_empty() => {
                return Err(ApiError::invalid_field(
                    "assignee_id",
                    "must be a user id, or null to unassign",
                ));
            }
            other => other,
        };
        refuse_empty_date("due_on", self.due_on.as_ref().and_then(|d| d.as_deref()))?;
        refuse_empty_id(
            "milestone_id",
            self.milestone_id.as_ref().and_then(|m| m.as_deref()),
        )?;
        let estimate = estimate_points(self.estimate.flatten())?;
        Ok(pb::UpdateIssueRequest {
            issue_key,
            duplicate_of: self.duplicate_of,
            update_mask: update_mask([
                ("title", self.title.is_some()),
                ("description", self.description.is_some()),
                ("status", self.status.is_some()),
                ("priority", self.priority.is_some()),
                ("assignee_id", assignee_id.is_some()),
                ("labels", self.labels.is_some()),
                ("resolution", self.resolution.is_some()),
                ("due_on", self.due_on.is_some()),
                ("estimate", self.estimate.is_some()),
                ("milestone_id", self.milestone_id.is_some()),
            ]),
            title: self.title,
            description: self.description.flatten(),
            status: self.status.map_or(0, IssueStatus::to_pb),
            priority: self.priority.map_or(0, Priority::to_pb),
            assignee_id: assignee_id.flatten(),
            labels: self.labels.flatten().map(|labels| pb::LabelSet { labels }),
            resolution: self.resolution.flatten().map_or(0, Resolution::to_pb),
            due_on: self.due_on.flatten(),
            estimate,
            milestone_id: self.milestone_id.flatten(),
            if_match,
        })
    }
}

/// Filters, order and page of an issue list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListIssuesQuery {
    /// Any of these statuses, comma-separated.
    #[param(value_type = Option<Vec<IssueStatus>>, style = Form, explode = false, example = "open,in_progress")]
    #[serde(default, deserialize_with = "comma_list")]
    pub status: Vec<IssueStatus>,
    /// Any of these priorities, comma-separated.
    #[param(value_type = Option<Vec<Priority>>, style = Form, explode = false, example = "high,urgent")]
    #[serde(default, deserialize_with = "comma_list")]
    pub priority: Vec<Priority>,
    #[param(schema_with = limits::assignee_filter)]
    pub assignee: Option<String>,
    #[param(schema_with = limits::author_filter)]
    pub author: Option<String>,
    #[param(schema_with = limits::label_filter)]
    pub label: Option<String>,
    #[param(schema_with = limits::issue_query)]
    pub q: Option<String>,
    #[param(schema_with = limits::issue_sort)]
    pub sort: Option<String>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page, asked for with the same `sort`.
    #[param(max_length = 512)]
    pub page_token: Option<String>,
}

impl ListIssuesQuery {
    /// The `ListIssues` request of this list (exports send the same, `reports::ExportRequest`).
    pub(super) fn into_pb(self, project_key: String) -> Result<pb::ListIssuesRequest, ApiError> {
        // As sent: the services trim `q` and `label` themselves and measure them untrimmed, as
        // the schema's maxLength says; the other values are matched exactly.
        let text = |value: Option<String>| value.unwrap_or_default();
        Ok(pb::ListIssuesRequest {
            project_key,
            statuses: self.status.into_iter().map(IssueStatus::to_pb).collect(),
            priorities: self.priority.into_iter().map(Priority::to_pb).collect(),
            assignee: text(self.assignee),
            author_id: text(self.author),
            label: text(self.label),
            query: text(self.q),
            sort: text(self.sort),
            page_size: page_size(self.page_size)?,
            page_token: text(self.page_token),
        })
    }
}

/// One entry of an issue's history.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f90-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
    "issue_key": "SWAT-42",
    "actor_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "kind": "status",
    "field": "status",
    "old_value": "open",
    "new_value": "in_progress",
    "created_at": "2026-11-23T14:05:12.5Z"
}))]
pub struct IssueEvent {
    #[schema(format = Uuid)]
    pub id: String,
    pub issue_key: String,
    /// Who did it.
    #[schema(format = Uuid)]
    pub actor_id: String,
    /// `created`, `edited`, `status`, `assignee`, `labels`, `comment_added`, `comment_removed`,
    /// `attachment_added`, `attachment_removed` (and `milestone`, `relation`).
    pub kind: String,
    /// What changed (`title`, `description`, `priority`, `status`, `assignee_id`, `labels`,
    /// `comment`, `attachment`, …); `null` for `created`.
    #[schema(required = true)]
    pub field: Option<String>,
    /// Labels as a comma-separated list; the comment's id for comment events; the file's name
    /// for attachment events. `null` where
    /// there was no value before (or is none after).
    #[schema(required = true)]
    pub old_value: Option<String>,
    #[schema(required = true)]
    pub new_value: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl TryFrom<pb::IssueEvent> for IssueEvent {
    type Error = ApiError;

    fn try_from(event: pb::IssueEvent) -> Result<Self, ApiError> {
        Ok(IssueEvent {
            id: event.id,
            issue_key: event.issue_key,
            actor_id: event.actor_id,
            kind: event.kind,
            field: Some(event.field).filter(|field| !field.is_empty()),
            old_value: event.old_value,
            new_value: event.new_value,
            created_at: required_rfc3339("event.created_at", event.created_at)?,
        })
    }
}

/// One page of the issues `request` asks for.
async fn find_issues(
    state: AppState,
    caller: Authenticated,
    request: pb::ListIssuesRequest,
) -> Result<Json<Page<Issue>>, ApiError> {
    let response = state.issues().list_issues(caller.request(request)).await?;
    let response = response.into_inner();
    Page::json(response.issues, response.next_page_token)
}

/// Reporters and up: file an issue in a project. Reporters may set priority and labels, but only
/// maintainers and owners assign.
#[utoipa::path(
    post,
    path = "/v1/projects/{key}/issues",
    tag = "issues",
    security(("bearer" = [])),
    params(
        ProjectKey,
        IdempotencyKey,
    ),
    request_body = CreateIssueRequest,
    responses(
        (status = 201, description = "The issue was filed", body = Issue,
            headers(
                ("Location" = String, description = "/v1/issues/{KEY-n}"),
                ("ETag" = String, description = "The issue's entity tag, for If-Match"),
            )),
        (status = 403, description = "Viewers may not file issues; reporters may not assign"),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "A field is invalid, the assignee is not a member, or the Idempotency-Key was used with another body",
            body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "priority", Priority::EXPECTED))),
    ),
)]
pub async fn create_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key: project_key }): ApiPath<ProjectKey>,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CreateIssueRequest>,
) -> Result<impl IntoResponse, ApiError> {
    // An empty id is no user (the service would read it as "nobody"); absent or null is that.
    if body.assignee_id.as_deref() == Some("") {
        return Err(ApiError::invalid_field(
            "assignee_id",
            "must be a user id, or absent or null for nobody",
        ));
    }
    refuse_empty_date("due_on", body.due_on.as_deref())?;
    refuse_empty_id("milestone_id", body.milestone_id.as_deref())?;
    let estimate = estimate_points(body.estimate.flatten())?;
    let issue = state
        .issues()
        .create_issue(caller.request(pb::CreateIssueRequest {
            project_key,
            title: body.title,
            description: body.description,
            priority: body.priority.map_or(0, Priority::to_pb),
            assignee_id: body.assignee_id,
            labels: body.labels.unwrap_or_default(),
            request_id,
            due_on: body.due_on,
            estimate,
            milestone_id: body.milestone_id,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::CREATED,
        &format!("/v1/issues/{}", issue.key),
        TaggedIssue::try_from(issue)?,
    )
}

/// The issues of one project, filtered and ordered.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/issues",
    tag = "issues",
    security(("bearer" = [])),
    params(
        ProjectKey,
        ListIssuesQuery,
    ),
    responses(
        (status = 200, description = "One page of issues", body = Page<Issue>),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "A bad filter, sort, page size or page token, or a query `q` that does not parse (the message gives the position and what was expected)", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "q", "at 8: expected a value after \"status:\""))),
    ),
)]
pub async fn list_project_issues(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key: project_key }): ApiPath<ProjectKey>,
    ApiQuery(query): ApiQuery<ListIssuesQuery>,
) -> Result<Json<Page<Issue>>, ApiError> {
    find_issues(state, caller, query.into_pb(project_key)?).await
}

/// Issues across every project the caller can see (admins: all), filtered and ordered:
/// `?assignee=me&status=open,in_progress` is "my work".
#[utoipa::path(
    get,
    path = "/v1/issues",
    tag = "issues",
    security(("bearer" = [])),
    params(ListIssuesQuery),
    responses(
        (status = 200, description = "One page of issues", body = Page<Issue>),
        (status = 422, description = "A bad filter, sort, page size or page token, or a query `q` that does not parse (the message gives the position and what was expected)", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "q", "at 1: expected a known field (status, priority, assignee, author, label, milestone, due, created, updated, estimate, resolution, is, has, no, parent), not \"colour\""))),
    ),
)]
pub async fn list_issues(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListIssuesQuery>,
) -> Result<Json<Page<Issue>>, ApiError> {
    find_issues(state, caller, query.into_pb(String::new())?).await
}

/// One issue, with its entity tag. With `If-None-Match`, 304 and no body when the caller already
/// holds the current version.
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}",
    tag = "issues",
    security(("bearer" = [])),
    params(
        IssueKey,
        ("If-None-Match" = Option<String>, Header,
            description = "ETags the caller holds (comma-separated, or `*`); 304 if one is current",
            example = "\"01936f8f0c4e-3\""),
    ),
    responses(
        (status = 200, description = "The issue", body = Issue,
            headers(("ETag" = String, description = "The issue's entity tag, for If-Match"))),
        (status = 304, description = "Not modified: the caller's copy (If-None-Match) is current",
            headers(("ETag" = String, description = "The issue's entity tag"))),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn get_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let issue = state
        .issues()
        .get_issue(caller.request(pb::GetIssueRequest { issue_key }))
        .await?
        .into_inner();
    if if_none_match.matches(&issue.etag) {
        let etag = header_value(&issue.etag)?;
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    Ok(TaggedIssue::try_from(issue)?.into_response())
}

/// Change an issue. With `If-Match`, only if nobody changed it since the caller read it.
#[utoipa::path(
    patch,
    path = "/v1/issues/{issue_key}",
    tag = "issues",
    security(("bearer" = [])),
    params(
        IssueKey,
        ("If-Match" = Option<String>, Header,
            description = "The ETag the caller read; the change is applied only if it is still current (412 otherwise)",
            example = "\"01936f8f0c4e-3\""),
    ),
    request_body = UpdateIssueRequest,
    responses(
        (status = 200, description = "The issue after the change (unchanged, with the same ETag, when nothing differs)", body = Issue,
            headers(("ETag" = String, description = "The issue's new entity tag"))),
        (status = 403, description = "The caller's role does not allow this change"),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
        (status = 412, description = "If-Match names another version of the issue", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::PreconditionFailed, "", "the resource has changed since it was read (etag mismatch)"))),
        (status = 422, description = "A field is invalid, or the assignee is not a member"),
    ),
)]
pub async fn update_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    IfMatch(if_match): IfMatch,
    ApiJson(body): ApiJson<UpdateIssueRequest>,
) -> Result<TaggedIssue, ApiError> {
    let request = body.into_pb(issue_key, if_match)?;
    let issue = state
        .issues()
        .update_issue(caller.request(request))
        .await?
        .into_inner();
    issue.try_into()
}

/// Maintainers and owners: delete an issue with its comments and history. Its number is not
/// given out again.
#[utoipa::path(
    delete,
    path = "/v1/issues/{issue_key}",
    tag = "issues",
    security(("bearer" = [])),
    params(IssueKey),
    responses(
        (status = 204, description = "The issue is gone"),
        (status = 403, description = "Only maintainers and owners delete issues"),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn delete_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteIssueRequest { issue_key });
    no_content(state.issues().delete_issue(request).await)
}

/// The history of an issue, oldest first: who changed which field when, from what to what.
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}/events",
    tag = "issues",
    security(("bearer" = [])),
    params(
        IssueKey,
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of events, oldest first", body = Page<IssueEvent>),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn list_issue_events(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<IssueEvent>>, ApiError> {
    let (page_size, page_token) = query.into_pb()?;
    let response = state
        .issues()
        .list_issue_events(caller.request(pb::ListIssueEventsRequest {
            issue_key,
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.events, response.next_page_token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{error::FieldError, extract::decode_json};

    fn update(raw: &str) -> Result<pb::UpdateIssueRequest, ApiError> {
        decode_json::<UpdateIssueRequest>(raw.as_bytes())?.into_pb("SWAT-1".into(), String::new())
    }

    fn masked(raw: &str) -> Vec<String> {
        update(raw).unwrap().update_mask.unwrap_or_default().paths
    }

    fn field_of(error: ApiError) -> String {
        error
            .errors()
            .first()
            .map(|e: &FieldError| e.field.clone())
            .unwrap_or_default()
    }

    #[test]
    fn an_absent_assignee_is_left_and_null_unassigns() {
        assert_eq!(update("{}").unwrap().assignee_id, None);
        assert!(masked("{}").is_empty());
        let unassign = update(r#"{"assignee_id": null}"#).unwrap();
        assert_eq!(unassign.assignee_id, None);
        assert_eq!(unassign.update_mask.unwrap().paths, ["assignee_id"]);
        let id = "01936f8e-9d2a-7e31-b4c5-6d7e8f9a0b1c";
        assert_eq!(
            update(&format!(r#"{{"assignee_id": "{id}"}}"#))
                .unwrap()
                .assignee_id
                .as_deref(),
            Some(id)
        );
        assert_eq!(
            field_of(update(r#"{"assignee_id": ""}"#).unwrap_err()),
            "assignee_id"
        );
    }

    #[test]
    fn empty_or_null_labels_clear_them_and_absent_labels_stay() {
        assert_eq!(update("{}").unwrap().labels, None);
        for raw in [r#"{"labels": []}"#, r#"{"labels": null}"#] {
            let request = update(raw).unwrap();
            assert_eq!(
                request.labels.unwrap_or_default().labels,
                Vec::<String>::new()
            );
            assert_eq!(request.update_mask.unwrap().paths, ["labels"]);
        }
    }

    #[test]
    fn the_mask_names_exactly_the_fields_of_the_body() {
        assert_eq!(
            masked(r#"{"title": "t", "status": "closed", "description": null}"#),
            ["title", "description", "status"]
        );
    }

    #[test]
    fn null_description_clears_it_but_null_title_or_status_is_refused() {
        let clear = update(r#"{"description": null}"#).unwrap();
        assert_eq!(clear.description, None);
        assert_eq!(clear.update_mask.unwrap().paths, ["description"]);
        assert_eq!(field_of(update(r#"{"title": null}"#).unwrap_err()), "title");
        assert_eq!(
            field_of(update(r#"{"status": null}"#).unwrap_err()),
            "status"
        );
    }

    #[test]
    fn statuses_and_priorities_travel_as_protobuf_numbers_and_absent_as_zero() {
        let request = update(r#"{"status": "in_progress", "priority": "urgent"}"#).unwrap();
        assert_eq!(request.status, pb::IssueStatus::InProgress as i32);
        assert_eq!(request.priority, pb::Priority::Urgent as i32);
        let request = update(r#"{"title": "t"}"#).unwrap();
        assert_eq!((request.status, request.priority), (0, 0));
        let error = update(r#"{"status": "done"}"#).unwrap_err();
        assert_eq!(error.errors()[0].field, "status");
        assert_eq!(error.errors()[0].message, IssueStatus::EXPECTED);
    }

    #[test]
    fn list_filters_map_to_the_request() {
        let query: ListIssuesQuery = crate::extract::decode_form(
            b"status=open,in_progress&priority=high&assignee=me&author=me&q=%20login%20&sort=-priority&page_size=5",
        )
        .unwrap();
        let request = query.into_pb("SWAT".into()).unwrap();
        assert_eq!(
            request.statuses,
            [
                pb::IssueStatus::Open as i32,
                pb::IssueStatus::InProgress as i32
            ]
        );
        assert_eq!(request.priorities, [pb::Priority::High as i32]);
        assert_eq!(request.assignee, "me");
        assert_eq!(request.author_id, "me");
        assert_eq!(request.query, " login ");
        assert_eq!(request.sort, "-priority");
        assert_eq!(request.page_size, 5);
        assert_eq!(request.project_key, "SWAT");
    }
}
