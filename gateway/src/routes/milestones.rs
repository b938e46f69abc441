//! `/v1/projects/{key}/milestones`, `/v1/milestones/{id}`: a project's milestones, listed by due
//! date with their progress; maintainers and owners manage them (docs/api.md, "Milestones").
//! Also the planning fields of issue bodies (`due_on`, `estimate`).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Deserializer, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    Page, broken_answer,
    fields::{empty_as_none, not_null, nullable},
    json, limits, located, no_content, page_size,
    paths::ProjectKey,
    required_rfc3339, rfc3339, update_mask,
    wire::MilestoneState,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey},
    openapi::problem_example,
    state::AppState,
};

/// `{id}` of a milestone.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MilestoneId {
    /// The milestone's id
    pub id: Uuid,
}

/// How far a milestone's issues are.
#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneProgress {
    #[schema(minimum = 0)]
    pub open: i32,
    #[schema(minimum = 0)]
    pub in_progress: i32,
    #[schema(minimum = 0)]
    pub resolved: i32,
    #[schema(minimum = 0)]
    pub closed: i32,
    /// All its issues.
    #[schema(minimum = 0)]
    pub total: i32,
    /// Resolved and closed out of total, as a whole percent rounded down; 0 without issues.
    #[schema(minimum = 0, maximum = 100)]
    pub percent_done: i32,
}

/// A milestone of a project.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f90-1b2c-7d3e-8f4a-5b6c7d8e9f0a",
    "project_key": "SWAT",
    "title": "v1.0",
    "description": "The first public release.",
    "due_on": "2026-12-24",
    "state": "open",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "updated_at": "2026-11-23T14:05:12.5Z",
    "closed_at": null,
    "progress": {"open": 4, "in_progress": 2, "resolved": 3, "closed": 1, "total": 10, "percent_done": 40}
}))]
pub struct Milestone {
    #[schema(format = Uuid)]
    pub id: String,
    pub project_key: String,
    pub title: String,
    pub description: String,
    /// A calendar date (`YYYY-MM-DD`); `null` when none.
    #[schema(format = Date, required = true)]
    pub due_on: Option<String>,
    pub state: MilestoneState,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// When it was closed; `null` while open.
    #[schema(format = DateTime, required = true)]
    pub closed_at: Option<String>,
    pub progress: MilestoneProgress,
}

impl TryFrom<pb::Milestone> for Milestone {
    type Error = ApiError;

    fn try_from(milestone: pb::Milestone) -> Result<Self, ApiError> {
        let progress = milestone
            .progress
            .ok_or_else(|| broken_answer("milestone.progress"))?;
        Ok(Milestone {
            id: milestone.id,
            project_key: milestone.project_key,
            title: milestone.title,
            description: milestone.description,
            due_on: milestone.due_on.filter(|d| !d.is_empty()),
            state: MilestoneState::from_pb(milestone.state)
                .ok_or_else(|| broken_answer("milestone.state"))?,
            created_at: required_rfc3339("milestone.created_at", milestone.created_at)?,
            updated_at: required_rfc3339("milestone.updated_at", milestone.updated_at)?,
            closed_at: milestone.closed_at.and_then(rfc3339),
            progress: MilestoneProgress {
                open: progress.open,
                in_progress: progress.in_progress,
                resolved: progress.resolved,
                closed: progress.closed,
                total: progress.total,
                percent_done: progress.percent_done,
            },
        })
    }
}

/// A new milestone (open).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "v1.0",
    "description": "The first public release.",
    "due_on": "2026-12-24"
}))]
pub struct CreateMilestoneRequest {
    /// Unique in the project.
    #[schema(schema_with = limits::title)]
    pub title: String,
    #[schema(schema_with = limits::description)]
    pub description: Option<String>,
    #[schema(schema_with = limits::due_on)]
    pub due_on: Option<String>,
}

/// Changes to a milestone; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "closed", "due_on": null}))]
pub struct UpdateMilestoneRequest {
    /// Unique in the project. May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::title, required = false)]
    pub title: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::description, required = false)]
    pub description: Option<Option<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::due_on, required = false)]
    pub due_on: Option<Option<String>>,
    /// `closed` sets `closed_at`, `open` clears it. May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = MilestoneState, required = false)]
    pub state: Option<MilestoneState>,
}

/// Which milestones, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListMilestonesQuery {
    /// Only open or only closed milestones; absent: both.
    #[param(value_type = Option<MilestoneState>, example = "open")]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub state: Option<MilestoneState>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page, asked for with the same `state`.
    #[param(max_length = 512)]
    pub page_token: Option<String>,
}

/// A date sent where `null` means none: an empty text is neither a date nor `null`.
pub(super) fn refuse_empty_date(field: &str, date: Option<&str>) -> Result<(), ApiError> {
    match date {
        Some("") => Err(ApiError::invalid_field(
            field,
            "must be a date YYYY-MM-DD from 1900-01-01 to 9999-12-31, or null for none",
        )),
        _ => Ok(()),
    }
}

/// An id sent where `null` means none: an empty text is neither an id nor `null`.
pub(super) fn refuse_empty_id(field: &str, id: Option<&str>) -> Result<(), ApiError> {
    match id {
        Some("") => Err(ApiError::invalid_field(
            field,
            "must be an id, or null for none",
        )),
        _ => Ok(()),
    }
}

/// For `estimate`: absent is `None`, `null` is `Some(None)`, and a whole number (also written
/// with a zero fraction, as JSON Schema's `integer` allows) is kept whole. Use with
/// `#[serde(default, deserialize_with)]`.
pub(super) fn nullable_estimate<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<i64>>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(Some(None));
    };
    if let Some(whole) = number.as_i64() {
        return Ok(Some(Some(whole)));
    }
    match number.as_f64() {
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Ok(Some(Some(float as i64))),
        _ => Err(serde::de::Error::custom(
            "must be a whole number between 0 and 1000",
        )),
    }
}

/// An estimate as the services take it: within 0 to [`limits::MAX_ESTIMATE`].
pub(super) fn estimate_points(estimate: Option<i64>) -> Result<Option<i32>, ApiError> {
    match estimate {
        None => Ok(None),
        Some(points @ 0..=limits::MAX_ESTIMATE) => Ok(Some(points as i32)),
        Some(_) => Err(ApiError::invalid_field(
            "estimate",
            format!("must be between 0 and {} points", limits::MAX_ESTIMATE),
        )),
    }
}

/// Maintainers and owners: add a milestone to a project.
#[utoipa::path(
    post,
    path = "/v1/projects/{key}/milestones",
    tag = "milestones",
    security(("bearer" = [])),
    params(ProjectKey, IdempotencyKey),
    request_body = CreateMilestoneRequest,
    responses(
        (status = 201, description = "The milestone", body = Milestone,
            headers(("Location" = String, description = "/v1/milestones/{id}"))),
        (status = 403, description = "Viewers and reporters may not manage milestones"),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 409, description = "The project has a milestone with this title", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "title", "a milestone with this title already exists in the project"))),
        (status = 422, description = "A field is invalid, or the Idempotency-Key was used with another body", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "due_on", "must be a date YYYY-MM-DD from 1900-01-01 to 9999-12-31"))),
    ),
)]
pub async fn create_milestone(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CreateMilestoneRequest>,
) -> Result<impl IntoResponse, ApiError> {
    refuse_empty_date("due_on", body.due_on.as_deref())?;
    let milestone = state
        .issues()
        .create_milestone(caller.request(pb::CreateMilestoneRequest {
            project_key: key,
            title: body.title,
            description: body.description,
            due_on: body.due_on,
            request_id,
        }))
        .await?
        .into_inner();
    let location = format!("/v1/milestones/{}", milestone.id);
    located(
        StatusCode::CREATED,
        &location,
        Json(Milestone::try_from(milestone)?),
    )
}

/// A project's milestones: by due date (undated ones last), then title.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/milestones",
    tag = "milestones",
    security(("bearer" = [])),
    params(ProjectKey, ListMilestonesQuery),
    responses(
        (status = 200, description = "One page of milestones", body = Page<Milestone>),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "A bad state, page size or page token", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "state", MilestoneState::EXPECTED))),
    ),
)]
pub async fn list_milestones(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiQuery(query): ApiQuery<ListMilestonesQuery>,
) -> Result<Json<Page<Milestone>>, ApiError> {
    let response = state
        .issues()
        .list_milestones(caller.request(pb::ListMilestonesRequest {
            project_key: key,
            state: query.state.map_or(0, MilestoneState::to_pb),
            page_size: page_size(query.page_size)?,
            page_token: query.page_token.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    Page::json(response.milestones, response.next_page_token)
}

/// One milestone with its progress.
#[utoipa::path(
    get,
    path = "/v1/milestones/{id}",
    tag = "milestones",
    security(("bearer" = [])),
    params(MilestoneId),
    responses(
        (status = 200, description = "The milestone", body = Milestone),
        (status = 404, description = "No such milestone, or the caller is not a member of its project"),
    ),
)]
pub async fn get_milestone(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(MilestoneId { id }): ApiPath<MilestoneId>,
) -> Result<Json<Milestone>, ApiError> {
    let request = caller.request(pb::GetMilestoneRequest { id: id.to_string() });
    json(state.issues().get_milestone(request).await)
}

/// Maintainers and owners: rename, describe, re-date, close or reopen a milestone.
#[utoipa::path(
    patch,
    path = "/v1/milestones/{id}",
    tag = "milestones",
    security(("bearer" = [])),
    params(MilestoneId),
    request_body = UpdateMilestoneRequest,
    responses(
        (status = 200, description = "The milestone after the change", body = Milestone),
        (status = 403, description = "Viewers and reporters may not manage milestones"),
        (status = 404, description = "No such milestone, or the caller is not a member of its project"),
        (status = 409, description = "Another milestone of the project has this title"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "state", MilestoneState::EXPECTED))),
    ),
)]
pub async fn update_milestone(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(MilestoneId { id }): ApiPath<MilestoneId>,
    ApiJson(body): ApiJson<UpdateMilestoneRequest>,
) -> Result<Json<Milestone>, ApiError> {
    refuse_empty_date("due_on", body.due_on.as_ref().and_then(|d| d.as_deref()))?;
    let request = caller.request(pb::UpdateMilestoneRequest {
        id: id.to_string(),
        update_mask: update_mask([
            ("title", body.title.is_some()),
            ("description", body.description.is_some()),
            ("due_on", body.due_on.is_some()),
            ("state", body.state.is_some()),
        ]),
        title: body.title,
        description: body.description.flatten(),
        due_on: body.due_on.flatten(),
        state: body.state.map_or(0, MilestoneState::to_pb),
    });
    json(state.issues().update_milestone(request).await)
}

/// Maintainers and owners: delete a milestone. Its issues stay, detached from it (each with an
/// entry in its history).
#[utoipa::path(
    delete,
    path = "/v1/milestones/{id}",
    tag = "milestones",
    security(("bearer" = [])),
    params(MilestoneId),
    responses(
        (status = 204, description = "The milestone is gone and its issues belong to none"),
        (status = 403, description = "Viewers and reporters may not manage milestones"),
        (status = 404, description = "No such milestone, or the caller is not a member of its project"),
    ),
)]
pub async fn delete_milestone(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(MilestoneId { id }): ApiPath<MilestoneId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteMilestoneRequest { id: id.to_string() });
    no_content(state.issues().delete_milestone(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::decode_json;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(default, deserialize_with = "nullable_estimate")]
        estimate: Option<Option<i64>>,
    }

    #[test]
    fn estimates_are_absent_null_or_whole_numbers_within_the_limit() {
        let read = |raw: &str| decode_json::<Body>(raw.as_bytes()).map(|b| b.estimate);
        assert_eq!(read("{}").unwrap(), None);
        assert_eq!(read(r#"{"estimate": null}"#).unwrap(), Some(None));
        assert_eq!(read(r#"{"estimate": 3}"#).unwrap(), Some(Some(3)));
        assert_eq!(read(r#"{"estimate": 3.0}"#).unwrap(), Some(Some(3)));
        for bad in [
            r#"{"estimate": 2.5}"#,
            r#"{"estimate": "3"}"#,
            r#"{"estimate": 1e300}"#,
        ] {
            assert_eq!(
                read(bad).unwrap_err().errors()[0].field,
                "estimate",
                "{bad}"
            );
        }
        assert_eq!(estimate_points(Some(1000)).unwrap(), Some(1000));
        assert_eq!(estimate_points(None).unwrap(), None);
        for bad in [-1, 1001, i64::MAX] {
            let error = estimate_points(Some(bad)).unwrap_err();
            assert_eq!(error.errors()[0].field, "estimate");
        }
    }

    #[test]
    fn a_milestone_patch_masks_exactly_the_fields_of_its_body() {
        let body: UpdateMilestoneRequest =
            decode_json(br#"{"due_on": null, "state": "closed"}"#).unwrap();
        assert_eq!(body.due_on, Some(None));
        assert_eq!(body.state, Some(MilestoneState::Closed));
        assert!(decode_json::<UpdateMilestoneRequest>(br#"{"state": null}"#).is_err());
        assert!(decode_json::<UpdateMilestoneRequest>(br#"{"title": null}"#).is_err());
        let error = decode_json::<UpdateMilestoneRequest>(br#"{"state": "done"}"#).unwrap_err();
        assert_eq!(error.errors()[0].field, "state");
        assert_eq!(error.errors()[0].message, MilestoneState::EXPECTED);
    }
}
