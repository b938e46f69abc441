//! The REST routes, one module per area. Handlers are thin: extract, call one RPC, map the answer.

pub mod admin;
pub mod attachments;
pub mod auth;
pub mod bulk;
pub mod changes;
pub mod comments;
pub mod dashboard;
pub mod docs;
pub mod fields;
pub mod health;
pub mod issues;
pub mod jobs;
pub mod limits;
pub mod members;
pub mod milestones;
pub mod notifications;
pub mod paths;
pub mod projects;
pub mod relations;
pub mod reports;
pub mod schedules;
pub mod tokens;
pub mod users;
pub mod views;
pub mod webhooks;
pub mod wire;

use std::time::Duration;

use axum::{
    Json, Router,
    extract::DefaultBodyLimit,
    middleware::{from_fn, from_fn_with_state},
    response::{IntoResponse, Response},
};
use chrono::{DateTime, SecondsFormat, Utc};
use http::{HeaderValue, StatusCode, header};
use serde::{Deserialize, Serialize};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::{
    router::{OpenApiRouter, UtoipaMethodRouterExt},
    routes,
};

use crate::{
    error::{ApiError, ProblemKind},
    extract::MAX_BODY_BYTES,
    middleware,
    openapi::{self, ApiDoc},
    state::AppState,
};
use fields::empty_as_none;

/// Page size when the client asks for none (docs/api.md).
pub const DEFAULT_PAGE_SIZE: u32 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The REST routes with the OpenAPI description they make up (before `openapi::complete`). A
/// handler's `#[utoipa::path]` declares its method and path; `routes!` groups the handlers of
/// one path.
pub fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(users::sign_up, users::search_users))
        .routes(routes!(users::get_me, users::update_me))
        .routes(routes!(users::change_password))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(tokens::create_my_token, tokens::list_my_tokens))
        .routes(routes!(tokens::revoke_my_token))
        .routes(routes!(tokens::list_user_tokens))
        .routes(routes!(tokens::revoke_user_token))
        .routes(routes!(auth::create_token))
        .routes(routes!(auth::revoke_token))
        .routes(routes!(auth::jwks))
        .routes(routes!(projects::create_project, projects::list_projects))
        .routes(routes!(
            projects::get_project,
            projects::update_project,
            projects::delete_project
        ))
        .routes(routes!(members::list_members))
        .routes(routes!(members::set_member, members::remove_member))
        .routes(routes!(issues::create_issue, issues::list_project_issues))
        .routes(routes!(issues::list_issues))
        .routes(routes!(
            issues::get_issue,
            issues::update_issue,
            issues::delete_issue
        ))
        .routes(routes!(issues::list_issue_events))
        .routes(routes!(
            milestones::create_milestone,
            milestones::list_milestones
        ))
        .routes(routes!(
            milestones::get_milestone,
            milestones::update_milestone,
            milestones::delete_milestone
        ))
        .routes(routes!(bulk::bulk_edit_issues))
        .routes(routes!(relations::list_relations, relations::add_relation))
        .routes(routes!(relations::remove_relation))
        .routes(routes!(comments::create_comment, comments::list_comments))
        .routes(routes!(comments::update_comment, comments::delete_comment))
        .routes(routes!(attachments::create_upload))
        .routes(
            routes!(
                attachments::upload_attachment,
                attachments::list_attachments
            )
            // The one route whose body may be larger than 1 MiB: a small file, sent through.
            .layer(DefaultBodyLimit::max(attachments::MAX_UPLOAD_BODY_BYTES)),
        )
        .routes(routes!(attachments::confirm_upload))
        .routes(routes!(
            attachments::get_attachment,
            attachments::delete_attachment
        ))
        .routes(routes!(attachments::download_attachment))
        .routes(routes!(attachments::get_attachment_usage))
        .routes(routes!(
            notifications::watch_issue,
            notifications::unwatch_issue
        ))
        .routes(routes!(notifications::list_watchers))
        .routes(routes!(notifications::list_notifications))
        .routes(routes!(notifications::mark_notification_read))
        .routes(routes!(notifications::mark_all_notifications_read))
        .routes(routes!(changes::list_changes))
        .routes(routes!(changes::stream_changes))
        .routes(routes!(reports::create_report))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::get_artifact))
        .routes(routes!(jobs::download_artifact))
        .routes(routes!(jobs::job_events))
        .routes(routes!(jobs::job_stats))
        .routes(routes!(
            schedules::create_schedule,
            schedules::list_schedules
        ))
        .routes(routes!(schedules::get_schedule, schedules::delete_schedule))
        .routes(routes!(schedules::pause_schedule))
        .routes(routes!(schedules::resume_schedule))
        .routes(routes!(dashboard::get_dashboard))
        .routes(routes!(dashboard::list_dead_letters))
        .routes(routes!(dashboard::discard_dead_letter))
        .routes(routes!(dashboard::requeue_dead_letter))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::ping_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::get_delivery))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::list_event_types))
        .routes(routes!(views::create_saved_view, views::list_saved_views))
        .routes(routes!(views::delete_saved_view))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
}

/// Every route of the gateway, with its middleware.
pub fn router(state: AppState, request_timeout: Duration) -> Router {
    let (api, document) = api().split_for_parts();
    api.merge(docs::router(openapi::complete(document)))
        .merge(admin::router())
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

    /// The page of a service's items, each converted, and its page token.
    pub fn json<M>(items: Vec<M>, next_page_token: String) -> Result<Json<Self>, ApiError>
    where
        T: TryFrom<M>,
        ApiError: From<T::Error>,
    {
        let items = items
            .into_iter()
            .map(T::try_from)
            .collect::<Result<_, _>>()?;
        Ok(Json(Page::new(items, next_page_token)))
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

impl PageQuery {
    /// `page_size` and `page_token` as the services expect them.
    pub fn into_pb(self) -> Result<(i32, String), ApiError> {
        Ok((
            page_size(self.page_size)?,
            self.page_token.unwrap_or_default(),
        ))
    }
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

/// The `update_mask` of a `PATCH`: the fields its body carries, `null` included (which clears a
/// field: a masked field the request leaves unset takes its empty value), so the service changes
/// exactly those.
pub fn update_mask<const N: usize>(fields: [(&str, bool); N]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: fields
            .into_iter()
            .filter(|(_, present)| *present)
            .map(|(path, _)| path.to_owned())
            .collect(),
    })
}

/// A service's answer in its JSON form.
pub fn json<M, T>(answer: Result<tonic::Response<M>, tonic::Status>) -> Result<Json<T>, ApiError>
where
    T: TryFrom<M>,
    ApiError: From<T::Error>,
{
    Ok(Json(answer?.into_inner().try_into()?))
}

/// `204 No Content` once a service has done what it was asked.
pub fn no_content<M>(
    answer: Result<tonic::Response<M>, tonic::Status>,
) -> Result<StatusCode, ApiError> {
    answer?;
    Ok(StatusCode::NO_CONTENT)
}

/// An answer about a resource just made (`201 Created`, `202 Accepted`), with its `Location`.
pub fn located(
    status: StatusCode,
    location: &str,
    body: impl IntoResponse,
) -> Result<Response, ApiError> {
    Ok((status, [(header::LOCATION, header_value(location)?)], body).into_response())
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

/// The schema of one Server-Sent Event as OpenAPI 3.1 tools read an event stream's: the
/// `event:` name (one of `events`, when given), its `id:` when `with_id`, and `data` as JSON
/// text whose own schema is `content` (a `contentSchema`).
pub fn sse_event_schema(
    events: Option<&[&str]>,
    with_id: bool,
    content: serde_json::Value,
    data_description: &str,
    description: &str,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::{
        extensions::Extensions,
        schema::{ObjectBuilder, Type},
    };
    // utoipa has no builder for `contentSchema` (and its extension builder prefixes `x-`): the
    // keyword goes in as an extra key of the schema.
    let mut content_schema = Extensions::default();
    content_schema.insert("contentSchema".to_owned(), content);
    let data = ObjectBuilder::new()
        .schema_type(Type::String)
        .content_media_type("application/json")
        .extensions(Some(content_schema))
        .description(Some(data_description));
    let mut event = ObjectBuilder::new().schema_type(Type::String);
    if let Some(names) = events {
        event = event.enum_values(Some(names.iter().copied()));
    }
    let mut schema = ObjectBuilder::new()
        .property("event", event)
        .required("event")
        .property("data", data)
        .required("data")
        .description(Some(description));
    if with_id {
        schema = schema
            .property(
                "id",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^[0-9]+$")),
            )
            .required("id");
    }
    schema.into()
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

    #[test]
    fn an_empty_page_token_is_null() {
        let page = Page::<String>::new(vec![], String::new());
        assert_eq!(page.next_page_token, None);
        let page = Page::<String>::new(vec![], "abc".into());
        assert_eq!(page.next_page_token.as_deref(), Some("abc"));
    }
}
