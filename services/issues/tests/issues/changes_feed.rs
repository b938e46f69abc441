//! The change feed: an event per change in the change's transaction, gap-free cursors, paging,
//! tombstones, retention, the live stream (resume, slow clients) and the events exchange.

use std::{collections::BTreeMap, process::Command, time::Duration};

use futures::StreamExt;
use lapin::{
    Connection, ConnectionProperties,
    options::{BasicGetOptions, QueueDeleteOptions},
};
use serde_json::Value;
use swatter_common::{events::Envelope, status};
use swatter_proto::issues::v1::{self as pb, issues_service_client::IssuesServiceClient};
use swatter_testkit::{Stack, User, amqp_url, bind_events_queue, fields, req};
use tonic::{Code, transport::Endpoint};

use crate::support::TestApp;

async fn changes(
    app: &TestApp,
    user: &User,
    key: &str,
    after: i64,
    page_size: i32,
) -> Result<pb::ListChangesResponse, tonic::Status> {
    app.client()
        .list_changes(req(
            pb::ListChangesRequest {
                project_key: key.into(),
                after,
                page_size,
            },
            user,
        ))
        .await
        .map(|r| r.into_inner())
}

fn data(change: &pb::Change) -> Value {
    serde_json::from_str(&change.data_json).unwrap()
}

/// Every change of the project, by paging to the end.
async fn all_changes(app: &TestApp, user: &User, key: &str) -> Vec<pb::Change> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = changes(app, user, key, after, 1000).await.unwrap();
        if page.changes.is_empty() {
            return all;
        }
        after = page.next_after;
        all.extend(page.changes);
    }
}

#[tokio::test]
async fn every_change_appends_an_event_with_the_new_state_or_a_tombstone() {
    let app = TestApp::spawn().await;
    let owner = app.user("feed-owner").await;
    let other = app.user("feed-other").await;
    app.create_project(&owner, "FEED").await.unwrap();
    app.client()
        .update_project(req(
            pb::UpdateProjectRequest {
                key: "FEED".into(),
                name: Some("Renamed".into()),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    app.set_member(&owner, "FEED", &other, pb::Role::Reporter)
        .await
        .unwrap();
    app.set_member(&owner, "FEED", &other, pb::Role::Maintainer)
        .await
        .unwrap();
    let issue = app.create_issue(&owner, "FEED", "First").await.unwrap();
    let updated = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                status: pb::IssueStatus::Resolved as i32,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let comment = app.comment(&owner, &issue.key, "hello").await.unwrap();
    app.client()
        .update_comment(req(
            pb::UpdateCommentRequest {
                id: comment.id.clone(),
                body: "hello again".into(),
                update_mask: None,
            },
            &owner,
        ))
        .await
        .unwrap();
    app.client()
        .delete_comment(req(
            pb::DeleteCommentRequest {
                id: comment.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    app.client()
        .delete_issue(req(
            pb::DeleteIssueRequest {
                issue_key: issue.key.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    app.client()
        .remove_member(req(
            pb::RemoveMemberRequest {
                project_key: "FEED".into(),
                user_id: other.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();

    let feed = all_changes(&app, &owner, "FEED").await;

    let types: Vec<&str> = feed.iter().map(|c| c.r#type.as_str()).collect();
    assert_eq!(
        types,
        [
            "project.created",
            "member.added",
            "project.updated",
            "member.added",
            "member.updated",
            "issue.created",
            "issue.updated",
            "comment.created",
            "comment.updated",
            "comment.deleted",
            "issue.deleted",
            "member.removed",
        ]
    );
    let cursors: Vec<i64> = feed.iter().map(|c| c.cursor).collect();
    assert_eq!(cursors, (1..=12).collect::<Vec<_>>());
    assert!(
        feed.iter()
            .all(|c| c.project_key == "FEED" && c.id.starts_with("evt_"))
    );
    assert_eq!(data(&feed[2])["name"], "Renamed");
    assert_eq!(data(&feed[3])["role"], "reporter");
    assert_eq!(data(&feed[4])["role"], "maintainer");
    let issue_updated = data(&feed[6]);
    assert_eq!(issue_updated["key"], issue.key);
    assert_eq!(issue_updated["status"], "resolved");
    assert_eq!(issue_updated["version"], updated.version);
    assert!(issue_updated["closed_at"].is_string());
    assert_eq!(issue_updated["assignee_id"], Value::Null);
    assert_eq!(data(&feed[8])["body"], "hello again");
    assert_eq!(
        data(&feed[9]),
        serde_json::json!({"id": comment.id, "issue_key": issue.key})
    );
    assert_eq!(
        data(&feed[10]),
        serde_json::json!({"id": issue.id, "key": issue.key})
    );
    assert_eq!(data(&feed[11])["id"], other.id);
}

#[tokio::test]
async fn a_refused_change_appends_nothing() {
    let app = TestApp::spawn().await;
    let owner = app.user("refused-owner").await;
    app.create_project(&owner, "NOPE").await.unwrap();
    let issue = app.create_issue(&owner, "NOPE", "First").await.unwrap();
    let stale = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                title: Some("Second".into()),
                if_match: "\"stale\"".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(stale.is_err());

    let feed = all_changes(&app, &owner, "NOPE").await;
    assert_eq!(feed.len(), 3);
    assert_eq!(feed[2].r#type, "issue.created");
}

#[tokio::test]
async fn concurrent_writers_get_gap_free_unique_cursors() {
    let app = TestApp::spawn().await;
    let owner = app.user("busy-owner").await;
    app.create_project(&owner, "BUSY").await.unwrap();
    let titles: Vec<String> = (0..40).map(|n| format!("Issue {n}")).collect();
    let writes = titles
        .iter()
        .map(|title| app.create_issue(&owner, "BUSY", title));
    for created in futures::future::join_all(writes).await {
        created.unwrap();
    }

    let feed = all_changes(&app, &owner, "BUSY").await;

    let cursors: Vec<i64> = feed.iter().map(|c| c.cursor).collect();
    assert_eq!(cursors, (1..=42).collect::<Vec<_>>());
    let numbers: std::collections::BTreeSet<i64> = feed[2..]
        .iter()
        .map(|c| data(c)["number"].as_i64().unwrap())
        .collect();
    assert_eq!(numbers.len(), 40);
}

#[tokio::test]
async fn paging_replays_the_feed_in_order_and_past_the_head_is_empty() {
    let app = TestApp::spawn().await;
    let owner = app.user("pager").await;
    app.create_project(&owner, "PAGE").await.unwrap();
    for n in 0..23 {
        app.create_issue(&owner, "PAGE", &format!("Issue {n}"))
            .await
            .unwrap();
    }

    let mut after = 0;
    let mut seen = Vec::new();
    loop {
        let page = changes(&app, &owner, "PAGE", after, 10).await.unwrap();
        assert_eq!(page.head_cursor, 25);
        if page.changes.is_empty() {
            assert_eq!(page.next_after, after);
            break;
        }
        assert!(page.changes.len() <= 10);
        after = page.next_after;
        seen.extend(page.changes.into_iter().map(|c| c.cursor));
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());

    let beyond = changes(&app, &owner, "PAGE", 1000, 10).await.unwrap();
    assert!(beyond.changes.is_empty());
    assert_eq!(beyond.next_after, 1000);
}

#[tokio::test]
async fn viewers_and_admins_read_the_feed_and_outsiders_get_not_found() {
    let app = TestApp::spawn().await;
    let cast = app.cast("SEEN").await;
    for reader in [&cast.viewer, &cast.admin] {
        assert!(
            !changes(&app, reader, "SEEN", 0, 0)
                .await
                .unwrap()
                .changes
                .is_empty()
        );
    }
    let hidden = changes(&app, &cast.outsider, "SEEN", 0, 0)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let watch = app
        .client()
        .watch_changes(req(
            pb::WatchChangesRequest {
                project_key: "SEEN".into(),
                after: 0,
            },
            &cast.outsider,
        ))
        .await
        .unwrap_err();
    assert_eq!(watch.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_cursors_and_page_sizes_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.user("strict").await;
    app.create_project(&owner, "BAD").await.unwrap();
    let negative = changes(&app, &owner, "BAD", -1, 0).await.unwrap_err();
    assert_eq!(negative.code(), Code::InvalidArgument);
    assert_eq!(fields(&negative), ["after"]);
    for size in [-1, 1001] {
        let error = changes(&app, &owner, "BAD", 0, size).await.unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(fields(&error), ["page_size"]);
    }
}

#[tokio::test]
async fn a_cursor_older_than_the_retention_horizon_is_expired() {
    let app = TestApp::spawn().await;
    let owner = app.user("old").await;
    app.create_project(&owner, "OLD").await.unwrap();
    for n in 0..3 {
        app.create_issue(&owner, "OLD", &format!("Issue {n}"))
            .await
            .unwrap();
    }
    // Reading the feed numbers what was written.
    assert_eq!(all_changes(&app, &owner, "OLD").await.len(), 5);
    sqlx::query("UPDATE changes SET occurred_at = now() - interval '31 days' WHERE cursor <= 3")
        .execute(&app.db.pool)
        .await
        .unwrap();

    let pruned = swatter_issues::feed::retention::prune(&app.db.pool, chrono::Duration::days(30))
        .await
        .unwrap();

    assert_eq!(pruned, 3);
    let expired = changes(&app, &owner, "OLD", 2, 0).await.unwrap_err();
    assert_eq!(expired.code(), Code::OutOfRange);
    assert!(status::is_cursor_expired(&expired), "{expired:?}");
    let resumable = changes(&app, &owner, "OLD", 3, 0).await.unwrap();
    assert_eq!(resumable.changes[0].cursor, 4);
    let from_the_start = changes(&app, &owner, "OLD", 0, 0).await.unwrap();
    assert_eq!(from_the_start.changes[0].cursor, 4);
}

async fn watch(
    client: &mut IssuesServiceClient<tonic::transport::Channel>,
    user: &User,
    key: &str,
    after: i64,
) -> tonic::Streaming<pb::Change> {
    client
        .watch_changes(req(
            pb::WatchChangesRequest {
                project_key: key.into(),
                after,
            },
            user,
        ))
        .await
        .unwrap()
        .into_inner()
}

async fn next(stream: &mut tonic::Streaming<pb::Change>) -> pb::Change {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("a change within 10 s")
        .expect("the stream goes on")
        .expect("a change")
}

#[tokio::test]
async fn the_live_stream_delivers_new_changes_and_resumes_with_no_gap_or_duplicate() {
    let app = TestApp::spawn().await;
    let owner = app.user("watcher").await;
    app.create_project(&owner, "LIVE").await.unwrap();
    let mut client = app.client();
    let mut stream = watch(&mut client, &owner, "LIVE", 0).await;
    assert_eq!(next(&mut stream).await.r#type, "project.created");
    assert_eq!(next(&mut stream).await.cursor, 2);
    app.create_issue(&owner, "LIVE", "While watching")
        .await
        .unwrap();
    let live = next(&mut stream).await;
    assert_eq!((live.cursor, live.r#type.as_str()), (3, "issue.created"));
    drop(stream);

    for n in 0..3 {
        app.create_issue(&owner, "LIVE", &format!("While away {n}"))
            .await
            .unwrap();
    }
    let mut resumed = watch(&mut client, &owner, "LIVE", 3).await;
    let mut cursors = Vec::new();
    for _ in 0..3 {
        cursors.push(next(&mut resumed).await.cursor);
    }
    app.create_issue(&owner, "LIVE", "After resuming")
        .await
        .unwrap();
    cursors.push(next(&mut resumed).await.cursor);

    assert_eq!(cursors, [4, 5, 6, 7]);
}

#[tokio::test]
async fn a_client_that_falls_behind_is_told_to_resume_from_its_cursor() {
    let stack = Stack::new()
        .issues_with(|config| {
            config.changes.stream_buffer = 4;
            config.changes.stream_lag = Duration::from_millis(300);
        })
        .start()
        .await;
    let issues = stack.issues.as_ref().unwrap();
    let owner = stack.identity.as_ref().unwrap().user("laggard").await;
    swatter_testkit::create_project(&issues.client, &owner, "LAG")
        .await
        .unwrap();
    // Events of ~10 kB, far more in all than HTTP/2 and the server's send buffer hold.
    let description = "x".repeat(9_000);
    for n in 0..150 {
        issues
            .client
            .clone()
            .create_issue(req(
                pb::CreateIssueRequest {
                    project_key: "LAG".into(),
                    title: format!("Big {n}"),
                    description: Some(description.clone()),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap();
    }
    let head = 152;
    // A client with a small receive window that stops reading.
    let channel = Endpoint::from_shared(issues.url.clone())
        .unwrap()
        .initial_stream_window_size(16 * 1024)
        .initial_connection_window_size(16 * 1024)
        .connect()
        .await
        .unwrap();
    let mut slow = IssuesServiceClient::new(channel);
    let mut stream = watch(&mut slow, &owner, "LAG", 0).await;
    assert_eq!(next(&mut stream).await.cursor, 1);
    tokio::time::sleep(Duration::from_secs(2)).await;

    let mut received = vec![1];
    let resume = loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("the stream ends")
        {
            Some(Ok(change)) => received.push(change.cursor),
            Some(Err(status)) => break status,
            None => panic!("the stream ended without saying where to resume"),
        }
    };

    assert_eq!(resume.code(), Code::Aborted);
    let cursor = status::resume_cursor(&resume).expect("a resume cursor");
    assert_eq!(received, (1..=cursor).collect::<Vec<_>>());
    assert!(cursor < head, "the server buffered everything ({cursor})");
    let mut client = issues.client.clone();
    let mut resumed = watch(&mut client, &owner, "LAG", cursor).await;
    for expected in cursor + 1..=head {
        assert_eq!(next(&mut resumed).await.cursor, expected);
    }
}

/// Reads `queue` until it has seen `count` distinct events (or 20 s pass), acknowledging them.
async fn consume(queue: &str, count: usize) -> BTreeMap<i64, Envelope> {
    let mut seen = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.len() < count && tokio::time::Instant::now() < deadline {
        let Ok(connection) =
            Connection::connect(&amqp_url(), ConnectionProperties::default()).await
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        // A busy broker may refuse a channel now and then: try again, as for the connection.
        let Ok(channel) = connection.create_channel().await else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        while let Ok(Some(message)) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
        {
            let delivery = message.delivery;
            let envelope: Envelope = serde_json::from_slice(&delivery.data).unwrap();
            assert_eq!(delivery.routing_key.as_str(), envelope.event_type);
            assert_eq!(
                delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str()),
                Some(envelope.id.as_str())
            );
            assert_eq!(delivery.properties.delivery_mode(), &Some(2));
            seen.insert(envelope.cursor.unwrap(), envelope);
        }
        let _ = connection.close(200, "read".into()).await;
        if seen.len() < count {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    seen
}

async fn delete_queue(queue: &str) {
    let connection = Connection::connect(&amqp_url(), ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let _ = channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
}

async fn spawn_with_exchange() -> (TestApp, String, String) {
    let exchange = format!("swatter.test.events.{}", uuid::Uuid::new_v4().simple());
    let queue = bind_events_queue(&exchange).await;
    let name = exchange.clone();
    let stack = Stack::new()
        .issues_with(move |config| config.changes.events_exchange = name)
        .start()
        .await;
    let issues = stack.issues.expect("issues runs");
    let app = TestApp {
        identity: stack.identity.expect("identity runs"),
        issues: issues.client,
        db: issues.db,
        metrics_addr: issues.metrics_addr.expect("metrics are on"),
    };
    (app, exchange, queue)
}

#[tokio::test]
async fn committed_changes_reach_a_queue_bound_to_the_exchange_and_rolled_back_ones_do_not() {
    let (app, _exchange, queue) = spawn_with_exchange().await;
    let owner = app.user("publisher").await;
    let project = app.create_project(&owner, "PUB").await.unwrap();
    let project_id: uuid::Uuid = project.id.parse().unwrap();
    let mut tx = app.db.pool.begin().await.unwrap();
    swatter_issues::store::append_change(
        &mut tx,
        project_id,
        "issue.created",
        &serde_json::json!({"rolled": "back"}),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    let issue = app.create_issue(&owner, "PUB", "Published").await.unwrap();

    let events = consume(&queue, 3).await;

    let types: Vec<&str> = events.values().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, ["project.created", "member.added", "issue.created"]);
    assert_eq!(events.keys().copied().collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(events[&3].data["key"], issue.key);
    assert_eq!(events[&3].project_key.as_deref(), Some("PUB"));
    let feed = all_changes(&app, &owner, "PUB").await;
    assert_eq!(feed[2].id, events[&3].id, "the feed and the exchange agree");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(consume(&queue, 1).await.is_empty(), "nothing more");
    let metrics = swatter_testkit::metrics::text(app.metrics_addr).await;
    let value = |name| swatter_testkit::metrics::value(&metrics, name, &[]).unwrap();
    assert!(value("swatter_change_events_published_total") >= 3.0);
    assert_eq!(value("swatter_change_outbox_pending"), 0.0);
    delete_queue(&queue).await;
}

#[tokio::test]
async fn a_deleted_projects_tombstone_still_leaves_through_the_outbox() {
    let (app, _exchange, queue) = spawn_with_exchange().await;
    let owner = app.user("deleter").await;
    let project = app.create_project(&owner, "GONE").await.unwrap();
    app.client()
        .delete_project(req(pb::DeleteProjectRequest { key: "GONE".into() }, &owner))
        .await
        .unwrap();

    let events = consume(&queue, 3).await;

    let deleted = &events[&3];
    assert_eq!(deleted.event_type, "project.deleted");
    assert_eq!(
        deleted.data,
        serde_json::json!({"id": project.id, "key": "GONE"})
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM changes")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0, "the project's feed went with it");
    delete_queue(&queue).await;
}

#[tokio::test]
async fn no_event_is_lost_when_the_broker_drops_every_connection() {
    let (app, _exchange, queue) = spawn_with_exchange().await;
    let owner = app.user("survivor").await;
    app.create_project(&owner, "RMQ").await.unwrap();
    for n in 0..5 {
        app.create_issue(&owner, "RMQ", &format!("Before {n}"))
            .await
            .unwrap();
    }
    assert_eq!(consume(&queue, 7).await.len(), 7);

    let closed = Command::new("rabbitmqctl")
        .args(["close_all_connections", "swatter test: broker restart"])
        .output()
        .expect("rabbitmqctl is part of RabbitMQ");
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );
    for n in 0..5 {
        app.create_issue(&owner, "RMQ", &format!("After {n}"))
            .await
            .unwrap();
    }

    let after = consume(&queue, 5).await;
    assert_eq!(
        after.keys().copied().collect::<Vec<_>>(),
        (8..=12).collect::<Vec<_>>()
    );
    let outbox: i64 = sqlx::query_scalar("SELECT count(*) FROM change_outbox")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(outbox, 0);
    delete_queue(&queue).await;
}

#[tokio::test]
async fn a_graceful_shutdown_ends_live_streams_with_their_resume_cursor() {
    let stack = Stack::new().issues().start().await;
    let identity = stack.identity.as_ref().unwrap();
    let running = stack.issues.as_ref().unwrap();
    let owner = identity.user("stopper").await;
    swatter_testkit::create_project(&running.client, &owner, "STOP")
        .await
        .unwrap();
    // A second issues process on the same database, stopped while a client watches it.
    let config = swatter_testkit::config::issues_for_tests(&running.db.url, &identity.url);
    let app = swatter_issues::startup::Application::build(config)
        .await
        .unwrap();
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client = IssuesServiceClient::new(channel);
    let mut stream = watch(&mut client, &owner, "STOP", 0).await;
    assert_eq!(next(&mut stream).await.cursor, 1);
    assert_eq!(next(&mut stream).await.cursor, 2);

    stop.send(()).unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the stream ends at shutdown")
        .expect("with a status")
        .unwrap_err();

    assert_eq!(end.code(), Code::Aborted);
    assert_eq!(status::resume_cursor(&end), Some(2));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}
