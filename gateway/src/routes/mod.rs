//! The REST routes, one module per area. Handlers are thin: extract, call one RPC, map the answer.

pub mod auth;
pub mod comments;
pub mod docs;
pub mod health;
pub mod issues;
pub mod jobs;
pub mod members;
pub mod projects;
pub mod reports;
pub mod users;
pub mod wire;

use std::{fmt::Display, str::FromStr, time::Duration};

use axum::{
    Router,
    extract::DefaultBodyLimit,
    middleware::{from_fn, from_fn_with_state},
    routing::{get, patch, post, put},
};
use chrono::{DateTime, SecondsFormat, Utc};
use http::HeaderValue;
use serde::{Deserialize, Deserializer, Serialize, de};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ProblemKind},
    extract::MAX_BODY_BYTES,
    middleware,
    state::AppState,
};

/// Page size when the client asks for none (docs/api.md).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// Every route of the gateway, with its middleware.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    Router::new()
        .route("/v1/users", post(users::sign_up).get(users::search_users))
        .route("/v1/users/me", get(users::get_me).patch(users::update_me))
        .route("/v1/users/me/password", post(users::change_password))
        .route(
            "/v1/users/{id}",
            get(users::get_user).patch(users::update_user),
        )
        .route("/v1/auth/token", post(auth::create_token))
        .route("/v1/auth/revoke", post(auth::revoke_token))
        .route("/.well-known/jwks.json", get(auth::jwks))
        .route(
            "/v1/projects",
            post(projects::create_project).get(projects::list_projects),
        )
        .route(
            "/v1/projects/{key}",
            get(projects::get_project)
                .patch(projects::update_project)
                .delete(projects::delete_project),
        )
        .route("/v1/projects/{key}/members", get(members::list_members))
        .route(
            "/v1/projects/{key}/members/{user_id}",
            put(members::set_member).delete(members::remove_member),
        )
        .route(
            "/v1/projects/{key}/issues",
            post(issues::create_issue).get(issues::list_project_issues),
        )
        .route("/v1/issues", get(issues::list_issues))
        .route(
            "/v1/issues/{issue_key}",
            get(issues::get_issue)
                .patch(issues::update_issue)
                .delete(issues::delete_issue),
        )
        .route(
            "/v1/issues/{issue_key}/events",
            get(issues::list_issue_events),
        )
        .route(
            "/v1/issues/{issue_key}/comments",
            post(comments::create_comment).get(comments::list_comments),
        )
        .route(
            "/v1/comments/{id}",
            patch(comments::update_comment).delete(comments::delete_comment),
        )
        .route("/v1/reports", post(reports::create_report))
        .route("/v1/jobs", get(jobs::list_jobs))
        .route("/v1/jobs/{id}", get(jobs::get_job))
        .route("/v1/jobs/{id}/cancel", post(jobs::cancel_job))
        .route("/v1/jobs/{id}/retry", post(jobs::retry_job))
        .route("/v1/jobs/{id}/artifact", get(jobs::get_artifact))
        .route(
            "/v1/jobs/{id}/artifact/content",
            get(jobs::download_artifact),
        )
        .route("/v1/jobs/{id}/events", get(jobs::job_events))
        .route("/v1/admin/jobs/stats", get(jobs::job_stats))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .merge(docs::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(from_fn_with_state(request_timeout, middleware::deadline))
        .layer(from_fn(middleware::request_context))
        .layer(from_fn(crate::metrics::track))
        .layer(from_fn(middleware::security_headers))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("there is no such route")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        ProblemKind::MethodNotAllowed,
        "this route does not support this method; the Allow header lists those it does",
    )
}

/// One page of a list (docs/api.md).
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `page_token` to get the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

impl<T: ToSchema> Page<T> {
    /// A page from items and a service's page token, where empty means "no more pages".
    pub fn new(items: Vec<T>, next_page_token: String) -> Self {
        Page {
            items,
            next_page_token: Some(next_page_token).filter(|token| !token.is_empty()),
        }
    }
}

/// `?page_size=&page_token=` of a list that has no other parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    #[param(max_length = 512)]
    pub page_token: Option<String>,
}

/// `page_size` as the services expect it: 1–100, or 0 for their default when absent. An explicit
/// 0 is refused here because the services cannot tell it from "absent".
pub fn page_size(requested: Option<u32>) -> Result<i32, ApiError> {
    match requested {
        None => Ok(0),
        Some(n @ 1..=MAX_PAGE_SIZE) => Ok(n as i32),
        Some(_) => Err(ApiError::invalid_field(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// For optional query parameters: a parameter sent empty (`?page_size=`, as HTML forms do)
/// counts as absent; otherwise it must parse. Use with `#[serde(default, deserialize_with)]`.
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(deserializer)?
        .as_deref()
        .map(str::trim)
    {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(de::Error::custom),
    }
}

/// For optional query parameters that take several values, comma-separated
/// (`?status=open,in_progress`): absent or empty is no values; each value must parse. Use with
/// `#[serde(default, deserialize_with)]`.
pub fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    Option::<String>::deserialize(deserializer)?
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(|value| value.parse().map_err(de::Error::custom))
        .collect()
}

/// For fields of a `PATCH` body where `null` means something (unassign, clear): absent is
/// `None`, `null` is `Some(None)`. Use with `#[serde(default, deserialize_with)]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For optional fields of a `PATCH` body that cannot be removed (a title, a status): absent is
/// `None`, and `null` is refused naming the field rather than read as "leave it". Use with
/// `#[serde(default, deserialize_with)]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// A 500 for a service answer that breaks the contract (a missing timestamp, an enum number
/// this gateway does not know). The client learns nothing; the log names the field.
pub fn broken_answer(field: &'static str) -> ApiError {
    tracing::error!(
        field,
        "a service answer lacks a field or has an unknown value in it"
    );
    ApiError::internal()
}

/// A timestamp every answer of its kind carries, as RFC 3339 in UTC.
pub fn required_rfc3339(
    field: &'static str,
    timestamp: Option<prost_types::Timestamp>,
) -> Result<String, ApiError> {
    timestamp
        .and_then(rfc3339)
        .ok_or_else(|| broken_answer(field))
}

/// A header value made of what a service sent (a `Location` path, an `ETag`).
pub fn header_value(value: &str) -> Result<HeaderValue, ApiError> {
    HeaderValue::from_str(value).map_err(|_| {
        tracing::error!(value, "a service sent a value that cannot be a header");
        ApiError::internal()
    })
}

/// A protobuf timestamp as RFC 3339 in UTC.
pub fn rfc3339(timestamp: prost_types::Timestamp) -> Option<String> {
    let nanos = u32::try_from(timestamp.nanos).ok()?;
    DateTime::<Utc>::from_timestamp(timestamp.seconds, nanos)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_outside_one_to_a_hundred_are_refused() {
        assert_eq!(page_size(None).unwrap(), 0);
        assert_eq!(page_size(Some(1)).unwrap(), 1);
        assert_eq!(page_size(Some(100)).unwrap(), 100);
        for bad in [0, 101, u32::MAX] {
            let error = page_size(Some(bad)).unwrap_err();
            assert_eq!(error.errors()[0].field, "page_size");
        }
    }

    #[test]
    fn timestamps_render_as_rfc3339_utc() {
        let at = prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 123_000_000,
        };
        assert_eq!(rfc3339(at).unwrap(), "2023-11-14T22:13:20.123Z");
        let bad = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(rfc3339(bad), None);
    }

    #[derive(Debug, Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "nullable")]
        assignee: Option<Option<String>>,
        #[serde(default, deserialize_with = "not_null")]
        title: Option<String>,
    }

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.assignee, None);
        assert_eq!(absent.title, None);
        let null: Patch = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
        assert_eq!(null.assignee, Some(None));
        let set: Patch = serde_json::from_str(r#"{"assignee": "a", "title": "t"}"#).unwrap();
        assert_eq!(set.assignee, Some(Some("a".into())));
        assert_eq!(set.title.as_deref(), Some("t"));
        assert!(serde_json::from_str::<Patch>(r#"{"title": null}"#).is_err());
    }

    #[test]
    fn comma_lists_skip_empty_items_and_name_bad_ones() {
        #[derive(Debug, Deserialize)]
        struct Query {
            #[serde(default, deserialize_with = "comma_list")]
            status: Vec<wire::IssueStatus>,
        }
        let query: Query = crate::extract::decode_form(b"status=open,%20in_progress,").unwrap();
        assert_eq!(
            query.status,
            [wire::IssueStatus::Open, wire::IssueStatus::InProgress]
        );
        let none: Query = crate::extract::decode_form(b"status=").unwrap();
        assert!(none.status.is_empty());
        let error = crate::extract::decode_form::<Query>(b"status=open,done").unwrap_err();
        assert_eq!(error.errors()[0].field, "status");
        assert_eq!(error.errors()[0].message, wire::IssueStatus::EXPECTED);
    }

    #[test]
    fn an_empty_page_token_is_null() {
        let page = Page::<String>::new(vec![], String::new());
        assert_eq!(page.next_page_token, None);
        let page = Page::<String>::new(vec![], "abc".into());
        assert_eq!(page.next_page_token.as_deref(), Some("abc"));
    }
}
