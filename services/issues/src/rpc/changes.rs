//! Handlers of the change feed: a page after a cursor, and the live stream.
//!
//! A stream's producer task reads the feed after the last cursor it sent into a bounded channel
//! (at most as many rows as the channel has room for), then sleeps until the project's feed
//! grows ([`crate::feed::ChangeFeed`]) or [`crate::feed::POLL`] passes. Memory per stream is
//! bounded by that channel. When the client leaves the channel full for longer than the lag
//! allowance, the producer stops; the client receives what the channel holds, then
//! `RESUME_REQUIRED` naming the last cursor it was sent, from which it resumes with nothing
//! missed or repeated.

use std::{pin::Pin, sync::Arc};

use futures::{Stream, StreamExt};
use swatter_common::{
    auth::UserPrincipal,
    rpc::{caller, timestamp},
    status::{self, Violation},
};
use swatter_proto::issues::v1 as pb;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};
use uuid::Uuid;

use super::{Issues, projects::visible_project};
use crate::{
    error::{IssuesError, IssuesOnly, Result},
    feed::{POLL, sequencer},
    store::{self, ChangeRow},
};

/// Page size of `ListChanges` when the request names none, and the largest allowed.
pub const DEFAULT_PAGE_SIZE: i64 = 100;
pub const MAX_PAGE_SIZE: i64 = 1000;

/// The stream `WatchChanges` answers with.
pub type ChangeStream = Pin<Box<dyn Stream<Item = std::result::Result<pb::Change, Status>> + Send>>;

fn change(row: ChangeRow, project_key: &str) -> pb::Change {
    pb::Change {
        id: format!("evt_{}", row.id),
        r#type: row.event_type,
        timestamp: Some(timestamp(row.occurred_at)),
        project_key: project_key.to_owned(),
        cursor: row.cursor,
        data_json: row.data,
    }
}

fn parse_after(after: i64) -> Result<i64> {
    if after < 0 {
        return Err(IssuesError::invalid(Violation::new(
            "after",
            "must be a cursor (0 or more)",
        )));
    }
    Ok(after)
}

/// Refuses a cursor before what retention pruned (0, "from the start", never is).
async fn check_horizon(issues: &Issues, project_id: Uuid, after: i64) -> Result<i64> {
    let (head, pruned_through) = store::change_head(&issues.db, project_id).await?;
    if after != 0 && after < pruned_through {
        return Err(IssuesError::Own(IssuesOnly::CursorExpired {
            after,
            oldest_after: pruned_through,
        }));
    }
    Ok(head)
}

pub(super) async fn list_changes(
    issues: &Issues,
    request: Request<pb::ListChangesRequest>,
) -> Result<pb::ListChangesResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let after = parse_after(req.after)?;
    let limit = match i64::from(req.page_size) {
        0 => DEFAULT_PAGE_SIZE,
        size if (1..=MAX_PAGE_SIZE).contains(&size) => size,
        _ => {
            return Err(IssuesError::invalid(Violation::new(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            )));
        }
    };
    let project = visible_project(issues, &req.project_key, &me).await?;
    sequencer::catch_up(&issues.db, project.id).await?;
    let head_cursor = check_horizon(issues, project.id, after).await?;
    let rows = store::list_changes(&issues.db, project.id, after, limit).await?;
    let next_after = rows.last().map_or(after, |row| row.cursor);
    Ok(pb::ListChangesResponse {
        changes: rows
            .into_iter()
            .map(|row| change(row, &project.key))
            .collect(),
        next_after,
        head_cursor: head_cursor.max(next_after),
    })
}

pub(super) async fn watch_changes(
    issues: Arc<Issues>,
    request: Request<pb::WatchChangesRequest>,
) -> Result<ChangeStream> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let after = parse_after(req.after)?;
    let project = visible_project(&issues, &req.project_key, &me).await?;
    // Subscribed before the first read: a change committed after it wakes the producer.
    let wake = issues.feed.subscribe();
    sequencer::catch_up(&issues.db, project.id).await?;
    check_horizon(&issues, project.id, after).await?;
    let buffer = usize::from(issues.feed.settings().stream_buffer);
    let (sender, receiver) = mpsc::channel(buffer);
    let (end, ended) = oneshot::channel();
    let watch = Watch {
        issues,
        me,
        project_key: project.key,
        project_id: project.id,
        cursor: after,
    };
    tokio::spawn(async move {
        if let Some(status) = watch.run(sender, wake).await {
            let _ = end.send(status);
        }
    });
    let last = futures::stream::once(ended).filter_map(|ended| async move { ended.ok().map(Err) });
    Ok(Box::pin(ReceiverStream::new(receiver).chain(last)))
}

/// One stream's producer.
struct Watch {
    issues: Arc<Issues>,
    me: UserPrincipal,
    project_key: String,
    project_id: Uuid,
    /// The last cursor sent.
    cursor: i64,
}

type Sender = mpsc::Sender<std::result::Result<pb::Change, Status>>;

/// Why a stream ends with a resume cursor.
const FELL_BEHIND: &str = "the client fell behind the change stream";
const SHUTTING_DOWN: &str = "the server is shutting down";

impl Watch {
    /// Sends changes until the client goes (`None`) or the stream must end with a status.
    async fn run(mut self, sender: Sender, mut wake: broadcast::Receiver<Uuid>) -> Option<Status> {
        let _open = crate::feed::metrics::OpenStream::open();
        let lag = self.issues.feed.settings().stream_lag;
        let mut closing = self.issues.feed.closing();
        if *closing.borrow_and_update() {
            return Some(status::resume_required(SHUTTING_DOWN, self.cursor));
        }
        loop {
            // Send what the feed holds after the cursor, as room allows.
            loop {
                if sender.capacity() == 0 {
                    tokio::select! {
                        permit = sender.reserve() => match permit {
                            Ok(permit) => drop(permit),
                            Err(_) => return None,
                        },
                        () = tokio::time::sleep(lag) => {
                            tracing::info!(project = %self.project_key, cursor = self.cursor, "{FELL_BEHIND}; ending it");
                            return Some(status::resume_required(FELL_BEHIND, self.cursor));
                        }
                        _ = closing.changed() => {
                            return Some(status::resume_required(SHUTTING_DOWN, self.cursor));
                        }
                    }
                }
                let room = i64::try_from(sender.capacity()).unwrap_or(i64::MAX);
                let rows = match store::list_changes(
                    &self.issues.db,
                    self.project_id,
                    self.cursor,
                    room.min(MAX_PAGE_SIZE),
                )
                .await
                {
                    Ok(rows) => rows,
                    Err(error) => return Some(IssuesError::from(error).into()),
                };
                if rows.is_empty() {
                    break;
                }
                // The caller may have lost access since the stream began.
                if let Err(error) = visible_project(&self.issues, &self.project_key, &self.me).await
                {
                    return Some(error.into());
                }
                for row in rows {
                    let cursor = row.cursor;
                    if sender.try_send(Ok(change(row, &self.project_key))).is_err() {
                        return None;
                    }
                    self.cursor = cursor;
                }
            }
            // Wait for the feed to grow: a wake-up for this project (or for all, after the
            // listener reconnected), or the periodic read, whichever comes first.
            let poll = tokio::time::sleep(POLL);
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    woken = wake.recv() => match woken {
                        Ok(id) if id != self.project_id && !id.is_nil() => continue,
                        Err(broadcast::error::RecvError::Closed) => return None,
                        _ => break,
                    },
                    () = &mut poll => break,
                    () = sender.closed() => return None,
                    _ = closing.changed() => {
                        return Some(status::resume_required(SHUTTING_DOWN, self.cursor));
                    }
                }
            }
        }
    }
}
