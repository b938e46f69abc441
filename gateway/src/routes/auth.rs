//! `/v1/auth/…` and the JWK set: the OAuth2-style token endpoint, revocation, and the public
//! keys that verify access tokens (SPEC §3).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use swatter_proto::identity::v1::{self as pb, create_token_request::Grant};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, FieldError, Problem},
    extract::{Anonymous, ApiJson, ClientAddress, JsonOrForm},
    rate_limit::Limited,
    state::AppState,
};

/// A token request, as a form (OAuth2) or as JSON with the same fields. Which fields are needed
/// depends on `grant_type`:
/// `password` → `username`, `password`; `refresh_token` → `refresh_token`;
/// `client_credentials` → `client_id`, `client_secret`, optionally `subject_user_id`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "grant_type": "password",
    "username": "alice",
    "password": "correct horse battery staple"
}))]
pub struct TokenRequest {
    /// `password`, `refresh_token` or `client_credentials`.
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// With `client_credentials`: the user a service acts for.
    #[schema(format = Uuid)]
    pub subject_user_id: Option<String>,
    /// Accepted for OAuth2 clients that always send it; swatter has no scopes.
    pub scope: Option<String>,
}

impl TokenRequest {
    /// The grant, or 422 naming the unknown grant type or each missing field.
    fn into_grant(self) -> Result<Grant, ApiError> {
        let mut missing = Vec::new();
        let mut require = |field: &'static str, value: Option<String>| {
            if value.is_none() {
                missing.push(FieldError {
                    field: field.to_owned(),
                    message: format!("is required with grant_type={}", self.grant_type),
                });
            }
            value.unwrap_or_default()
        };
        let grant = match self.grant_type.as_str() {
            "password" => Grant::Password(pb::PasswordGrant {
                username: require("username", self.username),
                password: require("password", self.password),
            }),
            "refresh_token" => Grant::RefreshToken(pb::RefreshTokenGrant {
                refresh_token: require("refresh_token", self.refresh_token),
            }),
            "client_credentials" => Grant::ClientCredentials(pb::ClientCredentialsGrant {
                client_id: require("client_id", self.client_id),
                client_secret: require("client_secret", self.client_secret),
                subject_user_id: self.subject_user_id,
            }),
            _ => {
                return Err(ApiError::invalid_field(
                    "grant_type",
                    "must be password, refresh_token or client_credentials",
                ));
            }
        };
        if missing.is_empty() {
            Ok(grant)
        } else {
            Err(ApiError::validation(missing))
        }
    }
}

/// Tokens for a successful grant.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJhbGciOiJFZERTQSIsImtpZCI6IjNxV2hKVTZkWnJnIn0.eyJzdWIiOiIuLi4ifQ.c2ln",
    "token_type": "Bearer",
    "expires_in": 900,
    "refresh_token": "mS3Qz6bX0kq2b7n1yV8wZ4rT9uE5pA1cD3fG7hJ2kL0"
}))]
pub struct TokenResponse {
    /// A JWT (EdDSA) to send as `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange with `grant_type=refresh_token` for new tokens; each one works once. Absent for
    /// `client_credentials`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

impl From<pb::TokenResponse> for TokenResponse {
    fn from(response: pb::TokenResponse) -> Self {
        TokenResponse {
            access_token: response.access_token,
            token_type: response.token_type,
            expires_in: response.expires_in,
            refresh_token: Some(response.refresh_token).filter(|token| !token.is_empty()),
        }
    }
}

/// A login to end.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "mS3Qz6bX0kq2b7n1yV8wZ4rT9uE5pA1cD3fG7hJ2kL0"}))]
pub struct RevokeRequest {
    #[schema(max_length = 256)]
    pub refresh_token: String,
}

/// A public signing key (RFC 7517, OKP / Ed25519).
#[derive(Debug, Serialize, ToSchema)]
pub struct Jwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub kid: String,
    pub alg: String,
    #[serde(rename = "use")]
    pub key_use: String,
}

/// The keys that verify access tokens.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"keys": [{
    "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    "kid": "3qWhJU6dZrgAbCdE", "alg": "EdDSA", "use": "sig"
}]}))]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

fn too_many(detail: &'static str) -> impl FnOnce(Limited) -> ApiError {
    move |limited| ApiError::rate_limited(detail, limited.retry_after)
}

/// Get tokens: log in with a password, exchange a refresh token (it is rotated: the one sent
/// stops working, and sending it again ends the whole login), or authenticate a service.
#[utoipa::path(
    post,
    path = "/v1/auth/token",
    tag = "auth",
    request_body(
        description = "The grant, as an OAuth2 form or as JSON",
        content(
            (TokenRequest = "application/x-www-form-urlencoded"),
            (TokenRequest = "application/json"),
        ),
    ),
    responses(
        (status = 200, description = "Tokens; sent with Cache-Control: no-store", body = TokenResponse),
        (status = 401, description = "Bad credentials, a disabled account, or a refresh token that is invalid, expired, revoked or already used",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is neither a form nor JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "An unknown grant_type or a missing field", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many attempts from this client or for this username; see Retry-After",
            body = Problem, content_type = "application/problem+json",
            headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ),
)]
pub async fn create_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    ClientAddress(client): ClientAddress,
    JsonOrForm(body): JsonOrForm<TokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    state
        .login_limiter
        .check_client(client)
        .map_err(too_many("too many token requests from this client"))?;
    let grant = body.into_grant()?;
    if let Grant::Password(password) = &grant {
        state
            .login_limiter
            .check_username(&password.username)
            .map_err(too_many("too many login attempts for this username"))?;
    }
    let response = state
        .identity()
        .create_token(forwarded.request(pb::CreateTokenRequest { grant: Some(grant) }))
        .await?
        .into_inner();
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(TokenResponse::from(response)),
    ))
}

/// End the login a refresh token belongs to (its whole rotation family). Unknown tokens are
/// accepted too (RFC 7009): either way the token no longer works. Text that no refresh token can
/// be (over 256 characters, control characters) is refused.
#[utoipa::path(
    post,
    path = "/v1/auth/revoke",
    tag = "auth",
    request_body = RevokeRequest,
    responses(
        (status = 204, description = "The login is over"),
        (status = 415, description = "The body is not sent as JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "refresh_token is missing, longer than 256 characters or holds control characters", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    state
        .identity()
        .revoke_token(forwarded.request(pb::RevokeTokenRequest {
            refresh_token: body.refresh_token,
        }))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The public keys that verify access tokens (JWK set).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    responses(
        (status = 200, description = "The JWK set", body = Jwks),
        (status = 503, description = "Identity is unavailable", body = Problem, content_type = "application/problem+json"),
    ),
)]
pub async fn jwks(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
) -> Result<impl IntoResponse, ApiError> {
    let jwks = state
        .identity()
        .get_jwks(forwarded.request(pb::GetJwksRequest {}))
        .await?
        .into_inner();
    let keys = jwks
        .keys
        .into_iter()
        .map(|key| Jwk {
            kty: key.kty,
            crv: key.crv,
            x: key.x,
            kid: key.kid,
            alg: key.alg,
            key_use: key.r#use,
        })
        .collect();
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(Jwks { keys }),
    ))
}
