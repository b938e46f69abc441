//! Relations: both ends of each kind, cycles refused (also under concurrency), sub-issue bounds,
//! what is hidden from whom, derived fields on issues, history, feed, closing as a duplicate.

use std::collections::HashSet;

use crate::support::{TestApp, User, req};
use swatter_common::status::{relation_cycle_keys, violations};
use swatter_proto::issues::v1::{self as pb, RelationKind as K};
use tonic::{Code, Status};

fn fields(status: &Status) -> Vec<String> {
    violations(status).into_iter().map(|v| v.field).collect()
}

async fn relate(
    app: &TestApp,
    user: &User,
    issue: &str,
    kind: K,
    target: &str,
) -> Result<pb::Relation, Status> {
    app.client()
        .add_relation(req(
            pb::AddRelationRequest {
                issue_key: issue.into(),
                kind: kind as i32,
                target_key: target.into(),
            },
            user,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn unrelate(
    app: &TestApp,
    user: &User,
    issue: &str,
    kind: K,
    target: &str,
) -> Result<(), Status> {
    app.client()
        .remove_relation(req(
            pb::RemoveRelationRequest {
                issue_key: issue.into(),
                kind: kind as i32,
                target_key: target.into(),
            },
            user,
        ))
        .await
        .map(|_| ())
}

/// The relations of `issue` as `(kind, key or "hidden")`.
async fn relations(app: &TestApp, user: &User, issue: &str) -> Vec<(K, String)> {
    app.client()
        .list_relations(req(
            pb::ListRelationsRequest {
                issue_key: issue.into(),
            },
            user,
        ))
        .await
        .unwrap()
        .into_inner()
        .relations
        .into_iter()
        .map(|r| {
            assert_eq!(r.hidden, r.issue_key.is_empty());
            let key = if r.hidden {
                assert!(r.title.is_empty() && r.created_at.is_none(), "{r:?}");
                "hidden".to_owned()
            } else {
                r.issue_key
            };
            (K::try_from(r.kind).unwrap(), key)
        })
        .collect()
}

/// A project `key` of `owner` with `n` issues, `KEY-1` to `KEY-n`.
async fn project_with_issues(app: &TestApp, owner: &User, key: &str, n: usize) -> Vec<String> {
    app.create_project(owner, key).await.unwrap();
    let mut keys = Vec::new();
    for i in 0..n {
        keys.push(
            app.create_issue(owner, key, &format!("issue {i}"))
                .await
                .unwrap()
                .key,
        );
    }
    keys
}

async fn set_status(app: &TestApp, user: &User, key: &str, status: pb::IssueStatus) {
    app.update_issue(
        user,
        pb::UpdateIssueRequest {
            issue_key: key.into(),
            status: status as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn each_kind_is_listed_from_both_ends_and_removable_from_either() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "REL", 6).await;

    let made = relate(&app, &owner, &k[0], K::Blocks, &k[1]).await.unwrap();
    assert_eq!(
        (made.kind, made.issue_key.as_str(), made.hidden),
        (K::Blocks as i32, k[1].as_str(), false)
    );
    assert_eq!(made.title, "issue 1");
    assert!(made.created_at.is_some());
    relate(&app, &owner, &k[0], K::Duplicates, &k[2])
        .await
        .unwrap();
    relate(&app, &owner, &k[3], K::RelatesTo, &k[0])
        .await
        .unwrap();
    relate(&app, &owner, &k[0], K::ParentOf, &k[4])
        .await
        .unwrap();
    relate(&app, &owner, &k[0], K::ChildOf, &k[5])
        .await
        .unwrap();

    let mut from_first = relations(&app, &owner, &k[0]).await;
    from_first.sort();
    let mut expected = vec![
        (K::Blocks, k[1].clone()),
        (K::Duplicates, k[2].clone()),
        (K::RelatesTo, k[3].clone()),
        (K::ParentOf, k[4].clone()),
        (K::ChildOf, k[5].clone()),
    ];
    expected.sort();
    assert_eq!(from_first, expected);
    assert_eq!(
        relations(&app, &owner, &k[1]).await,
        [(K::BlockedBy, k[0].clone())]
    );
    assert_eq!(
        relations(&app, &owner, &k[2]).await,
        [(K::DuplicatedBy, k[0].clone())]
    );
    assert_eq!(
        relations(&app, &owner, &k[3]).await,
        [(K::RelatesTo, k[0].clone())]
    );
    assert_eq!(
        relations(&app, &owner, &k[4]).await,
        [(K::ChildOf, k[0].clone())]
    );
    assert_eq!(
        relations(&app, &owner, &k[5]).await,
        [(K::ParentOf, k[0].clone())]
    );

    // Removed from the other end, as it is seen there.
    unrelate(&app, &owner, &k[1], K::BlockedBy, &k[0])
        .await
        .unwrap();
    unrelate(&app, &owner, &k[4], K::ChildOf, &k[0])
        .await
        .unwrap();
    unrelate(&app, &owner, &k[0], K::RelatesTo, &k[3])
        .await
        .unwrap();
    assert!(relations(&app, &owner, &k[1]).await.is_empty());
    assert!(relations(&app, &owner, &k[4]).await.is_empty());
    assert!(relations(&app, &owner, &k[3]).await.is_empty());
    assert_eq!(relations(&app, &owner, &k[0]).await.len(), 2);

    let gone = unrelate(&app, &owner, &k[0], K::Blocks, &k[1])
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);
}

#[tokio::test]
async fn bad_relations_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "BAD", 2).await;

    for (kind, target, field) in [
        (K::Blocks, "BAD-1", "target_key"),
        (K::Blocks, "BAD-99", "target_key"),
        (K::Blocks, "NOPE-1", "target_key"),
        (K::Blocks, "bad-1", "target_key"),
        (K::Blocks, "BAD-1\u{0}", "target_key"),
        (K::Unspecified, "BAD-2", "kind"),
    ] {
        let error = relate(&app, &owner, &k[0], kind, target).await.unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{target}");
        assert_eq!(fields(&error), [field], "{target}");
    }
    let error = app
        .client()
        .add_relation(req(
            pb::AddRelationRequest {
                issue_key: k[0].clone(),
                kind: 99,
                target_key: k[1].clone(),
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&error), ["kind"]);

    relate(&app, &owner, &k[0], K::RelatesTo, &k[1])
        .await
        .unwrap();
    for (issue, kind, target) in [
        (&k[0], K::RelatesTo, &k[1]),
        // relates to has no direction: the same relation from the other end.
        (&k[1], K::RelatesTo, &k[0]),
    ] {
        let again = relate(&app, &owner, issue, kind, target).await.unwrap_err();
        assert_eq!(again.code(), Code::AlreadyExists);
        assert_eq!(fields(&again), ["target_key"]);
    }
    let missing = relate(&app, &owner, "BAD-77", K::Blocks, &k[0])
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
}

#[tokio::test]
async fn a_blocks_cycle_is_refused_and_named() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "CYC", 3).await;
    relate(&app, &owner, &k[0], K::Blocks, &k[1]).await.unwrap();
    relate(&app, &owner, &k[1], K::Blocks, &k[2]).await.unwrap();

    let refused = relate(&app, &owner, &k[2], K::Blocks, &k[0])
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert_eq!(
        relation_cycle_keys(&refused).unwrap(),
        ["CYC-3", "CYC-1", "CYC-2", "CYC-3"]
    );
    assert!(refused.message().contains("CYC-3 → CYC-1 → CYC-2 → CYC-3"));
    // The same, said from the other end.
    let refused = relate(&app, &owner, &k[0], K::BlockedBy, &k[2])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&refused).unwrap(),
        ["CYC-3", "CYC-1", "CYC-2", "CYC-3"]
    );
    let two = relate(&app, &owner, &k[1], K::Blocks, &k[0])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&two).unwrap(),
        ["CYC-2", "CYC-1", "CYC-2"]
    );
    // Other kinds do not make cycles of blocks.
    relate(&app, &owner, &k[2], K::RelatesTo, &k[0])
        .await
        .unwrap();
}

#[tokio::test]
async fn a_parent_cycle_a_second_parent_and_too_deep_a_tree_are_refused() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "TREE", 11).await;
    // A chain: TREE-1 is the parent of TREE-2, … of TREE-9 (8 levels below TREE-1).
    for i in 0..8 {
        relate(&app, &owner, &k[i], K::ParentOf, &k[i + 1])
            .await
            .unwrap();
    }
    let deep = relate(&app, &owner, &k[8], K::ParentOf, &k[9])
        .await
        .unwrap_err();
    assert_eq!(deep.code(), Code::FailedPrecondition);
    assert!(deep.message().contains("8 levels"), "{}", deep.message());
    assert!(relation_cycle_keys(&deep).is_none());

    let cycle = relate(&app, &owner, &k[3], K::ParentOf, &k[0])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&cycle).unwrap(),
        ["TREE-4", "TREE-1", "TREE-2", "TREE-3", "TREE-4"]
    );
    // The top made a sub-issue of its own descendant, said from the top.
    let own_child = relate(&app, &owner, &k[0], K::ChildOf, &k[2])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&own_child).unwrap(),
        ["TREE-3", "TREE-1", "TREE-2", "TREE-3"]
    );

    let second = relate(&app, &owner, &k[10], K::ParentOf, &k[1])
        .await
        .unwrap_err();
    assert_eq!(second.code(), Code::FailedPrecondition);
    assert!(second.message().contains("already has a parent"));
    let same = relate(&app, &owner, &k[0], K::ParentOf, &k[1])
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::AlreadyExists);

    // A subtree moved under another issue counts with its own height.
    relate(&app, &owner, &k[9], K::ParentOf, &k[10])
        .await
        .unwrap();
    let moved = relate(&app, &owner, &k[7], K::ParentOf, &k[9])
        .await
        .unwrap_err();
    assert!(moved.message().contains("8 levels"), "{}", moved.message());
    relate(&app, &owner, &k[6], K::ParentOf, &k[9])
        .await
        .unwrap();
}

#[tokio::test]
async fn an_issue_has_at_most_a_hundred_sub_issues() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "WIDE", 102).await;
    for child in &k[1..101] {
        relate(&app, &owner, &k[0], K::ParentOf, child)
            .await
            .unwrap();
    }
    let full = relate(&app, &owner, &k[0], K::ParentOf, &k[101])
        .await
        .unwrap_err();
    assert_eq!(full.code(), Code::FailedPrecondition);
    assert!(
        full.message().contains("100 sub-issues"),
        "{}",
        full.message()
    );
    let parent = app.get_issue(&owner, &k[0]).await.unwrap();
    assert_eq!((parent.sub_issues_total, parent.sub_issues_done), (100, 0));
}

#[tokio::test]
async fn issues_show_their_parent_sub_issue_progress_and_whether_they_are_blocked() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "PROG", 5).await;
    for child in &k[1..4] {
        relate(&app, &owner, &k[0], K::ParentOf, child)
            .await
            .unwrap();
    }
    relate(&app, &owner, &k[4], K::Blocks, &k[0]).await.unwrap();
    set_status(&app, &owner, &k[1], pb::IssueStatus::Resolved).await;
    set_status(&app, &owner, &k[2], pb::IssueStatus::Closed).await;

    let parent = app.get_issue(&owner, &k[0]).await.unwrap();
    assert_eq!((parent.sub_issues_total, parent.sub_issues_done), (3, 2));
    assert!(parent.blocked);
    assert_eq!(parent.parent_key, "");
    let child = app.get_issue(&owner, &k[3]).await.unwrap();
    assert_eq!(
        (child.parent_key.as_str(), child.parent_hidden),
        ("PROG-1", false)
    );

    // The list shows the same, for every issue of the page.
    let page = app
        .list(
            &owner,
            pb::ListIssuesRequest {
                project_key: "PROG".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let listed = page.issues.iter().find(|i| i.key == k[0]).unwrap();
    assert_eq!((listed.sub_issues_total, listed.sub_issues_done), (3, 2));
    assert!(listed.blocked);
    let children = page
        .issues
        .iter()
        .filter(|i| i.parent_key == "PROG-1")
        .count();
    assert_eq!(children, 3);

    // Resolving the blocker unblocks it; an update answers with the derived fields too.
    set_status(&app, &owner, &k[4], pb::IssueStatus::Resolved).await;
    let updated = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: k[0].clone(),
                title: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!updated.blocked);
    assert_eq!(updated.sub_issues_total, 3);
}

#[tokio::test]
async fn an_issue_the_caller_may_not_see_is_hidden_and_cannot_be_named() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let other = app.user("other").await;
    let mine = project_with_issues(&app, &owner, "MINE", 2).await;
    let theirs = project_with_issues(&app, &other, "SECRET", 2).await;
    let admin = app.admin().await;

    // The owner of MINE cannot name SECRET's issues: they are not theirs to see.
    let unknown = relate(&app, &owner, &mine[0], K::Blocks, &theirs[0])
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert_eq!(fields(&unknown), ["target_key"]);

    // An admin relates them; the owner of MINE sees hidden ends only.
    relate(&app, &admin, &theirs[0], K::Blocks, &mine[0])
        .await
        .unwrap();
    relate(&app, &admin, &theirs[1], K::ParentOf, &mine[0])
        .await
        .unwrap();
    let seen = relations(&app, &owner, &mine[0]).await;
    assert_eq!(
        seen.iter().map(|(_, key)| key.as_str()).collect::<Vec<_>>(),
        ["hidden", "hidden"]
    );
    let issue = app.get_issue(&owner, &mine[0]).await.unwrap();
    assert_eq!((issue.parent_key.as_str(), issue.parent_hidden), ("", true));
    assert!(
        issue.blocked,
        "the state is the issue's own, whoever blocks it"
    );
    // Their own view shows the keys.
    let theirs_seen = relations(&app, &other, &theirs[0]).await;
    assert_eq!(theirs_seen, [(K::Blocks, "hidden".to_owned())]);
    let admin_seen = relations(&app, &admin, &mine[0]).await;
    assert!(admin_seen.contains(&(K::BlockedBy, "SECRET-1".to_owned())));
    assert!(admin_seen.contains(&(K::ChildOf, "SECRET-2".to_owned())));

    // A cycle through issues the caller may not see names them as hidden.
    app.set_member(&owner, "MINE", &other, pb::Role::Maintainer)
        .await
        .unwrap();
    let cycle = relate(&app, &other, &mine[0], K::Blocks, &theirs[0])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&cycle).unwrap(),
        ["MINE-1", "SECRET-1", "MINE-1"]
    );
    // History names it only to those who may see it.
    let history = app
        .client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: mine[0].clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let values: Vec<_> = history
        .iter()
        .filter(|e| e.kind == "relation")
        .map(|e| e.new_value.clone().unwrap_or_default())
        .collect();
    assert_eq!(values, ["(hidden)", "(hidden)"]);

    let outsider = app.user("outsider").await;
    app.set_member(&owner, "MINE", &outsider, pb::Role::Owner)
        .await
        .unwrap();
    relate(&app, &outsider, &mine[1], K::Blocks, &mine[0])
        .await
        .unwrap();
    let cycle = relate(&app, &outsider, &mine[0], K::Blocks, &mine[1])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&cycle).unwrap(),
        ["MINE-1", "MINE-2", "MINE-1"]
    );
    let hidden_cycle = relate(&app, &admin, &mine[0], K::Blocks, &theirs[0])
        .await
        .unwrap_err();
    assert_eq!(
        relation_cycle_keys(&hidden_cycle).unwrap(),
        ["MINE-1", "SECRET-1", "MINE-1"],
        "an admin sees everything"
    );
}

#[tokio::test]
async fn only_triagers_change_relations_and_viewers_read_them() {
    let app = TestApp::spawn().await;
    let cast = app.cast("PERM").await;
    let a = app
        .create_issue(&cast.owner, "PERM", "a")
        .await
        .unwrap()
        .key;
    let b = app
        .create_issue(&cast.owner, "PERM", "b")
        .await
        .unwrap()
        .key;

    for user in [&cast.viewer, &cast.reporter] {
        let refused = relate(&app, user, &a, K::Blocks, &b).await.unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    let hidden = relate(&app, &cast.outsider, &a, K::Blocks, &b)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    relate(&app, &cast.maintainer, &a, K::Blocks, &b)
        .await
        .unwrap();
    assert_eq!(
        relations(&app, &cast.viewer, &a).await,
        [(K::Blocks, b.clone())]
    );
    let refused = unrelate(&app, &cast.reporter, &a, K::Blocks, &b)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    unrelate(&app, &cast.admin, &a, K::Blocks, &b)
        .await
        .unwrap();
}

#[tokio::test]
async fn relations_leave_history_on_both_issues_and_events_in_the_feed() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "HIST", 2).await;
    relate(&app, &owner, &k[0], K::Blocks, &k[1]).await.unwrap();
    unrelate(&app, &owner, &k[0], K::Blocks, &k[1])
        .await
        .unwrap();

    for (issue, field, other) in [(&k[0], "blocks", &k[1]), (&k[1], "blocked_by", &k[0])] {
        let events = app
            .client()
            .list_issue_events(req(
                pb::ListIssueEventsRequest {
                    issue_key: issue.clone(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .events;
        let relation: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "relation")
            .map(|e| (e.field.as_str(), e.old_value.clone(), e.new_value.clone()))
            .collect();
        assert_eq!(
            relation,
            [
                (field, None, Some(other.clone())),
                (field, Some(other.clone()), None)
            ]
        );
    }

    let changes = app
        .client()
        .list_changes(req(
            pb::ListChangesRequest {
                project_key: "HIST".into(),
                after: 0,
                page_size: 100,
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .changes;
    let relation: Vec<(String, serde_json::Value)> = changes
        .into_iter()
        .filter(|c| c.r#type.starts_with("relation."))
        .map(|c| (c.r#type, serde_json::from_str(&c.data_json).unwrap()))
        .collect();
    let expected =
        serde_json::json!({"issue_key": "HIST-1", "kind": "blocks", "target_key": "HIST-2"});
    assert_eq!(
        relation,
        [
            ("relation.added".to_owned(), expected.clone()),
            ("relation.removed".to_owned(), expected)
        ]
    );
}

#[tokio::test]
async fn closing_as_a_duplicate_records_the_target() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "DUP", 3).await;

    let refused = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: k[0].clone(),
                duplicate_of: Some(k[1].clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert_eq!(fields(&refused), ["duplicate_of"]);
    for bad in ["DUP-1", "DUP-99", "nope"] {
        let refused = app
            .update_issue(
                &owner,
                pb::UpdateIssueRequest {
                    issue_key: k[0].clone(),
                    duplicate_of: Some(bad.into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(fields(&refused), ["duplicate_of"], "{bad}");
    }

    // Closed as a duplicate (the resolution is set as the plan's update sets it).
    sqlx::query("UPDATE issues SET status = 'closed', resolution = 'duplicate', closed_at = now() WHERE number = 1")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let closed = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: k[0].clone(),
                duplicate_of: Some(k[1].clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(closed.duplicate_of, "DUP-2");
    assert_eq!(
        relations(&app, &owner, &k[1]).await,
        [(K::DuplicatedBy, k[0].clone())]
    );
    // Saying it again changes nothing.
    let again = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: k[0].clone(),
                duplicate_of: Some(k[1].clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.version, closed.version);
}

/// Two additions that would close a cycle together, at the same time: exactly one is made.
#[tokio::test]
async fn concurrent_opposite_blocks_never_both_succeed() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "RACE", 20).await;
    for pair in k.chunks(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (one, two) = tokio::join!(
            relate(&app, &owner, a, K::Blocks, b),
            relate(&app, &owner, b, K::Blocks, a),
        );
        assert_eq!(
            [one.is_ok(), two.is_ok()].iter().filter(|ok| **ok).count(),
            1,
            "{a} and {b}: {one:?} {two:?}"
        );
        let loser = one.err().or(two.err()).unwrap();
        assert!(relation_cycle_keys(&loser).is_some(), "{loser:?}");
    }
}

/// A ring of N issues whose N edges are added at once never closes: one addition is refused.
#[tokio::test]
async fn a_ring_added_concurrently_never_closes() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    for (round, kind) in [(0, K::Blocks), (1, K::ParentOf), (2, K::Blocks)] {
        let key = format!("RING{round}");
        let k = project_with_issues(&app, &owner, &key, 8).await;
        let additions = (0..k.len()).map(|i| {
            let (app, owner, k) = (&app, &owner, &k);
            async move { relate(app, owner, &k[i], kind, &k[(i + 1) % k.len()]).await }
        });
        let results = futures::future::join_all(additions).await;
        let made = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(made, k.len() - 1, "{key}: {results:?}");
        for refused in results.iter().filter_map(|r| r.as_ref().err()) {
            let cycle = relation_cycle_keys(refused).expect("refused as a cycle");
            assert_eq!(cycle.len(), k.len() + 1);
            assert_eq!(cycle.first(), cycle.last());
            let distinct: HashSet<_> = cycle.iter().collect();
            assert_eq!(distinct.len(), k.len());
        }
    }
}

/// Many issues claim the same sub-issue at once: it gets exactly one parent.
#[tokio::test]
async fn concurrent_parents_for_one_issue_leave_it_exactly_one() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "ONE", 9).await;
    let claims = k[1..].iter().map(|parent| {
        let (app, owner, child) = (&app, &owner, &k[0]);
        async move { relate(app, owner, parent, K::ParentOf, child).await }
    });
    let results = futures::future::join_all(claims).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    }
    let child = app.get_issue(&owner, &k[0]).await.unwrap();
    assert!(!child.parent_key.is_empty());
    assert_eq!(relations(&app, &owner, &k[0]).await.len(), 1);
}

/// A relation made while one of its issues is deleted: a clean refusal or a relation that goes
/// with the issue, never a server error.
#[tokio::test]
async fn relating_an_issue_while_it_is_deleted_is_never_a_server_error() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "GONE", 16).await;
    for pair in k.chunks(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let mut client = app.client();
        let delete = client.delete_issue(req(
            pb::DeleteIssueRequest {
                issue_key: b.clone(),
            },
            &owner,
        ));
        let kind = if a.ends_with('1') || a.ends_with('5') {
            K::ParentOf
        } else {
            K::Blocks
        };
        let (made, deleted) = tokio::join!(relate(&app, &owner, a, kind, b), delete);
        deleted.unwrap();
        if let Err(refused) = made {
            assert!(
                matches!(refused.code(), Code::InvalidArgument | Code::NotFound),
                "{refused:?}"
            );
        }
        assert!(relations(&app, &owner, a).await.is_empty(), "{a}");
    }
}

/// Hanging up to 100 sub-issues at once never exceeds the bound.
#[tokio::test]
async fn concurrent_sub_issues_stop_at_the_bound() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "BOUND", 106).await;
    for child in &k[1..96] {
        relate(&app, &owner, &k[0], K::ParentOf, child)
            .await
            .unwrap();
    }
    let additions = k[96..].iter().map(|child| {
        let (app, owner, parent) = (&app, &owner, &k[0]);
        async move { relate(app, owner, parent, K::ParentOf, child).await }
    });
    let results = futures::future::join_all(additions).await;
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        5,
        "{results:?}"
    );
    let parent = app.get_issue(&owner, &k[0]).await.unwrap();
    assert_eq!(parent.sub_issues_total, 100);
}

/// Relating a sub-issue to its parent while the parent is deleted (whose delete clears the
/// sub-issue's `parent_id`): no deadlock, no server error.
#[tokio::test]
async fn relating_a_sub_issue_while_its_parent_is_deleted_is_never_a_server_error() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "ORPH", 16).await;
    for pair in k.chunks(2) {
        let (child, parent) = (&pair[0], &pair[1]);
        relate(&app, &owner, child, K::ChildOf, parent)
            .await
            .unwrap();
        let mut client = app.client();
        let delete = client.delete_issue(req(
            pb::DeleteIssueRequest {
                issue_key: parent.clone(),
            },
            &owner,
        ));
        let (made, deleted) =
            tokio::join!(relate(&app, &owner, child, K::RelatesTo, parent), delete);
        deleted.unwrap();
        if let Err(refused) = made {
            assert!(
                matches!(refused.code(), Code::InvalidArgument | Code::NotFound),
                "{refused:?}"
            );
        }
        let orphan = app.get_issue(&owner, child).await.unwrap();
        assert_eq!(orphan.parent_key, "");
        assert!(relations(&app, &owner, child).await.is_empty(), "{child}");
    }
}

/// A long chain of blockers is walked in one statement: closing it is refused at once, naming
/// every issue around the cycle.
#[tokio::test]
async fn a_long_chain_of_blockers_is_checked_in_one_go() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let k = project_with_issues(&app, &owner, "LONG", 200).await;
    sqlx::query(
        "INSERT INTO issue_relations (source_id, target_id, kind, created_by)
         SELECT a.id, b.id, 'blocks', a.author_id FROM issues a JOIN issues b
         ON b.project_id = a.project_id AND b.number = a.number + 1",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();

    let started = std::time::Instant::now();
    let refused = relate(&app, &owner, &k[199], K::Blocks, &k[0])
        .await
        .unwrap_err();
    let took = started.elapsed();

    let cycle = relation_cycle_keys(&refused).unwrap();
    assert_eq!(cycle.len(), 201);
    assert_eq!(
        (cycle[0].as_str(), cycle[1].as_str()),
        ("LONG-200", "LONG-1")
    );
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
    // Not closing it is fine: a shortcut along the chain.
    relate(&app, &owner, &k[0], K::Blocks, &k[199])
        .await
        .unwrap();
}
