//! `/v1/projects/{key}/members…`: who belongs to a project and in which role (docs/api.md).

use axum::{Json, extract::State, http::StatusCode};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::ToSchema;

use super::{
    MAX_PAGE_SIZE, broken_answer, json, no_content,
    paths::{MemberPath, ProjectKey},
    required_rfc3339,
    wire::Role,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// A member of a project.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "username": "alice",
    "role": "maintainer",
    "added_at": "2026-11-22T09:30:00.123456Z"
}))]
pub struct Member {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub username: String,
    pub role: Role,
    #[schema(format = DateTime)]
    pub added_at: String,
}

impl TryFrom<pb::Member> for Member {
    type Error = ApiError;

    fn try_from(member: pb::Member) -> Result<Self, ApiError> {
        Ok(Member {
            user_id: member.user_id,
            username: member.username,
            role: Role::from_pb(member.role).ok_or_else(|| broken_answer("member.role"))?,
            added_at: required_rfc3339("member.added_at", member.added_at)?,
        })
    }
}

/// Every member of a project (a project has few, so the list is not paginated).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [{
    "user_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "username": "alice",
    "role": "owner",
    "added_at": "2026-11-22T09:30:00.123456Z"
}]}))]
pub struct Members {
    pub items: Vec<Member>,
}

/// The role to give a user in a project.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"role": "reporter"}))]
pub struct SetMemberRequest {
    pub role: Role,
}

/// The members of a project, with their roles.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/members",
    tag = "projects",
    security(("bearer" = [])),
    params(ProjectKey),
    responses(
        (status = 200, description = "Every member", body = Members),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn list_members(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
) -> Result<Json<Members>, ApiError> {
    // REST answers every member at once; gRPC pages, so read every page.
    let mut items = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = state
            .issues()
            .list_members(caller.request(pb::ListMembersRequest {
                project_key: key.clone(),
                page_size: MAX_PAGE_SIZE as i32,
                page_token,
            }))
            .await?
            .into_inner();
        for member in page.members {
            items.push(Member::try_from(member)?);
        }
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    Ok(Json(Members { items }))
}

/// Owners only: add a user to a project, or change their role. The last owner cannot be
/// demoted.
#[utoipa::path(
    put,
    path = "/v1/projects/{key}/members/{user_id}",
    tag = "projects",
    security(("bearer" = [])),
    params(MemberPath),
    request_body = SetMemberRequest,
    responses(
        (status = 200, description = "The member, with their new role", body = Member),
        (status = 403, description = "The caller is a member but not an owner"),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 409, description = "It would leave the project without an owner"),
        (status = 422, description = "An unknown role, or no such user", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "role", Role::EXPECTED))),
    ),
)]
pub async fn set_member(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(member): ApiPath<MemberPath>,
    ApiJson(body): ApiJson<SetMemberRequest>,
) -> Result<Json<Member>, ApiError> {
    let request = caller.request(pb::SetMemberRequest {
        project_key: member.key,
        user_id: member.user_id.to_string(),
        role: body.role.to_pb(),
    });
    json(state.issues().set_member(request).await)
}

/// Remove a member: owners remove anyone, any member may leave. The last owner can do neither.
#[utoipa::path(
    delete,
    path = "/v1/projects/{key}/members/{user_id}",
    tag = "projects",
    security(("bearer" = [])),
    params(MemberPath),
    responses(
        (status = 204, description = "The user is no longer a member"),
        (status = 403, description = "The caller may not remove others"),
        (status = 404, description = "No such project or member, or the caller is not a member"),
        (status = 409, description = "It would leave the project without an owner", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "", "a project needs at least one owner"))),
    ),
)]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(member): ApiPath<MemberPath>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::RemoveMemberRequest {
        project_key: member.key,
        user_id: member.user_id.to_string(),
    });
    no_content(state.issues().remove_member(request).await)
}
