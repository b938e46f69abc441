//! The operator dashboard in the browser, `/admin/` (docs/api.md, "Operator dashboard"): a page
//! of plain HTML, CSS and a small script (all compiled into the gateway, nothing from elsewhere),
//! its session, and the JSON, Server-Sent Events and actions the page uses.
//!
//! An `EventSource` cannot send an `Authorization` header, so the page logs in with a form:
//! `POST /admin/session` exchanges a password for an access token as `/v1/auth/token` does and
//! keeps it in an `HttpOnly`, `SameSite=Strict` cookie scoped to `/admin`. Everything under
//! `/admin/api/` reads that cookie and nothing else. Against cross-site requests, besides
//! `SameSite=Strict`, every `POST` under `/admin` must carry `X-Swatter-Admin: 1`, which a form
//! or a simple cross-site request cannot send (docs/decisions.md).

use std::{convert::Infallible, time::Duration};

use axum::{
    Json, Router,
    extract::{FromRequestParts, Request, State},
    middleware::{Next, from_fn},
    response::{
        IntoResponse, Redirect, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::{Stream, StreamExt, future::ready};
use http::{HeaderMap, HeaderValue, Method, StatusCode, header, request::Parts};
use serde::{Deserialize, Serialize};
use swatter_common::auth::Principal;
use swatter_proto::{
    identity::v1::{self as identity, create_token_request::Grant},
    reporting::v1 as pb,
};

use super::{
    dashboard::{Dashboard, DeadLetterId},
    jobs::Job,
    json,
    paths::JobId,
};
use crate::{
    error::{ApiError, ProblemKind},
    extract::{Anonymous, ApiJson, ApiPath, Authenticated, ClientAddress},
    state::AppState,
};

/// The cookie holding the access token.
pub const SESSION_COOKIE: &str = "swatter_admin";
/// The cookie holding the refresh token, sent only to `/admin/session` (logout revokes it).
pub const REFRESH_COOKIE: &str = "swatter_admin_refresh";
/// The header every `POST` under `/admin` must carry (`1`).
pub const CSRF_HEADER: &str = "x-swatter-admin";
/// The Content-Security-Policy of the dashboard: this origin's script, styles and connections
/// only, no inline script or style, no framing.
pub const ADMIN_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";
/// How often an idle event stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// An event stream ends after this long; the browser reconnects at once, with the cookie as it
/// is then, so a stream never outlives its session by more than this.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);
/// The `event:` name of the stream's snapshots.
const DASHBOARD_EVENT: &str = "dashboard";

const INDEX_HTML: &str = include_str!("../../assets/admin/index.html");
const APP_JS: &str = include_str!("../../assets/admin/app.js");
const APP_CSS: &str = include_str!("../../assets/admin/app.css");

/// The dashboard's routes (not in the OpenAPI description: they are the page's, not an API;
/// tools use `/v1/admin/...` with a bearer token).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route(
            "/admin/",
            get(|| async { asset("text/html; charset=utf-8", INDEX_HTML) }),
        )
        .route(
            "/admin/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/admin/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        .route("/admin/session", post(log_in))
        .route("/admin/session/refresh", post(renew))
        .route("/admin/session/logout", post(log_out))
        .route("/admin/api/dashboard", get(dashboard))
        .route("/admin/api/events", get(events))
        .route("/admin/api/jobs/{id}/retry", post(retry_job))
        .route("/admin/api/jobs/{id}/cancel", post(cancel_job))
        .route(
            "/admin/api/dead-letters/{id}/requeue",
            post(requeue_dead_letter),
        )
        .route(
            "/admin/api/dead-letters/{id}/discard",
            post(discard_dead_letter),
        )
        .layer(from_fn(guard))
}

/// Every answer under `/admin` gets the dashboard's CSP and is not cached; a `POST` without the
/// CSRF header is refused (403) before anything else looks at it.
async fn guard(request: Request, next: Next) -> Response {
    let mut response = if request.method() == Method::POST && !has_csrf_header(request.headers()) {
        ApiError::new(
            ProblemKind::Forbidden,
            "a POST under /admin must carry the header `X-Swatter-Admin: 1` (the dashboard's \
             page sends it; a cross-site form cannot)",
        )
        .into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(ADMIN_CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn has_csrf_header(headers: &HeaderMap) -> bool {
    headers
        .get(CSRF_HEADER)
        .is_some_and(|value| value.as_bytes() == b"1")
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The dashboard's caller: the access token of the session cookie (401 without a good one: the
/// page shows its login form again).
pub struct Session(Authenticated);

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(|| {
            ApiError::new(
                ProblemKind::Unauthenticated,
                "log in to the dashboard first (POST /admin/session)",
            )
        })?;
        Authenticated::from_token(parts, state, &token)
            .await
            .map(Session)
    }
}

/// The value of cookie `name` in the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"').to_owned())
        .filter(|value| !value.is_empty())
}

/// Whether the request reached the gateway over HTTPS: a trusted proxy says so in
/// `X-Forwarded-Proto` (the gateway itself speaks plain HTTP).
fn came_over_https(headers: &HeaderMap, state: &AppState) -> bool {
    state.trusted_proxy_hops > 0
        && headers
            .get("x-forwarded-proto")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(',').next())
            .is_some_and(|proto| proto.trim().eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: `max_age` 0 deletes the cookie.
fn set_cookie(name: &str, value: &str, path: &str, max_age: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}")
}

/// A login to the dashboard.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub username: String,
    pub password: String,
}

/// Who is logged in, and for how long.
#[derive(Debug, Serialize)]
pub struct SessionInfo {
    pub username: String,
    /// Seconds until the session (its access token) expires.
    pub expires_in: i64,
}

/// `POST /admin/session`: a password login (as `/v1/auth/token` with `grant_type=password`) of
/// an admin; the access token goes into the session cookie. Anyone else is refused (403) and
/// the login they made is ended at once.
async fn log_in(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    client: ClientAddress,
    headers: HeaderMap,
    ApiJson(login): ApiJson<Login>,
) -> Result<Response, ApiError> {
    let mut missing = Vec::new();
    for (field, value) in [("username", &login.username), ("password", &login.password)] {
        if value.is_empty() {
            missing.push(crate::error::FieldError {
                field: field.to_owned(),
                message: "is required".to_owned(),
            });
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::validation(missing));
    }
    let forwarded = forwarded.with_client(client);
    let tokens = state
        .identity()
        .create_token(forwarded.request(identity::CreateTokenRequest {
            grant: Some(Grant::Password(identity::PasswordGrant {
                username: login.username,
                password: login.password,
            })),
        }))
        .await?
        .into_inner();
    open_session(&state, &forwarded, &headers, tokens).await
}

/// `POST /admin/session/refresh`: a new session for the one whose access token expired, from
/// the refresh cookie (as `/v1/auth/token` with `grant_type=refresh_token`: the refresh token
/// rotates). The page asks for it when an answer is 401, one tab at a time. Without a refresh
/// cookie, or with one identity no longer takes, 401 and the cookies are deleted; an account
/// that is no longer an admin gets 403 and its login is ended.
async fn renew(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    client: ClientAddress,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let secure = came_over_https(&headers, &state);
    let Some(refresh_token) = cookie(&headers, REFRESH_COOKIE) else {
        return Ok(ended(
            ApiError::new(
                ProblemKind::Unauthenticated,
                "no dashboard login to renew: log in (POST /admin/session)",
            ),
            secure,
        ));
    };
    let forwarded = forwarded.with_client(client);
    let tokens = match state
        .identity()
        .create_token(forwarded.request(identity::CreateTokenRequest {
            grant: Some(Grant::RefreshToken(identity::RefreshTokenGrant {
                refresh_token,
            })),
        }))
        .await
    {
        Ok(tokens) => tokens.into_inner(),
        Err(status) if status.code() == tonic::Code::Unauthenticated => {
            return Ok(ended(
                ApiError::new(
                    ProblemKind::Unauthenticated,
                    "the dashboard login has ended (logged out, expired or revoked): log in again",
                ),
                secure,
            ));
        }
        Err(status) => return Err(status.into()),
    };
    open_session(&state, &forwarded, &headers, tokens).await
}

/// `error` with the dashboard's cookies deleted.
fn ended(error: ApiError, secure: bool) -> Response {
    let mut response = error.into_response();
    delete_cookies(&mut response, secure);
    response
}

fn delete_cookies(response: &mut Response, secure: bool) {
    for (name, path) in [
        (SESSION_COOKIE, "/admin"),
        (REFRESH_COOKIE, "/admin/session"),
    ] {
        if let Ok(value) = HeaderValue::from_str(&set_cookie(name, "", path, 0, secure)) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
}

/// The answer to a login or a renewal that gave `tokens`: the cookies and who is logged in, if
/// the account is an admin; else 403, and the login is ended at once.
async fn open_session(
    state: &AppState,
    forwarded: &crate::extract::Forwarded,
    headers: &HeaderMap,
    tokens: identity::TokenResponse,
) -> Result<Response, ApiError> {
    let user = match state.verifier.authenticate(&tokens.access_token).await {
        Ok(Principal::User(user)) => user,
        Ok(Principal::Service { .. }) | Err(_) => return Err(ApiError::unavailable()),
    };
    if !user.admin {
        let revoke = forwarded.request(identity::RevokeTokenRequest {
            refresh_token: tokens.refresh_token,
        });
        if let Err(status) = state.identity().revoke_token(revoke).await {
            tracing::warn!(grpc_code = ?status.code(), "could not end a refused dashboard login");
        }
        return Err(ApiError::new(
            ProblemKind::Forbidden,
            format!(
                "{} is not an admin: only admins may use the operator dashboard",
                user.username
            ),
        ));
    }
    let secure = came_over_https(headers, state);
    let session = set_cookie(
        SESSION_COOKIE,
        &tokens.access_token,
        "/admin",
        tokens.expires_in,
        secure,
    );
    // The refresh token lives as long as identity keeps it; the cookie until the browser closes
    // at the latest (a day at most), for renewing the session and logging out.
    let refresh = set_cookie(
        REFRESH_COOKIE,
        &tokens.refresh_token,
        "/admin/session",
        86_400,
        secure,
    );
    let mut response = Json(SessionInfo {
        username: user.username,
        expires_in: tokens.expires_in,
    })
    .into_response();
    for value in [session, refresh] {
        response.headers_mut().append(
            header::SET_COOKIE,
            HeaderValue::from_str(&value).map_err(|_| ApiError::internal())?,
        );
    }
    Ok(response)
}

/// `POST /admin/session/logout`: ends the login (its refresh token is revoked) and deletes the
/// cookies. Always 204, logged in or not.
async fn log_out(
    State(state): State<AppState>,
    Anonymous(forwarded): Anonymous,
    headers: HeaderMap,
) -> Response {
    if let Some(refresh_token) = cookie(&headers, REFRESH_COOKIE) {
        let revoke = forwarded.request(identity::RevokeTokenRequest { refresh_token });
        if let Err(status) = state.identity().revoke_token(revoke).await {
            tracing::warn!(grpc_code = ?status.code(), "could not revoke a dashboard login");
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    delete_cookies(&mut response, came_over_https(&headers, &state));
    response
}

async fn dashboard(
    State(state): State<AppState>,
    Session(caller): Session,
) -> Result<Json<Dashboard>, ApiError> {
    json(
        state
            .reporting()
            .get_dashboard(caller.request(pb::GetDashboardRequest {}))
            .await,
    )
}

/// `GET /admin/api/events`: `event: dashboard` with the whole dashboard as JSON, first as it is
/// and then after changes (at most twice a second, at least every 5 seconds); comments keep the
/// connection alive. The stream ends after [`STREAM_LIFETIME`] (the browser reconnects).
async fn events(
    State(state): State<AppState>,
    Session(caller): Session,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let updates = state
        .reporting()
        .watch_dashboard(caller.request(pb::WatchDashboardRequest {}))
        .await?
        .into_inner();
    let events = updates
        .take_while(|update| {
            if let Err(status) = update {
                tracing::warn!(grpc_code = ?status.code(), "the dashboard's event stream broke off");
            }
            ready(update.is_ok())
        })
        .filter_map(|update| {
            ready(
                update
                    .ok()
                    .and_then(|snapshot| Dashboard::try_from(snapshot).ok())
                    .and_then(|d| Event::default().event(DASHBOARD_EVENT).json_data(d).ok())
                    .map(Ok),
            )
        })
        .take_until(tokio::time::sleep(STREAM_LIFETIME));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}

async fn retry_job(
    State(state): State<AppState>,
    Session(caller): Session,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::RetryJobRequest { id: id.to_string() });
    json(state.reporting().retry_job(request).await)
}

async fn cancel_job(
    State(state): State<AppState>,
    Session(caller): Session,
    ApiPath(JobId { id }): ApiPath<JobId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::CancelJobRequest { id: id.to_string() });
    json(state.reporting().cancel_job(request).await)
}

async fn requeue_dead_letter(
    State(state): State<AppState>,
    Session(caller): Session,
    ApiPath(DeadLetterId { id }): ApiPath<DeadLetterId>,
) -> Result<Json<Job>, ApiError> {
    let request = caller.request(pb::RequeueDeadLetterRequest { id: id.to_string() });
    json(state.reporting().requeue_dead_letter(request).await)
}

async fn discard_dead_letter(
    State(state): State<AppState>,
    Session(caller): Session,
    ApiPath(DeadLetterId { id }): ApiPath<DeadLetterId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DiscardDeadLetterRequest { id: id.to_string() });
    super::no_content(state.reporting().discard_dead_letter(request).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; swatter_admin=tok"),
        );
        headers.append(header::COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(cookie(&headers, SESSION_COOKIE).as_deref(), Some("tok"));
        assert_eq!(cookie(&headers, REFRESH_COOKIE), None);
        headers.insert(header::COOKIE, HeaderValue::from_static("swatter_admin="));
        assert_eq!(cookie(&headers, SESSION_COOKIE), None, "empty is none");
    }

    #[test]
    fn cookies_are_http_only_same_site_strict_and_secure_only_when_asked() {
        let plain = set_cookie(SESSION_COOKIE, "t", "/admin", 900, false);
        assert_eq!(
            plain,
            "swatter_admin=t; Path=/admin; Max-Age=900; HttpOnly; SameSite=Strict"
        );
        assert!(set_cookie(SESSION_COOKIE, "t", "/admin", 900, true).ends_with("; Secure"));
    }
}
