//! Events reaching endpoints: signed, in order, once per event, retried, and the endpoint
//! disabled when the schedule is used up; the delivery log, redelivery and pings; metrics.

use std::time::Duration;

use swatter_proto::webhooks::v1 as pb;
use swatter_testkit::{metrics, req};

use crate::support::{Behaviour, Receiver, TestApp, eventually};

#[tokio::test]
async fn an_event_reaches_the_endpoints_that_subscribe_to_it_signed() {
    let app = TestApp::start("SIGN").await;
    let receiver = Receiver::start().await;
    let other = Receiver::start().await;
    let all = app.endpoint("SIGN", &receiver.url(), &[]).await;
    app.endpoint("SIGN", &other.url(), &["comment.created"])
        .await;

    let sent = app.publish("SIGN", "issue.created", 1).await;

    let received = receiver.wait_for(1).await;
    let got = &received[0];
    assert_eq!(got.webhook_id(), sent.id);
    assert_eq!(got.envelope(), sent);
    assert_eq!(got.header("content-type"), "application/json");
    let timestamp: i64 = got.header("webhook-timestamp").parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - timestamp).abs() < 60);
    assert!(got.signed_by(&all.secret), "{:?}", got.headers);
    assert_eq!(got.header("webhook-signature").split(' ').count(), 1);

    // The unsubscribed endpoint gets nothing, even once a later event went through.
    app.publish("SIGN", "comment.created", 2).await;
    let later = other.wait_for(1).await;
    assert_eq!(later[0].envelope().event_type, "comment.created");
    assert_eq!(other.received().len(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn during_a_rotation_overlap_both_secrets_sign() {
    let app = TestApp::start("ROT").await;
    let receiver = Receiver::start().await;
    let created = app.endpoint("ROT", &receiver.url(), &[]).await;
    let id = created.endpoint.unwrap().id;
    let rotated = app
        .client()
        .rotate_endpoint_secret(req(
            pb::RotateEndpointSecretRequest {
                id: id.clone(),
                overlap_seconds: None,
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();

    app.publish("ROT", "issue.updated", 1).await;
    let got = receiver.wait_for(1).await.remove(0);
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert!(got.signed_by(&created.secret));
    assert!(got.signed_by(&rotated.secret));

    // Without an overlap the old secret stops signing at once.
    let again = app
        .client()
        .rotate_endpoint_secret(req(
            pb::RotateEndpointSecretRequest {
                id,
                overlap_seconds: Some(0),
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    app.publish("ROT", "issue.updated", 2).await;
    let got = receiver.wait_for(2).await.remove(1);
    assert!(got.signed_by(&again.secret));
    assert!(!got.signed_by(&rotated.secret));
    assert_eq!(got.header("webhook-signature").split(' ').count(), 1);
    app.cleanup().await;
}

#[tokio::test]
async fn each_endpoint_receives_its_events_in_order() {
    let app = TestApp::start("ORD").await;
    let receivers = [Receiver::start().await, Receiver::start().await];
    for receiver in &receivers {
        app.endpoint("ORD", &receiver.url(), &[]).await;
    }
    let mut sent = Vec::new();
    for cursor in 1..=60 {
        sent.push(app.publish("ORD", "issue.updated", cursor).await.id);
    }
    for receiver in &receivers {
        let got: Vec<String> = receiver
            .wait_for(60)
            .await
            .iter()
            .map(|r| r.webhook_id().to_owned())
            .collect();
        assert_eq!(got, sent);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn a_duplicate_envelope_from_the_broker_is_delivered_once() {
    let app = TestApp::start("DUP").await;
    let receiver = Receiver::start().await;
    let endpoint = app
        .endpoint("DUP", &receiver.url(), &[])
        .await
        .endpoint
        .unwrap();
    let sent = app.publish("DUP", "issue.created", 1).await;
    app.broker().publish_event(&sent).await;
    let marker = app.publish("DUP", "issue.created", 2).await;

    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].webhook_id(), sent.id);
    assert_eq!(got[1].webhook_id(), marker.id);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(app.deliveries(&endpoint.id).await.len(), 2);
    app.cleanup().await;
}

#[tokio::test]
async fn a_receiver_that_was_down_gets_everything_afterwards_in_order() {
    // A schedule long enough for the outage, short enough for a test.
    let app = TestApp::start_with("DOWN", |config| {
        config.retry_schedule = "100ms,200ms,300ms,400ms,500ms,500ms,500ms,500ms,500ms,500ms"
            .parse()
            .unwrap();
    })
    .await;
    // Nothing listens on the port yet.
    let port = swatter_testkit::free_port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let endpoint = app.endpoint("DOWN", &url, &[]).await.endpoint.unwrap();
    let mut sent = Vec::new();
    for cursor in 1..=10 {
        sent.push(app.publish("DOWN", "issue.updated", cursor).await.id);
    }
    eventually("the first delivery failed twice", || async {
        app.deliveries(&endpoint.id)
            .await
            .iter()
            .any(|d| d.attempts >= 2)
    })
    .await;

    let receiver = Receiver::start_on(([127, 0, 0, 1], port).into()).await;

    let got: Vec<String> = receiver
        .wait_for(10)
        .await
        .iter()
        .map(|r| r.webhook_id().to_owned())
        .collect();
    assert_eq!(got, sent);
    let log = app.deliveries(&endpoint.id).await;
    assert!(
        log.iter()
            .all(|d| d.state == pb::DeliveryState::Succeeded as i32)
    );
    assert!(app.endpoint_now(&endpoint.id).await.active);
    app.cleanup().await;
}

#[tokio::test]
async fn a_used_up_schedule_disables_the_endpoint_announces_it_and_reactivation_resumes() {
    let app = TestApp::start_with("FAIL", |config| {
        config.retry_schedule = "100ms,100ms".parse().unwrap();
    })
    .await;
    let failing = Receiver::start().await;
    failing.behave(Behaviour::Status(500));
    let watcher = Receiver::start().await;
    let broken = app
        .endpoint("FAIL", &failing.url(), &["issue.created"])
        .await
        .endpoint
        .unwrap();
    app.endpoint("FAIL", &watcher.url(), &["webhook.endpoint_disabled"])
        .await;

    let first = app.publish("FAIL", "issue.created", 1).await;
    let second = app.publish("FAIL", "issue.created", 2).await;

    // The other endpoint hears of it through the events exchange.
    let notice = watcher.wait_for(1).await.remove(0).envelope();
    assert_eq!(notice.event_type, "webhook.endpoint_disabled");
    assert_eq!(notice.project_key.as_deref(), Some("FAIL"));
    assert_eq!(notice.data["id"], broken.id);
    assert_eq!(notice.data["url"], failing.url());
    assert_eq!(notice.data["active"], false);
    assert!(
        notice.data["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("failed")
    );
    assert_eq!(
        notice.data["event_types"],
        serde_json::json!(["issue.created"])
    );
    assert_eq!(
        failing.received().len(),
        3,
        "three attempts of the first event"
    );
    let disabled = app.endpoint_now(&broken.id).await;
    assert!(!disabled.active);
    assert!(
        disabled.disabled_reason.contains("3 attempts"),
        "{}",
        disabled.disabled_reason
    );
    let log = app.deliveries(&broken.id).await;
    let state = |id: &str| log.iter().find(|d| d.event_id == id).unwrap().state;
    assert_eq!(state(&first.id), pb::DeliveryState::Failed as i32);
    assert_eq!(state(&second.id), pb::DeliveryState::Pending as i32);

    // Fixed and active again: what waited is delivered.
    failing.behave(Behaviour::Ok);
    let active = app
        .client()
        .update_endpoint(req(
            pb::UpdateEndpointRequest {
                id: broken.id.clone(),
                active: Some(true),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(active.active);
    assert!(active.disabled_reason.is_empty());
    let got = failing.wait_for(4).await;
    assert_eq!(got[3].webhook_id(), second.id);
    app.cleanup().await;
}

#[tokio::test]
async fn the_delivery_log_shows_every_attempt_and_a_redelivery_keeps_the_webhook_id() {
    let app = TestApp::start("LOG").await;
    let receiver = Receiver::start().await;
    receiver.behave(Behaviour::Status(503));
    let created = app.endpoint("LOG", &receiver.url(), &[]).await;
    let endpoint = created.endpoint.unwrap();
    let sent = app.publish("LOG", "issue.created", 1).await;
    receiver.wait_for(2).await;
    receiver.behave(Behaviour::Ok);
    receiver.wait_for(3).await;

    let mut client = app.client();
    let listed = app.deliveries(&endpoint.id).await;
    assert_eq!(listed.len(), 1);
    let get = |id: &str| {
        req(
            pb::GetDeliveryRequest {
                endpoint_id: endpoint.id.clone(),
                id: id.into(),
            },
            &app.owner,
        )
    };
    let mut delivery = listed[0].clone();
    eventually("the delivery succeeded", || {
        let mut client = client.clone();
        let request = get(&delivery.id);
        async move {
            client
                .get_delivery(request)
                .await
                .unwrap()
                .into_inner()
                .state
                == pb::DeliveryState::Succeeded as i32
        }
    })
    .await;
    delivery = client
        .get_delivery(get(&delivery.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(delivery.event_id, sent.id);
    assert_eq!(delivery.event_type, "issue.created");
    assert_eq!(delivery.attempts, 3);
    assert_eq!(delivery.last_response_status, 200);
    assert!(delivery.delivered_at.is_some());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&delivery.payload).unwrap()["id"],
        sent.id
    );
    let log = &delivery.attempt_log;
    assert_eq!(
        log.iter()
            .map(|a| (a.attempt, a.response_status))
            .collect::<Vec<_>>(),
        [(1, 503), (2, 503), (3, 200)]
    );
    assert_eq!(log[0].request_url, receiver.url());
    assert_eq!(log[0].request_headers["webhook-id"], sent.id);
    assert!(log[0].request_headers["webhook-signature"].starts_with("v1,"));
    assert_eq!(log[2].response_body_excerpt, "thanks");

    let redelivered = client
        .redeliver_delivery(req(
            pb::RedeliverDeliveryRequest {
                endpoint_id: endpoint.id.clone(),
                id: delivery.id.clone(),
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(redelivered.state, pb::DeliveryState::Pending as i32);
    let got = receiver.wait_for(4).await;
    assert_eq!(got[3].webhook_id(), sent.id);
    assert!(got[3].signed_by(&created.secret));

    let ping = client
        .ping_endpoint(req(
            pb::PingEndpointRequest {
                id: endpoint.id.clone(),
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ping.event_type, "webhook.ping");
    let got = receiver.wait_for(5).await;
    assert_eq!(got[4].webhook_id(), ping.event_id);
    assert_eq!(got[4].envelope().data["endpoint_id"], endpoint.id);

    let failed_only = client
        .list_deliveries(req(
            pb::ListDeliveriesRequest {
                endpoint_id: endpoint.id.clone(),
                states: vec![pb::DeliveryState::Failed as i32],
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(failed_only.deliveries.is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn the_metrics_endpoint_passes_promtool_and_counts_deliveries() {
    let app = TestApp::start("MET").await;
    let addr = app.webhooks().metrics_addr.unwrap();
    let before = metrics::text(addr).await;
    metrics::assert_operator_ready(
        &before,
        "webhooks",
        &[
            "swatter_grpc_requests_total",
            "swatter_grpc_request_duration_seconds",
            "swatter_webhook_attempt_duration_seconds",
            "swatter_webhook_delivery_latency_seconds",
        ],
    );
    let receiver = Receiver::start().await;
    app.endpoint("MET", &receiver.url(), &[]).await;
    app.publish("MET", "issue.created", 1).await;
    receiver.wait_for(1).await;
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    let after = loop {
        let text = metrics::text(addr).await;
        let counted = metrics::value(
            &text,
            "swatter_webhook_deliveries_total",
            &[("state", "succeeded")],
        );
        if counted.unwrap_or(0.0) >= 1.0 {
            break text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the delivery is never counted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    metrics::assert_operator_ready(&after, "webhooks", &[]);
    assert!(
        metrics::value(
            &after,
            "swatter_webhook_delivery_latency_seconds_count",
            &[]
        )
        .unwrap()
            >= 1.0
    );
    app.cleanup().await;
}

#[tokio::test]
async fn finished_deliveries_past_the_retention_leave_the_log_and_waiting_ones_stay() {
    let app = TestApp::start("PRUNE").await;
    let receiver = Receiver::start().await;
    let delivered = app
        .endpoint("PRUNE", &receiver.url(), &[])
        .await
        .endpoint
        .unwrap();
    let paused = app
        .client()
        .create_endpoint(req(
            pb::CreateEndpointRequest {
                project_key: "PRUNE".into(),
                url: receiver.url(),
                active: Some(false),
                event_types: crate::support::TEST_TYPES
                    .iter()
                    .map(|t| (*t).to_owned())
                    .collect(),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .endpoint
        .unwrap();
    app.publish("PRUNE", "issue.created", 1).await;
    receiver.wait_for(1).await;
    eventually("the delivery is recorded", || async {
        app.deliveries(&delivered.id).await[0].state == pb::DeliveryState::Succeeded as i32
    })
    .await;

    let pruned = swatter_webhooks::store::prune_deliveries(&app.webhooks().db.pool, Duration::ZERO)
        .await
        .unwrap();

    assert_eq!(pruned, 1);
    assert!(app.deliveries(&delivered.id).await.is_empty());
    assert_eq!(app.deliveries(&paused.id).await.len(), 1);
    app.cleanup().await;
}
