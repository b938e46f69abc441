//! The webhooks service's own metrics (the README's "Metrics" section lists them): gauges read
//! from the database right before each scrape, and counters and histograms the consumer and the
//! dispatcher record.

use std::sync::Arc;

use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};
use sqlx::PgPool;
use swatter_common::metrics::Collector;

use crate::{delivery::Outcome, store};

/// What the consumer did with an event.
const CONSUMED: [&str; 4] = ["stored", "ignored", "no_project", "unreadable"];

/// Describes the metrics and registers the counters' series at 0 (see reporting's `describe`).
pub fn describe() {
    describe_counter!(
        "swatter_webhook_events_consumed_total",
        Unit::Count,
        "Events read from the events exchange, by what became of them"
    );
    describe_counter!(
        "swatter_webhook_attempts_total",
        Unit::Count,
        "Delivery attempts, by outcome"
    );
    describe_counter!(
        "swatter_webhook_deliveries_total",
        Unit::Count,
        "Deliveries that reached a final state, by state"
    );
    describe_histogram!(
        "swatter_webhook_attempt_duration_seconds",
        Unit::Seconds,
        "Time of one delivery attempt, from sending to the end of the response read"
    );
    describe_histogram!(
        "swatter_webhook_delivery_latency_seconds",
        Unit::Seconds,
        "Time from an event's commit to its successful delivery"
    );
    describe_gauge!(
        "swatter_webhook_backlog",
        Unit::Count,
        "Deliveries not finished yet (pending or retrying)"
    );
    describe_gauge!(
        "swatter_webhook_backlog_oldest_age_seconds",
        Unit::Seconds,
        "Age of the oldest unfinished delivery (0 when none)"
    );
    describe_gauge!(
        "swatter_webhook_outbox_pending",
        Unit::Count,
        "Events of this service not yet published to the events exchange"
    );
    for result in CONSUMED {
        counter!("swatter_webhook_events_consumed_total", "result" => result).increment(0);
    }
    for outcome in Outcome::ALL {
        counter!("swatter_webhook_attempts_total", "outcome" => outcome.as_str()).increment(0);
    }
    for state in ["succeeded", "failed"] {
        counter!("swatter_webhook_deliveries_total", "state" => state).increment(0);
    }
}

/// An event read from the exchange, and what became of it (one of [`CONSUMED`]).
pub fn event_consumed(result: &'static str) {
    counter!("swatter_webhook_events_consumed_total", "result" => result).increment(1);
}

/// One attempt and how long it took.
pub fn attempted(outcome: Outcome, duration_ms: i64) {
    counter!("swatter_webhook_attempts_total", "outcome" => outcome.as_str()).increment(1);
    histogram!("swatter_webhook_attempt_duration_seconds").record(duration_ms as f64 / 1000.0);
}

/// A delivery reached `state` (`succeeded` or `failed`).
pub fn finished(state: &'static str) {
    counter!("swatter_webhook_deliveries_total", "state" => state).increment(1);
}

/// A delivery succeeded `latency_ms` after its event was committed.
pub fn delivered(latency_ms: i64) {
    histogram!("swatter_webhook_delivery_latency_seconds").record(latency_ms as f64 / 1000.0);
}

/// Reads the gauges from the database before each scrape.
pub fn collector(db: PgPool) -> Collector {
    Arc::new(move || {
        let db = db.clone();
        Box::pin(async move {
            match store::backlog(&db).await {
                Ok((backlog, oldest, outbox)) => {
                    gauge!("swatter_webhook_backlog").set(backlog as f64);
                    gauge!("swatter_webhook_backlog_oldest_age_seconds").set(oldest);
                    gauge!("swatter_webhook_outbox_pending").set(outbox as f64);
                }
                Err(error) => tracing::warn!(error = %error, "metrics: cannot read the backlog"),
            }
        })
    })
}
