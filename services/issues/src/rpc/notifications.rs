//! Watchers of issues and the notification inbox of each user.

use swatter_proto::issues::v1 as pb;
use tonic::{Request, Status};

use super::Issues;
use crate::error::{IssuesError, Result};

pub(super) async fn watch_issue(
    _issues: &Issues,
    _request: Request<pb::WatchIssueRequest>,
) -> Result<pb::WatchState> {
    Err(IssuesError::Status(Status::unimplemented(
        "watch_issue is not built yet",
    )))
}

pub(super) async fn unwatch_issue(
    _issues: &Issues,
    _request: Request<pb::UnwatchIssueRequest>,
) -> Result<pb::WatchState> {
    Err(IssuesError::Status(Status::unimplemented(
        "unwatch_issue is not built yet",
    )))
}

pub(super) async fn list_watchers(
    _issues: &Issues,
    _request: Request<pb::ListWatchersRequest>,
) -> Result<pb::ListWatchersResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "list_watchers is not built yet",
    )))
}

pub(super) async fn list_notifications(
    _issues: &Issues,
    _request: Request<pb::ListNotificationsRequest>,
) -> Result<pb::ListNotificationsResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "list_notifications is not built yet",
    )))
}

pub(super) async fn mark_notification_read(
    _issues: &Issues,
    _request: Request<pb::MarkNotificationReadRequest>,
) -> Result<pb::Notification> {
    Err(IssuesError::Status(Status::unimplemented(
        "mark_notification_read is not built yet",
    )))
}

pub(super) async fn mark_all_notifications_read(
    _issues: &Issues,
    _request: Request<pb::MarkAllNotificationsReadRequest>,
) -> Result<pb::MarkAllNotificationsReadResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "mark_all_notifications_read is not built yet",
    )))
}
