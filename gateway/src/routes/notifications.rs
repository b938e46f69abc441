//! `/v1/issues/{issue_key}/watch`, `/v1/issues/{issue_key}/watchers` and `/v1/notifications`:
//! watching issues and the caller's inbox (docs/api.md, "Watching and notifications").

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    PageQuery, broken_answer,
    fields::{comma_list, empty_as_none},
    json, page_size,
    paths::IssueKey,
    required_rfc3339, rfc3339,
    wire::NotificationReason,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiPath, ApiQuery, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// Whether the caller watches an issue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"issue_key": "SWAT-42", "watching": true}))]
pub struct WatchState {
    pub issue_key: String,
    pub watching: bool,
}

impl From<pb::WatchState> for WatchState {
    fn from(state: pb::WatchState) -> Self {
        WatchState {
            issue_key: state.issue_key,
            watching: state.watching,
        }
    }
}

/// Why someone watches an issue: they filed it, are or were assigned it, commented on it, were
/// mentioned in it, or chose to watch it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WatchReason {
    Author,
    Assignee,
    Commenter,
    Mentioned,
    Manual,
}

impl WatchReason {
    fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "author" => WatchReason::Author,
            "assignee" => WatchReason::Assignee,
            "commenter" => WatchReason::Commenter,
            "mentioned" => WatchReason::Mentioned,
            "manual" => WatchReason::Manual,
            _ => return None,
        })
    }
}

/// Someone who watches an issue (and is notified of its changes).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "user_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "reason": "author",
    "since": "2026-11-23T10:00:00Z"
}))]
pub struct Watcher {
    #[schema(format = Uuid)]
    pub user_id: String,
    pub reason: WatchReason,
    #[schema(format = DateTime)]
    pub since: String,
}

impl TryFrom<pb::Watcher> for Watcher {
    type Error = ApiError;

    fn try_from(watcher: pb::Watcher) -> Result<Self, ApiError> {
        Ok(Watcher {
            user_id: watcher.user_id,
            reason: WatchReason::parse(&watcher.reason)
                .ok_or_else(|| broken_answer("watcher.reason"))?,
            since: required_rfc3339("watcher.since", watcher.since)?,
        })
    }
}

/// One page of an issue's watchers.
#[derive(Debug, Serialize, ToSchema)]
pub struct WatcherPage {
    pub items: Vec<Watcher>,
    /// Pass as `page_token` to get the next page; `null` on the last page.
    pub next_page_token: Option<String>,
}

/// Something that happened to an issue, told to one user.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f95-1a2b-7c3d-8e4f-5a6b7c8d9e0f",
    "reason": "status_changed",
    "project_key": "SWAT",
    "issue_key": "SWAT-42",
    "actor_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "change_type": "issue.updated",
    "summary": "status: open → resolved",
    "read": false,
    "created_at": "2026-11-23T10:00:00Z",
    "read_at": null
}))]
pub struct Notification {
    #[schema(format = Uuid)]
    pub id: String,
    pub reason: NotificationReason,
    pub project_key: String,
    pub issue_key: String,
    /// Who made the change.
    #[schema(format = Uuid)]
    pub actor_id: String,
    /// `issue.created`, `issue.updated`, `comment.created`, `comment.updated` or `comment.deleted`.
    pub change_type: String,
    /// One line about the change.
    pub summary: String,
    pub read: bool,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub read_at: Option<String>,
}

impl TryFrom<pb::Notification> for Notification {
    type Error = ApiError;

    fn try_from(n: pb::Notification) -> Result<Self, ApiError> {
        Ok(Notification {
            id: n.id,
            reason: NotificationReason::from_pb(n.reason)
                .ok_or_else(|| broken_answer("notification.reason"))?,
            project_key: n.project_key,
            issue_key: n.issue_key,
            actor_id: n.actor_id,
            change_type: n.change_type,
            summary: n.summary,
            read: n.read,
            created_at: required_rfc3339("notification.created_at", n.created_at)?,
            read_at: n.read_at.and_then(rfc3339),
        })
    }
}

/// One page of the caller's inbox.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    /// Pass as `page_token` to get the next page; `null` on the last page.
    pub next_page_token: Option<String>,
    /// The caller's unread notifications in all, whatever the filters.
    pub unread_count: i64,
}

/// Filters and page of the inbox.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListNotificationsQuery {
    /// Any of these reasons, comma-separated.
    #[param(value_type = Option<Vec<NotificationReason>>, style = Form, explode = false, example = "assigned,mentioned")]
    #[serde(default, deserialize_with = "comma_list")]
    pub reason: Vec<NotificationReason>,
    /// `true`: only unread notifications.
    #[serde(default, deserialize_with = "empty_as_none")]
    pub unread: Option<bool>,
    /// 1–100, default 20.
    #[param(minimum = 1, maximum = 100)]
    #[serde(default, deserialize_with = "empty_as_none")]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page, asked for with the same filters.
    #[param(max_length = 512)]
    pub page_token: Option<String>,
}

/// `{id}` of a notification.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct NotificationId {
    /// The notification's id
    pub id: Uuid,
}

/// How many notifications were marked read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"marked": 3}))]
pub struct Marked {
    /// Unread before, read now.
    pub marked: i64,
}

/// Anyone who can see the issue: watch it (be notified of its changes). Watching twice is fine.
#[utoipa::path(
    put,
    path = "/v1/issues/{issue_key}/watch",
    tag = "notifications",
    security(("bearer" = [])),
    params(IssueKey),
    responses(
        (status = 200, description = "The caller watches the issue", body = WatchState),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn watch_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
) -> Result<Json<WatchState>, ApiError> {
    let request = caller.request(pb::WatchIssueRequest { issue_key });
    json(state.issues().watch_issue(request).await)
}

/// Stop watching an issue (until the caller comments on it, is assigned it or is mentioned in it).
#[utoipa::path(
    delete,
    path = "/v1/issues/{issue_key}/watch",
    tag = "notifications",
    security(("bearer" = [])),
    params(IssueKey),
    responses(
        (status = 200, description = "The caller does not watch the issue", body = WatchState),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn unwatch_issue(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
) -> Result<Json<WatchState>, ApiError> {
    let request = caller.request(pb::UnwatchIssueRequest { issue_key });
    json(state.issues().unwatch_issue(request).await)
}

/// Who watches an issue, longest-watching first.
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}/watchers",
    tag = "notifications",
    security(("bearer" = [])),
    params(IssueKey, PageQuery),
    responses(
        (status = 200, description = "One page of watchers", body = WatcherPage),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
        (status = 422, description = "A bad page size or page token"),
    ),
)]
pub async fn list_watchers(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<WatcherPage>, ApiError> {
    let (page_size, page_token) = query.into_pb()?;
    let response = state
        .issues()
        .list_watchers(caller.request(pb::ListWatchersRequest {
            issue_key,
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Ok(Json(WatcherPage {
        items: response
            .watchers
            .into_iter()
            .map(Watcher::try_from)
            .collect::<Result<_, _>>()?,
        next_page_token: Some(response.next_page_token).filter(|t| !t.is_empty()),
    }))
}

/// The caller's inbox: unread first, then newest first.
#[utoipa::path(
    get,
    path = "/v1/notifications",
    tag = "notifications",
    security(("bearer" = [])),
    params(ListNotificationsQuery),
    responses(
        (status = 200, description = "One page of the caller's notifications", body = NotificationPage),
        (status = 422, description = "A bad reason, unread flag, page size or page token", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "reason", NotificationReason::EXPECTED))),
    ),
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiQuery(query): ApiQuery<ListNotificationsQuery>,
) -> Result<Json<NotificationPage>, ApiError> {
    let request = pb::ListNotificationsRequest {
        reasons: query
            .reason
            .into_iter()
            .map(NotificationReason::to_pb)
            .collect(),
        unread_only: query.unread.unwrap_or(false),
        page_size: page_size(query.page_size)?,
        page_token: query.page_token.unwrap_or_default(),
    };
    let response = state
        .issues()
        .list_notifications(caller.request(request))
        .await?
        .into_inner();
    Ok(Json(NotificationPage {
        items: response
            .notifications
            .into_iter()
            .map(Notification::try_from)
            .collect::<Result<_, _>>()?,
        next_page_token: Some(response.next_page_token).filter(|t| !t.is_empty()),
        unread_count: response.unread_count,
    }))
}

/// Mark one of the caller's notifications read (marking it again changes nothing).
#[utoipa::path(
    post,
    path = "/v1/notifications/{id}/read",
    tag = "notifications",
    security(("bearer" = [])),
    params(NotificationId),
    responses(
        (status = 200, description = "The notification, read", body = Notification),
        (status = 404, description = "No such notification of the caller"),
    ),
)]
pub async fn mark_notification_read(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(NotificationId { id }): ApiPath<NotificationId>,
) -> Result<Json<Notification>, ApiError> {
    let request = caller.request(pb::MarkNotificationReadRequest { id: id.to_string() });
    json(state.issues().mark_notification_read(request).await)
}

/// Mark every notification of the caller read.
#[utoipa::path(
    post,
    path = "/v1/notifications/read-all",
    tag = "notifications",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "How many were marked", body = Marked),
    ),
)]
pub async fn mark_all_notifications_read(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<Marked>, ApiError> {
    let request = caller.request(pb::MarkAllNotificationsReadRequest {});
    let response = state
        .issues()
        .mark_all_notifications_read(request)
        .await?
        .into_inner();
    Ok(Json(Marked {
        marked: response.marked,
    }))
}
