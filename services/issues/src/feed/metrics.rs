//! The change feed's metrics (README, "Metrics").

use metrics::{Unit, counter, describe_counter, describe_gauge, gauge};

const PUBLISHED: &str = "swatter_change_events_published_total";
const PENDING: &str = "swatter_change_outbox_pending";
const STREAMS: &str = "swatter_change_streams";

/// Describes the metrics and makes them exist at 0 (call once the recorder is installed).
pub fn describe() {
    describe_counter!(
        PUBLISHED,
        Unit::Count,
        "Change events the broker confirmed (a redelivery after a lost confirm counts again)"
    );
    describe_gauge!(
        PENDING,
        Unit::Count,
        "Change events waiting in the outbox for the broker"
    );
    describe_gauge!(
        STREAMS,
        Unit::Count,
        "Live change streams open on this process"
    );
    counter!(PUBLISHED).absolute(0);
    gauge!(PENDING).set(0.0);
    gauge!(STREAMS).set(0.0);
}

pub fn published(count: usize) {
    counter!(PUBLISHED).increment(count as u64);
}

pub fn pending(count: i64) {
    gauge!(PENDING).set(count as f64);
}

/// Counts a live stream for as long as it is held.
pub struct OpenStream;

impl OpenStream {
    pub fn open() -> Self {
        gauge!(STREAMS).increment(1.0);
        OpenStream
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        gauge!(STREAMS).decrement(1.0);
    }
}
