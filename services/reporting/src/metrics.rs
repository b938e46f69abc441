//! The reporting service's own metrics (the README's "Metrics" section lists them): gauges read
//! from the database and the broker right before each scrape, and counters and histograms the
//! pipeline records as jobs move.
//!
//! Gauges describe the whole system (every replica reads the same database and queues), so any
//! one replica's scrape is the truth; counters and histograms are per process.

use std::{sync::Arc, time::Instant};

use chrono::Utc;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use sqlx::PgPool;
use swatter_common::metrics::Collector;

use crate::{
    broker::Publisher,
    domain::{JobState, ReportKind},
    store,
};

/// Describes the metrics (their `# HELP` lines) and registers every series of the counters at 0,
/// so that a fresh process already shows them: `rate()` and `increase()` need a sample from
/// before the first event, and an alert on a counter that does not exist yet never fires. Call
/// once the recorder is installed.
pub fn describe() {
    describe_gauge!("swatter_jobs", Unit::Count, "Report jobs in each state");
    describe_gauge!(
        "swatter_queue_depth",
        Unit::Count,
        "Messages waiting in the work queue; dead letters (stored, and still in the dead-letter queue)"
    );
    describe_gauge!(
        "swatter_jobs_oldest_queued_age_seconds",
        Unit::Seconds,
        "Age of the oldest job still queued (0 when none)"
    );
    describe_gauge!(
        "swatter_outbox_pending",
        Unit::Count,
        "Outbox messages not yet published (including retries waiting for their time)"
    );
    describe_gauge!(
        "swatter_outbox_lag_seconds",
        Unit::Seconds,
        "How long the oldest due, unpublished outbox message has been due (0 when none)"
    );
    describe_histogram!(
        "swatter_fetch_duration_seconds",
        Unit::Seconds,
        "Time to gather one report's data from the issues and identity services, by kind"
    );
    describe_histogram!(
        "swatter_render_duration_seconds",
        Unit::Seconds,
        "Time to typeset one report, by kind"
    );
    describe_histogram!(
        "swatter_upload_duration_seconds",
        Unit::Seconds,
        "Time to store one PDF in the object store"
    );
    describe_gauge!(
        "swatter_schedule_lag_seconds",
        Unit::Seconds,
        "How long the most overdue running schedule has been due (0 when none): the scheduler's lag"
    );
    describe_counter!(
        "swatter_scheduled_runs_total",
        Unit::Count,
        "Due times of scheduled reports handled by this process's scheduler, by outcome: queued, \
         refused (a failed job: the owner had no job slot), already_made (another replica's), failed \
         (an error: the schedule stays due)"
    );
    describe_histogram!(
        "swatter_scheduled_run_delay_seconds",
        Unit::Seconds,
        "From a scheduled report's due time to its job being made"
    );
    describe_counter!(
        "swatter_job_retries_total",
        Unit::Count,
        "Failed attempts that scheduled a retry, by kind"
    );
    describe_counter!(
        "swatter_jobs_dead_lettered_total",
        Unit::Count,
        "Jobs sent to the dead-letter queue (attempts exhausted, or a poison message)"
    );
    describe_counter!(
        "swatter_jobs_finished_total",
        Unit::Count,
        "Jobs that reached a terminal state, by kind and state"
    );
    counter!("swatter_jobs_dead_lettered_total").increment(0);
    for outcome in SCHEDULED_RUN_OUTCOMES {
        counter!("swatter_scheduled_runs_total", "outcome" => outcome).increment(0);
    }
    for kind in ReportKind::ALL {
        counter!("swatter_job_retries_total", "kind" => kind.as_str()).increment(0);
        for state in JobState::ALL
            .into_iter()
            .filter(|state| state.is_terminal())
        {
            counter!("swatter_jobs_finished_total", "kind" => kind.as_str(), "state" => state.as_str())
                .increment(0);
        }
    }
}

/// Reads the gauges from the database and the broker; what cannot be read keeps its last value.
pub fn collector(db: PgPool, publisher: Arc<Publisher>) -> Collector {
    Arc::new(move || {
        let (db, publisher) = (db.clone(), publisher.clone());
        Box::pin(async move {
            match store::count_by_state(&db).await {
                Ok(counts) => {
                    for state in JobState::ALL {
                        let count = counts
                            .iter()
                            .find(|(s, _)| *s == state)
                            .map_or(0, |(_, n)| *n);
                        gauge!("swatter_jobs", "state" => state.as_str()).set(count as f64);
                    }
                }
                Err(error) => tracing::warn!(error = %error, "metrics: cannot count jobs"),
            }
            match store::oldest_queued(&db).await {
                Ok(oldest) => {
                    gauge!("swatter_jobs_oldest_queued_age_seconds").set(oldest.map_or(0.0, |at| {
                        (Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
                    }))
                }
                Err(error) => tracing::warn!(error = %error, "metrics: cannot read the queue age"),
            }
            match store::schedules::schedule_lag(&db).await {
                Ok(lag) => gauge!("swatter_schedule_lag_seconds").set(lag),
                Err(error) => {
                    tracing::warn!(error = %error, "metrics: cannot read the schedules' lag")
                }
            }
            match store::outbox_backlog(&db).await {
                Ok((pending, lag)) => {
                    gauge!("swatter_outbox_pending").set(pending as f64);
                    gauge!("swatter_outbox_lag_seconds").set(lag);
                }
                Err(error) => tracing::warn!(error = %error, "metrics: cannot read the outbox"),
            }
            match publisher.queue_depths().await {
                Ok((work, dead_waiting)) => {
                    gauge!("swatter_queue_depth", "queue" => "work").set(f64::from(work));
                    // Dead letters are moved from the queue into the database: both count.
                    match store::count_dead_letters(&db).await {
                        Ok(stored) => gauge!("swatter_queue_depth", "queue" => "dead")
                            .set(f64::from(dead_waiting) + stored as f64),
                        Err(error) => {
                            tracing::warn!(error = %error, "metrics: cannot count dead letters")
                        }
                    }
                }
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "metrics: cannot read queue depths"
                    )
                }
            }
        })
    })
}

/// Times a stage of a job (`swatter_render_duration_seconds{kind}`, …).
pub struct Timer(Instant);

impl Timer {
    pub fn start() -> Self {
        Timer(Instant::now())
    }

    /// Gathering the data of a `kind` report ended (whether or not it worked).
    pub fn fetched(self, kind: &str) {
        histogram!("swatter_fetch_duration_seconds", "kind" => kind.to_owned())
            .record(self.0.elapsed().as_secs_f64());
    }

    /// A render of a `kind` report ended (whether or not it worked).
    pub fn rendered(self, kind: &str) {
        histogram!("swatter_render_duration_seconds", "kind" => kind.to_owned())
            .record(self.0.elapsed().as_secs_f64());
    }

    /// An upload ended (whether or not it worked).
    pub fn uploaded(self) {
        histogram!("swatter_upload_duration_seconds").record(self.0.elapsed().as_secs_f64());
    }
}

/// A job of `kind` reached terminal `state`.
pub fn finished(kind: &str, state: JobState) {
    counter!("swatter_jobs_finished_total", "kind" => kind.to_owned(), "state" => state.as_str())
        .increment(1);
}

/// A transient failure of attempt `attempt` of `max_attempts` was recorded (by
/// `outcome::record_transient_failure`, which retries while attempts remain and dead-letters after
/// the last).
pub fn transient_failure(kind: &str, attempt: i32, max_attempts: i32) {
    if attempt < max_attempts {
        counter!("swatter_job_retries_total", "kind" => kind.to_owned()).increment(1);
    } else {
        dead_lettered();
        finished(kind, JobState::Failed);
    }
}

/// The outcomes of `swatter_scheduled_runs_total`.
pub const SCHEDULED_RUN_OUTCOMES: [&str; 4] = ["queued", "refused", "already_made", "failed"];

/// The scheduler handled a due time: `outcome` is one of [`SCHEDULED_RUN_OUTCOMES`]; `delay`,
/// from the due time to the job, when it made one.
pub fn scheduled_run(outcome: &'static str, delay: Option<f64>) {
    counter!("swatter_scheduled_runs_total", "outcome" => outcome).increment(1);
    if let Some(delay) = delay {
        histogram!("swatter_scheduled_run_delay_seconds").record(delay.max(0.0));
    }
}

/// A job (or a message that names none) went to the dead-letter queue.
pub fn dead_lettered() {
    counter!("swatter_jobs_dead_lettered_total").increment(1);
}

#[cfg(test)]
mod tests {
    use swatter_testkit::metrics as scrape;

    use super::*;

    #[test]
    fn a_fresh_process_shows_every_documented_counter_at_zero_and_passes_promtool() {
        let recorder = swatter_common::metrics::recorder();
        let handle = recorder.handle();
        ::metrics::with_local_recorder(&recorder, || {
            swatter_common::metrics::describe();
            describe();
        });
        let text = handle.render();

        scrape::assert_promtool_clean(&text);
        let counters: Vec<String> = scrape::documented("reporting")
            .into_iter()
            .filter(|metric| metric.kind == "counter")
            // Labelled by the calls themselves: it appears with the first call.
            .filter(|metric| metric.name != "swatter_grpc_requests_total")
            .map(|metric| metric.name)
            .collect();
        assert_eq!(counters.len(), 4, "{counters:?}");
        for outcome in SCHEDULED_RUN_OUTCOMES {
            assert_eq!(
                scrape::value(
                    &text,
                    "swatter_scheduled_runs_total",
                    &[("outcome", outcome)]
                ),
                Some(0.0),
                "{outcome}:\n{text}"
            );
        }
        for name in &counters {
            assert_eq!(
                scrape::value(&text, name, &[]),
                Some(0.0),
                "{name}:\n{text}"
            );
        }
        for kind in ReportKind::ALL {
            assert_eq!(
                scrape::value(
                    &text,
                    "swatter_job_retries_total",
                    &[("kind", kind.as_str())]
                ),
                Some(0.0),
                "{text}"
            );
            for state in ["succeeded", "failed", "cancelled"] {
                assert_eq!(
                    scrape::value(
                        &text,
                        "swatter_jobs_finished_total",
                        &[("kind", kind.as_str()), ("state", state)]
                    ),
                    Some(0.0),
                    "{text}"
                );
            }
        }
    }
}
