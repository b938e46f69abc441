//! Figures, not checks: sustained deliveries per second and publish → received latency on an
//! idle stack. Run with `cargo test -p swatter-webhooks --release --test webhooks figures --
//! --ignored --nocapture`; `make bench` measures the whole path from a change.

use std::time::{Duration, Instant};

use crate::support::{Receiver, TestApp, envelope};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement; run it by name"]
async fn deliveries_per_second_and_latency() {
    let app = TestApp::start("FIG").await;
    let receivers: Vec<Receiver> =
        futures::future::join_all((0..20).map(|_| Receiver::start())).await;
    for receiver in &receivers {
        app.endpoint("FIG", &receiver.url(), &[]).await;
    }
    // Latency: one event at a time on an idle stack.
    let mut latencies = Vec::new();
    for cursor in 1..=30 {
        let event = envelope("FIG", "issue.updated", cursor);
        app.broker().publish_event(&event).await;
        let received = receivers[0].wait_for(cursor as usize).await;
        let wall = received.last().unwrap().wall;
        latencies.push((wall - event.timestamp).to_std().unwrap_or_default());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort();
    println!(
        "event timestamp -> received (a broker connection per event included): p50 {:?}, p99 {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() * 99 / 100]
    );
    // Throughput: 100 events to 20 endpoints = 2,000 deliveries.
    let events = 100;
    let batch: Vec<_> = (0..events)
        .map(|cursor| envelope("FIG", "issue.updated", 1000 + cursor))
        .collect();
    let started = Instant::now();
    app.broker().publish_events(&batch).await;
    for receiver in &receivers {
        receiver.wait_for(30 + events as usize).await;
    }
    let elapsed = started.elapsed();
    let deliveries = 20.0 * events as f64;
    println!(
        "{deliveries} deliveries in {elapsed:?}: {:.0}/s",
        deliveries / elapsed.as_secs_f64()
    );
    app.cleanup().await;
}
