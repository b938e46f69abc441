//! Outbound safety: refused address ranges (checked after resolution), no redirects, the
//! timeout, and the capped response read.

use std::time::Duration;

use swatter_proto::webhooks::v1 as pb;
use swatter_testkit::{fields, req};

use crate::support::{Behaviour, Receiver, TestApp};

/// The attempts of the only delivery of endpoint `id`, once it has `n` of them.
async fn attempts(app: &TestApp, endpoint_id: &str, n: usize) -> Vec<pb::DeliveryAttempt> {
    let deadline = std::time::Instant::now() + crate::support::WAIT;
    loop {
        if let Some(delivery) = app.deliveries(endpoint_id).await.pop() {
            let log = app
                .client()
                .get_delivery(req(
                    pb::GetDeliveryRequest {
                        endpoint_id: endpoint_id.into(),
                        id: delivery.id,
                    },
                    &app.owner,
                ))
                .await
                .unwrap()
                .into_inner()
                .attempt_log;
            if log.len() >= n {
                return log;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{n} attempts never logged"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn loopback_addresses_are_refused_after_resolution_unless_allowed() {
    let app = TestApp::start_with("SSRF", |config| {
        config.address_policy = Default::default();
    })
    .await;
    let receiver = Receiver::start().await;
    let port = receiver.addr.port();

    let literal = app
        .client()
        .create_endpoint(req(
            pb::CreateEndpointRequest {
                project_key: "SSRF".into(),
                url: format!("http://127.0.0.1:{port}/hooks"),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&literal), ["url"]);

    // A name is only known to be loopback once resolved: registration takes it, delivery refuses.
    let endpoint = app
        .endpoint("SSRF", &format!("http://localhost:{port}/hooks"), &[])
        .await
        .endpoint
        .unwrap();
    app.publish("SSRF", "issue.created", 1).await;
    let log = attempts(&app, &endpoint.id, 2).await;
    assert_eq!(log[0].response_status, 0);
    assert!(log[0].error.contains("may not call"), "{}", log[0].error);
    assert!(receiver.received().is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn a_redirect_is_not_followed_and_counts_as_a_failure() {
    let app = TestApp::start("REDIR").await;
    let target = Receiver::start().await;
    let redirecting = Receiver::start().await;
    redirecting.behave(Behaviour::Redirect(target.url()));
    let endpoint = app
        .endpoint("REDIR", &redirecting.url(), &[])
        .await
        .endpoint
        .unwrap();
    app.publish("REDIR", "issue.created", 1).await;

    let log = attempts(&app, &endpoint.id, 2).await;
    assert_eq!(log[0].response_status, 302);
    assert!(log[0].error.contains("redirect"), "{}", log[0].error);
    assert!(target.received().is_empty());
    app.cleanup().await;
}

#[tokio::test]
async fn a_slow_receiver_is_cut_at_the_timeout() {
    let app = TestApp::start_with("SLOW", |config| {
        config.timeout = Duration::from_millis(500);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.behave(Behaviour::Slow(Duration::from_secs(5)));
    let endpoint = app
        .endpoint("SLOW", &receiver.url(), &[])
        .await
        .endpoint
        .unwrap();
    app.publish("SLOW", "issue.created", 1).await;

    let log = attempts(&app, &endpoint.id, 1).await;
    assert_eq!(log[0].response_status, 0);
    assert!(log[0].error.contains("500 ms"), "{}", log[0].error);
    assert!(log[0].duration_ms < 2000, "{}", log[0].duration_ms);
    app.cleanup().await;
}

#[tokio::test]
async fn a_large_response_body_is_read_only_up_to_the_cap() {
    let app = TestApp::start("BIG").await;
    let receiver = Receiver::start().await;
    receiver.behave(Behaviour::Large(8 * 1024 * 1024));
    let endpoint = app
        .endpoint("BIG", &receiver.url(), &[])
        .await
        .endpoint
        .unwrap();
    app.publish("BIG", "issue.created", 1).await;

    let log = attempts(&app, &endpoint.id, 1).await;
    assert_eq!(log[0].response_status, 200);
    assert_eq!(log[0].response_body_excerpt.len(), 1024);
    assert!(log[0].error.is_empty(), "{}", log[0].error);
    app.cleanup().await;
}
