//! The operator dashboard (admins only): one snapshot of the pipeline, a stream of them, and
//! the dead letters with their requeue.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use swatter_common::{
    auth::UserPrincipal,
    pagination,
    rpc::{caller, timestamp},
};
use swatter_proto::reporting::v1 as pb;
use tokio::{sync::broadcast, time::Instant};
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use uuid::Uuid;

use super::{
    DashboardStream, Reporting,
    convert::{job_message, schedule_message},
    jobs::{admin_only, queue_again, stats},
};
use crate::{
    error::{ReportingError, Result},
    store::{self, DeadLetterRow, WorkerRow},
};

/// Jobs per list in a snapshot.
const FAILED_SHOWN: i64 = 20;
const DEAD_LETTERS_SHOWN: i64 = 20;
/// Schedules in a snapshot: the soonest due, paused ones last.
const SCHEDULES_SHOWN: i64 = 20;
const ACTIVE_SHOWN: i64 = 50;
/// The activity window.
const ACTIVITY_MINUTES: i64 = 60;
/// Snapshots of a stream: at most one per `MIN_GAP`, at least one per `MAX_GAP`.
const MIN_GAP: Duration = Duration::from_millis(500);
const MAX_GAP: Duration = Duration::from_secs(5);
/// When a user at their limit of open streams is told to try again.
const STREAM_SLOT_RETRY: Duration = Duration::from_secs(5);

fn admins_only(me: &UserPrincipal) -> Result<()> {
    admin_only(
        me,
        "only admins see the operator dashboard",
        "the dashboard spans every project; a token limited to some projects cannot see it",
    )
}

pub(super) async fn get_dashboard(
    reporting: &Reporting,
    request: Request<pb::GetDashboardRequest>,
) -> Result<pb::Dashboard> {
    admins_only(&caller(&request)?)?;
    snapshot(reporting).await
}

pub(super) async fn watch_dashboard(
    reporting: &std::sync::Arc<Reporting>,
    request: Request<pb::WatchDashboardRequest>,
) -> Result<DashboardStream> {
    let me = caller(&request)?;
    admins_only(&me)?;
    let slot =
        reporting
            .streams
            .acquire(me.id)
            .ok_or_else(|| ReportingError::ResourceExhausted {
                message: "too many event streams are open for this user; close one".into(),
                retry_after: STREAM_SLOT_RETRY,
            })?;
    // Subscribed before the first snapshot: a change committed after it makes another.
    let mut changes = reporting.events.any_change();
    let first = snapshot(reporting).await?;
    let reporting = reporting.clone();
    let (tx, rx) = tokio::sync::mpsc::channel(2);
    tokio::spawn(async move {
        // Held while the stream is open.
        let _slot = slot;
        if tx.send(Ok(first)).await.is_err() {
            return;
        }
        let mut sent_at = Instant::now();
        loop {
            tokio::select! {
                change = changes.recv() => match change {
                    Ok(()) | Err(broadcast::error::RecvError::Lagged(_)) => {
                        // Coalesce: the changes until the gap is over make one snapshot.
                        tokio::select! {
                            () = tokio::time::sleep_until(sent_at + MIN_GAP) => {},
                            () = tx.closed() => return,
                        }
                        while let Ok(()) | Err(broadcast::error::TryRecvError::Lagged(_)) = changes.try_recv() {}
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                () = tokio::time::sleep_until(sent_at + MAX_GAP) => {},
                // The client went away.
                () = tx.closed() => return,
            }
            let next = snapshot(&reporting).await;
            let failed = next.is_err();
            if tx.send(next.map_err(Into::into)).await.is_err() || failed {
                return;
            }
            sent_at = Instant::now();
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

/// The dashboard as it stands now.
async fn snapshot(reporting: &Reporting) -> Result<pb::Dashboard> {
    let db = &reporting.db;
    let at = Utc::now();
    let since = at - chrono::Duration::minutes(ACTIVITY_MINUTES);
    let (stats, activity, workers, failed, dead, dead_letter_count, active, schedules) = tokio::try_join!(
        stats(reporting),
        async { Ok(store::job_activity(db, since).await?) },
        async { Ok::<_, ReportingError>(store::list_workers(db).await?) },
        async { Ok(store::recently_failed_jobs(db, FAILED_SHOWN).await?) },
        async { Ok(store::list_dead_letters(db, None, DEAD_LETTERS_SHOWN).await?) },
        async { Ok(store::count_dead_letters(db).await?) },
        async {
            Ok(store::list_jobs(
                db,
                None,
                None,
                &["queued", "running", "retrying"],
                None,
                ACTIVE_SHOWN,
            )
            .await?)
        },
        async {
            Ok(store::schedules::list_schedules(db, None, None, None, SCHEDULES_SHOWN).await?)
        },
    )?;
    Ok(pb::Dashboard {
        at: Some(timestamp(at)),
        stats: Some(stats),
        activity: activity
            .into_iter()
            .map(|row| pb::JobActivity {
                minute: Some(timestamp(row.minute)),
                kind: row.kind,
                counts: HashMap::from([
                    ("created".to_owned(), row.created),
                    ("succeeded".to_owned(), row.succeeded),
                    ("failed".to_owned(), row.failed),
                    ("cancelled".to_owned(), row.cancelled),
                    ("retrying".to_owned(), row.retrying),
                ]),
                run_seconds_avg: row.run_seconds_avg,
                run_seconds_max: row.run_seconds_max,
            })
            .collect(),
        workers: workers.iter().map(worker_message).collect(),
        failed_jobs: failed.iter().map(job_message).collect(),
        dead_letters: dead_letter_messages(reporting, &dead).await?,
        dead_letter_count,
        schedules: schedules.iter().map(schedule_message).collect(),
        active_jobs: active.iter().map(job_message).collect(),
    })
}

fn worker_message(row: &WorkerRow) -> pb::WorkerStatus {
    pb::WorkerStatus {
        id: row.id.to_string(),
        hostname: row.hostname.clone(),
        started_at: Some(timestamp(row.started_at)),
        last_heartbeat_at: Some(timestamp(row.last_heartbeat_at)),
        concurrency: row.concurrency,
        job_ids: row.job_ids.iter().map(Uuid::to_string).collect(),
        alive: row.alive,
    }
}

/// Dead letters with their jobs as they stand now (one query for the jobs).
async fn dead_letter_messages(
    reporting: &Reporting,
    rows: &[DeadLetterRow],
) -> Result<Vec<pb::DeadLetter>> {
    let ids: Vec<Uuid> = rows.iter().filter_map(|row| row.job_id).collect();
    let jobs: HashMap<Uuid, pb::Job> = store::jobs_by_ids(&reporting.db, &ids)
        .await?
        .iter()
        .map(|job| (job.id, job_message(job)))
        .collect();
    Ok(rows
        .iter()
        .map(|row| pb::DeadLetter {
            id: row.id.to_string(),
            job_id: row.job_id.map(|id| id.to_string()).unwrap_or_default(),
            dead_lettered_at: Some(timestamp(row.dead_lettered_at)),
            reason: row.reason.clone(),
            job: row.job_id.and_then(|id| jobs.get(&id).cloned()),
        })
        .collect())
}

pub(super) async fn list_dead_letters(
    reporting: &Reporting,
    request: Request<pb::ListDeadLettersRequest>,
) -> Result<pb::ListDeadLettersResponse> {
    admins_only(&caller(&request)?)?;
    let req = request.into_inner();
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(ReportingError::invalid)?;
    let mut rows = store::list_dead_letters(&reporting.db, after, limit + 1).await?;
    let next_page_token =
        pagination::next_time_token(&mut rows, limit, |r| (r.dead_lettered_at, r.id));
    Ok(pb::ListDeadLettersResponse {
        dead_letters: dead_letter_messages(reporting, &rows).await?,
        next_page_token,
    })
}

pub(super) async fn requeue_dead_letter(
    reporting: &Reporting,
    request: Request<pb::RequeueDeadLetterRequest>,
) -> Result<pb::Job> {
    admins_only(&caller(&request)?)?;
    let id = dead_letter_id(&request.get_ref().id)?;
    let mut tx = reporting.db.begin().await?;
    let letter = store::take_dead_letter(&mut *tx, id)
        .await?
        .ok_or(ReportingError::NotFound("dead letter"))?;
    let job_id = letter.job_id.ok_or(ReportingError::FailedPrecondition(
        "the dead letter is an unreadable message that names no job".into(),
    ))?;
    let job =
        store::job_by_id(&mut *tx, job_id)
            .await?
            .ok_or(ReportingError::FailedPrecondition(
                "the dead letter's job no longer exists".into(),
            ))?;
    let row = queue_again(reporting, &mut tx, &job).await?;
    tx.commit().await?;
    Ok(job_message(&row))
}

/// A dead letter's id: text that is no UUID names none (404).
fn dead_letter_id(raw: &str) -> Result<Uuid> {
    raw.parse()
        .map_err(|_| ReportingError::NotFound("dead letter"))
}

/// Removes a dead letter and queues nothing; its job, if any, is left as it is.
pub(super) async fn discard_dead_letter(
    reporting: &Reporting,
    request: Request<pb::DiscardDeadLetterRequest>,
) -> Result<()> {
    admins_only(&caller(&request)?)?;
    let id = dead_letter_id(&request.get_ref().id)?;
    let letter = store::take_dead_letter(&reporting.db, id)
        .await?
        .ok_or(ReportingError::NotFound("dead letter"))?;
    tracing::info!(dead_letter_id = %letter.id, job_id = ?letter.job_id, reason = %letter.reason, "dead letter discarded");
    Ok(())
}
