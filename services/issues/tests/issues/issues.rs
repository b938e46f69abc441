//! Issues: unique keys under concurrency, keyset pagination under inserts, optimistic concurrency,
//! idempotency, hostile input, the status workflow and its history, filters and search.

use std::collections::HashSet;

use crate::support::{TestApp, User, req};
use swatter_common::status::{is_etag_mismatch, violations};
use swatter_proto::issues::v1 as pb;
use swatter_testkit::{YEAR_MINUS_100000_MICROS, altered_page_token, hand_made_page_token};
use tokio_stream::StreamExt;
use tonic::Code;

fn fields(status: &tonic::Status) -> Vec<String> {
    violations(status).into_iter().map(|v| v.field).collect()
}

fn update(key: &str) -> pb::UpdateIssueRequest {
    pb::UpdateIssueRequest {
        issue_key: key.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn thirty_two_concurrent_creations_get_thirty_two_distinct_keys() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "RACE").await.unwrap();

    let creations = (0..32).map(|n| {
        let app = &app;
        let owner = &owner;
        async move {
            app.create_issue(owner, "RACE", &format!("issue {n}"))
                .await
                .unwrap()
        }
    });
    let issues = futures::future::join_all(creations).await;

    let keys: HashSet<_> = issues.iter().map(|i| i.key.clone()).collect();
    assert_eq!(keys.len(), 32);
    let expected: HashSet<_> = (1..=32).map(|n| format!("RACE-{n}")).collect();
    assert_eq!(keys, expected, "numbers are dense: 1 to 32");
}

#[tokio::test]
async fn a_pagination_walk_sees_every_issue_exactly_once_while_another_task_inserts() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "PAGE").await.unwrap();
    let mut before = HashSet::new();
    for n in 0..45 {
        before.insert(
            app.create_issue(&owner, "PAGE", &format!("old {n}"))
                .await
                .unwrap()
                .key,
        );
    }

    let inserter = {
        let owner = owner.clone();
        let mut client = app.client();
        tokio::spawn(async move {
            for n in 0..30 {
                client
                    .create_issue(req(
                        pb::CreateIssueRequest {
                            project_key: "PAGE".into(),
                            title: format!("new {n}"),
                            ..Default::default()
                        },
                        &owner,
                    ))
                    .await
                    .unwrap();
            }
        })
    };
    let mut seen = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .list(
                &owner,
                pb::ListIssuesRequest {
                    project_key: "PAGE".into(),
                    page_size: 7,
                    page_token,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.issues.into_iter().map(|i| i.key));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    inserter.await.unwrap();

    let unique: HashSet<_> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "no issue is seen twice");
    assert!(
        before.is_subset(&unique),
        "every issue that existed before the walk is seen"
    );
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_the_current_one_applies() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "ETAG").await.unwrap();
    let issue = app.create_issue(&owner, "ETAG", "first").await.unwrap();
    assert_eq!(issue.version, 1);

    let edited = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                title: Some("second".into()),
                if_match: issue.etag.clone(),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert_eq!(edited.version, 2);
    assert_ne!(edited.etag, issue.etag);

    let stale = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                title: Some("third".into()),
                if_match: issue.etag.clone(),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::FailedPrecondition);
    assert!(is_etag_mismatch(&stale));
    assert_eq!(
        app.get_issue(&owner, &issue.key).await.unwrap().title,
        "second"
    );

    // Without If-Match the write is applied.
    let blind = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                title: Some("third".into()),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert_eq!(blind.title, "third");
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_response_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "IDEM").await.unwrap();
    let request = |title: &str| pb::CreateIssueRequest {
        project_key: "IDEM".into(),
        title: title.into(),
        request_id: "key-1".into(),
        ..Default::default()
    };

    let first = app
        .client()
        .create_issue(req(request("once"), &owner))
        .await
        .unwrap()
        .into_inner();
    let replay = app
        .client()
        .create_issue(req(request("once"), &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(first, replay);

    let other_body = app
        .client()
        .create_issue(req(request("twice"), &owner))
        .await
        .unwrap_err();
    assert_eq!(other_body.code(), Code::InvalidArgument);
    assert_eq!(fields(&other_body), ["Idempotency-Key"]);

    // The same key from another user is another key.
    let other = app.user("other").await;
    app.set_member(&owner, "IDEM", &other, pb::Role::Reporter)
        .await
        .unwrap();
    let theirs = app
        .client()
        .create_issue(req(request("once"), &other))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(theirs.id, first.id);

    let listed = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                project_key: "IDEM".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.issues.len(), 2);
}

#[tokio::test]
async fn concurrent_identical_requests_with_one_key_create_one_issue() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "CONC").await.unwrap();
    let attempts = (0..8).map(|_| {
        let mut client = app.client();
        let owner = owner.clone();
        async move {
            client
                .create_issue(req(
                    pb::CreateIssueRequest {
                        project_key: "CONC".into(),
                        title: "only once".into(),
                        request_id: "same-key".into(),
                        ..Default::default()
                    },
                    &owner,
                ))
                .await
                .map(|r| r.into_inner())
        }
    });
    let results = futures::future::join_all(attempts).await;
    let ids: HashSet<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap().id.clone())
        .collect();
    assert_eq!(ids.len(), 1, "every attempt got the same issue");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM issues")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn comments_are_idempotent_too() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "CIDEM").await.unwrap();
    let issue = app.create_issue(&owner, "CIDEM", "x").await.unwrap();
    let comment = || pb::CreateCommentRequest {
        issue_key: issue.key.clone(),
        body: "hello".into(),
        request_id: "c-1".into(),
    };
    let a = app
        .client()
        .create_comment(req(comment(), &owner))
        .await
        .unwrap()
        .into_inner();
    let b = app
        .client()
        .create_comment(req(comment(), &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.id, b.id);
}

#[tokio::test]
async fn hostile_input_is_refused_as_invalid_or_treated_as_data_never_as_an_internal_error() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "HOST").await.unwrap();
    let issue = app
        .create_issue(&owner, "HOST", "Robert'); DROP TABLE issues;--")
        .await
        .unwrap();
    assert_eq!(issue.title, "Robert'); DROP TABLE issues;--");

    let list = |r: pb::ListIssuesRequest| {
        app.list(
            &owner,
            pb::ListIssuesRequest {
                project_key: "HOST".into(),
                ..r
            },
        )
    };

    // Search text is data: SQL and tsquery syntax are just words.
    for q in [
        "'; DROP TABLE issues; --",
        "a & | ! ( ) :* <->",
        "\\",
        "%_%",
        "DROP",
    ] {
        let page = list(pb::ListIssuesRequest {
            query: q.into(),
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(page.issues.len() <= 1, "{q}");
    }
    let found = list(pb::ListIssuesRequest {
        query: "DROP TABLE".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(found.issues.len(), 1);

    let cases: Vec<(&str, pb::ListIssuesRequest)> = vec![
        (
            "status",
            pb::ListIssuesRequest {
                statuses: vec![99],
                ..Default::default()
            },
        ),
        (
            "status",
            pb::ListIssuesRequest {
                statuses: vec![0],
                ..Default::default()
            },
        ),
        (
            "priority",
            pb::ListIssuesRequest {
                priorities: vec![-1],
                ..Default::default()
            },
        ),
        (
            "assignee",
            pb::ListIssuesRequest {
                assignee: "' OR 1=1 --".into(),
                ..Default::default()
            },
        ),
        (
            "author",
            pb::ListIssuesRequest {
                author_id: "nobody".into(),
                ..Default::default()
            },
        ),
        (
            "label",
            pb::ListIssuesRequest {
                label: "l".repeat(10_000),
                ..Default::default()
            },
        ),
        (
            "q",
            pb::ListIssuesRequest {
                query: "q".repeat(10_000),
                ..Default::default()
            },
        ),
        (
            "sort",
            pb::ListIssuesRequest {
                sort: "title; DROP TABLE issues".into(),
                ..Default::default()
            },
        ),
        (
            "page_size",
            pb::ListIssuesRequest {
                page_size: 1000,
                ..Default::default()
            },
        ),
        (
            "page_token",
            pb::ListIssuesRequest {
                page_token: "eyJ2YWx1ZSI6".into(),
                ..Default::default()
            },
        ),
    ];
    for (field, request) in cases {
        let status = list(request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert!(
            fields(&status).contains(&field.to_owned()),
            "{field}: {:?}",
            fields(&status)
        );
    }

    let huge_labels = app
        .client()
        .create_issue(req(
            pb::CreateIssueRequest {
                project_key: "HOST".into(),
                title: "labels".into(),
                labels: (0..10_000).map(|n| format!("label-{n}")).collect(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&huge_labels), ["labels"]);
    let one_huge_label = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                labels: Some(pb::LabelSet {
                    labels: vec!["x".repeat(10_000)],
                }),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&one_huge_label), ["labels"]);
    let bad_enums = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                status: 7,
                priority: 9,
                ..update(&issue.key)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&bad_enums), ["status", "priority"]);
    let long_title = app
        .create_issue(&owner, "HOST", &"t".repeat(201))
        .await
        .unwrap_err();
    assert_eq!(fields(&long_title), ["title"]);
    let malformed_key = app.get_issue(&owner, "HOST-1; DROP").await.unwrap_err();
    assert_eq!(malformed_key.code(), Code::NotFound);

    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM issues")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1, "the table is still there, with its one issue");
}

#[tokio::test]
async fn the_status_workflow_sets_and_clears_closed_at_and_every_change_is_in_the_history() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let dev = app.user("dev").await;
    app.create_project(&owner, "FLOW").await.unwrap();
    app.set_member(&owner, "FLOW", &dev, pb::Role::Reporter)
        .await
        .unwrap();
    let issue = app
        .create_issue(&owner, "FLOW", "Crash on start")
        .await
        .unwrap();
    assert_eq!(issue.status, pb::IssueStatus::Open as i32);
    assert_eq!(issue.priority, pb::Priority::Medium as i32);
    assert!(issue.closed_at.is_none());

    let assigned = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                assignee_id: Some(dev.id.clone()),
                priority: pb::Priority::High as i32,
                labels: Some(pb::LabelSet {
                    labels: vec!["crash".into(), "bug".into()],
                }),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert_eq!(assigned.labels, ["bug", "crash"]);
    let resolved = app
        .update_issue(
            &dev,
            pb::UpdateIssueRequest {
                status: pb::IssueStatus::Resolved as i32,
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    let closed_at = resolved.closed_at.expect("resolved sets closed_at");
    let closed = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                status: pb::IssueStatus::Closed as i32,
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert_eq!(
        closed.closed_at,
        Some(closed_at),
        "resolved → closed keeps closed_at"
    );
    let reopened = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                status: pb::IssueStatus::Open as i32,
                assignee_id: Some(String::new()),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert!(reopened.closed_at.is_none());
    assert!(
        reopened.assignee_id.is_none(),
        "an empty assignee unassigns"
    );

    // A no-op update changes nothing, not even the version.
    let same = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                title: Some("Crash on start".into()),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    assert_eq!(same.version, reopened.version);

    let comment = app
        .comment(&dev, &issue.key, "Fixed in main")
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

    let events = app
        .client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: issue.key.clone(),
                ..Default::default()
            },
            &dev,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let summary: Vec<(String, String, Option<String>, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e.kind.clone(),
                e.field.clone(),
                e.old_value.clone(),
                e.new_value.clone(),
            )
        })
        .collect();
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(
        summary,
        vec![
            ("created".into(), "".into(), None, s("Crash on start")),
            ("edited".into(), "priority".into(), s("medium"), s("high")),
            ("assignee".into(), "assignee_id".into(), None, s(&dev.id)),
            ("labels".into(), "labels".into(), s(""), s("bug, crash")),
            ("status".into(), "status".into(), s("open"), s("resolved")),
            ("status".into(), "status".into(), s("resolved"), s("closed")),
            ("status".into(), "status".into(), s("closed"), s("open")),
            ("assignee".into(), "assignee_id".into(), s(&dev.id), None),
            (
                "comment_added".into(),
                "comment".into(),
                None,
                s(&comment.id)
            ),
            (
                "comment_removed".into(),
                "comment".into(),
                s(&comment.id),
                None
            ),
        ]
    );
    assert_eq!(events[1].actor_id, owner.id);
    assert_eq!(events[4].actor_id, dev.id);
}

#[tokio::test]
async fn assignees_must_be_members_and_reporters_cannot_assign_when_creating() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let reporter = app.user("reporter").await;
    let outsider = app.user("outsider").await;
    app.create_project(&owner, "ASG").await.unwrap();
    app.set_member(&owner, "ASG", &reporter, pb::Role::Reporter)
        .await
        .unwrap();
    let create = |assignee: &User| pb::CreateIssueRequest {
        project_key: "ASG".into(),
        title: "t".into(),
        assignee_id: Some(assignee.id.clone()),
        ..Default::default()
    };
    let not_member = app
        .client()
        .create_issue(req(create(&outsider), &owner))
        .await
        .unwrap_err();
    assert_eq!(fields(&not_member), ["assignee_id"]);
    let by_reporter = app
        .client()
        .create_issue(req(create(&reporter), &reporter))
        .await
        .unwrap_err();
    assert_eq!(by_reporter.code(), Code::PermissionDenied);
    let ok = app
        .client()
        .create_issue(req(create(&reporter), &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(ok.assignee_id.as_deref(), Some(reporter.id.as_str()));
    let reassign = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                assignee_id: Some(outsider.id.clone()),
                ..update(&ok.key)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&reassign), ["assignee_id"]);
}

#[tokio::test]
async fn lists_filter_by_status_priority_assignee_author_label_and_text_and_sort() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let dev = app.user("dev").await;
    app.create_project(&owner, "FLT").await.unwrap();
    app.set_member(&owner, "FLT", &dev, pb::Role::Maintainer)
        .await
        .unwrap();
    let mk = |title: &'static str, priority: pb::Priority, labels: &[&str], author: &User| {
        let request = pb::CreateIssueRequest {
            project_key: "FLT".into(),
            title: title.into(),
            description: Some(format!("about {title}")),
            priority: priority as i32,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            ..Default::default()
        };
        let mut client = app.client();
        let author = author.clone();
        async move {
            client
                .create_issue(req(request, &author))
                .await
                .unwrap()
                .into_inner()
        }
    };
    let login = mk(
        "Login button broken",
        pb::Priority::Urgent,
        &["bug", "ui"],
        &owner,
    )
    .await;
    let export = mk("Export to CSV", pb::Priority::Low, &["feature"], &dev).await;
    let crash = mk("Crash when saving", pb::Priority::High, &["bug"], &dev).await;
    app.update_issue(
        &owner,
        pb::UpdateIssueRequest {
            assignee_id: Some(dev.id.clone()),
            ..update(&login.key)
        },
    )
    .await
    .unwrap();
    app.update_issue(
        &owner,
        pb::UpdateIssueRequest {
            status: pb::IssueStatus::Closed as i32,
            ..update(&export.key)
        },
    )
    .await
    .unwrap();

    let keys = |r: pb::ListIssuesRequest, user: User| {
        let app = &app;
        async move {
            app.list(
                &user,
                pb::ListIssuesRequest {
                    project_key: "FLT".into(),
                    ..r
                },
            )
            .await
            .unwrap()
            .issues
            .into_iter()
            .map(|i| i.key)
            .collect::<Vec<_>>()
        }
    };
    let d = pb::ListIssuesRequest::default;
    let [login, export, crash] = [&login.key, &export.key, &crash.key].map(String::clone);
    let statuses = vec![
        pb::IssueStatus::Open as i32,
        pb::IssueStatus::InProgress as i32,
    ];
    let sort = |sort: &str| sort.to_owned();
    let cases = [
        // Default: most recently updated first.
        (&owner, d(), vec![&export, &login, &crash]),
        (
            &owner,
            pb::ListIssuesRequest { statuses, ..d() },
            vec![&login, &crash],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                priorities: vec![pb::Priority::Low as i32],
                ..d()
            },
            vec![&export],
        ),
        (
            &dev,
            pb::ListIssuesRequest {
                assignee: "me".into(),
                ..d()
            },
            vec![&login],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                assignee: dev.id.clone(),
                ..d()
            },
            vec![&login],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                assignee: "none".into(),
                ..d()
            },
            vec![&export, &crash],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                author_id: dev.id.clone(),
                sort: sort("created_at"),
                ..d()
            },
            vec![&export, &crash],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                label: "bug".into(),
                sort: sort("created_at"),
                ..d()
            },
            vec![&login, &crash],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                query: "crash saving".into(),
                ..d()
            },
            vec![&crash],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                query: "about".into(),
                sort: sort("-created_at"),
                ..d()
            },
            vec![&crash, &export, &login],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                sort: sort("-priority"),
                ..d()
            },
            vec![&login, &crash, &export],
        ),
        (
            &owner,
            pb::ListIssuesRequest {
                sort: sort("priority"),
                ..d()
            },
            vec![&export, &crash, &login],
        ),
    ];
    for (user, request, want) in cases {
        let described = format!("{request:?}");
        let want: Vec<String> = want.into_iter().cloned().collect();
        assert_eq!(keys(request, user.clone()).await, want, "{described}");
    }

    // A token of one order is refused under another.
    let page = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                project_key: "FLT".into(),
                page_size: 1,
                ..d()
            },
        )
        .await
        .unwrap();
    let wrong_order = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                project_key: "FLT".into(),
                page_token: page.next_page_token,
                sort: "priority".into(),
                ..d()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&wrong_order), ["page_token"]);
}

#[tokio::test]
async fn across_projects_a_user_sees_only_issues_of_projects_they_belong_to() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let dev = app.user("dev").await;
    for key in ["ONE", "TWO", "THREE"] {
        app.create_project(&owner, key).await.unwrap();
        app.set_member(&owner, key, &dev, pb::Role::Reporter)
            .await
            .unwrap();
        let issue = app.create_issue(&owner, key, "work").await.unwrap();
        app.update_issue(
            &owner,
            pb::UpdateIssueRequest {
                assignee_id: Some(dev.id.clone()),
                ..update(&issue.key)
            },
        )
        .await
        .unwrap();
    }
    app.client()
        .remove_member(req(
            pb::RemoveMemberRequest {
                project_key: "THREE".into(),
                user_id: dev.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let mine = app
        .list(
            &dev,
            pb::ListIssuesRequest {
                assignee: "me".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut keys: Vec<_> = mine.issues.into_iter().map(|i| i.key).collect();
    keys.sort();
    assert_eq!(keys, ["ONE-1", "TWO-1"]);

    let admin = app.admin().await;
    let all = app
        .list(&admin, pb::ListIssuesRequest::default())
        .await
        .unwrap();
    assert_eq!(all.issues.len(), 3);
}

#[tokio::test]
async fn deleting_a_project_removes_its_issues_comments_and_history() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "GONE").await.unwrap();
    app.create_project(&owner, "KEPT").await.unwrap();
    for key in ["GONE", "KEPT"] {
        let issue = app.create_issue(&owner, key, "x").await.unwrap();
        app.comment(&owner, &issue.key, "c").await.unwrap();
    }
    app.client()
        .delete_project(req(pb::DeleteProjectRequest { key: "GONE".into() }, &owner))
        .await
        .unwrap();

    for (table, expected) in [
        ("projects", 1),
        ("members", 1),
        ("issues", 1),
        ("comments", 1),
        ("issue_events", 2),
    ] {
        let count: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(&app.db.pool)
            .await
            .unwrap();
        assert_eq!(count, expected, "{table}");
    }
    let status = app.get_issue(&owner, "GONE-1").await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    // The key is free again.
    app.create_project(&owner, "GONE").await.unwrap();
}

#[tokio::test]
async fn comments_list_oldest_first_in_pages_and_their_author_may_edit_them() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "COM").await.unwrap();
    let issue = app.create_issue(&owner, "COM", "x").await.unwrap();
    let mut written = Vec::new();
    for n in 0..5 {
        written.push(
            app.comment(&owner, &issue.key, &format!("comment {n}"))
                .await
                .unwrap()
                .id,
        );
    }
    let mut read = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = app
            .client()
            .list_comments(req(
                pb::ListCommentsRequest {
                    issue_key: issue.key.clone(),
                    page_size: 2,
                    page_token,
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner();
        read.extend(page.comments.into_iter().map(|c| c.id));
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    assert_eq!(read, written);

    let edited = app
        .client()
        .update_comment(req(
            pb::UpdateCommentRequest {
                id: written[0].clone(),
                body: "  edited  ".into(),
                update_mask: None,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(edited.body, "edited");
    let empty = app
        .client()
        .update_comment(req(
            pb::UpdateCommentRequest {
                id: written[0].clone(),
                body: " ".into(),
                update_mask: None,
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&empty), ["body"]);
    let too_long = app
        .comment(&owner, &issue.key, &"c".repeat(10_001))
        .await
        .unwrap_err();
    assert_eq!(fields(&too_long), ["body"]);

    let after = app.get_issue(&owner, &issue.key).await.unwrap();
    let at = |t: Option<prost_types::Timestamp>| t.map(|t| (t.seconds, t.nanos)).unwrap();
    assert!(
        at(after.updated_at) > at(issue.updated_at),
        "a comment counts as activity on the issue"
    );
}

#[tokio::test]
async fn the_export_stream_yields_every_issue_of_a_project_in_key_order() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let outsider = app.user("outsider").await;
    app.create_project(&owner, "EXP").await.unwrap();
    let project_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = 'EXP'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO issues (id, project_id, number, title, author_id)
         SELECT gen_random_uuid(), $1, n, 'issue ' || n, $2 FROM generate_series(1, 1234) n",
    )
    .bind(project_id)
    .bind(uuid::Uuid::parse_str(&owner.id).unwrap())
    .execute(&app.db.pool)
    .await
    .unwrap();

    let mut stream = app
        .client()
        .export_project_issues(req(
            pb::ExportProjectIssuesRequest {
                project_key: "EXP".into(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    let mut numbers = Vec::new();
    while let Some(issue) = stream.next().await {
        numbers.push(issue.unwrap().number);
    }
    assert_eq!(numbers, (1..=1234).collect::<Vec<_>>());

    let hidden = app
        .client()
        .export_project_issues(req(
            pb::ExportProjectIssuesRequest {
                project_key: "EXP".into(),
            },
            &outsider,
        ))
        .await
        .err()
        .unwrap();
    assert_eq!(hidden.code(), Code::NotFound);
}

#[tokio::test]
async fn rpcs_are_counted_by_service_method_and_status_code_on_the_metrics_endpoint() {
    let app = TestApp::spawn().await;
    swatter_testkit::metrics::assert_operator_ready(
        &swatter_testkit::metrics::text(app.metrics_addr).await,
        "issues",
        &[
            "swatter_grpc_requests_total",
            "swatter_grpc_request_duration_seconds",
        ],
    );
    let owner = app.user("owner").await;
    app.create_project(&owner, "MTR").await.unwrap();
    app.create_issue(&owner, "MTR", "counted").await.unwrap();
    let missing = app.get_issue(&owner, "MTR-999").await.unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    let anonymous = app
        .issues
        .clone()
        .list_projects(pb::ListProjectsRequest::default())
        .await
        .unwrap_err();
    assert_eq!(anonymous.code(), Code::Unauthenticated);

    let text = swatter_testkit::metrics::text(app.metrics_addr).await;
    let count = |method: &str, code: &str| {
        swatter_testkit::metrics::value(
            &text,
            "swatter_grpc_requests_total",
            &[
                ("service", "swatter.issues.v1.IssuesService"),
                ("method", method),
                ("code", code),
            ],
        )
        .unwrap_or(0.0)
    };
    assert!(count("CreateProject", "OK") >= 1.0, "{text}");
    assert!(count("CreateIssue", "OK") >= 1.0, "{text}");
    assert!(count("GetIssue", "NOT_FOUND") >= 1.0, "{text}");
    assert!(count("ListProjects", "UNAUTHENTICATED") >= 1.0, "{text}");
    let timed = swatter_testkit::metrics::value(
        &text,
        "swatter_grpc_request_duration_seconds_count",
        &[
            ("service", "swatter.issues.v1.IssuesService"),
            ("method", "CreateIssue"),
        ],
    );
    assert!(timed.unwrap_or(0.0) >= 1.0, "{text}");
    assert!(
        text.contains("# TYPE swatter_grpc_request_duration_seconds histogram"),
        "{text}"
    );
    swatter_testkit::metrics::assert_operator_ready(&text, "issues", &[]);
}

#[tokio::test]
async fn nul_and_control_characters_in_filters_and_forged_page_tokens_name_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "CTRL").await.unwrap();
    app.create_project(&owner, "CTRM").await.unwrap();
    for title in ["one", "two"] {
        app.create_issue(&owner, "CTRL", title).await.unwrap();
        app.comment(&owner, "CTRL-1", title).await.unwrap();
    }
    let ancient = |cursor: serde_json::Value| hand_made_page_token(&cursor);
    let ancient_pair = || {
        ancient(serde_json::json!([
            YEAR_MINUS_100000_MICROS,
            "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b"
        ]))
    };

    // Filters of an issue list.
    for (field, request) in [
        (
            "q",
            pb::ListIssuesRequest {
                query: "a\u{0}b".into(),
                ..Default::default()
            },
        ),
        (
            "label",
            pb::ListIssuesRequest {
                label: "\u{0}".into(),
                ..Default::default()
            },
        ),
        (
            "label",
            pb::ListIssuesRequest {
                label: "two\nlines".into(),
                ..Default::default()
            },
        ),
        (
            "assignee",
            pb::ListIssuesRequest {
                assignee: "\u{0}".into(),
                ..Default::default()
            },
        ),
        (
            "page_token",
            pb::ListIssuesRequest {
                page_token: ancient(serde_json::json!({
                    "value": YEAR_MINUS_100000_MICROS,
                    "id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b",
                    "sort": "-updated_at",
                })),
                ..Default::default()
            },
        ),
    ] {
        let status = app.list(&owner, request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(fields(&status), [field]);
    }

    // Every paged list: an altered token of its own and a hand-made cursor.
    let mut client = app.client();
    let first_issues = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                page_size: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let status = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                page_token: altered_page_token(&first_issues.next_page_token),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&status), ["page_token"]);

    // Each list's own token, altered, and a cursor made by hand are refused.
    macro_rules! refuses_forged_tokens {
        ($rpc:ident, $request:expr, $hand_made:expr) => {{
            let request = $request;
            let real = client
                .$rpc(req(request(String::new()), &owner))
                .await
                .unwrap()
                .into_inner()
                .next_page_token;
            for token in [altered_page_token(&real), $hand_made] {
                let status = client.$rpc(req(request(token), &owner)).await.unwrap_err();
                assert_eq!(fields(&status), ["page_token"], stringify!($rpc));
            }
        }};
    }
    refuses_forged_tokens!(
        list_comments,
        |page_token| pb::ListCommentsRequest {
            issue_key: "CTRL-1".into(),
            page_size: 1,
            page_token,
        },
        ancient_pair()
    );
    refuses_forged_tokens!(
        list_issue_events,
        |page_token| pb::ListIssueEventsRequest {
            issue_key: "CTRL-1".into(),
            page_size: 1,
            page_token,
        },
        ancient_pair()
    );
    refuses_forged_tokens!(
        list_projects,
        |page_token| pb::ListProjectsRequest {
            page_size: 1,
            page_token,
        },
        ancient(serde_json::json!("A\u{0}"))
    );
}

#[tokio::test]
async fn a_comment_on_an_issue_deleted_meanwhile_is_not_found_rather_than_an_internal_error() {
    // The race (the issue deleted between the visibility check and the insert) in its outcome:
    // the insert meets the foreign key of a vanished issue.
    let app = TestApp::spawn().await;
    let vanished = uuid::Uuid::now_v7();
    let error = swatter_issues::store::insert_comment(
        &app.db.pool,
        uuid::Uuid::now_v7(),
        vanished,
        uuid::Uuid::now_v7(),
        "too late",
    )
    .await
    .unwrap_err();
    let status = tonic::Status::from(swatter_issues::error::IssuesError::from(error));
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(status.message(), "issue not found");
}

#[tokio::test]
async fn a_stored_status_role_or_priority_the_service_does_not_know_is_an_internal_error() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "ODD").await.unwrap();
    let issue = app.create_issue(&owner, "ODD", "strange").await.unwrap();
    let sql = |statement: &'static str| sqlx::query(statement).execute(&app.db.pool);
    let list = pb::ListIssuesRequest {
        project_key: "ODD".into(),
        ..Default::default()
    };
    let internal = |result: Result<(), tonic::Status>| {
        let status = result.unwrap_err();
        assert_eq!(status.code(), Code::Internal, "{status:?}");
    };

    sql("ALTER TABLE issues DROP CONSTRAINT issues_status_check")
        .await
        .unwrap();
    sql("UPDATE issues SET status = 'wontfix'").await.unwrap();
    internal(app.get_issue(&owner, &issue.key).await.map(drop));

    sql("UPDATE issues SET status = 'open'").await.unwrap();
    app.get_issue(&owner, &issue.key).await.unwrap();
    sql("ALTER TABLE issues DROP CONSTRAINT issues_priority_check")
        .await
        .unwrap();
    sql("UPDATE issues SET priority = 9").await.unwrap();
    internal(app.get_issue(&owner, &issue.key).await.map(drop));
    // Lists read one index range per known status (the check constraint holds them), so they
    // meet a stored value they do not know in the other columns.
    internal(app.list(&owner, list).await.map(drop));

    // An unknown role is not taken for "not a member" (which would answer 404).
    sql("ALTER TABLE members DROP CONSTRAINT members_role_check")
        .await
        .unwrap();
    sql("UPDATE members SET role = 'overlord'").await.unwrap();
    internal(
        app.client()
            .get_project(req(pb::GetProjectRequest { key: "ODD".into() }, &owner))
            .await
            .map(drop),
    );
}
