//! Following a job (read, list, watch), cancelling and retrying it, and the statistics admins
//! see.

use std::{collections::HashMap, time::Duration};

use chrono::Utc;
use sqlx::{Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal, pagination, propagation, rpc::caller, status::Violation,
};
use swatter_proto::reporting::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;
use uuid::Uuid;

use super::{
    JobStream, Reporting,
    convert::{job_message, state_from_pb},
    take_job_slot, visible_job,
};
use crate::{
    domain::{CancelOutcome, JobState},
    error::{ReportingError, Result},
    store::{self, Destination, JobRow},
};

/// When a user at their limit of open streams is told to try again.
const STREAM_SLOT_RETRY: Duration = Duration::from_secs(5);

pub(super) async fn get_job(
    reporting: &Reporting,
    request: Request<pb::GetJobRequest>,
) -> Result<pb::Job> {
    let me = caller(&request)?;
    let job = visible_job(reporting, &request.get_ref().id, &me).await?;
    Ok(job_message(&job))
}

pub(super) async fn list_jobs(
    reporting: &Reporting,
    request: Request<pb::ListJobsRequest>,
) -> Result<pb::ListJobsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    if req.all && !me.admin {
        return Err(ReportingError::Forbidden(
            "only admins list every user's jobs",
        ));
    }
    let states = req
        .states
        .iter()
        .map(|raw| state_from_pb(*raw).map(JobState::as_str))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| ReportingError::invalid(Violation::new("state", "is not a job state")))?;
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(ReportingError::invalid)?;
    let owner = if req.all { None } else { Some(me.id) };
    let mut rows = store::list_jobs(
        &reporting.db,
        owner,
        me.project_limit(),
        &states,
        after,
        limit + 1,
    )
    .await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |r| (r.created_at, r.id));
    Ok(pb::ListJobsResponse {
        jobs: rows.iter().map(job_message).collect(),
        next_page_token,
    })
}

pub(super) async fn cancel_job(
    reporting: &Reporting,
    request: Request<pb::CancelJobRequest>,
) -> Result<pb::Job> {
    let me = caller(&request)?;
    let job = visible_job(reporting, &request.get_ref().id, &me).await?;
    let db = &reporting.db;
    let updated = match job.state.on_cancel() {
        CancelOutcome::CancelNow => store::cancel_waiting_job(db, job.id)
            .await?
            .inspect(|row| crate::metrics::finished(row.kind.as_str(), JobState::Cancelled)),
        CancelOutcome::AtNextCheckpoint => store::request_cancel(db, job.id).await?,
        CancelOutcome::AlreadyTerminal => None,
    };
    match updated {
        Some(row) => Ok(job_message(&row)),
        // Terminal, or it moved on between the read and the write.
        None => {
            let now = store::job_by_id(db, job.id)
                .await?
                .ok_or(ReportingError::NotFound("job"))?;
            Err(ReportingError::FailedPrecondition(
                format!("the job is {} and cannot be cancelled", now.state).into(),
            ))
        }
    }
}

pub(super) async fn retry_job(
    reporting: &Reporting,
    request: Request<pb::RetryJobRequest>,
) -> Result<pb::Job> {
    let me = caller(&request)?;
    let job = visible_job(reporting, &request.get_ref().id, &me).await?;
    let mut tx = reporting.db.begin().await?;
    let row = queue_again(reporting, &mut tx, &job).await?;
    tx.commit().await?;
    Ok(job_message(&row))
}

/// failed/cancelled → queued, in `tx`, with a fresh budget of attempts and its message in the
/// outbox (`RetryJob`, and `RequeueDeadLetter` with the dead letter's removal in the same
/// transaction). FAILED_PRECONDITION in any other state.
pub(super) async fn queue_again(
    reporting: &Reporting,
    tx: &mut Transaction<'_, Postgres>,
    job: &JobRow,
) -> Result<JobRow> {
    if !job.state.can_retry() {
        return Err(ReportingError::FailedPrecondition(
            format!(
                "only failed or cancelled jobs can be retried; the job is {}",
                job.state
            )
            .into(),
        ));
    }
    take_job_slot(reporting, tx, job.owner_id).await?;
    let row = store::requeue_job(&mut **tx, job.id, reporting.max_attempts)
        .await?
        .ok_or(ReportingError::FailedPrecondition(
            "the job changed meanwhile; try again".into(),
        ))?;
    store::insert_outbox(
        &mut **tx,
        row.id,
        row.attempts + 1,
        Destination::Work,
        Utc::now(),
        &propagation::current_trace_headers(),
    )
    .await?;
    Ok(row)
}

pub(super) async fn watch_job(
    reporting: &Reporting,
    request: Request<pb::WatchJobRequest>,
) -> Result<JobStream> {
    let me = caller(&request)?;
    let slot =
        reporting
            .streams
            .acquire(me.id)
            .ok_or_else(|| ReportingError::ResourceExhausted {
                message: "too many job event streams are open for this user; close one".into(),
                retry_after: STREAM_SLOT_RETRY,
            })?;
    let raw_id = &request.get_ref().id;
    let id: Uuid = raw_id
        .parse()
        .map_err(|_| ReportingError::NotFound("job"))?;
    // Subscribed before the read: a change committed after it is pushed.
    let mut changes = reporting.events.subscribe(id);
    let job = visible_job(reporting, raw_id, &me).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        // Held while the stream is open.
        let _slot = slot;
        let mut last = job_message(&job);
        if tx.send(Ok(last.clone())).await.is_err() || job.state.is_terminal() {
            return;
        }
        loop {
            let row = tokio::select! {
                row = changes.next() => match row {
                    Some(row) => row,
                    None => return,
                },
                // The client went away.
                () = tx.closed() => return,
            };
            let now = job_message(&row);
            let changed = (now.state, now.progress, now.attempts, &now.next_attempt_at)
                != (
                    last.state,
                    last.progress,
                    last.attempts,
                    &last.next_attempt_at,
                );
            if changed {
                if tx.send(Ok(now.clone())).await.is_err() {
                    return;
                }
                last = now;
            }
            if row.state.is_terminal() {
                return;
            }
        }
    });
    Ok(Box::pin(ReceiverStream::new(rx)))
}

pub(super) async fn job_stats(
    reporting: &Reporting,
    request: Request<pb::GetJobStatsRequest>,
) -> Result<pb::JobStats> {
    let me = caller(&request)?;
    admin_only(
        &me,
        "only admins see job statistics",
        "job statistics span every project; a token limited to some projects cannot see them",
    )?;
    stats(reporting).await
}

/// Refuses anyone but an admin whose token spans every project (`not_admin`, `limited`: what
/// each is told).
pub(super) fn admin_only(
    me: &UserPrincipal,
    not_admin: &'static str,
    limited: &'static str,
) -> Result<()> {
    if !me.admin {
        return Err(ReportingError::Forbidden(not_admin));
    }
    if me.project_limit().is_some() {
        return Err(ReportingError::Forbidden(limited));
    }
    Ok(())
}

/// Jobs per state, the work queue's depth, the dead letters (those stored and those still in the
/// dead-letter queue) and the oldest queued job's age.
pub(super) async fn stats(reporting: &Reporting) -> Result<pb::JobStats> {
    let mut jobs_by_state: HashMap<String, i64> = JobState::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), 0))
        .collect();
    for (state, count) in store::count_by_state(&reporting.db).await? {
        jobs_by_state.insert(state.to_string(), count);
    }
    let (queue_depth, dead_waiting) = reporting
        .publisher
        .queue_depths()
        .await
        .map_err(ReportingError::Unavailable)?;
    let dead_stored = store::count_dead_letters(&reporting.db).await?;
    let oldest_queued_age_seconds = store::oldest_queued(&reporting.db)
        .await?
        .map(|at| (Utc::now() - at).num_seconds().max(0))
        .unwrap_or(0);
    Ok(pb::JobStats {
        jobs_by_state,
        queue_depth: i64::from(queue_depth),
        dead_lettered: dead_stored + i64::from(dead_waiting),
        oldest_queued_age_seconds,
    })
}
