//! `/v1/auth/…` and the JWK set: the OAuth2-style token endpoint, revocation, and the public
//! keys that verify access tokens (docs/api.md).

use axum::{
    Json,
    extract::State,
    http::{HeaderMap, StatusCode, header},
    response::IntoResponse,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use swatter_proto::identity::v1::{self as pb, create_token_request::Grant};
use utoipa::{
    PartialSchema, ToSchema,
    openapi::{AllOfBuilder, Object, ObjectBuilder, RefOr, Schema, Type, schema::AnyOfBuilder},
};

use super::no_content;
use crate::{
    error::{ApiError, FieldError, OAuthProblem, PROBLEM_JSON, ProblemKind},
    extract::{Anonymous, ClientAddress, JsonOrForm},
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
    /// The grant, `unsupported_grant_type` for any other, or a validation error naming each
    /// missing field (`invalid_request` once [`ApiError::oauth`] has seen it).
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

/// A login to end: the refresh token as RFC 7009 names it (`token`) or under its own name
/// (read only without `token`). Other parameters (`token_type_hint`, `client_id`) are ignored,
/// as RFC 7009 §2.1 allows: the token itself says what it is.
#[derive(Debug, Deserialize)]
pub struct RevokeRequest {
    /// `null` is refused naming the field, as the schema's `string` says.
    #[serde(default, deserialize_with = "super::fields::not_null")]
    pub token: Option<String>,
    #[serde(default, deserialize_with = "super::fields::not_null")]
    pub refresh_token: Option<String>,
}

impl RevokeRequest {
    /// The token to revoke, or 400 `invalid_request` when there is none. Any text is a token
    /// here: one that is not a live refresh token is revoked already (RFC 7009 §2.2).
    fn into_token(self) -> Result<String, ApiError> {
        self.token
            .or(self.refresh_token)
            .ok_or_else(|| ApiError::invalid_field("token", "is required"))
    }
}

/// Either field, one of them required (`anyOf`). Any text: what is not a live refresh token
/// is revoked already, so the schema sets no limit the server would have to refuse.
impl PartialSchema for RevokeRequest {
    fn schema() -> RefOr<Schema> {
        let text = || ObjectBuilder::new().schema_type(Type::String);
        let fields = ObjectBuilder::new()
            .property("token", text())
            .property("refresh_token", text())
            .description(Some(
                "The refresh token, as `token` (RFC 7009) or as `refresh_token` (read only \
                 without `token`); other parameters (`token_type_hint`, `client_id`) are ignored",
            ))
            .examples([json!({"token": "mS3Qz6bX0kq2b7n1yV8wZ4rT9uE5pA1cD3fG7hJ2kL0"})]);
        let one_of_them = AnyOfBuilder::new()
            .item(ObjectBuilder::new().required("token"))
            .item(ObjectBuilder::new().required("refresh_token"));
        AllOfBuilder::new().item(fields).item(one_of_them).into()
    }
}

impl ToSchema for RevokeRequest {}

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
/// accepted here. Errors carry RFC 6749 §5.2's `error` and `error_description` alongside the
/// problem members, so OAuth2 client libraries recognise them.
#[utoipa::path(
    post,
    path = "/v1/auth/token",
    tag = "auth",
    // Only the form is declared: from two bodies, openapi-python-client emits a module that
    // does not import (docs/decisions.md).
    request_body(
        description = "The grant, as an OAuth2 form. A JSON object with the same fields \
            (`Content-Type: application/json`) is accepted too.",
        content((TokenRequest = "application/x-www-form-urlencoded")),
    ),
    responses(
        (status = 200, description = "Tokens; sent with Cache-Control: no-store", body = TokenResponse),
        (status = 400, description = "`invalid_grant`: bad credentials, a disabled account, or a refresh token that is invalid, expired, revoked or already used. `unsupported_grant_type`: a grant_type other than password or refresh_token. `invalid_request`: a field the grant needs is missing or not text (listed in `errors`), or the body is not a form or JSON", body = OAuthProblem, content_type = PROBLEM_JSON),
        (status = 401, description = "`invalid_client`: the request carries client authentication (`Authorization: Basic` with a secret); the endpoint has public clients only", body = OAuthProblem, content_type = PROBLEM_JSON),
        (status = 429, description = "`slow_down`: too many failed logins from this client address, or for this username from it; see Retry-After", body = OAuthProblem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn create_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    client: ClientAddress,
    headers: HeaderMap,
    body: Result<JsonOrForm<TokenRequest>, ApiError>,
) -> Result<impl IntoResponse, ApiError> {
    let grant = token_grant(&headers, body).map_err(ApiError::oauth)?;
    let forwarded = forwarded.with_client(client);
    let response = state
        .identity()
        .create_token(forwarded.request(pb::CreateTokenRequest { grant: Some(grant) }))
        .await
        .map_err(|status| ApiError::from(status).oauth())?
        .into_inner();
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(TokenResponse::from(response)),
    ))
}

/// The grant a token request asks for, refusing client authentication first (RFC 6749 §2.3: a
/// client the server does not know cannot authenticate, and the public API knows none). Only
/// HTTP Basic with a secret is client authentication; Basic with an empty secret is a public
/// client naming itself (RFC 6749 §2.3.1; Swagger UI's Authorize sends `Basic Og==`, an empty
/// id and secret, by default) and is ignored like `client_id`; so is a bearer token that a
/// client sends with every request, as on the other anonymous routes.
fn token_grant(
    headers: &HeaderMap,
    body: Result<JsonOrForm<TokenRequest>, ApiError>,
) -> Result<Grant, ApiError> {
    if authenticates_a_client(headers) {
        return Err(ApiError::new(
            ProblemKind::InvalidClient,
            "the token endpoint takes no client authentication: send client_id alone, if at all",
        ));
    }
    let JsonOrForm(body) = body?;
    body.into_grant()
}

/// Whether `Authorization` is HTTP Basic with a client secret (or not decodable as Basic).
fn authenticates_a_client(headers: &HeaderMap) -> bool {
    use base64::Engine as _;
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let Some(("basic" | "Basic" | "BASIC", credentials)) = value
        .to_str()
        .ok()
        .and_then(|value| value.trim().split_once(' '))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(credentials.trim()) else {
        return true;
    };
    match decoded.iter().position(|&byte| byte == b':') {
        Some(colon) => colon + 1 < decoded.len(),
        None => true,
    }
}

/// End the login a refresh token belongs to (its whole rotation family), as RFC 7009 asks:
/// the token as `token` in a form, or as `refresh_token` in JSON. A token that is unknown,
/// expired or no token at all is accepted too (RFC 7009 §2.2): either way it does not work.
#[utoipa::path(
    post,
    path = "/v1/auth/revoke",
    tag = "auth",
    request_body(
        description = "The refresh token, as an RFC 7009 form or as JSON",
        content(
            (RevokeRequest = "application/x-www-form-urlencoded"),
            (RevokeRequest = "application/json"),
        ),
    ),
    responses(
        (status = 204, description = "The login is over, or the token was not one"),
        (status = 400, description = "`invalid_request`: no token, or a body that is not a form or JSON. `unsupported_token_type`: a live access token (they cannot be revoked; they expire) or a personal access token (revoked at DELETE /v1/users/me/tokens/{token_id})", body = OAuthProblem, content_type = PROBLEM_JSON),
    ),
)]
pub async fn revoke_token(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    body: Result<JsonOrForm<RevokeRequest>, ApiError>,
) -> Result<StatusCode, ApiError> {
    let token = body
        .and_then(|JsonOrForm(body)| body.into_token())
        .map_err(ApiError::oauth)?;
    if swatter_common::personal_token::looks_personal(&token) {
        return Err(ApiError::new(
            ProblemKind::UnsupportedTokenType,
            "personal access tokens are revoked at DELETE /v1/users/me/tokens/{token_id}",
        )
        .oauth());
    }
    if state.verifier.verify(&token).await.is_ok() {
        return Err(ApiError::new(
            ProblemKind::UnsupportedTokenType,
            "access tokens cannot be revoked; they expire within minutes. Revoke the refresh token",
        )
        .oauth());
    }
    let request = forwarded.request(pb::RevokeTokenRequest {
        refresh_token: token,
    });
    no_content(state.identity().revoke_token(request).await).map_err(ApiError::oauth)
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
