//! `/v1/issues/{issue_key}/relations`: blocks, duplicates, relates to and sub-issues between
//! issues, across the projects the caller can see (docs/api.md, "Relations").

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use tonic::Status;
use utoipa::{IntoParams, ToSchema};

use super::{
    broken_answer, limits, located,
    paths::IssueKey,
    rfc3339,
    wire::{IssueStatus, RelationKind},
};
use crate::{
    error::{ApiError, FieldError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// A relation as seen from the issue of the URL. When the caller may not see the other issue,
/// only `kind` and `hidden: true` are shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "kind": "blocked_by",
    "issue_key": "SWAT-7",
    "hidden": false,
    "title": "Sessions expire too early",
    "status": "in_progress",
    "created_at": "2026-12-01T09:30:00Z"
}))]
pub struct Relation {
    pub kind: RelationKind,
    /// The other issue; absent when `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = limits::issue_key, required = false)]
    pub issue_key: Option<String>,
    /// The caller may not see the other issue: nothing of it is shown.
    pub hidden: bool,
    /// The other issue's title; absent when `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The other issue's status; absent when `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<IssueStatus>,
    /// When the relation was made; absent when `hidden`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
}

impl TryFrom<pb::Relation> for Relation {
    type Error = ApiError;

    fn try_from(relation: pb::Relation) -> Result<Self, ApiError> {
        let kind =
            RelationKind::from_pb(relation.kind).ok_or_else(|| broken_answer("relation.kind"))?;
        if relation.hidden {
            return Ok(Relation {
                kind,
                issue_key: None,
                hidden: true,
                title: None,
                status: None,
                created_at: None,
            });
        }
        Ok(Relation {
            kind,
            issue_key: Some(relation.issue_key),
            hidden: false,
            title: Some(relation.title),
            status: Some(
                IssueStatus::from_pb(relation.status)
                    .ok_or_else(|| broken_answer("relation.status"))?,
            ),
            created_at: relation.created_at.and_then(rfc3339),
        })
    }
}

/// Every relation of an issue (bounded, so not paginated).
#[derive(Debug, Serialize, ToSchema)]
pub struct RelationList {
    /// By kind, then the other issue's key; hidden ones last.
    pub items: Vec<Relation>,
}

/// A relation to make, from the issue of the URL.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "blocks", "issue_key": "SWAT-43"}))]
pub struct AddRelationRequest {
    /// How the issue of the URL relates to the other one (`blocks`: it blocks `issue_key`;
    /// `parent_of`: `issue_key` becomes its sub-issue).
    pub kind: RelationKind,
    /// The other issue, in any project the caller can see.
    #[schema(schema_with = limits::issue_key)]
    pub issue_key: String,
}

/// `{issue_key}/relations/{kind}/{other_key}`: one relation of an issue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RelationPath {
    /// `KEY-n`
    #[param(schema_with = limits::issue_key)]
    pub issue_key: String,
    /// The relation's kind, seen from `issue_key`
    #[param(inline)]
    pub kind: RelationKind,
    /// The other issue, `KEY-n`
    #[param(schema_with = limits::issue_key)]
    pub other_key: String,
}

/// The service names the other issue `target_key`; the REST body calls it `issue_key`.
fn body_error(status: Status) -> ApiError {
    let error = ApiError::from_status(&status);
    if error.errors().is_empty() {
        return error;
    }
    let renamed: Vec<FieldError> = error
        .errors()
        .iter()
        .map(|e| FieldError {
            field: if e.field == "target_key" {
                "issue_key".to_owned()
            } else {
                e.field.clone()
            },
            message: e.message.clone(),
        })
        .collect();
    if error.kind() == ProblemKind::Validation {
        ApiError::validation(renamed)
    } else {
        error.with_errors(renamed)
    }
}

/// The relations of an issue, each seen from it (`A blocks B` is listed on B as `blocked_by`).
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}/relations",
    tag = "issues",
    security(("bearer" = [])),
    params(IssueKey),
    responses(
        (status = 200, description = "Every relation of the issue", body = RelationList),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn list_relations(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
) -> Result<Json<RelationList>, ApiError> {
    let response = state
        .issues()
        .list_relations(caller.request(pb::ListRelationsRequest { issue_key }))
        .await?
        .into_inner();
    let items = response
        .relations
        .into_iter()
        .map(Relation::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(RelationList { items }))
}

/// Maintainers and owners of the issue's project: relate it to another issue the caller can see.
#[utoipa::path(
    post,
    path = "/v1/issues/{issue_key}/relations",
    tag = "issues",
    security(("bearer" = [])),
    params(IssueKey),
    request_body = AddRelationRequest,
    responses(
        (status = 201, description = "The relation was made", body = Relation,
            headers(("Location" = String, description = "/v1/issues/{issue_key}/relations/{kind}/{other_key}"))),
        (status = 403, description = "Only maintainers and owners change relations"),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
        (status = 409, description = "The relation exists already, would close a cycle of blocks or of parents (the problem names it), would give an issue a second parent, nest sub-issues more than 8 levels deep or give an issue more than 100 sub-issues",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::RelationCycle, "issue_key", "SWAT-1 → SWAT-2 → SWAT-1"))),
        (status = 422, description = "An unknown kind, the issue itself, or a key that names no issue the caller can see",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::Validation, "issue_key", "names no issue you can see"))),
    ),
)]
pub async fn add_relation(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiJson(body): ApiJson<AddRelationRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let relation = state
        .issues()
        .add_relation(caller.request(pb::AddRelationRequest {
            issue_key: issue_key.clone(),
            kind: body.kind.to_pb(),
            target_key: body.issue_key,
        }))
        .await
        .map_err(body_error)?
        .into_inner();
    let relation = Relation::try_from(relation)?;
    let location = format!(
        "/v1/issues/{issue_key}/relations/{}/{}",
        relation.kind,
        relation.issue_key.as_deref().unwrap_or_default()
    );
    located(StatusCode::CREATED, &location, Json(relation))
}

/// Maintainers and owners of the issue's project: remove one of its relations (from either end).
#[utoipa::path(
    delete,
    path = "/v1/issues/{issue_key}/relations/{kind}/{other_key}",
    tag = "issues",
    security(("bearer" = [])),
    params(RelationPath),
    responses(
        (status = 204, description = "The relation is gone"),
        (status = 403, description = "Only maintainers and owners change relations"),
        (status = 404, description = "No such issue or relation, or the caller may not see one of the two issues"),
    ),
)]
pub async fn remove_relation(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(path): ApiPath<RelationPath>,
) -> Result<StatusCode, ApiError> {
    state
        .issues()
        .remove_relation(caller.request(pb::RemoveRelationRequest {
            issue_key: path.issue_key,
            kind: path.kind.to_pb(),
            target_key: path.other_key,
        }))
        .await
        .map_err(body_error)?;
    Ok(StatusCode::NO_CONTENT)
}
