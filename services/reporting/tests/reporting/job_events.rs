//! `job.state_changed` events on the events exchange, as the webhooks context consumes them.

use std::time::Duration;

use swatter_proto::reporting::v1::JobState;
use swatter_testkit::bind_events_queue;

use crate::support::{Options, TestApp, read_events};

const LIMIT: Duration = Duration::from_secs(60);

/// Job events read from `queue` until one has `state` (or the limit passes), in arrival order.
async fn events_until(queue: &str, state: &str) -> Vec<swatter_common::events::Envelope> {
    read_events(
        queue,
        |key| key == "job.state_changed",
        LIMIT,
        |events| events.iter().any(|e| e.data["state"] == state),
    )
    .await
}

#[tokio::test]
async fn each_state_of_a_job_reaches_the_events_exchange_with_the_job_as_rest_shows_it() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "EVT", &["one"]).await;
    let queue = bind_events_queue(&app.broker.events_exchange()).await;

    let job = app.request_project_report(&owner, "EVT").await;
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let events = events_until(&queue, "succeeded").await;

    let states: Vec<&str> = events
        .iter()
        .map(|e| e.data["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["queued", "running", "succeeded"]);
    for event in &events {
        assert_eq!(event.event_type, "job.state_changed");
        assert!(event.id.starts_with("evt_"));
        assert_eq!(event.project_key.as_deref(), Some("EVT"));
        assert_eq!(event.cursor, None);
        assert_eq!(event.data["id"], job.id);
        assert_eq!(event.data["kind"], "project");
        assert_eq!(event.data["params"]["project_key"], "EVT");
        assert_eq!(event.data["owner_id"], owner.id);
    }
    let done = &events[2].data;
    assert_eq!(done["artifact"]["content_type"], "application/pdf");
    assert_eq!(done["error"], serde_json::Value::Null);
    assert!(done["finished_at"].is_string());
    let ids: std::collections::HashSet<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids.len(), 3, "each event has its own id");
    app.cleanup_broker().await;
}
