//! The scheduler of scheduled reports: runs next to the relay and the sweeper in every API
//! process, any number of replicas. No process keeps a timer that decides runs: each tick claims
//! the due schedules in the database (`FOR UPDATE SKIP LOCKED`, so replicas never claim the same
//! row at once) and, in one transaction per tick, makes each due time's job with its outbox
//! message and moves the schedule to its next due time after now. A replica killed mid-tick
//! commits nothing, and the rows it held are due for the next replica's tick; a due time makes
//! at most one job whatever happens (the unique index on `jobs (schedule_id, scheduled_for)`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::{Acquire, PgPool, Postgres, Transaction};
use tokio::sync::watch;
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    domain::schedule::{CronExpr, parse_zone},
    metrics,
    store::{
        self, Destination,
        schedules::{self, ScheduleRow},
    },
};

/// Due schedules claimed per transaction.
const BATCH: i64 = 100;

/// What the scheduler's runs make.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub max_attempts: i32,
    /// A run whose owner already has this many jobs in flight makes a failed job instead.
    pub max_active_jobs_per_user: u32,
    pub tick: Duration,
}

/// What a run made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// The job of the due time, queued.
    Queued(Uuid),
    /// The job of the due time, failed at once: the owner had no job slot.
    Refused(Uuid),
    /// Nothing: the due time already had its job.
    AlreadyMade,
}

/// One tick: claims the due schedules (up to a batch) and makes their runs; returns how many.
pub async fn tick(db: &PgPool, settings: &Settings) -> anyhow::Result<usize> {
    let mut tx = db.begin().await?;
    let mut due = schedules::lock_due_schedules(&mut tx, BATCH).await?;
    if due.is_empty() {
        return Ok(0);
    }
    // Each run takes its owner's job-slot lock until the commit: taken in owner order, the
    // locks of concurrent ticks (other replicas) cannot deadlock.
    due.sort_by_key(|schedule| schedule.owner_id);
    let now = schedules::transaction_now(&mut *tx).await?;
    let mut outcomes = Vec::with_capacity(due.len());
    for schedule in &due {
        // A savepoint per schedule: one that cannot run (a broken row) does not hold up the rest.
        let mut one = Acquire::begin(&mut tx).await?;
        match run(&mut one, schedule, now, settings).await {
            Ok(made) => {
                one.commit().await?;
                tracing::info!(schedule_id = %schedule.id, ?made, "scheduled run");
                let delay = schedule
                    .next_run_at
                    .map(|due| (now - due).num_milliseconds() as f64 / 1000.0);
                outcomes.push(match made {
                    Run::Queued(_) => ("queued", delay),
                    Run::Refused(_) => ("refused", delay),
                    Run::AlreadyMade => ("already_made", None),
                });
            }
            Err(error) => {
                one.rollback().await?;
                tracing::warn!(schedule_id = %schedule.id, error = format!("{error:#}"),
                    "a scheduled run failed; it stays due");
                outcomes.push(("failed", None));
            }
        }
    }
    tx.commit().await?;
    // Counted once committed: a tick that rolls back made nothing.
    for (outcome, delay) in outcomes {
        metrics::scheduled_run(outcome, delay);
    }
    Ok(due.len())
}

/// Makes the job of `schedule`'s due time and moves it to its next due time after `now`.
async fn run(
    tx: &mut Transaction<'_, Postgres>,
    schedule: &ScheduleRow,
    now: DateTime<Utc>,
    settings: &Settings,
) -> anyhow::Result<Run> {
    let due = schedule
        .next_run_at
        .ok_or_else(|| anyhow::anyhow!("a running schedule has no due time"))?;
    let zone = parse_zone(&schedule.time_zone).map_err(|v| anyhow::anyhow!(v.message))?;
    let cron = CronExpr::parse(&schedule.cron).map_err(|v| anyhow::anyhow!(v.message))?;
    let params = schedule.report.params_at(due, zone);
    let limit = settings.max_active_jobs_per_user;
    let refused = (!store::take_job_slot(tx, schedule.owner_id, limit).await?).then(|| {
        format!(
            "the scheduled run was due while the schedule's owner had {limit} report jobs \
             queued, running or retrying (the limit)"
        )
    });
    let job = store::insert_scheduled_job(
        &mut **tx,
        Uuid::now_v7(),
        schedule,
        due,
        &params,
        settings.max_attempts,
        refused.as_deref(),
    )
    .await?;
    let made = match (job, refused) {
        (None, _) => Run::AlreadyMade,
        (Some(job), Some(_)) => Run::Refused(job.id),
        (Some(job), None) => {
            // The message carries the run's own trace.
            let trace = swatter_common::propagation::current_trace_headers();
            store::insert_outbox(&mut **tx, job.id, 1, Destination::Work, now, &trace).await?;
            Run::Queued(job.id)
        }
    };
    let job_id = match made {
        Run::Queued(id) | Run::Refused(id) => Some(id),
        Run::AlreadyMade => None,
    };
    // Strictly after now: due times missed while no scheduler ran are caught up once, here.
    let next = cron.next_after(zone, now);
    schedules::record_run(&mut **tx, schedule.id, due, job_id, next).await?;
    Ok(made)
}

/// Ticks every `settings.tick` until `shutdown` turns true.
pub async fn run_until(db: PgPool, settings: Settings, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        let span = tracing::info_span!("scheduler tick");
        match tick(&db, &settings).instrument(span).await {
            // A full batch: more may be due already.
            Ok(count) if count as i64 >= BATCH => continue,
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "scheduler tick failed; will try again"
                )
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(settings.tick) => {},
            _ = shutdown.changed() => {},
        }
    }
}
