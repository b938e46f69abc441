//! Bulk edits: all or nothing, per-issue permissions, dry runs, expected versions, idempotent
//! replays, concurrency with single edits, limits, and 500 issues in one request.

use std::time::{Duration, Instant};

use crate::support::{TestApp, User, req};
use swatter_common::status::{is_etag_mismatch, violations};
use swatter_proto::issues::v1 as pb;
use tonic::{Code, Status};
use uuid::Uuid;

fn fields(status: &Status) -> Vec<String> {
    violations(status).into_iter().map(|v| v.field).collect()
}

fn bulk(keys: &[&str], changes: pb::BulkChanges) -> pb::BulkUpdateIssuesRequest {
    pb::BulkUpdateIssuesRequest {
        project_key: "BULK".into(),
        issue_keys: keys.iter().map(|k| k.to_string()).collect(),
        changes: Some(changes),
        ..Default::default()
    }
}

fn set_status(status: pb::IssueStatus) -> pb::BulkChanges {
    pb::BulkChanges {
        status: status as i32,
        ..Default::default()
    }
}

async fn run(
    app: &TestApp,
    user: &User,
    request: pb::BulkUpdateIssuesRequest,
) -> Result<pb::BulkUpdateIssuesResponse, Status> {
    app.client()
        .bulk_update_issues(req(request, user))
        .await
        .map(|r| r.into_inner())
}

/// `n` issues BULK-1… filed by `user`.
async fn file(app: &TestApp, user: &User, n: usize) -> Vec<pb::Issue> {
    let mut issues = Vec::with_capacity(n);
    for i in 0..n {
        issues.push(
            app.create_issue(user, "BULK", &format!("issue {i}"))
                .await
                .unwrap(),
        );
    }
    issues
}

async fn history_len(app: &TestApp, user: &User, key: &str) -> usize {
    app.client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: key.into(),
                page_size: 100,
                page_token: String::new(),
            },
            user,
        ))
        .await
        .unwrap()
        .into_inner()
        .events
        .len()
}

async fn updated_changes(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM changes WHERE type = 'issue.updated'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap()
}

async fn milestone(app: &TestApp, project: &str, title: &str) -> String {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO milestones (id, project_id, title)
         SELECT $1, id, $3 FROM projects WHERE key = $2",
    )
    .bind(id)
    .bind(project)
    .bind(title)
    .execute(&app.db.pool)
    .await
    .unwrap();
    id.to_string()
}

#[tokio::test]
async fn a_bulk_edit_changes_each_issue_once_with_its_history_and_feed_event() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    let issues = file(&app, &cast.reporter, 3).await;
    let v1 = milestone(&app, "BULK", "v1.0").await;
    app.update_issue(
        &cast.owner,
        pb::UpdateIssueRequest {
            issue_key: "BULK-3".into(),
            priority: pb::Priority::Urgent as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let feed_before = updated_changes(&app).await;

    let response = run(
        &app,
        &cast.maintainer,
        bulk(
            &["BULK-1", "BULK-2", "BULK-3"],
            pb::BulkChanges {
                status: pb::IssueStatus::Closed as i32,
                resolution: pb::Resolution::WontFix as i32,
                priority: pb::Priority::Urgent as i32,
                assignee_id: Some(cast.maintainer.id.clone()),
                milestone_id: Some(v1.clone()),
                due_on: Some("2026-12-24".into()),
                add_labels: vec!["triaged".into()],
                remove_labels: vec!["absent".into()],
            },
        ),
    )
    .await
    .unwrap();

    assert!(!response.dry_run);
    assert_eq!(response.changed, 3);
    let keys: Vec<_> = response
        .results
        .iter()
        .map(|r| r.issue_key.as_str())
        .collect();
    assert_eq!(keys, ["BULK-1", "BULK-2", "BULK-3"]);
    let changed: Vec<_> = response.results[0]
        .changes
        .iter()
        .map(|c| c.field.as_str())
        .collect();
    assert_eq!(
        changed,
        [
            "priority",
            "status",
            "assignee_id",
            "resolution",
            "due_on",
            "milestone_id",
            "labels"
        ]
    );
    assert!(
        !response.results[2]
            .changes
            .iter()
            .any(|c| c.field == "priority"),
        "BULK-3 was urgent already"
    );
    for (result, before) in response.results.iter().zip(&issues) {
        let stored = app
            .get_issue(&cast.viewer, &result.issue_key)
            .await
            .unwrap();
        assert_eq!(
            result.issue.as_ref(),
            Some(&stored),
            "the answer is what is stored"
        );
        assert_eq!(stored.status, pb::IssueStatus::Closed as i32);
        assert_eq!(stored.resolution, pb::Resolution::WontFix as i32);
        assert_eq!(stored.milestone_id.as_deref(), Some(v1.as_str()));
        assert_eq!(stored.due_on.as_deref(), Some("2026-12-24"));
        assert_eq!(stored.labels, ["triaged"]);
        assert!(stored.closed_at.is_some());
        assert!(stored.version > before.version);
    }
    // Created, then one entry per changed field.
    assert_eq!(history_len(&app, &cast.viewer, "BULK-1").await, 1 + 7);
    assert_eq!(
        updated_changes(&app).await - feed_before,
        3,
        "one issue.updated per changed issue"
    );
}

#[tokio::test]
async fn issues_that_already_have_every_value_are_left_untouched() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 2).await;
    run(
        &app,
        &cast.owner,
        bulk(&["BULK-1"], set_status(pb::IssueStatus::InProgress)),
    )
    .await
    .unwrap();
    let before = app.get_issue(&cast.owner, "BULK-1").await.unwrap();
    let feed_before = updated_changes(&app).await;

    let response = run(
        &app,
        &cast.owner,
        bulk(
            &["BULK-1", "BULK-2"],
            set_status(pb::IssueStatus::InProgress),
        ),
    )
    .await
    .unwrap();

    assert_eq!(response.changed, 1);
    assert!(response.results[0].changes.is_empty());
    assert_eq!(app.get_issue(&cast.owner, "BULK-1").await.unwrap(), before);
    assert_eq!(updated_changes(&app).await - feed_before, 1);
}

#[tokio::test]
async fn one_issue_a_reporter_may_not_change_refuses_the_whole_edit_naming_it() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.reporter, 3).await;
    for key in ["BULK-1", "BULK-3"] {
        app.update_issue(
            &cast.owner,
            pb::UpdateIssueRequest {
                issue_key: key.into(),
                assignee_id: Some(cast.reporter.id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let before = app.get_issue(&cast.owner, "BULK-1").await.unwrap();

    let refused = run(
        &app,
        &cast.reporter,
        bulk(
            &["BULK-1", "BULK-2", "BULK-3"],
            set_status(pb::IssueStatus::InProgress),
        ),
    )
    .await
    .unwrap_err();

    assert_eq!(refused.code(), Code::PermissionDenied);
    let named = violations(&refused);
    assert_eq!(named.len(), 1, "{named:?}");
    assert_eq!(named[0].field, "issue_keys[1]");
    assert!(named[0].message.contains("BULK-2"), "{}", named[0].message);
    assert_eq!(
        app.get_issue(&cast.owner, "BULK-1").await.unwrap(),
        before,
        "nothing was written"
    );
    // Their own assigned issues alone go through.
    let allowed = run(
        &app,
        &cast.reporter,
        bulk(
            &["BULK-1", "BULK-3"],
            set_status(pb::IssueStatus::InProgress),
        ),
    )
    .await
    .unwrap();
    assert_eq!(allowed.changed, 2);
}

#[tokio::test]
async fn viewers_outsiders_and_read_only_callers_change_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 2).await;
    let edit = || {
        bulk(
            &["BULK-1", "BULK-2"],
            pb::BulkChanges {
                priority: pb::Priority::Low as i32,
                ..Default::default()
            },
        )
    };

    let viewer = run(&app, &cast.viewer, edit()).await.unwrap_err();
    assert_eq!(viewer.code(), Code::PermissionDenied);
    assert_eq!(fields(&viewer), ["issue_keys[0]", "issue_keys[1]"]);
    let reporter = run(&app, &cast.reporter, edit()).await.unwrap_err();
    assert_eq!(
        reporter.code(),
        Code::PermissionDenied,
        "priority is triage"
    );
    let outsider = run(&app, &cast.outsider, edit()).await.unwrap_err();
    assert_eq!(outsider.code(), Code::NotFound);
    assert_eq!(run(&app, &cast.admin, edit()).await.unwrap().changed, 2);
}

#[tokio::test]
async fn a_dry_run_returns_the_diff_and_the_issues_as_they_would_be_and_writes_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    let issues = file(&app, &cast.owner, 2).await;
    let feed_before = updated_changes(&app).await;
    let mut request = bulk(
        &["BULK-1", "BULK-2"],
        pb::BulkChanges {
            status: pb::IssueStatus::Resolved as i32,
            add_labels: vec!["release".into()],
            ..Default::default()
        },
    );
    request.dry_run = true;
    request.request_id = "dry-1".into();

    let preview = run(&app, &cast.maintainer, request.clone()).await.unwrap();

    assert!(preview.dry_run);
    assert_eq!(preview.changed, 2);
    let would_be = preview.results[0].issue.as_ref().unwrap();
    assert_eq!(would_be.status, pb::IssueStatus::Resolved as i32);
    assert_eq!(would_be.labels, ["release"]);
    for issue in &issues {
        assert_eq!(
            &app.get_issue(&cast.owner, &issue.key).await.unwrap(),
            issue
        );
        assert_eq!(history_len(&app, &cast.owner, &issue.key).await, 1);
    }
    assert_eq!(updated_changes(&app).await, feed_before);

    // The dry run kept no Idempotency-Key: the real edit may use it.
    request.dry_run = false;
    let real = run(&app, &cast.maintainer, request).await.unwrap();
    assert!(!real.dry_run);
    assert_eq!(real.changed, 2);
    assert_eq!(
        real.results[0].changes, preview.results[0].changes,
        "the preview showed what the edit did"
    );
}

#[tokio::test]
async fn expected_versions_that_moved_fail_naming_those_issues_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    let issues = file(&app, &cast.owner, 3).await;
    app.update_issue(
        &cast.owner,
        pb::UpdateIssueRequest {
            issue_key: "BULK-2".into(),
            title: Some("moved on".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let mut request = bulk(
        &["BULK-1", "BULK-2", "BULK-3"],
        set_status(pb::IssueStatus::Closed),
    );
    request.expected_versions = issues
        .iter()
        .map(|i| pb::ExpectedVersion {
            issue_key: i.key.clone(),
            version: i.version,
        })
        .collect();

    let moved = run(&app, &cast.owner, request.clone()).await.unwrap_err();

    assert_eq!(moved.code(), Code::FailedPrecondition);
    assert!(is_etag_mismatch(&moved));
    let named = violations(&moved);
    assert_eq!(fields(&moved), ["expected_versions.BULK-2"]);
    assert!(named[0].message.contains("version 2, not 1"), "{named:?}");
    assert_eq!(
        app.get_issue(&cast.owner, "BULK-1").await.unwrap(),
        issues[0]
    );

    request.expected_versions[1].version = 2;
    assert_eq!(run(&app, &cast.owner, request).await.unwrap().changed, 3);
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer_and_another_body_is_refused() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 2).await;
    let mut request = bulk(
        &["BULK-1", "BULK-2"],
        pb::BulkChanges {
            add_labels: vec!["once".into()],
            ..Default::default()
        },
    );
    request.request_id = "bulk-key-1".into();

    let first = run(&app, &cast.owner, request.clone()).await.unwrap();
    let (second, third) = tokio::join!(
        run(&app, &cast.owner, request.clone()),
        run(&app, &cast.owner, request.clone())
    );

    assert_eq!(second.unwrap(), first);
    assert_eq!(third.unwrap(), first);
    let issue = app.get_issue(&cast.owner, "BULK-1").await.unwrap();
    assert_eq!(issue.version, 2, "applied once");
    assert_eq!(history_len(&app, &cast.owner, "BULK-1").await, 2);

    request.changes.as_mut().unwrap().add_labels = vec!["twice".into()];
    let reused = run(&app, &cast.owner, request).await.unwrap_err();
    assert_eq!(reused.code(), Code::InvalidArgument);
    assert_eq!(fields(&reused), ["Idempotency-Key"]);
}

#[tokio::test]
async fn a_parallel_single_edit_is_never_lost_and_overlapping_bulk_edits_never_deadlock() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    let n = 40;
    file(&app, &cast.owner, n).await;
    let keys: Vec<String> = (1..=n).map(|i| format!("BULK-{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let reversed: Vec<&str> = refs.iter().rev().copied().collect();

    let labels = run(
        &app,
        &cast.owner,
        bulk(
            &refs,
            pb::BulkChanges {
                add_labels: vec!["bulk-a".into()],
                ..Default::default()
            },
        ),
    );
    let other_labels = run(
        &app,
        &cast.maintainer,
        bulk(
            &reversed,
            pb::BulkChanges {
                add_labels: vec!["bulk-b".into()],
                ..Default::default()
            },
        ),
    );
    let patches = futures::future::join_all(keys.iter().map(|key| {
        app.update_issue(
            &cast.maintainer,
            pb::UpdateIssueRequest {
                issue_key: key.clone(),
                priority: pb::Priority::Urgent as i32,
                ..Default::default()
            },
        )
    }));
    let (labels, other_labels, patches) = tokio::time::timeout(Duration::from_secs(60), async {
        tokio::join!(labels, other_labels, patches)
    })
    .await
    .expect("no deadlock");

    labels.unwrap();
    other_labels.unwrap();
    patches.into_iter().for_each(|p| {
        p.unwrap();
    });
    for key in &keys {
        let issue = app.get_issue(&cast.owner, key).await.unwrap();
        assert_eq!(issue.labels, ["bulk-a", "bulk-b"], "{key}");
        assert_eq!(issue.priority, pb::Priority::Urgent as i32, "{key}");
        assert_eq!(issue.version, 4, "{key}: three writes after creation");
    }
}

#[tokio::test]
async fn bad_keys_and_values_are_refused_naming_the_field_and_write_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    let other = app.user("other-owner").await;
    app.create_project(&other, "OTHER").await.unwrap();
    let foreign_milestone = milestone(&app, "OTHER", "theirs").await;
    let issues = file(&app, &cast.owner, 2).await;
    let many: Vec<String> = (1..=501).map(|i| format!("BULK-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let priority = || pb::BulkChanges {
        priority: pb::Priority::Low as i32,
        ..Default::default()
    };
    let cases: Vec<(pb::BulkUpdateIssuesRequest, &[&str])> = vec![
        (bulk(&[], priority()), &["issue_keys"]),
        (bulk(&many, priority()), &["issue_keys"]),
        (
            bulk(&["BULK-1", "BULK-2", "BULK-1"], priority()),
            &["issue_keys[2]"],
        ),
        (
            bulk(&["BULK-1", "OTHER-1", "nonsense"], priority()),
            &["issue_keys[1]", "issue_keys[2]"],
        ),
        (bulk(&["BULK-1", "BULK-99"], priority()), &["issue_keys[1]"]),
        (bulk(&["BULK-1"], pb::BulkChanges::default()), &["changes"]),
        (
            pb::BulkUpdateIssuesRequest {
                changes: None,
                ..bulk(&["BULK-1"], priority())
            },
            &["changes"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    status: 99,
                    priority: -1,
                    resolution: 7,
                    ..Default::default()
                },
            ),
            &["changes.status", "changes.resolution", "changes.priority"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    due_on: Some("1899-12-31".into()),
                    assignee_id: Some("nobody".into()),
                    milestone_id: Some("x".into()),
                    ..Default::default()
                },
            ),
            &[
                "changes.assignee_id",
                "changes.milestone_id",
                "changes.due_on",
            ],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    due_on: Some("10000-01-01".into()),
                    ..Default::default()
                },
            ),
            &["changes.due_on"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    assignee_id: Some(cast.outsider.id.clone()),
                    milestone_id: Some(foreign_milestone),
                    ..Default::default()
                },
            ),
            &["changes.milestone_id", "changes.assignee_id"],
        ),
        (
            bulk(
                &["BULK-1", "BULK-2"],
                pb::BulkChanges {
                    resolution: pb::Resolution::Fixed as i32,
                    ..Default::default()
                },
            ),
            &["changes.resolution", "changes.resolution"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    add_labels: vec!["a".into(), "".into()],
                    remove_labels: vec!["x\u{0}".into()],
                    ..Default::default()
                },
            ),
            &["changes.add_labels", "changes.remove_labels"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    add_labels: (0..21).map(|i| format!("l{i}")).collect(),
                    ..Default::default()
                },
            ),
            &["changes.add_labels"],
        ),
        (
            bulk(
                &["BULK-1"],
                pb::BulkChanges {
                    add_labels: vec!["same".into()],
                    remove_labels: vec!["same".into()],
                    ..Default::default()
                },
            ),
            &["changes.remove_labels"],
        ),
        (
            pb::BulkUpdateIssuesRequest {
                expected_versions: vec![
                    pb::ExpectedVersion {
                        issue_key: "BULK-2".into(),
                        version: 1,
                    },
                    pb::ExpectedVersion {
                        issue_key: "BULK-1".into(),
                        version: 0,
                    },
                ],
                ..bulk(&["BULK-1"], priority())
            },
            &["expected_versions", "expected_versions.BULK-1"],
        ),
    ];
    for (request, expected) in cases {
        let refused = run(&app, &cast.owner, request.clone()).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(fields(&refused), expected, "{request:?}");
    }
    // The labels limit holds after the edit: 19 + 2 is too many.
    app.update_issue(
        &cast.owner,
        pb::UpdateIssueRequest {
            issue_key: "BULK-2".into(),
            labels: Some(pb::LabelSet {
                labels: (0..19).map(|i| format!("l{i:02}")).collect(),
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let over = run(
        &app,
        &cast.owner,
        bulk(
            &["BULK-1", "BULK-2"],
            pb::BulkChanges {
                add_labels: vec!["a".into(), "b".into()],
                ..Default::default()
            },
        ),
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&over), ["changes.add_labels"]);
    assert!(violations(&over)[0].message.contains("BULK-2"));
    assert_eq!(
        app.get_issue(&cast.owner, "BULK-1").await.unwrap(),
        issues[0],
        "nothing was written"
    );
    // A malformed or foreign project is not found.
    for project in ["bulk", "NOPE"] {
        let request = pb::BulkUpdateIssuesRequest {
            project_key: project.into(),
            ..bulk(&["BULK-1"], priority())
        };
        let missing = run(&app, &cast.owner, request).await.unwrap_err();
        assert_eq!(missing.code(), Code::NotFound, "{project}");
    }
}

#[tokio::test]
async fn five_hundred_issues_change_in_one_request() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "BULK").await.unwrap();
    let keys: Vec<String> = (1..=500).map(|i| format!("BULK-{i}")).collect();
    futures::future::join_all(
        keys.chunks(50)
            .map(|chunk| async { file_chunk(&app, &owner, chunk.len()).await }),
    )
    .await;
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let request = bulk(
        &refs,
        pb::BulkChanges {
            status: pb::IssueStatus::InProgress as i32,
            priority: pb::Priority::High as i32,
            add_labels: vec!["sprint-12".into()],
            due_on: Some("2026-12-31".into()),
            ..Default::default()
        },
    );

    let started = Instant::now();
    let response = run(&app, &owner, request).await.unwrap();
    let took = started.elapsed();

    assert_eq!(response.changed, 500);
    eprintln!("500-issue bulk edit (debug build, in-process): {took:?}");
    let last = app.get_issue(&owner, "BULK-500").await.unwrap();
    assert_eq!(last.labels, ["sprint-12"]);
    assert_eq!(history_len(&app, &owner, "BULK-500").await, 1 + 4);
}

async fn file_chunk(app: &TestApp, user: &User, n: usize) {
    for _ in 0..n {
        app.create_issue(user, "BULK", "one of many").await.unwrap();
    }
}

#[tokio::test]
async fn a_bulk_edit_racing_the_deletion_of_one_of_its_issues_is_all_or_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 10).await;
    let keys: Vec<String> = (1..=10).map(|i| format!("BULK-{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let edit = run(
        &app,
        &cast.maintainer,
        bulk(&refs, set_status(pb::IssueStatus::InProgress)),
    );
    let delete = async {
        app.client()
            .delete_issue(req(
                pb::DeleteIssueRequest {
                    issue_key: "BULK-7".into(),
                },
                &cast.owner,
            ))
            .await
    };

    let (edit, delete) = tokio::join!(edit, delete);

    delete.unwrap();
    let others = futures::future::join_all(
        refs.iter()
            .filter(|k| **k != "BULK-7")
            .map(|k| app.get_issue(&cast.owner, k)),
    )
    .await;
    let in_progress = others
        .iter()
        .filter(|i| i.as_ref().unwrap().status == pb::IssueStatus::InProgress as i32)
        .count();
    match edit {
        Ok(response) => {
            assert_eq!(response.changed, 10, "the edit went first");
            assert_eq!(in_progress, 9);
        }
        Err(refused) => {
            assert_eq!(refused.code(), Code::InvalidArgument);
            assert_eq!(fields(&refused), ["issue_keys[6]"]);
            assert_eq!(in_progress, 0, "nothing was written");
        }
    }
}

#[tokio::test]
async fn a_bulk_edit_racing_the_deletion_of_its_milestone_never_deadlocks_or_keeps_a_dangling_milestone()
 {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 30).await;
    let keys: Vec<String> = (1..=30).map(|i| format!("BULK-{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    for round in 0..5 {
        let v = milestone(&app, "BULK", &format!("v{round}")).await;
        let edit = run(
            &app,
            &cast.owner,
            bulk(
                &refs,
                pb::BulkChanges {
                    milestone_id: Some(v.clone()),
                    priority: [pb::Priority::Low, pb::Priority::High][round % 2] as i32,
                    ..Default::default()
                },
            ),
        );
        let delete = async {
            sqlx::query("DELETE FROM milestones WHERE id = $1::uuid")
                .bind(&v)
                .execute(&app.db.pool)
                .await
                .unwrap();
        };
        let (edit, ()) = tokio::time::timeout(Duration::from_secs(30), async {
            tokio::join!(edit, delete)
        })
        .await
        .expect("no deadlock");
        if let Err(refused) = edit {
            assert_eq!(fields(&refused), ["changes.milestone_id"], "{refused:?}");
        }
        let attached: i64 =
            sqlx::query_scalar("SELECT count(*) FROM issues WHERE milestone_id IS NOT NULL")
                .fetch_one(&app.db.pool)
                .await
                .unwrap();
        assert_eq!(
            attached, 0,
            "round {round}: the deleted milestone detached every issue"
        );
    }
}

#[tokio::test]
async fn two_identical_bulk_edits_at_once_change_each_issue_once() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BULK").await;
    file(&app, &cast.owner, 20).await;
    let keys: Vec<String> = (1..=20).map(|i| format!("BULK-{i}")).collect();
    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
    let edit = || {
        bulk(
            &refs,
            pb::BulkChanges {
                status: pb::IssueStatus::Closed as i32,
                resolution: pb::Resolution::Fixed as i32,
                ..Default::default()
            },
        )
    };

    let (first, second) = tokio::join!(
        run(&app, &cast.owner, edit()),
        run(&app, &cast.maintainer, edit())
    );

    let mut changed = [first.unwrap().changed, second.unwrap().changed];
    changed.sort();
    assert_eq!(
        changed,
        [0, 20],
        "the later edit found every value already set"
    );
    for key in &keys {
        assert_eq!(app.get_issue(&cast.owner, key).await.unwrap().version, 2);
        assert_eq!(history_len(&app, &cast.owner, key).await, 1 + 2, "{key}");
    }
}
