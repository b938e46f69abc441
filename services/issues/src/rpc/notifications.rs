//! Watchers of issues and the notification inbox of each user (docs/api.md, "Watching and
//! notifications"). Notifications themselves are written with the changes: by the database
//! trigger on the issue history, and by [`notify_mentions`] for `@username` mentions.

use swatter_common::{
    auth::UserPrincipal,
    pagination,
    rpc::{Violations, timestamp},
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Issues, authorize_locked, caller, issues::visible_issue};
use crate::{
    domain::{Action, NotificationReason, added_mentions, one_line},
    error::{IssuesError, Result},
    store::{self, InboxCursor, InboxFilter, Mention, NotificationRow, Reader, WatcherRow},
};

/// Sets whether the caller watches an issue they can see. Their membership is locked while the
/// row is written, so a concurrent removal from the project (which forgets their watching)
/// cannot be overtaken by it.
async fn set_watching(
    issues: &Issues,
    raw_key: &str,
    me: &UserPrincipal,
    watching: bool,
) -> Result<pb::WatchState> {
    let issue = visible_issue(issues, raw_key, me).await?;
    let mut tx = issues.db.begin().await?;
    authorize_locked(&mut tx, &issue.project_key, me, Action::View, "issue", "").await?;
    if watching {
        store::watch_issue(&mut *tx, issue.id, me.id).await?;
    } else {
        store::unwatch_issue(&mut *tx, issue.id, me.id).await?;
    }
    tx.commit().await?;
    Ok(pb::WatchState {
        issue_key: format!("{}-{}", issue.project_key, issue.number),
        watching,
    })
}

pub(super) async fn watch_issue(
    issues: &Issues,
    request: Request<pb::WatchIssueRequest>,
) -> Result<pb::WatchState> {
    let me = caller(&request)?;
    set_watching(issues, &request.get_ref().issue_key, &me, true).await
}

pub(super) async fn unwatch_issue(
    issues: &Issues,
    request: Request<pb::UnwatchIssueRequest>,
) -> Result<pb::WatchState> {
    let me = caller(&request)?;
    set_watching(issues, &request.get_ref().issue_key, &me, false).await
}

fn watcher(row: WatcherRow) -> pb::Watcher {
    pb::Watcher {
        user_id: row.user_id.to_string(),
        reason: row.reason,
        since: Some(timestamp(row.since)),
    }
}

pub(super) async fn list_watchers(
    issues: &Issues,
    request: Request<pb::ListWatchersRequest>,
) -> Result<pb::ListWatchersResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(IssuesError::invalid)?;
    let issue = visible_issue(issues, &req.issue_key, &me).await?;
    let mut rows = store::list_watchers(&issues.db, issue.id, after, limit + 1).await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |w| (w.since, w.user_id));
    Ok(pb::ListWatchersResponse {
        watchers: rows.into_iter().map(watcher).collect(),
        next_page_token,
    })
}

fn reason_to_pb(reason: NotificationReason) -> pb::NotificationReason {
    match reason {
        NotificationReason::Assigned => pb::NotificationReason::Assigned,
        NotificationReason::Mentioned => pb::NotificationReason::Mentioned,
        NotificationReason::Watching => pb::NotificationReason::Watching,
        NotificationReason::StatusChanged => pb::NotificationReason::StatusChanged,
    }
}

/// A reason of a filter: unspecified and unknown numbers are refused.
fn reason_from_pb(raw: i32) -> std::result::Result<NotificationReason, Violation> {
    match pb::NotificationReason::try_from(raw) {
        Ok(pb::NotificationReason::Assigned) => Ok(NotificationReason::Assigned),
        Ok(pb::NotificationReason::Mentioned) => Ok(NotificationReason::Mentioned),
        Ok(pb::NotificationReason::Watching) => Ok(NotificationReason::Watching),
        Ok(pb::NotificationReason::StatusChanged) => Ok(NotificationReason::StatusChanged),
        _ => Err(Violation::new(
            "reasons",
            "must be assigned, mentioned, watching or status_changed",
        )),
    }
}

fn notification(row: NotificationRow) -> pb::Notification {
    pb::Notification {
        id: row.id.to_string(),
        reason: reason_to_pb(row.reason).into(),
        issue_key: format!("{}-{}", row.project_key, row.issue_number),
        project_key: row.project_key,
        actor_id: row.actor_id.to_string(),
        change_type: row.change_type,
        summary: row.summary,
        read: !row.unread,
        created_at: Some(timestamp(row.created_at)),
        read_at: row.read_at.map(timestamp),
    }
}

/// The caller's inbox as they may see it now.
fn reader(me: &UserPrincipal) -> Reader<'_> {
    Reader {
        user_id: me.id,
        admin: me.admin,
        projects: me.project_limit(),
    }
}

pub(super) async fn list_notifications(
    issues: &Issues,
    request: Request<pb::ListNotificationsRequest>,
) -> Result<pb::ListNotificationsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let mut v = Violations::default();
    let mut reasons = Vec::new();
    for raw in &req.reasons {
        reasons.extend(v.check(reason_from_pb(*raw)));
    }
    reasons.sort();
    reasons.dedup();
    let page = v.check(pagination::page::<InboxCursor>(
        req.page_size,
        &req.page_token,
    ));
    v.finish()?;
    let Some((limit, after)) = page else {
        unreachable!("violations were reported above");
    };
    let reader = reader(&me);
    let filter = InboxFilter {
        reasons: &reasons,
        unread_only: req.unread_only,
    };
    let mut rows =
        store::list_notifications(&issues.db, &reader, &filter, after.as_ref(), limit + 1).await?;
    let next_page_token = pagination::next_token(&mut rows, limit, InboxCursor::after);
    let unread_count = store::count_unread(&issues.db, &reader).await?;
    Ok(pb::ListNotificationsResponse {
        notifications: rows.into_iter().map(notification).collect(),
        next_page_token,
        unread_count,
    })
}

pub(super) async fn mark_notification_read(
    issues: &Issues,
    request: Request<pb::MarkNotificationReadRequest>,
) -> Result<pb::Notification> {
    let me = caller(&request)?;
    let id: Uuid = request
        .get_ref()
        .id
        .parse()
        .map_err(|_| IssuesError::NotFound("notification"))?;
    store::mark_notification_read(&issues.db, &reader(&me), id)
        .await?
        .map(notification)
        .ok_or(IssuesError::NotFound("notification"))
}

pub(super) async fn mark_all_notifications_read(
    issues: &Issues,
    request: Request<pb::MarkAllNotificationsReadRequest>,
) -> Result<pb::MarkAllNotificationsReadResponse> {
    let me = caller(&request)?;
    let marked = store::mark_all_notifications_read(&issues.db, &reader(&me)).await?;
    Ok(pb::MarkAllNotificationsReadResponse {
        marked: marked as i64,
    })
}

/// A text that may mention people, written by a change: an issue's description (`issue.created`,
/// `issue.updated`) or a comment (`comment.created`, `comment.updated`).
pub(super) struct Mentioning<'a> {
    pub project_id: Uuid,
    pub issue_id: Uuid,
    pub change_type: &'static str,
    /// The text before the change (empty when it is new).
    pub old: &'a str,
    pub new: &'a str,
}

/// Notifies the project's members that the text now mentions and did not before (an edit
/// notifies only the mentions it adds), inside the change's transaction.
pub(super) async fn notify_mentions(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    me: &UserPrincipal,
    text: Mentioning<'_>,
) -> Result<()> {
    let usernames = added_mentions(text.old, text.new);
    if usernames.is_empty() {
        return Ok(());
    }
    let place = if text.change_type.starts_with("comment.") {
        "a comment"
    } else {
        "the description"
    };
    let summary = format!("mentioned you in {place}: {}", one_line(text.new, SNIPPET));
    let mention = Mention {
        project_id: text.project_id,
        issue_id: text.issue_id,
        actor_id: me.id,
        change_type: text.change_type,
        summary: &summary,
    };
    store::notify_mentions(&mut **tx, &mention, &usernames).await?;
    Ok(())
}

/// Characters of the text a mention's notification quotes.
const SNIPPET: usize = 120;
