//! The safety net of the job pipeline, run every sweep interval:
//! - a running job whose lease lapsed (its worker died or hangs) is taken over: cancelled if
//!   that was asked, failed and dead-lettered if it has no attempts left, else retried;
//! - a waiting job with no message on its way for too long (a message lost in a broker disaster)
//!   gets a new one.
//!
//! Together with the outbox this is why no accepted job stays `queued` or `running` for ever.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::{
    domain::{Backoff, JobState},
    metrics, outcome,
    store::{self, Destination},
};

/// Waiting this long with nothing in the outbox means the job's message was lost.
pub const STALE_WAITING: Duration = Duration::from_secs(300);

/// One sweep; returns how many jobs it moved.
pub async fn sweep(db: &PgPool, backoff: &Backoff, stale: Duration) -> anyhow::Result<usize> {
    let mut moved = 0;
    let mut tx = db.begin().await?;
    let expired = store::lock_expired_leases(&mut tx, 100).await?;
    tx.commit().await?;
    for job in expired {
        let attempt = job.attempts;
        if job.cancel_requested {
            if store::finish_cancelled(db, job.id, attempt).await? {
                metrics::finished(job.kind.as_str(), JobState::Cancelled);
            }
        } else {
            tracing::warn!(job_id = %job.id, attempt, "lease lapsed; taking the job over");
            let ours = outcome::record_transient_failure(
                db,
                backoff,
                job.id,
                attempt,
                job.max_attempts,
                "the worker stopped responding (lease lapsed)",
                &store::latest_trace_context(db, job.id).await?,
            )
            .await?;
            if ours {
                metrics::transient_failure(job.kind.as_str(), attempt, job.max_attempts);
            }
        }
        moved += 1;
    }
    let mut tx = db.begin().await?;
    for job in store::lock_stale_waiting_jobs(&mut tx, stale, 100).await? {
        tracing::warn!(job_id = %job.id, "no message on its way for a waiting job; sending a new one");
        let trace = store::latest_trace_context(&mut *tx, job.id).await?;
        store::insert_outbox(
            &mut *tx,
            job.id,
            job.attempts + 1,
            Destination::Work,
            Utc::now(),
            &trace,
        )
        .await?;
        store::touch_job(&mut *tx, job.id).await?;
        moved += 1;
    }
    tx.commit().await?;
    Ok(moved)
}

/// Sweeps every `interval` until `shutdown` turns true.
pub async fn run(
    db: PgPool,
    backoff: Backoff,
    interval: Duration,
    stale: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    while !*shutdown.borrow() {
        if let Err(error) = sweep(&db, &backoff, stale).await {
            tracing::warn!(error = format!("{error:#}"), "sweep failed; will try again");
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = shutdown.changed() => {},
        }
    }
}
