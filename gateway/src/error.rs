//! The one error type of the gateway, rendered as an RFC 9457 `application/problem+json` body,
//! and the one place where gRPC status codes become HTTP status codes ([`ApiError::from_status`]).

use std::{convert::Infallible, time::Duration};

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;
use swatter_common::{
    auth::VerifyError,
    status::{self, Violation},
};
use tonic::{Code, Status};
use utoipa::ToSchema;

use crate::middleware;

/// Media type of problem bodies.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Base of the `type` URIs of swatter problems.
const PROBLEM_TYPE_BASE: &str = "https://swatter.dev/problems/";

/// What went wrong, from the client's point of view. Fixes the status, `type` and `title`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKind {
    MalformedBody,
    /// A token or revocation request that is malformed or misses a parameter (RFC 6749 §5.2).
    InvalidRequest,
    /// Credentials or a refresh token that are not (or no longer) good, at the token endpoint.
    InvalidGrant,
    /// Client authentication at the token endpoint, which has only public clients.
    InvalidClient,
    /// A token request with a grant the public API does not offer (RFC 6749 §5.2).
    UnsupportedGrantType,
    /// A revocation of a token that cannot be revoked: access tokens (RFC 7009 §2.2.1).
    UnsupportedTokenType,
    /// No credentials where they are needed.
    Unauthenticated,
    /// Credentials that are not (or no longer) good.
    InvalidToken,
    /// A personal access token past its expiry.
    TokenExpired,
    /// A personal access token its owner or an admin revoked.
    TokenRevoked,
    /// A personal access token whose user is disabled.
    AccountDisabled,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    /// A relation that would close a cycle of `blocks` or of parents (409).
    RelationCycle,
    /// A change-feed cursor older than what the feed still keeps.
    Gone,
    PreconditionFailed,
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation,
    RateLimited,
    Internal,
    Unavailable,
    Timeout,
}

impl ProblemKind {
    pub fn status(self) -> StatusCode {
        match self {
            ProblemKind::MalformedBody
            | ProblemKind::InvalidRequest
            | ProblemKind::InvalidGrant
            | ProblemKind::UnsupportedGrantType
            | ProblemKind::UnsupportedTokenType => StatusCode::BAD_REQUEST,
            ProblemKind::Unauthenticated
            | ProblemKind::InvalidToken
            | ProblemKind::TokenExpired
            | ProblemKind::TokenRevoked
            | ProblemKind::AccountDisabled
            | ProblemKind::InvalidClient => StatusCode::UNAUTHORIZED,
            ProblemKind::Forbidden => StatusCode::FORBIDDEN,
            ProblemKind::NotFound => StatusCode::NOT_FOUND,
            ProblemKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProblemKind::Conflict | ProblemKind::RelationCycle => StatusCode::CONFLICT,
            ProblemKind::Gone => StatusCode::GONE,
            ProblemKind::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ProblemKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ProblemKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemKind::Validation => StatusCode::UNPROCESSABLE_ENTITY,
            ProblemKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ProblemKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            ProblemKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ProblemKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The last segment of the problem's `type` URI.
    pub fn slug(self) -> &'static str {
        match self {
            ProblemKind::MalformedBody => "malformed-body",
            ProblemKind::InvalidRequest => "invalid-request",
            ProblemKind::InvalidGrant => "invalid-grant",
            ProblemKind::InvalidClient => "invalid-client",
            ProblemKind::UnsupportedGrantType => "unsupported-grant-type",
            ProblemKind::UnsupportedTokenType => "unsupported-token-type",
            ProblemKind::Unauthenticated => "unauthenticated",
            ProblemKind::InvalidToken => "invalid-token",
            ProblemKind::TokenExpired => "token-expired",
            ProblemKind::TokenRevoked => "token-revoked",
            ProblemKind::AccountDisabled => "account-disabled",
            ProblemKind::Forbidden => "forbidden",
            ProblemKind::NotFound => "not-found",
            ProblemKind::MethodNotAllowed => "method-not-allowed",
            ProblemKind::Conflict => "conflict",
            ProblemKind::RelationCycle => "relation-cycle",
            ProblemKind::Gone => "cursor-expired",
            ProblemKind::PreconditionFailed => "precondition-failed",
            ProblemKind::PayloadTooLarge => "payload-too-large",
            ProblemKind::UnsupportedMediaType => "unsupported-media-type",
            ProblemKind::Validation => "validation-failed",
            ProblemKind::RateLimited => "rate-limited",
            ProblemKind::Internal => "internal-error",
            ProblemKind::Unavailable => "service-unavailable",
            ProblemKind::Timeout => "timeout",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ProblemKind::MalformedBody => "Malformed request body",
            ProblemKind::InvalidRequest => "Invalid request",
            ProblemKind::InvalidGrant => "Invalid grant",
            ProblemKind::InvalidClient => "Client authentication failed",
            ProblemKind::UnsupportedGrantType => "Unsupported grant type",
            ProblemKind::UnsupportedTokenType => "Unsupported token type",
            ProblemKind::Unauthenticated => "Authentication required",
            ProblemKind::InvalidToken => "Invalid access token",
            ProblemKind::TokenExpired => "Personal access token expired",
            ProblemKind::TokenRevoked => "Personal access token revoked",
            ProblemKind::AccountDisabled => "Account disabled",
            ProblemKind::Forbidden => "Forbidden",
            ProblemKind::NotFound => "Not found",
            ProblemKind::MethodNotAllowed => "Method not allowed",
            ProblemKind::Conflict => "Conflict",
            ProblemKind::RelationCycle => "Relation cycle",
            ProblemKind::Gone => "Cursor expired",
            ProblemKind::PreconditionFailed => "Precondition failed",
            ProblemKind::PayloadTooLarge => "Request body too large",
            ProblemKind::UnsupportedMediaType => "Unsupported media type",
            ProblemKind::Validation => "Validation failed",
            ProblemKind::RateLimited => "Too many requests",
            ProblemKind::Internal => "Internal server error",
            ProblemKind::Unavailable => "Service unavailable",
            ProblemKind::Timeout => "Gateway timeout",
        }
    }

    fn www_authenticate(self) -> Option<&'static str> {
        match self {
            ProblemKind::Unauthenticated => Some("Bearer"),
            ProblemKind::InvalidToken => Some(r#"Bearer error="invalid_token""#),
            ProblemKind::TokenExpired => Some(
                r#"Bearer error="invalid_token", error_description="the personal access token has expired""#,
            ),
            ProblemKind::TokenRevoked => Some(
                r#"Bearer error="invalid_token", error_description="the personal access token has been revoked""#,
            ),
            ProblemKind::AccountDisabled => Some(
                r#"Bearer error="invalid_token", error_description="the account of the personal access token is disabled""#,
            ),
            // RFC 6749 §5.2: the scheme a client may authenticate with (none is accepted).
            ProblemKind::InvalidClient => Some(r#"Basic realm="swatter""#),
            _ => None,
        }
    }
}

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"field": "username", "message": "must be 3 to 32 characters long"}))]
pub struct FieldError {
    /// The field, as a path into the request (`email`, `items[0].name`), or a query parameter.
    pub field: String,
    pub message: String,
}

impl From<Violation> for FieldError {
    fn from(violation: Violation) -> Self {
        FieldError {
            field: violation.field,
            message: violation.message,
        }
    }
}

/// An RFC 9457 problem details body, as every error response carries it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "https://swatter.dev/problems/validation-failed",
    "title": "Validation failed",
    "status": 422,
    "detail": "the request has invalid fields",
    "request_id": "0b5e2c5e-6f0e-4a51-8d0c-2b1f0c1d2e3f",
    "errors": [{"field": "email", "message": "is not a valid email address"}]
}))]
pub struct Problem {
    /// A URI naming the kind of problem: `https://swatter.dev/problems/<slug>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    /// The HTTP status code, repeated.
    pub status: u16,
    /// What happened, for a human.
    pub detail: String,
    /// The `X-Request-ID` of the request, to quote when asking for help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The invalid fields (validation failures and conflicts only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// The error codes of the OAuth2 endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OAuthError {
    /// RFC 6749 §5.2: a parameter is missing or malformed, or the body is not a form or JSON.
    InvalidRequest,
    /// RFC 6749 §5.2: client authentication was sent; the public endpoints have no clients.
    InvalidClient,
    /// RFC 6749 §5.2: bad credentials, a disabled account, or a refresh token that is invalid,
    /// expired, revoked or already used.
    InvalidGrant,
    /// RFC 6749 §5.2: a grant other than `password` and `refresh_token`.
    UnsupportedGrantType,
    /// RFC 7009 §2.2.1: an access token sent for revocation (they expire instead).
    UnsupportedTokenType,
    /// RFC 8628 §3.5: too many failed logins; wait as `Retry-After` says.
    SlowDown,
}

/// An error of the OAuth2 endpoints (`/v1/auth/token`, `/v1/auth/revoke`): RFC 6749 §5.2's
/// `error` and `error_description`, which OAuth2 client libraries read, alongside the members of
/// every problem.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "error": "invalid_grant",
    "error_description": "invalid username or password",
    "type": "https://swatter.dev/problems/invalid-grant",
    "title": "Invalid grant",
    "status": 400,
    "detail": "invalid username or password",
    "request_id": "0b5e2c5e-6f0e-4a51-8d0c-2b1f0c1d2e3f"
}))]
pub struct OAuthProblem {
    pub error: OAuthError,
    /// The problem's `detail`, repeated.
    pub error_description: String,
    #[serde(flatten)]
    pub problem: Problem,
}

/// An error answer of the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    kind: ProblemKind,
    detail: String,
    errors: Vec<FieldError>,
    retry_after: Option<Duration>,
    /// Set on answers of the OAuth2 endpoints ([`ApiError::oauth`]).
    oauth: Option<OAuthError>,
}

impl ApiError {
    pub fn new(kind: ProblemKind, detail: impl Into<String>) -> Self {
        ApiError {
            kind,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            oauth: None,
        }
    }

    /// This error as the OAuth2 endpoints answer it (RFC 6749 §5.2, RFC 7009 §2.2.1): whatever
    /// is wrong with the request itself (body, media type, size, fields) is 400
    /// `invalid_request`, refused credentials are 400 `invalid_grant`, throttling stays 429 with
    /// `slow_down`; the detail and field errors are kept. Server errors carry no OAuth2 code.
    pub fn oauth(self) -> Self {
        let kind = match self.kind {
            ProblemKind::MalformedBody
            | ProblemKind::UnsupportedMediaType
            | ProblemKind::PayloadTooLarge
            | ProblemKind::Validation => ProblemKind::InvalidRequest,
            ProblemKind::Unauthenticated | ProblemKind::InvalidToken => ProblemKind::InvalidGrant,
            kind => kind,
        };
        let oauth = match kind {
            ProblemKind::InvalidRequest => Some(OAuthError::InvalidRequest),
            ProblemKind::InvalidGrant => Some(OAuthError::InvalidGrant),
            ProblemKind::InvalidClient => Some(OAuthError::InvalidClient),
            ProblemKind::UnsupportedGrantType => Some(OAuthError::UnsupportedGrantType),
            ProblemKind::UnsupportedTokenType => Some(OAuthError::UnsupportedTokenType),
            ProblemKind::RateLimited => Some(OAuthError::SlowDown),
            _ => None,
        };
        ApiError {
            kind,
            oauth,
            ..self
        }
    }

    pub fn kind(&self) -> ProblemKind {
        self.kind
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.errors
    }

    /// Lists the invalid fields.
    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    /// This error with its fields named as the client's request names them, where a service
    /// names a field of its own message differently (`rename` gives the client's name, or
    /// `None` to keep the name).
    pub fn with_fields_renamed(self, rename: impl Fn(&str) -> Option<&'static str>) -> Self {
        if self
            .errors
            .iter()
            .all(|error| rename(&error.field).is_none())
        {
            return self;
        }
        let renamed = self
            .errors
            .iter()
            .map(|error| FieldError {
                field: rename(&error.field).map_or_else(|| error.field.clone(), str::to_owned),
                message: error.message.clone(),
            })
            .collect();
        if self.kind == ProblemKind::Validation {
            ApiError::validation(renamed)
        } else {
            self.with_errors(renamed)
        }
    }

    /// 422 naming each invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => "the request has invalid fields".to_owned(),
        };
        ApiError::new(ProblemKind::Validation, detail).with_errors(errors)
    }

    /// 422 for one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError::validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// 400 `unsupported_grant_type` (RFC 6749 §5.2): the token endpoint offers only the password
    /// and refresh_token grants.
    pub fn unsupported_grant_type() -> Self {
        ApiError::new(
            ProblemKind::UnsupportedGrantType,
            "grant_type must be password or refresh_token",
        )
    }

    /// 401 for a personal access token refused for a reason its owner should know: its `type`
    /// (`token-expired`, `token-revoked`, `account-disabled`) and detail say which.
    pub fn token_refused(error: VerifyError) -> Self {
        match error {
            VerifyError::TokenExpired => ApiError::new(
                ProblemKind::TokenExpired,
                "the personal access token has expired; create a new one",
            ),
            VerifyError::TokenRevoked => ApiError::new(
                ProblemKind::TokenRevoked,
                "the personal access token has been revoked",
            ),
            VerifyError::AccountDisabled => ApiError::new(
                ProblemKind::AccountDisabled,
                "the account this personal access token belongs to is disabled",
            ),
            other => ApiError::new(ProblemKind::InvalidToken, other.to_string()),
        }
    }

    /// 400: the body is not what it claims to be (not JSON at all, unreadable).
    pub fn malformed_body(detail: impl Into<String>) -> Self {
        ApiError::new(ProblemKind::MalformedBody, detail)
    }

    pub fn not_found(detail: impl Into<String>) -> Self {
        ApiError::new(ProblemKind::NotFound, detail)
    }

    /// 429, to be retried after `retry_after` (rounded up to whole seconds, at least one).
    pub fn rate_limited(detail: impl Into<String>, retry_after: Duration) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..ApiError::new(ProblemKind::RateLimited, detail)
        }
    }

    /// 500 without details; the cause belongs in the log, never in the body.
    pub fn internal() -> Self {
        ApiError::new(ProblemKind::Internal, "an unexpected error occurred")
    }

    /// 503 without details.
    pub fn unavailable() -> Self {
        ApiError::new(
            ProblemKind::Unavailable,
            "a service this request needs is unavailable; try again shortly",
        )
    }

    /// 504 without details.
    pub fn timeout() -> Self {
        ApiError::new(
            ProblemKind::Timeout,
            "the request took too long to complete",
        )
    }

    /// The HTTP answer for a status returned by a service (or by the gRPC client, for transport
    /// failures, which tonic reports as `UNAVAILABLE`). Messages of 4xx answers are written for
    /// users by the services and passed on; 5xx answers say nothing about the cause.
    pub fn from_status(status: &Status) -> Self {
        let message = status.message();
        let field_errors = || {
            status::violations(status)
                .into_iter()
                .map(FieldError::from)
                .collect::<Vec<_>>()
        };
        match status.code() {
            Code::InvalidArgument => {
                ApiError::new(ProblemKind::Validation, message).with_errors(field_errors())
            }
            Code::NotFound => ApiError::not_found(message),
            Code::AlreadyExists | Code::Aborted => {
                ApiError::new(ProblemKind::Conflict, message).with_errors(field_errors())
            }
            // An `If-Match` that no longer matches (docs/api.md: 412); other failed preconditions
            // (last owner, job not finished) are conflicts.
            Code::FailedPrecondition if status::is_etag_mismatch(status) => {
                ApiError::new(ProblemKind::PreconditionFailed, message).with_errors(field_errors())
            }
            // A relation that would close a cycle: the detail is the cycle, `A → B → A`.
            Code::FailedPrecondition if status::relation_cycle_keys(status).is_some() => {
                let cycle = status::relation_cycle_keys(status)
                    .unwrap_or_default()
                    .join(" → ");
                ApiError::new(ProblemKind::RelationCycle, cycle.clone()).with_errors(vec![
                    FieldError {
                        field: "issue_key".to_owned(),
                        message: format!("would close the cycle {cycle}"),
                    },
                ])
            }
            Code::FailedPrecondition => {
                ApiError::new(ProblemKind::Conflict, message).with_errors(field_errors())
            }
            // A change-feed cursor older than the retention horizon: resynchronise (410).
            Code::OutOfRange if status::is_cursor_expired(status) => {
                ApiError::new(ProblemKind::Gone, message)
            }
            Code::PermissionDenied => {
                ApiError::new(ProblemKind::Forbidden, message).with_errors(field_errors())
            }
            Code::Unauthenticated => match VerifyError::from_status(status) {
                Some(
                    refused @ (VerifyError::TokenExpired
                    | VerifyError::TokenRevoked
                    | VerifyError::AccountDisabled),
                ) => ApiError::token_refused(refused),
                _ => ApiError::new(ProblemKind::Unauthenticated, message),
            },
            Code::ResourceExhausted => {
                let retry_after = status::retry_delay(status).unwrap_or(Duration::from_secs(1));
                ApiError::rate_limited(message, retry_after)
            }
            Code::Unavailable => {
                tracing::warn!(grpc_message = %message, "a service is unavailable");
                ApiError::unavailable()
            }
            Code::DeadlineExceeded => {
                tracing::warn!(grpc_message = %message, "a service call ran out of time");
                ApiError::timeout()
            }
            code => {
                tracing::error!(grpc_code = ?code, grpc_message = %message, "a service call failed");
                ApiError::internal()
            }
        }
    }

    /// The body this error renders, for the request being answered.
    pub fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("{PROBLEM_TYPE_BASE}{}", self.kind.slug()),
            title: self.kind.title().to_owned(),
            status: self.kind.status().as_u16(),
            detail: self.detail.clone(),
            request_id: middleware::current_request_id().map(|id| id.as_str().to_owned()),
            errors: self.errors.clone(),
        }
    }
}

/// For conversions that cannot fail, so that they serve where fallible ones do.
impl From<Infallible> for ApiError {
    fn from(never: Infallible) -> Self {
        match never {}
    }
}

impl From<Status> for ApiError {
    fn from(status: Status) -> Self {
        ApiError::from_status(&status)
    }
}

/// Whole seconds, rounded up, at least one: `Retry-After` must not invite an immediate retry.
fn retry_after_secs(wait: Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let problem = self.problem();
        let rendered = match self.oauth {
            Some(error) => serde_json::to_vec(&OAuthProblem {
                error,
                error_description: problem.detail.clone(),
                problem,
            }),
            None => serde_json::to_vec(&problem),
        };
        let body = match rendered {
            Ok(body) => body,
            Err(error) => {
                tracing::error!(%error, "could not render a problem body");
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            }
        };
        let mut response = (self.kind.status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if let Some(challenge) = self.kind.www_authenticate() {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(wait) = self.retry_after {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(retry_after_secs(wait)),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_codes_map_to_the_documented_http_statuses() {
        let cases = [
            (Code::InvalidArgument, 422),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::Unauthenticated, 401),
            (Code::FailedPrecondition, 409),
            (Code::Aborted, 409),
            (Code::ResourceExhausted, 429),
            (Code::Unavailable, 503),
            (Code::DeadlineExceeded, 504),
            (Code::Internal, 500),
            (Code::Unknown, 500),
            (Code::DataLoss, 500),
            (Code::Unimplemented, 500),
            (Code::Cancelled, 500),
        ];
        for (code, http) in cases {
            let error = ApiError::from_status(&Status::new(code, "m"));
            assert_eq!(error.kind().status().as_u16(), http, "{code:?}");
        }
    }

    #[test]
    fn an_expired_change_cursor_is_gone() {
        let error = ApiError::from_status(&status::cursor_expired(3, 10));
        assert_eq!(error.kind().status().as_u16(), 410);
    }

    #[test]
    fn server_errors_never_carry_the_service_message() {
        for code in [
            Code::Internal,
            Code::Unknown,
            Code::Unavailable,
            Code::DeadlineExceeded,
        ] {
            let error = ApiError::from_status(&Status::new(code, "SELECT * FROM users failed"));
            assert!(!error.problem().detail.contains("SELECT"), "{code:?}");
        }
    }

    #[test]
    fn field_violations_become_problem_errors() {
        let status = status::invalid_argument(&[
            Violation::new("username", "too short"),
            Violation::new("email", "not an email address"),
        ]);
        let error = ApiError::from_status(&status);
        assert_eq!(error.kind(), ProblemKind::Validation);
        assert_eq!(
            error.errors(),
            [
                FieldError {
                    field: "username".into(),
                    message: "too short".into()
                },
                FieldError {
                    field: "email".into(),
                    message: "not an email address".into()
                },
            ]
        );
    }

    #[test]
    fn an_etag_mismatch_is_412_and_other_failed_preconditions_are_409() {
        assert_eq!(
            ApiError::from_status(&status::etag_mismatch()).kind(),
            ProblemKind::PreconditionFailed
        );
        let plain = Status::failed_precondition("the project still has an owner");
        assert_eq!(ApiError::from_status(&plain).kind(), ProblemKind::Conflict);
    }

    #[test]
    fn a_relation_cycle_is_a_409_whose_detail_is_the_cycle() {
        let keys = [
            "SWAT-1".to_owned(),
            "SWAT-2".to_owned(),
            "SWAT-1".to_owned(),
        ];
        let error = ApiError::from_status(&status::relation_cycle(&keys));
        assert_eq!(error.kind(), ProblemKind::RelationCycle);
        let problem = error.problem();
        assert_eq!(problem.status, 409);
        assert_eq!(problem.detail, "SWAT-1 → SWAT-2 → SWAT-1");
        assert_eq!(
            problem.problem_type,
            "https://swatter.dev/problems/relation-cycle"
        );
        assert_eq!(problem.errors[0].field, "issue_key");
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds_and_never_zero() {
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(5_001)), 6);
        assert_eq!(retry_after_secs(Duration::from_secs(6)), 6);
    }

    #[tokio::test]
    async fn at_the_oauth2_endpoints_each_refusal_has_its_rfc_6749_code_and_status() {
        let cases = [
            (ProblemKind::Validation, 400, Some("invalid_request")),
            (ProblemKind::MalformedBody, 400, Some("invalid_request")),
            (
                ProblemKind::UnsupportedMediaType,
                400,
                Some("invalid_request"),
            ),
            (ProblemKind::PayloadTooLarge, 400, Some("invalid_request")),
            (ProblemKind::Unauthenticated, 400, Some("invalid_grant")),
            (
                ProblemKind::UnsupportedGrantType,
                400,
                Some("unsupported_grant_type"),
            ),
            (
                ProblemKind::UnsupportedTokenType,
                400,
                Some("unsupported_token_type"),
            ),
            (ProblemKind::InvalidClient, 401, Some("invalid_client")),
            (ProblemKind::RateLimited, 429, Some("slow_down")),
            (ProblemKind::Unavailable, 503, None),
            (ProblemKind::Internal, 500, None),
        ];
        for (kind, status, code) in cases {
            let response = ApiError::new(kind, "why").oauth().into_response();

            assert_eq!(response.status().as_u16(), status, "{kind:?}");
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .unwrap();
            let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(body["status"], status, "{kind:?}");
            assert_eq!(body["error"].as_str(), code, "{kind:?}");
            let description = code.map(|_| "why");
            assert_eq!(body["error_description"].as_str(), description, "{kind:?}");
        }
    }

    #[test]
    fn unauthenticated_answers_carry_a_bearer_challenge() {
        let response = ApiError::new(ProblemKind::InvalidToken, "bad").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            response.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer error="invalid_token""#
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], PROBLEM_JSON);
    }
}
