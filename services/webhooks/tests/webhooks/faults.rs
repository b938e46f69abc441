//! Faults: the service process killed mid-delivery, and the broker dropping its connections.

use std::{
    process::{Child, Command, Stdio},
    time::Duration,
};

use crate::support::{Behaviour, Receiver, TestApp};

/// A `swatter-webhooks` process joining the test's stack; killed when dropped (a failing test
/// leaves no process behind).
struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_service(app: &TestApp) -> Service {
    Service(
        Command::new(env!("CARGO_BIN_EXE_swatter-webhooks"))
            .envs(app.webhooks().env())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start swatter-webhooks"),
    )
}

#[tokio::test]
async fn a_service_killed_mid_delivery_delivers_it_again_with_the_same_webhook_id() {
    let mut app = TestApp::start_with("KILL", |config| {
        config.timeout = Duration::from_secs(5);
        config.lease = Duration::from_secs(6);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.behave(Behaviour::Hold);
    app.endpoint("KILL", &receiver.url(), &[]).await;
    // From here on the real binary delivers.
    app.running.webhooks.as_mut().unwrap().stop();
    let mut service = spawn_service(&app);
    let mut sent = Vec::new();
    for cursor in 1..=3 {
        sent.push(app.publish("KILL", "issue.updated", cursor).await.id);
    }

    let held = receiver.wait_for(1).await.remove(0);
    assert_eq!(held.webhook_id(), sent[0]);
    receiver.behave(Behaviour::Ok);
    service.0.kill().expect("kill -9 the service");
    service.0.wait().unwrap();
    let restarted = spawn_service(&app);

    let got: Vec<String> = receiver
        .wait_for(4)
        .await
        .iter()
        .map(|r| r.webhook_id().to_owned())
        .collect();
    assert_eq!(
        got,
        [&sent[0], &sent[0], &sent[1], &sent[2]].map(String::as_str)
    );
    let again = &receiver.received()[1];
    assert!(
        again.at - held.at >= Duration::from_secs(5),
        "after the lease"
    );
    drop(restarted);
    receiver.release();
    app.cleanup().await;
}

#[tokio::test]
async fn a_dropped_broker_connection_loses_no_event() {
    let app = TestApp::start("RMQ").await;
    let receiver = Receiver::start().await;
    app.endpoint("RMQ", &receiver.url(), &[]).await;
    let mut sent = vec![app.publish("RMQ", "issue.created", 1).await.id];
    receiver.wait_for(1).await;

    let closed = Command::new("rabbitmqctl")
        .args(["close_all_connections", "swatter test: broker restart"])
        .output()
        .expect("rabbitmqctl is part of RabbitMQ");
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );

    for cursor in 2..=5 {
        sent.push(app.publish("RMQ", "issue.updated", cursor).await.id);
    }
    let got: Vec<String> = receiver
        .wait_for(5)
        .await
        .iter()
        .map(|r| r.webhook_id().to_owned())
        .collect();
    assert_eq!(got, sent);
    app.cleanup().await;
}

#[tokio::test]
async fn two_replicas_share_the_work_and_keep_each_endpoints_order() {
    let app = TestApp::start("TWO").await;
    let _second = app.webhooks().start_another().await;
    let receivers: Vec<Receiver> =
        futures::future::join_all((0..5).map(|_| Receiver::start())).await;
    for receiver in &receivers {
        app.endpoint("TWO", &receiver.url(), &[]).await;
    }
    let events: Vec<_> = (1..=40)
        .map(|cursor| crate::support::envelope("TWO", "issue.updated", cursor))
        .collect();
    app.broker().publish_events(&events).await;
    let sent: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    for receiver in &receivers {
        receiver.wait_for(40).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for receiver in &receivers {
        let got: Vec<String> = receiver
            .received()
            .iter()
            .map(|r| r.webhook_id().to_owned())
            .collect();
        assert_eq!(got, sent);
    }
    app.cleanup().await;
}

#[tokio::test]
async fn sigterm_lets_the_attempt_in_flight_finish_before_the_service_exits() {
    let mut app = TestApp::start_with("TERM", |config| {
        config.timeout = Duration::from_secs(5);
        config.lease = Duration::from_secs(6);
    })
    .await;
    let receiver = Receiver::start().await;
    receiver.behave(Behaviour::Hold);
    let endpoint = app
        .endpoint("TERM", &receiver.url(), &[])
        .await
        .endpoint
        .unwrap();
    app.running.webhooks.as_mut().unwrap().stop();
    let mut service = spawn_service(&app);
    let sent = app.publish("TERM", "issue.created", 1).await;
    receiver.wait_for(1).await;

    // SAFETY: signalling a child process this test started.
    unsafe { libc::kill(service.0.id() as i32, libc::SIGTERM) };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        service.0.try_wait().unwrap().is_none(),
        "it waits for the attempt"
    );
    receiver.release();
    let status = tokio::task::spawn_blocking(move || {
        let mut service = service;
        service.0.wait().unwrap()
    })
    .await
    .unwrap();
    assert!(status.success(), "{status}");

    // Recorded as delivered: nobody sends it again.
    let log = crate::support::delivery_log(&app, &endpoint.id).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].event_id, sent.id);
    assert_eq!(
        log[0].state,
        swatter_proto::webhooks::v1::DeliveryState::Succeeded as i32
    );
    app.cleanup().await;
}
