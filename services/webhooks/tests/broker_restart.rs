//! A real RabbitMQ restart, in a test binary of its own: stopping the broker disturbs every
//! other test that uses it, and cargo runs test binaries one after another. Changes made before,
//! while and after the broker is down all reach a webhook receiver through the whole path
//! (issues' outbox and relay, the exchange, the webhooks queue and dispatcher), in cursor order,
//! none lost.

#[allow(dead_code)]
#[path = "webhooks/support.rs"]
mod support;

use std::{collections::HashSet, process::Command};

use support::{Receiver, TestApp};
use swatter_proto::issues::v1 as ipb;
use swatter_testkit::req;

fn rabbitmqctl(args: &[&str]) {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .expect("rabbitmqctl is part of RabbitMQ (make test installs it)");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts the broker again however the test ends, so that a failure here does not leave
/// every later test without one.
struct BrokerStopped;

impl BrokerStopped {
    fn stop() -> BrokerStopped {
        rabbitmqctl(&["stop_app"]);
        BrokerStopped
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        rabbitmqctl(&["start_app"]);
        rabbitmqctl(&["await_startup"]);
    }
}

async fn file_issue(app: &TestApp, n: usize) {
    app.issues()
        .create_issue(req(
            ipb::CreateIssueRequest {
                project_key: "RST".into(),
                title: format!("issue {n}"),
                ..Default::default()
            },
            &app.owner,
        ))
        .await
        .expect("issues accepts changes whether the broker is up or not");
}

#[tokio::test]
async fn changes_made_while_the_broker_restarts_all_reach_the_webhook_in_cursor_order() {
    let app = TestApp::start("RST").await;
    let receiver = Receiver::start().await;
    app.endpoint("RST", &receiver.url(), &["issue.created"])
        .await;
    for n in 1..=3 {
        file_issue(&app, n).await;
    }
    receiver.wait_for(3).await;

    let stopped = BrokerStopped::stop();
    for n in 4..=6 {
        file_issue(&app, n).await;
    }
    drop(stopped);
    for n in 7..=9 {
        file_issue(&app, n).await;
    }
    let received = receiver.wait_for(9).await;

    // At least once: a duplicate may come (the receiver drops it by `webhook-id`), a gap never.
    let mut seen = HashSet::new();
    let titles: Vec<String> = received
        .iter()
        .filter(|r| seen.insert(r.webhook_id().to_owned()))
        .map(|r| r.envelope().data["title"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (1..=9).map(|n| format!("issue {n}")).collect();
    assert_eq!(titles, expected);
    let cursors: Vec<i64> = received
        .iter()
        .map(|r| {
            r.envelope()
                .cursor
                .expect("issue events carry their cursor")
        })
        .collect();
    assert!(
        cursors.windows(2).all(|pair| pair[0] <= pair[1]),
        "delivered out of cursor order: {cursors:?}"
    );
    app.cleanup().await;
}
