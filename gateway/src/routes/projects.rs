//! `/v1/projects` and `/v1/projects/{key}`: create, list, read, change and delete projects
//! (docs/api.md).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::ToSchema;

use super::{
    Page, PageQuery, header_value, not_null, nullable, page_size, required_rfc3339, wire::Role,
};
use crate::{
    error::{ApiError, Problem},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey},
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
    /// 2–10 characters: an upper-case letter, then upper-case letters or digits.
    pub key: String,
    /// 1–200 characters.
    pub name: String,
    /// At most 20,000 characters.
    pub description: Option<String>,
}

/// Changes to a project; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Swatter backend"}))]
pub struct UpdateProjectRequest {
    /// 1–200 characters; may not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, required = false)]
    pub name: Option<String>,
    /// At most 20,000 characters; `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, required = false)]
    pub description: Option<Option<String>>,
}

/// Create a project. The caller becomes its owner.
#[utoipa::path(
    post,
    path = "/v1/projects",
    tag = "projects",
    security(("bearer" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header,
            description = "Sending the same key and body again answers the first response again and creates nothing; the same key with another body is 422"),
    ),
    request_body = CreateProjectRequest,
    responses(
        (status = 201, description = "The project was created", body = Project,
            headers(("Location" = String, description = "/v1/projects/{key}"))),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No, a bad or an expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A project with this key exists", body = Problem, content_type = "application/problem+json",
            example = json!({
                "type": "https://swatter.dev/problems/conflict",
                "title": "Conflict",
                "status": 409,
                "detail": "a project with this key already exists",
                "request_id": "0b5e2c5e-6f0e-4a51-8d0c-2b1f0c1d2e3f",
                "errors": [{"field": "key", "message": "a project with this key already exists"}]
            })),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid, or the Idempotency-Key was used with another body", body = Problem, content_type = "application/problem+json"),
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
    let location = header_value(&format!("/v1/projects/{}", project.key))?;
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(Project::try_from(project)?),
    ))
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
        (status = 401, description = "No, a bad or an expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A bad page size or page token", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn list_projects(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Project>>, ApiError> {
    let response = state
        .issues()
        .list_projects(caller.request(pb::ListProjectsRequest {
            page_size: page_size(query.page_size)?,
            page_token: query.page_token.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    let items = response
        .projects
        .into_iter()
        .map(Project::try_from)
        .collect::<Result<_, _>>()?;
    Ok(Json(Page::new(items, response.next_page_token)))
}

/// One project.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The project's key", example = "SWAT")),
    responses(
        (status = 200, description = "The project", body = Project),
        (status = 401, description = "No, a bad or an expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn get_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(key): ApiPath<String>,
) -> Result<Json<Project>, ApiError> {
    let project = state
        .issues()
        .get_project(caller.request(pb::GetProjectRequest { key }))
        .await?
        .into_inner();
    Ok(Json(project.try_into()?))
}

/// Owners only: rename a project or change its description.
#[utoipa::path(
    patch,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The project's key", example = "SWAT")),
    request_body = UpdateProjectRequest,
    responses(
        (status = 200, description = "The changed project", body = Project),
        (status = 400, description = "The body is not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No, a bad or an expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is a member but not an owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field is invalid", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn update_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(key): ApiPath<String>,
    ApiJson(body): ApiJson<UpdateProjectRequest>,
) -> Result<Json<Project>, ApiError> {
    let project = state
        .issues()
        .update_project(caller.request(pb::UpdateProjectRequest {
            key,
            name: body.name,
            description: body.description.map(Option::unwrap_or_default),
        }))
        .await?
        .into_inner();
    Ok(Json(project.try_into()?))
}

/// Owners only: delete a project with its issues, comments and history. Its key is free again.
#[utoipa::path(
    delete,
    path = "/v1/projects/{key}",
    tag = "projects",
    security(("bearer" = [])),
    params(("key" = String, Path, description = "The project's key", example = "SWAT")),
    responses(
        (status = 204, description = "The project is gone"),
        (status = 401, description = "No, a bad or an expired access token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is a member but not an owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such project, or the caller is not a member", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn delete_project(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(key): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    state
        .issues()
        .delete_project(caller.request(pb::DeleteProjectRequest { key }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
