//! `/v1/auth/…` and the JWK set: the OAuth2-style token endpoint, revocation, and the public
//! keys that verify access tokens (docs/api.md).

use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use swatter_proto::identity::v1::{self as pb, create_token_request::Grant};
use utoipa::{
    ToSchema,
    openapi::{Object, ObjectBuilder, Type},
};

use super::{limits, no_content};
use crate::{
    error::{ApiError, FieldError},
    extract::{Anonymous, ApiJson, ClientAddress, JsonOrForm},
    state::AppState,
};

/// A token request, as a form (OAuth2) or as JSON with the same fields. Which fields are needed
/// depends on `grant_type`: `password` → `username`, `password`; `refresh_token` →
/// `refresh_token`. Any other grant (service credentials included) is refused with 400
/// `unsupported_grant_type`; other parameters are ignored, as RFC 6749 §3.2 asks.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "grant_type": "password",
    "username": "alice",
    "password": "correct horse battery staple"
}))]
pub struct TokenRequest {
    #[schema(schema_with = grant_types)]
    pub grant_type: String,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    /// Accepted for OAuth2 clients that always send it; swatter has no scopes.
    pub scope: Option<String>,
}

/// The schema of `grant_type`: the grants taken. The field itself stays text, so that any other
/// grant is the 400 `unsupported_grant_type` RFC 6749 asks for rather than a 422.
fn grant_types() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["password", "refresh_token"]))
        .description(Some("`password` or `refresh_token`"))
        .build()
}

impl TokenRequest {
    /// The grant, 400 `unsupported_grant_type` for any other, or 422 naming each missing field.
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
            // Service credentials are for identity's gRPC port only, never for the public API.
            _ => return Err(ApiError::unsupported_grant_type()),
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
    /// Exchange with `grant_type=refresh_token` for new tokens; each one works once.
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
    #[schema(schema_with = limits::refresh_token)]
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

/// Get tokens: log in with a password, exchange a refresh token (it is rotated: the one sent
/// stops working, and sending it again ends the whole login). Service credentials are not
/// accepted here.
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
        (status = 400, description = "A grant_type other than password or refresh_token (`\"error\": \"unsupported_grant_type\"`, RFC 6749 §5.2), or a body that is not a form or JSON at all"),
        (status = 401, description = "Bad credentials, a disabled account, or a refresh token that is invalid, expired, revoked or already used"),
        (status = 415, description = "The body is neither a form nor JSON"),
        (status = 422, description = "A field the grant needs is missing or not text"),
        (status = 429, description = "Too many failed logins from this client address, or for this username from it; see Retry-After"),
    ),
)]
pub async fn create_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    client: ClientAddress,
    JsonOrForm(body): JsonOrForm<TokenRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let grant = body.into_grant()?;
    let forwarded = forwarded.with_client(client);
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
        (status = 422, description = "refresh_token is missing, longer than 256 characters or holds control characters"),
    ),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    ApiJson(body): ApiJson<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    let request = forwarded.request(pb::RevokeTokenRequest {
        refresh_token: body.refresh_token,
    });
    no_content(state.identity().revoke_token(request).await)
}

/// The public keys that verify access tokens (JWK set).
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    responses(
        (status = 200, description = "The JWK set", body = Jwks),
        (status = 503, description = "Identity is unavailable"),
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
