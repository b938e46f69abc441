//! `/v1/users…`: sign-up, the caller's own account, search, and admin changes (docs/api.md).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::identity::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::{
    Page, PageQuery, json, limits, located, no_content, paths::UserId, rfc3339, update_mask,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, ClientAddress, MaybeAuthenticated},
    openapi::problem_example,
    state::AppState,
};

/// A user. `email`, `admin`, `disabled` and `created_at` are shown to the user themself and to
/// admins only.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "username": "alice",
    "full_name": "Alice Liddell",
    "email": "alice@example.com",
    "admin": false,
    "disabled": false,
    "created_at": "2026-11-22T09:30:00.123456Z"
}))]
pub struct User {
    #[schema(format = Uuid)]
    pub id: String,
    pub username: String,
    pub full_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
}

impl From<pb::User> for User {
    fn from(user: pb::User) -> Self {
        User {
            id: user.id,
            username: user.username,
            full_name: user.full_name,
            email: user.email,
            admin: user.admin,
            disabled: user.disabled,
            created_at: user.created_at.and_then(rfc3339),
        }
    }
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "username": "alice",
    "email": "alice@example.com",
    "password": "correct horse battery staple",
    "full_name": "Alice Liddell"
}))]
pub struct SignUpRequest {
    #[schema(schema_with = limits::username)]
    pub username: String,
    #[schema(schema_with = limits::email)]
    pub email: String,
    #[schema(schema_with = limits::password)]
    pub password: String,
    #[schema(schema_with = limits::full_name)]
    pub full_name: Option<String>,
}

/// Changes to the caller's own account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"full_name": "Alice P. Liddell"}))]
pub struct UpdateMeRequest {
    #[schema(schema_with = limits::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = limits::full_name)]
    pub full_name: Option<String>,
}

/// A password change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "current_password": "correct horse battery staple",
    "new_password": "tr0ub4dor&3-but-longer"
}))]
pub struct ChangePasswordRequest {
    pub current_password: String,
    #[schema(schema_with = limits::password)]
    pub new_password: String,
}

/// An admin's changes to any account; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"disabled": true}))]
pub struct UpdateUserRequest {
    pub admin: Option<bool>,
    /// Disabling ends every login of the user.
    pub disabled: Option<bool>,
    #[schema(schema_with = limits::optional_email)]
    pub email: Option<String>,
    #[schema(schema_with = limits::full_name)]
    pub full_name: Option<String>,
}

/// Search parameters of `GET /v1/users`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchUsersQuery {
    #[param(schema_with = limits::user_query)]
    pub q: Option<String>,
}

/// Create an account.
#[utoipa::path(
    post,
    path = "/v1/users",
    tag = "users",
    request_body = SignUpRequest,
    responses(
        (status = 201, description = "The account was created", body = User,
            headers(("Location" = String, description = "/v1/users/{id}"))),
        (status = 403, description = "Sign-up is turned off"),
        (status = 409, description = "The username or email is taken", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "username", "this username is taken"))),
        (status = 429, description = "Too many sign-ups from this client address (admins are not counted); see Retry-After"),
    ),
)]
pub async fn sign_up(
    State(state): State<AppState>,
    MaybeAuthenticated(forwarded): MaybeAuthenticated,
    client: ClientAddress,
    ApiJson(body): ApiJson<SignUpRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let forwarded = forwarded.with_client(client);
    let user = state
        .identity()
        .sign_up(forwarded.request(pb::SignUpRequest {
            username: body.username,
            email: body.email,
            password: body.password,
            full_name: body.full_name,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::CREATED,
        &format!("/v1/users/{}", user.id),
        Json(User::from(user)),
    )
}

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's account, with every field", body = User),
    ),
)]
pub async fn get_me(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<User>, ApiError> {
    let request = caller.request(pb::GetMeRequest {});
    json(state.identity().get_me(request).await)
}

/// Change the caller's email or full name.
#[utoipa::path(
    patch,
    path = "/v1/users/me",
    tag = "users",
    security(("bearer" = [])),
    request_body = UpdateMeRequest,
    responses(
        (status = 200, description = "The updated account", body = User),
        (status = 409, description = "The email is taken"),
    ),
)]
pub async fn update_me(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<UpdateMeRequest>,
) -> Result<Json<User>, ApiError> {
    let request = caller.request(pb::UpdateMeRequest {
        update_mask: update_mask([
            ("email", body.email.is_some()),
            ("full_name", body.full_name.is_some()),
        ]),
        email: body.email,
        full_name: body.full_name,
    });
    json(state.identity().update_me(request).await)
}

/// Change the caller's password. Ends every login of the caller (their refresh tokens stop
/// working); access tokens already issued run out on their own.
#[utoipa::path(
    post,
    path = "/v1/users/me/password",
    tag = "users",
    security(("bearer" = [])),
    request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "The password was changed"),
        (status = 422, description = "The current password is wrong or the new one invalid"),
    ),
)]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::ChangePasswordRequest {
        current_password: body.current_password,
        new_password: body.new_password,
    });
    no_content(state.identity().change_password(request).await)
}

/// Search users by username prefix (to pick assignees). Everyone sees `id`, `username` and
/// `full_name`; admins see every field.
#[utoipa::path(
    get,
    path = "/v1/users",
    tag = "users",
    security(("bearer" = [])),
    params(SearchUsersQuery, PageQuery),
    responses(
        (status = 200, description = "One page of users, ordered by username", body = Page<User>,
            example = json!({
                "items": [{"id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e", "username": "alice", "full_name": "Alice Liddell"}],
                "next_page_token": null
            })),
        (status = 422, description = "A query over 32 characters or with control characters, a bad page size, or a page token this list did not give out"),
    ),
)]
pub async fn search_users(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<SearchUsersQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<User>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .identity()
        .search_users(caller.request(pb::SearchUsersRequest {
            query: query.q.unwrap_or_default(),
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.users, response.next_page_token)
}

/// One user's profile: public fields, or every field for admins and the user themself.
#[utoipa::path(
    get,
    path = "/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(UserId),
    responses(
        (status = 200, description = "The user", body = User),
        (status = 404, description = "No such user"),
    ),
)]
pub async fn get_user(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(UserId { id }): ApiPath<UserId>,
) -> Result<Json<User>, ApiError> {
    let request = caller.request(pb::GetUserRequest { id: id.to_string() });
    json(state.identity().get_user(request).await)
}

/// Admin only: change any user's admin flag, disabled flag, email or full name. Disabling a
/// user ends all their logins.
#[utoipa::path(
    patch,
    path = "/v1/users/{id}",
    tag = "users",
    security(("bearer" = [])),
    params(UserId),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated user, with every field", body = User),
        (status = 403, description = "The caller is not an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The email is taken, or an admin tried to demote or disable themself"),
    ),
)]
pub async fn update_user(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(UserId { id }): ApiPath<UserId>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<User>, ApiError> {
    let request = caller.request(pb::UpdateUserRequest {
        id: id.to_string(),
        update_mask: update_mask([
            ("admin", body.admin.is_some()),
            ("disabled", body.disabled.is_some()),
            ("email", body.email.is_some()),
            ("full_name", body.full_name.is_some()),
        ]),
        admin: body.admin,
        disabled: body.disabled,
        email: body.email,
        full_name: body.full_name,
    });
    json(state.identity().update_user(request).await)
}
