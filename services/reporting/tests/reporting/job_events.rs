//! `job.state_changed` events on the events exchange, as the webhooks context consumes them.

use std::time::Duration;

use lapin::{
    Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicGetOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
        QueueDeleteOptions,
    },
    types::FieldTable,
};
use swatter_common::events::Envelope;
use swatter_proto::reporting::v1::JobState;
use swatter_testkit::amqp_url;

use crate::support::{Options, TestApp};

const LIMIT: Duration = Duration::from_secs(60);

/// A durable queue bound to `job.*` on `exchange`, declared before any job exists.
async fn bind_queue(exchange: &str) -> String {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = format!("{exchange}.consumer");
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "job.*".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "bound".into()).await;
    queue
}

/// Events read from `queue` until one has `state` (or the limit passes), in arrival order.
async fn events_until(queue: &str, state: &str) -> Vec<Envelope> {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut events: Vec<Envelope> = Vec::new();
    let deadline = tokio::time::Instant::now() + LIMIT;
    while tokio::time::Instant::now() < deadline && !events.iter().any(|e| e.data["state"] == state)
    {
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(message) => {
                let delivery = message.delivery;
                assert_eq!(delivery.routing_key.as_str(), "job.state_changed");
                events.push(serde_json::from_slice(&delivery.data).unwrap());
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let _ = channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "read".into()).await;
    events
}

#[tokio::test]
async fn each_state_of_a_job_reaches_the_events_exchange_with_the_job_as_rest_shows_it() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "EVT", &["one"]).await;
    let queue = bind_queue(&app.broker.events_exchange()).await;

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
