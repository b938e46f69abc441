//! `/v1/users/{me|id}/tokens…`: personal access tokens (docs/api.md, *Personal access tokens*).
//! Only a password login manages them; admins list and revoke anyone's.

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::{identity::v1 as pb, issues::v1::GetProjectRequest};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{Page, PageQuery, broken_answer, limits, located, no_content, rfc3339};
use crate::{
    error::{ApiError, FieldError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// A personal access token, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6",
    "name": "ci-nightly",
    "scopes": ["read"],
    "projects": ["SWAT"],
    "prefix": "swt_pat_3kT9",
    "created_at": "2026-12-01T09:30:00Z",
    "expires_at": "2027-03-01T09:30:00Z",
    "last_used_at": null
}))]
pub struct PersonalAccessToken {
    #[schema(format = Uuid)]
    pub id: String,
    pub name: String,
    /// `read`, `write`, `admin`.
    pub scopes: Vec<String>,
    /// The only projects the token sees; `null`: every project its user may see.
    pub projects: Option<Vec<String>>,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// `null`: never expires.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    /// To the minute; `null`: never used.
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
}

impl TryFrom<pb::PersonalAccessToken> for PersonalAccessToken {
    type Error = ApiError;

    fn try_from(token: pb::PersonalAccessToken) -> Result<Self, ApiError> {
        Ok(PersonalAccessToken {
            id: token.id,
            name: token.name,
            scopes: token.scopes,
            projects: token.projects.map(|p| p.keys),
            prefix: token.prefix,
            created_at: token
                .created_at
                .and_then(rfc3339)
                .ok_or_else(|| broken_answer("created_at"))?,
            expires_at: token.expires_at.and_then(rfc3339),
            last_used_at: token.last_used_at.and_then(rfc3339),
        })
    }
}

/// A token just created, with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "token": {
        "id": "01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6",
        "name": "ci-nightly",
        "scopes": ["read"],
        "projects": ["SWAT"],
        "prefix": "swt_pat_3kT9",
        "created_at": "2026-12-01T09:30:00Z",
        "expires_at": "2027-03-01T09:30:00Z",
        "last_used_at": null
    },
    "secret": "swt_pat_3kT9xq2LmN8pR4sV6wY0zA1bC3dE5fG7h0Q2aZk"
}))]
pub struct CreatedToken {
    pub token: PersonalAccessToken,
    /// Send it as `Authorization: Bearer <secret>`. It cannot be shown again.
    pub secret: String,
}

/// A new personal access token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "ci-nightly", "scopes": ["read"], "projects": ["SWAT"], "expires_in_days": 30}))]
pub struct CreateTokenRequest {
    #[schema(schema_with = limits::token_name)]
    pub name: String,
    #[schema(schema_with = limits::token_scopes)]
    pub scopes: Vec<String>,
    #[schema(schema_with = limits::token_projects)]
    pub projects: Option<Vec<String>>,
    #[schema(schema_with = limits::token_days)]
    pub expires_in_days: Option<i64>,
    /// A token that never expires, where the server allows it (otherwise 422); excludes
    /// `expires_in_days`.
    #[serde(default)]
    pub never_expires: bool,
}

/// `{token_id}` of one of the caller's tokens.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MyTokenPath {
    /// The token's id
    pub token_id: Uuid,
}

/// `{id}/tokens/{token_id}`: a user's token.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserTokenPath {
    /// The user's id
    pub id: Uuid,
    /// The token's id
    pub token_id: Uuid,
}

/// `{id}` of the user whose tokens are listed.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenOwner {
    /// The user's id
    pub id: Uuid,
}

/// Most projects one token may be limited to (identity's limit, repeated to bound the checks).
const MAX_TOKEN_PROJECTS: usize = 100;

/// Refuses projects the caller may not see, naming each (`projects[i]`): a token cannot be granted
/// what its creator cannot see. Issues decides, with the caller's own credentials.
async fn check_projects(
    state: &AppState,
    caller: &Authenticated,
    projects: &[String],
) -> Result<(), ApiError> {
    // Identity refuses more; the check here must not ask issues thousands of times first.
    if projects.len() > MAX_TOKEN_PROJECTS {
        return Err(ApiError::invalid_field(
            "projects",
            format!("at most {MAX_TOKEN_PROJECTS} projects"),
        ));
    }
    let mut errors = Vec::new();
    for (i, key) in projects.iter().enumerate() {
        if projects[..i].contains(key) {
            continue;
        }
        let answer = state
            .issues()
            .get_project(caller.request(GetProjectRequest { key: key.clone() }))
            .await;
        match answer {
            Ok(_) => {}
            Err(status) if status.code() == tonic::Code::NotFound => errors.push(FieldError {
                field: format!("projects[{i}]"),
                message: "no such project, or you may not see it".to_owned(),
            }),
            Err(status) => return Err(ApiError::from_status(&status)),
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::validation(errors))
    }
}

/// Create a personal access token. The answer holds its secret, which is never shown again.
/// Needs a password login: a personal access token cannot create tokens.
#[utoipa::path(
    post,
    path = "/v1/users/me/tokens",
    tag = "tokens",
    security(("bearer" = [])),
    request_body = CreateTokenRequest,
    responses(
        (status = 201, description = "The token, with its secret", body = CreatedToken,
            headers(("Location" = String, description = "/v1/users/me/tokens/{token_id}"))),
        (status = 403, description = "The caller used a personal access token"),
        (status = 409, description = "A token with this name exists (not revoked)", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Conflict, "name", "you have a personal access token with this name; revoke it or choose another"))),
        (status = 422, description = "An unknown scope, `admin` asked by a non-admin, a project the caller may not see, or an expiry over 365 days", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "scopes[0]", "unknown scope \"delete\"; the scopes are read, write and admin"))),
    ),
)]
pub async fn create_my_token(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiJson(body): ApiJson<CreateTokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if let swatter_common::auth::Principal::User(user) = &caller.principal {
        user.require_password_login("managing personal access tokens")?;
    }
    if let Some(projects) = &body.projects {
        check_projects(&state, &caller, projects).await?;
    }
    let expires_in_days = body
        .expires_in_days
        .map(|days| i32::try_from(days).unwrap_or(i32::MAX));
    let created = state
        .identity()
        .create_personal_access_token(caller.request(pb::CreatePersonalAccessTokenRequest {
            name: body.name,
            scopes: body.scopes,
            projects: body.projects.map(|keys| pb::ProjectKeys { keys }),
            expires_in_days,
            never_expires: body.never_expires,
        }))
        .await?
        .into_inner();
    let token =
        PersonalAccessToken::try_from(created.token.ok_or_else(|| broken_answer("token"))?)?;
    located(
        StatusCode::CREATED,
        &format!("/v1/users/me/tokens/{}", token.id),
        Json(CreatedToken {
            token,
            secret: created.secret,
        }),
    )
}

async fn list(
    state: &AppState,
    caller: &Authenticated,
    user_id: String,
    page: PageQuery,
) -> Result<Json<Page<PersonalAccessToken>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let answer = state
        .identity()
        .list_personal_access_tokens(caller.request(pb::ListPersonalAccessTokensRequest {
            user_id,
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(answer.tokens, answer.next_page_token)
}

async fn revoke(
    state: &AppState,
    caller: &Authenticated,
    user_id: String,
    id: Uuid,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::RevokePersonalAccessTokenRequest {
        id: id.to_string(),
        user_id,
    });
    no_content(state.identity().revoke_personal_access_token(request).await)
}

/// The caller's personal access tokens that are not revoked, newest first (expired ones too).
/// Never their secrets.
#[utoipa::path(
    get,
    path = "/v1/users/me/tokens",
    tag = "tokens",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "The caller's tokens, newest first", body = Page<PersonalAccessToken>),
        (status = 403, description = "The caller used a personal access token"),
    ),
)]
pub async fn list_my_tokens(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<PersonalAccessToken>>, ApiError> {
    list(&state, &caller, String::new(), page).await
}

/// Revoke one of the caller's personal access tokens: every service refuses it within 5 seconds
/// (401 `token-revoked`). Revoking it again is no error.
#[utoipa::path(
    delete,
    path = "/v1/users/me/tokens/{token_id}",
    tag = "tokens",
    security(("bearer" = [])),
    params(MyTokenPath),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 403, description = "The caller used a personal access token"),
        (status = 404, description = "No such token of the caller"),
    ),
)]
pub async fn revoke_my_token(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(MyTokenPath { token_id }): ApiPath<MyTokenPath>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &caller, String::new(), token_id).await
}

/// A user's personal access tokens that are not revoked: admins, or the user themself.
#[utoipa::path(
    get,
    path = "/v1/users/{id}/tokens",
    tag = "tokens",
    security(("bearer" = [])),
    params(TokenOwner, PageQuery),
    responses(
        (status = 200, description = "The user's tokens, newest first", body = Page<PersonalAccessToken>),
        (status = 403, description = "The caller is not an admin, or used a personal access token"),
    ),
)]
pub async fn list_user_tokens(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(TokenOwner { id }): ApiPath<TokenOwner>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<PersonalAccessToken>>, ApiError> {
    list(&state, &caller, id.to_string(), page).await
}

/// Revoke any user's personal access token: admins, or the user themself.
#[utoipa::path(
    delete,
    path = "/v1/users/{id}/tokens/{token_id}",
    tag = "tokens",
    security(("bearer" = [])),
    params(UserTokenPath),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 403, description = "The caller is not an admin, or used a personal access token"),
        (status = 404, description = "No such token of this user"),
    ),
)]
pub async fn revoke_user_token(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(UserTokenPath { id, token_id }): ApiPath<UserTokenPath>,
) -> Result<StatusCode, ApiError> {
    revoke(&state, &caller, id.to_string(), token_id).await
}
