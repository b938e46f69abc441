//! `/v1/projects/{key}/changes`: a project's change feed, as pages after a cursor and as a live
//! Server-Sent Events stream resumable with `Last-Event-ID` (docs/api.md, "Change feed").

use std::{convert::Infallible, time::Duration};

use axum::{
    Json,
    extract::State,
    http::HeaderMap,
    response::sse::{Event, KeepAlive, Sse},
};
use futures::{Stream, StreamExt, future::ready};
use serde::{Deserialize, Serialize};
use swatter_common::status;
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::{
    broken_answer,
    fields::empty_as_none,
    limits::{self, DEFAULT_CHANGE_PAGE_SIZE, MAX_CHANGE_PAGE_SIZE},
    paths::ProjectKey,
    required_rfc3339,
};
use crate::{
    error::ApiError,
    extract::{ApiPath, ApiQuery, Authenticated},
    state::AppState,
};

/// How often an idle stream sends a comment, so proxies keep it open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// The `event:` of the last message of a stream whose client fell behind.
const RESUME_EVENT: &str = "resume";

/// One change: the envelope every consumer of swatter's events reads (the same as RabbitMQ
/// messages and webhook bodies).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "evt_0193a5c2-7d4e-7f10-9a2b-3c4d5e6f7a8b",
    "type": "issue.updated",
    "timestamp": "2026-11-23T14:05:12.5Z",
    "project_key": "SWAT",
    "cursor": 42,
    "data": {"id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b", "key": "SWAT-42", "status": "resolved"}
}))]
pub struct Change {
    /// `evt_` + a UUID; the same on every redelivery, to deduplicate on.
    pub id: String,
    /// What happened, e.g. `issue.updated`, `comment.deleted`, `member.removed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change was committed.
    #[schema(format = DateTime)]
    pub timestamp: String,
    pub project_key: String,
    /// Position in the project's feed: gap-free and increasing in commit order.
    pub cursor: i64,
    /// The resource's new state as `GET` shows it (a project without `my_role`); for a delete,
    /// its `id` (and `key` for issues and projects, `issue_key` for comments).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl TryFrom<pb::Change> for Change {
    type Error = ApiError;

    fn try_from(change: pb::Change) -> Result<Self, ApiError> {
        Ok(Change {
            id: change.id,
            event_type: change.r#type,
            timestamp: required_rfc3339("change.timestamp", change.timestamp)?,
            project_key: change.project_key,
            cursor: change.cursor,
            data: serde_json::from_str(&change.data_json)
                .map_err(|_| broken_answer("change.data_json"))?,
        })
    }
}

/// A page of the change feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Changes {
    /// Oldest first.
    pub items: Vec<Change>,
    /// Pass as `after` for the next page: the last item's cursor, or `after` when there were none.
    pub next_after: i64,
    /// The project's newest cursor when the page was read: more pages follow while
    /// `next_after < head_cursor`.
    pub head_cursor: i64,
}

/// `?after=&page_size=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    #[param(schema_with = limits::change_cursor)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub after: Option<i64>,
    #[param(schema_with = limits::change_page_size)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page_size: Option<u32>,
}

/// `?after=` of the stream (`Last-Event-ID`, when sent, takes precedence).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    #[param(schema_with = limits::change_cursor)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub after: Option<i64>,
}

fn cursor(field: &str, after: Option<i64>) -> Result<i64, ApiError> {
    match after {
        None => Ok(0),
        Some(after) if after >= 0 => Ok(after),
        Some(_) => Err(ApiError::invalid_field(
            field,
            "must be a cursor (0 or more)",
        )),
    }
}

/// The project's changes after a cursor, oldest first. Anyone who can see the project may read
/// its feed; changes are kept for the configured retention (30 days by default).
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/changes",
    tag = "changes",
    security(("bearer" = [])),
    params(ProjectKey, ChangesQuery),
    responses(
        (status = 200, description = "Up to `page_size` changes after `after`; none when `after` is the head or beyond", body = Changes),
        (status = 404, description = "No such project, or the caller may not see it"),
        (status = 410, description = "`after` is older than the oldest change kept: resynchronise from the lists, then follow the feed from `head_cursor`"),
        (status = 422, description = "`after` or `page_size` out of range"),
    ),
)]
pub async fn list_changes(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiQuery(query): ApiQuery<ChangesQuery>,
) -> Result<Json<Changes>, ApiError> {
    let after = cursor("after", query.after)?;
    let page_size = match query.page_size {
        None => DEFAULT_CHANGE_PAGE_SIZE,
        Some(n @ 1..=MAX_CHANGE_PAGE_SIZE) => n,
        Some(_) => {
            return Err(ApiError::invalid_field(
                "page_size",
                format!("must be between 1 and {MAX_CHANGE_PAGE_SIZE}"),
            ));
        }
    };
    let page = state
        .issues()
        .list_changes(caller.request(pb::ListChangesRequest {
            project_key: key,
            after,
            page_size: page_size as i32,
        }))
        .await?
        .into_inner();
    Ok(Json(Changes {
        items: page
            .changes
            .into_iter()
            .map(Change::try_from)
            .collect::<Result<_, _>>()?,
        next_after: page.next_after,
        head_cursor: page.head_cursor,
    }))
}

/// One Server-Sent Event of a change stream: `id:` the cursor, `event:` the change's type with
/// the change as JSON `data`, or a last `resume` event whose data names the cursor to resume
/// after.
pub struct ChangeStreamEvent;

impl utoipa::PartialSchema for ChangeStreamEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::sse_event_schema(
            None,
            true,
            serde_json::json!({"anyOf": [
                {"$ref": "#/components/schemas/Change"},
                {
                    "type": "object",
                    "required": ["cursor", "detail"],
                    "properties": {
                        "cursor": {"type": "integer", "format": "int64", "minimum": 0},
                        "detail": {"type": "string"}
                    }
                }
            ]}),
            "The change (a Change) as JSON; for `event: resume`, `{cursor, detail}`",
            "One event of a project's change stream",
        )
    }
}

impl ToSchema for ChangeStreamEvent {}

/// The project's changes after a cursor, then each new one as it is committed. Each event has
/// `id:` = its cursor, `event:` = its type and `data:` = the change as JSON (a `Change`); a
/// client that reconnects with `Last-Event-ID` (browsers' `EventSource` does) misses nothing and
/// receives nothing twice. A client that reads too slowly (or whose server is shutting down)
/// gets a last `event: resume` whose `id:` is its cursor, and the stream ends: reconnect with it.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/changes/stream",
    tag = "changes",
    security(("bearer" = [])),
    params(
        ProjectKey,
        StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, minimum = 0, description = "The cursor to resume after (the `id:` of the last event received); wins over `after`"),
    ),
    responses(
        (status = 200, description = "Server-Sent Events, one per change; comments keep the connection alive", content_type = "text/event-stream", body = ChangeStreamEvent),
        (status = 404, description = "No such project, or the caller may not see it"),
        (status = 410, description = "The cursor is older than the oldest change kept"),
        (status = 422, description = "`after` or `Last-Event-ID` is not a cursor"),
    ),
)]
pub async fn stream_changes(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiQuery(query): ApiQuery<StreamQuery>,
    headers: HeaderMap,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    // A JSON-minded client may send the literal `null` (the header is a nullable integer): absent.
    let resume = headers
        .get("last-event-id")
        .filter(|raw| raw.as_bytes() != b"null");
    let after = match resume {
        Some(raw) => {
            let parsed = raw
                .to_str()
                .ok()
                .and_then(|raw| raw.trim().parse::<i64>().ok());
            match parsed {
                Some(after) => cursor("Last-Event-ID", Some(after))?,
                None => {
                    return Err(ApiError::invalid_field(
                        "Last-Event-ID",
                        "must be a cursor (0 or more)",
                    ));
                }
            }
        }
        None => cursor("after", query.after)?,
    };
    let changes = state
        .issues()
        .watch_changes(caller.request(pb::WatchChangesRequest {
            project_key: key,
            after,
        }))
        .await?
        .into_inner();
    let events = changes
        .scan(false, |ended, item| {
            if *ended {
                return ready(None);
            }
            let event = match item {
                Ok(change) => Change::try_from(change).ok().and_then(|change| {
                    Event::default()
                        .id(change.cursor.to_string())
                        .event(change.event_type.clone())
                        .json_data(&change)
                        .ok()
                }),
                Err(failure) => {
                    *ended = true;
                    match status::resume_cursor(&failure) {
                        Some(cursor) => Event::default()
                            .id(cursor.to_string())
                            .event(RESUME_EVENT)
                            .json_data(serde_json::json!({
                                "cursor": cursor,
                                "detail": failure.message(),
                            }))
                            .ok(),
                        None => {
                            tracing::warn!(grpc_code = ?failure.code(), "a change stream broke off");
                            None
                        }
                    }
                }
            };
            ready(Some(event))
        })
        .filter_map(|event| ready(event.map(Ok)));
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE)))
}
