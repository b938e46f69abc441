//! `/v1/projects` and `/v1/projects/{key}`: create, list, read, change and delete projects
//! (docs/api.md).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::ToSchema;

use super::{
    Page, PageQuery,
    fields::{not_null, nullable},
    json, limits, located, no_content,
    paths::ProjectKey,
    required_rfc3339, update_mask,
    wire::Role,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey},
    openapi::problem_example,
    state::AppState,
};

/// A project.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "key": "SWAT",
    "name": "Swatter",
    "description": "The bug tracker itself",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "updated_at": "2026-11-22T09:30:00.123456Z",
    "my_role": "owner"
}))]
pub struct Project {
    #[schema(format = Uuid)]
    pub id: String,
    /// 2–10 characters: an upper-case letter, then upper-case letters or digits. Never changes.
    pub key: String,
    pub name: String,
    pub description: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The caller's role; `null` for an admin who is not a member.
    #[schema(required = true)]
    pub my_role: Option<Role>,
}

impl TryFrom<pb::Project> for Project {
    type Error = ApiError;

    fn try_from(project: pb::Project) -> Result<Self, ApiError> {
        Ok(Project {
            id: project.id,
            key: project.key,
            name: project.name,
            description: project.description,
            created_at: required_rfc3339("project.created_at", project.created_at)?,
            updated_at: required_rfc3339("project.updated_at", project.updated_at)?,
            my_role: Role::from_pb(project.my_role),
        })
    }
}

/// A new project; its creator becomes its owner.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"key": "SWAT", "name": "Swatter", "description": "The bug tracker itself"}))]
pub struct CreateProjectRequest {
    #[schema(schema_with = limits::project_key)]
    pub key: String,
    #[schema(schema_with = limits::title)]
    pub name: String,
    #[schema(schema_with = limits::description)]
    pub description: Option<String>,
}

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Swatter backend"}))]
pub struct UpdateProjectRequest {
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::title, required = false)]
    pub name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::description, required = false)]
    pub description: Option<Option<String>>,
}

/// Create a project. The caller becomes its owner.
#[utoipa::path(
    post,
    path = "/v1/projects",
    tag = "projects",
    security(("bearer" = [])),
    params(
        IdempotencyKey,
    ),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "The project was created", body = Project,
            headers(("Location" = String, description = "/v1/projects/{key}"))),
        (status = 409, description = "A project with this key exists", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "key", "a project with this key already exists"))),
        (status = 422, description = "A field is invalid, or the Idempotency-Key was used with another body"),
    ),
)]
pub async fn create_project(
    State(state): State<AppState>,
    caller: Authenticated,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CreateProjectRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let project = state
        .issues()
        .create_project(caller.request(pb::CreateProjectRequest {
            key: body.key,
            name: body.name,
            description: body.description,
            request_id,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::CREATED,
        &format!("/v1/projects/{}", project.key),
        Json(Project::try_from(project)?),
    )
}

/// The projects the caller is a member of (admins: every project), by key.
#[utoipa::path(
    get,
    path = "/v1/projects",
    tag = "projects",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of projects, ordered by key", body = Page<Project>,
            example = json!({
                "items": [{
                    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f", "key": "SWAT", "name": "Swatter",
                    "description": "", "created_at": "2026-11-22T09:30:00Z",
                    "updated_at": "2026-11-22T09:30:00Z", "my_role": "maintainer"
                }],
                "next_page_token": null
            })),
    ),
)]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Project>>, ApiError> {
    let (page_size, page_token) = query.into_pb()?;
    let response = state
        .issues()
        .list_projects(caller.request(pb::ListProjectsRequest {
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.projects, response.next_page_token)
}

/// One project.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(ProjectKey),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
) -> Result<Json<Project>, ApiError> {
    let request = caller.request(pb::GetProjectRequest { key });
    json(state.issues().get_project(request).await)
}

/// Owners only: rename a project or change its description.
#[utoipa::path(
    patch,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(ProjectKey),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, description = "The changed project", body = Project),
        (status = 403, description = "The caller is a member but not an owner"),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> Result<Json<Project>, ApiError> {
    let request = caller.request(pb::UpdateProjectRequest {
        key,
        update_mask: update_mask([
            ("name", body.name.is_some()),
            ("description", body.description.is_some()),
        ]),
        name: body.name,
        description: body.description.flatten(),
    });
    json(state.issues().update_project(request).await)
}

/// Owners only: delete a project with its issues, comments and history. Its key is free again.
#[utoipa::path(
    delete,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(ProjectKey),
    responses(
        (status = 204, description = "The project is gone"),
        (status = 403, description = "The caller is a member but not an owner"),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteProjectRequest { key });
    no_content(state.issues().delete_project(request).await)
}
