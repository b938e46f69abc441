//! `/v1/projects/{key}/views`, `/v1/views/{id}`: saved views, a user's named queries of a
//! project's issues (docs/api.md, *Saved views*). Only their owner sees or deletes them.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Page, broken_answer, limits, located, no_content, paths::ProjectKey, rfc3339};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// A saved view: a name, a query in the language of `q` and an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937b3c-5d6e-7f80-9a1b-2c3d4e5f6a7b",
    "project_key": "SWAT",
    "name": "My open work",
    "query": "assignee:me is:open -label:wontfix",
    "sort": "-priority",
    "created_at": "2026-12-01T09:30:00Z"
}))]
pub struct SavedView {
    #[schema(format = Uuid)]
    pub id: String,
    pub project_key: String,
    pub name: String,
    /// In the query language of `q` (docs/api.md, *Searching issues*).
    pub query: String,
    /// As `sort` of issue lists; empty: their default (`-updated_at`).
    pub sort: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl TryFrom<pb::SavedView> for SavedView {
    type Error = ApiError;

    fn try_from(view: pb::SavedView) -> Result<Self, ApiError> {
        Ok(SavedView {
            id: view.id,
            project_key: view.project_key,
            name: view.name,
            query: view.query,
            sort: view.sort,
            created_at: view
                .created_at
                .and_then(rfc3339)
                .ok_or_else(|| broken_answer("created_at"))?,
        })
    }
}

/// A view to save.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "My open work", "query": "assignee:me is:open -label:wontfix", "sort": "-priority"}))]
pub struct CreateSavedViewRequest {
    #[schema(schema_with = limits::view_name)]
    pub name: String,
    #[schema(schema_with = limits::view_query)]
    pub query: String,
    #[schema(schema_with = limits::optional_issue_sort)]
    pub sort: Option<String>,
}

/// `{id}` of one of the caller's saved views.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ViewPath {
    /// The view's id
    pub id: Uuid,
}

/// Save a named query of a project's issues, for the caller alone. Anyone who may see the
/// project may; at most 100 views per user and project.
#[utoipa::path(
    post,
    path = "/v1/projects/{key}/views",
    tag = "views",
    security(("bearer" = [])),
    params(ProjectKey),
    request_body = CreateSavedViewRequest,
    responses(
        (status = 201, description = "The view was saved", body = SavedView,
            headers(("Location" = String, description = "/v1/views/{id}"))),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 409, description = "The caller has a view of this name in the project, or already 100 views in it", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "name", "you already have a saved view with this name in this project"))),
        (status = 422, description = "A bad name, a query that does not parse (with the position) or an unknown sort", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "query", "at 16: expected a value after \"status:\""))),
    ),
)]
pub async fn create_saved_view(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiJson(body): ApiJson<CreateSavedViewRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let view = state
        .issues()
        .create_saved_view(caller.request(pb::CreateSavedViewRequest {
            project_key: key,
            name: body.name,
            query: body.query,
            sort: body.sort.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    let view = SavedView::try_from(view)?;
    located(
        StatusCode::CREATED,
        &format!("/v1/views/{}", view.id),
        Json(view),
    )
}

/// The caller's saved views of a project, by name (at most 100: one page).
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/views",
    tag = "views",
    security(("bearer" = [])),
    params(ProjectKey),
    responses(
        (status = 200, description = "The caller's views of the project, by name", body = Page<SavedView>),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn list_saved_views(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
) -> Result<Json<Page<SavedView>>, ApiError> {
    let answer = state
        .issues()
        .list_saved_views(caller.request(pb::ListSavedViewsRequest { project_key: key }))
        .await?
        .into_inner();
    Page::json(answer.views, String::new())
}

/// Delete one of the caller's saved views.
#[utoipa::path(
    delete,
    path = "/v1/views/{id}",
    tag = "views",
    security(("bearer" = [])),
    params(ViewPath),
    responses(
        (status = 204, description = "The view is deleted"),
        (status = 404, description = "No such view of the caller"),
    ),
)]
pub async fn delete_saved_view(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ViewPath { id }): ApiPath<ViewPath>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteSavedViewRequest { id: id.to_string() });
    no_content(state.issues().delete_saved_view(request).await)
}
