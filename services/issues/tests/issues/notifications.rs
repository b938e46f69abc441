//! Watchers, mentions and the notification inbox (docs/api.md, "Watching and notifications"),
//! through the real RPCs.

use std::collections::HashMap;

use crate::support::{Cast, TestApp, User, req};
use swatter_common::status::violations;
use swatter_proto::issues::v1::{self as pb, NotificationReason as Reason};
use tonic::Code;

impl TestApp {
    async fn watch(&self, user: &User, issue_key: &str) -> Result<pb::WatchState, tonic::Status> {
        let request = pb::WatchIssueRequest {
            issue_key: issue_key.into(),
        };
        self.client()
            .watch_issue(req(request, user))
            .await
            .map(|r| r.into_inner())
    }

    async fn unwatch(&self, user: &User, issue_key: &str) -> pb::WatchState {
        let request = pb::UnwatchIssueRequest {
            issue_key: issue_key.into(),
        };
        self.client()
            .unwatch_issue(req(request, user))
            .await
            .unwrap()
            .into_inner()
    }

    /// Every watcher of an issue and why.
    async fn watchers(&self, user: &User, issue_key: &str) -> HashMap<String, String> {
        let request = pb::ListWatchersRequest {
            issue_key: issue_key.into(),
            page_size: 100,
            page_token: String::new(),
        };
        let response = self
            .client()
            .list_watchers(req(request, user))
            .await
            .unwrap()
            .into_inner();
        response
            .watchers
            .into_iter()
            .map(|w| (w.user_id, w.reason))
            .collect()
    }

    async fn inbox_page(
        &self,
        user: &User,
        request: pb::ListNotificationsRequest,
    ) -> Result<pb::ListNotificationsResponse, tonic::Status> {
        self.client()
            .list_notifications(req(request, user))
            .await
            .map(|r| r.into_inner())
    }

    /// The first 100 notifications of `user`.
    async fn inbox(&self, user: &User) -> Vec<pb::Notification> {
        let request = pb::ListNotificationsRequest {
            page_size: 100,
            ..Default::default()
        };
        self.inbox_page(user, request).await.unwrap().notifications
    }

    async fn edit(
        &self,
        user: &User,
        issue_key: &str,
        set: impl FnOnce(&mut pb::UpdateIssueRequest),
    ) {
        let mut update = pb::UpdateIssueRequest {
            issue_key: issue_key.into(),
            ..Default::default()
        };
        set(&mut update);
        self.update_issue(user, update).await.unwrap();
    }

    async fn file(
        &self,
        user: &User,
        key: &str,
        description: &str,
        assignee: Option<&User>,
    ) -> pb::Issue {
        let request = pb::CreateIssueRequest {
            project_key: key.into(),
            title: "Crash on start".into(),
            description: Some(description.into()),
            assignee_id: assignee.map(|a| a.id.clone()),
            ..Default::default()
        };
        self.client()
            .create_issue(req(request, user))
            .await
            .unwrap()
            .into_inner()
    }
}

fn reasons(inbox: &[pb::Notification]) -> Vec<(String, Reason)> {
    inbox
        .iter()
        .map(|n| (n.issue_key.clone(), n.reason()))
        .collect()
}

#[tokio::test]
async fn authors_assignees_and_commenters_watch_automatically_and_anyone_who_sees_may_watch() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        viewer,
        reporter,
        maintainer,
        outsider,
        ..
    } = app.cast("SWAT").await;
    let issue = app.file(&owner, "SWAT", "", Some(&maintainer)).await;
    app.comment(&reporter, &issue.key, "Seen it too")
        .await
        .unwrap();
    app.comment(&owner, &issue.key, "Thanks").await.unwrap();

    let watchers = app.watchers(&viewer, &issue.key).await;
    let reason = |user: &User| watchers.get(&user.id).map(String::as_str);
    assert_eq!(reason(&owner), Some("author"));
    assert_eq!(reason(&maintainer), Some("assignee"));
    assert_eq!(reason(&reporter), Some("commenter"));
    assert_eq!(watchers.len(), 3);

    let state = app.watch(&viewer, &issue.key).await.unwrap();
    assert!(state.watching);
    assert_eq!(state.issue_key, issue.key);
    // Twice is fine.
    assert!(app.watch(&viewer, &issue.key).await.unwrap().watching);
    assert_eq!(
        app.watchers(&viewer, &issue.key).await[&viewer.id],
        "manual"
    );
    assert!(!app.unwatch(&viewer, &issue.key).await.watching);
    assert!(
        !app.watchers(&viewer, &issue.key)
            .await
            .contains_key(&viewer.id)
    );

    let hidden = app.watch(&outsider, &issue.key).await.unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let unknown = app.watch(&viewer, "SWAT-999").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn a_change_notifies_each_watcher_once_with_the_strongest_reason_but_never_its_actor() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        viewer,
        reporter,
        maintainer,
        ..
    } = app.cast("SWAT").await;
    let issue = app.file(&reporter, "SWAT", "", None).await;
    app.watch(&viewer, &issue.key).await.unwrap();

    // Title, status and assignee in one change.
    app.edit(&owner, &issue.key, |u| {
        u.title = Some("Crash on every start".into());
        u.status = pb::IssueStatus::InProgress as i32;
        u.assignee_id = Some(maintainer.id.clone());
    })
    .await;

    let for_reporter = app.inbox(&reporter).await;
    assert_eq!(
        reasons(&for_reporter),
        [(issue.key.clone(), Reason::StatusChanged)]
    );
    let n = &for_reporter[0];
    assert_eq!(n.project_key, "SWAT");
    assert_eq!(n.actor_id, owner.id);
    assert_eq!(n.change_type, "issue.updated");
    assert!(
        n.summary.contains("status: open → in_progress"),
        "{}",
        n.summary
    );
    assert!(
        n.summary.contains("assigned to swat-maintainer"),
        "{}",
        n.summary
    );
    assert!(!n.read);
    assert_eq!(
        reasons(&app.inbox(&viewer).await),
        [(issue.key.clone(), Reason::StatusChanged)]
    );
    assert_eq!(
        reasons(&app.inbox(&maintainer).await),
        [(issue.key.clone(), Reason::Assigned)]
    );
    assert!(
        app.inbox(&owner).await.is_empty(),
        "nobody hears of their own change"
    );

    // The assignee comments: everyone else watching hears of it, they do not.
    app.comment(&maintainer, &issue.key, "On it\nwith  spaces")
        .await
        .unwrap();
    let latest = &app.inbox(&reporter).await[0];
    assert_eq!(latest.reason(), Reason::Watching);
    assert_eq!(latest.change_type, "comment.created");
    assert_eq!(latest.summary, "commented: On it with spaces");
    assert_eq!(app.inbox(&maintainer).await.len(), 1);
}

#[tokio::test]
async fn a_new_issue_assigned_to_someone_tells_them_and_nobody_else() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        maintainer,
        viewer,
        ..
    } = app.cast("SWAT").await;
    let issue = app.file(&owner, "SWAT", "", Some(&maintainer)).await;
    let inbox = app.inbox(&maintainer).await;
    assert_eq!(reasons(&inbox), [(issue.key.clone(), Reason::Assigned)]);
    assert_eq!(inbox[0].change_type, "issue.created");
    assert_eq!(inbox[0].summary, "created: Crash on start");
    assert!(app.inbox(&viewer).await.is_empty());
    assert!(app.inbox(&owner).await.is_empty());
}

#[tokio::test]
async fn a_mentioned_member_is_notified_once_and_watches_and_others_are_ignored() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        viewer,
        reporter,
        maintainer,
        outsider,
        ..
    } = app.cast("SWAT").await;
    let text = "Ask @swat-viewer (and @SWAT-MAINTAINER, twice: @swat-maintainer), \
                not swat-owner@example.com, nor @swat-outsider, nor `@swat-owner`, nor @nobody.";
    let issue = app.file(&reporter, "SWAT", text, None).await;

    for member in [&viewer, &maintainer] {
        let inbox = app.inbox(member).await;
        assert_eq!(reasons(&inbox), [(issue.key.clone(), Reason::Mentioned)]);
        assert!(
            inbox[0]
                .summary
                .starts_with("mentioned you in the description: Ask @swat-viewer")
        );
        assert_eq!(inbox[0].change_type, "issue.created");
    }
    assert!(app.inbox(&owner).await.is_empty());
    assert!(app.inbox(&outsider).await.is_empty());
    let watchers = app.watchers(&owner, &issue.key).await;
    assert_eq!(watchers[&viewer.id], "mentioned");
    assert_eq!(watchers[&maintainer.id], "mentioned");
    assert!(!watchers.contains_key(&owner.id));
    assert!(!watchers.contains_key(&outsider.id));

    // A comment mentioning a watcher: one notification, "mentioned" beats "watching".
    app.comment(&owner, &issue.key, "@swat-reporter please confirm")
        .await
        .unwrap();
    let inbox = app.inbox(&reporter).await;
    assert_eq!(reasons(&inbox), [(issue.key.clone(), Reason::Mentioned)]);
    assert_eq!(inbox[0].change_type, "comment.created");
    // Mentioning oneself does nothing.
    app.comment(&owner, &issue.key, "note to @swat-owner")
        .await
        .unwrap();
    assert!(app.inbox(&owner).await.is_empty());
}

#[tokio::test]
async fn editing_a_text_notifies_only_the_mentions_it_adds() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        viewer,
        maintainer,
        ..
    } = app.cast("SWAT").await;
    let issue = app.file(&owner, "SWAT", "cc @swat-viewer", None).await;
    assert_eq!(app.inbox(&viewer).await.len(), 1);
    app.unwatch(&viewer, &issue.key).await;

    app.edit(&owner, &issue.key, |u| {
        u.description = Some("cc @swat-viewer and @swat-maintainer".into())
    })
    .await;
    assert_eq!(app.inbox(&viewer).await.len(), 1, "already mentioned");
    let inbox = app.inbox(&maintainer).await;
    assert_eq!(reasons(&inbox), [(issue.key.clone(), Reason::Mentioned)]);
    assert_eq!(inbox[0].change_type, "issue.updated");

    let comment = app.comment(&owner, &issue.key, "thanks").await.unwrap();
    let before = app.inbox(&viewer).await.len();
    let edit = pb::UpdateCommentRequest {
        id: comment.id.clone(),
        body: "thanks @swat-viewer".into(),
        update_mask: None,
    };
    app.client()
        .update_comment(req(edit, &owner))
        .await
        .unwrap();
    let inbox = app.inbox(&viewer).await;
    assert_eq!(inbox.len(), before + 1);
    assert_eq!(inbox[0].reason(), Reason::Mentioned);
    assert_eq!(inbox[0].change_type, "comment.updated");
    assert_eq!(
        inbox[0].summary,
        "mentioned you in a comment: thanks @swat-viewer"
    );
    // The mention made them watch again.
    assert!(
        app.watchers(&owner, &issue.key)
            .await
            .contains_key(&viewer.id)
    );
}

#[tokio::test]
async fn an_unwatched_issue_is_quiet_until_the_user_takes_part_again() {
    let app = TestApp::spawn().await;
    let Cast {
        owner, reporter, ..
    } = app.cast("SWAT").await;
    let issue = app.file(&reporter, "SWAT", "", None).await;
    app.unwatch(&reporter, &issue.key).await;

    app.comment(&owner, &issue.key, "first").await.unwrap();
    assert!(app.inbox(&reporter).await.is_empty());

    // Commenting again subscribes again, as on GitHub.
    app.comment(&reporter, &issue.key, "still broken")
        .await
        .unwrap();
    app.comment(&owner, &issue.key, "second").await.unwrap();
    let inbox = app.inbox(&reporter).await;
    assert_eq!(reasons(&inbox), [(issue.key.clone(), Reason::Watching)]);
    assert_eq!(
        app.watchers(&owner, &issue.key).await[&reporter.id],
        "commenter"
    );
}

#[tokio::test]
async fn a_removed_member_stops_watching_and_loses_the_projects_notifications() {
    let app = TestApp::spawn().await;
    let Cast {
        owner, reporter, ..
    } = app.cast("SWAT").await;
    let issue = app.file(&reporter, "SWAT", "", None).await;
    app.comment(&owner, &issue.key, "one").await.unwrap();
    assert_eq!(app.inbox(&reporter).await.len(), 1);

    let removal = pb::RemoveMemberRequest {
        project_key: "SWAT".into(),
        user_id: reporter.id.clone(),
    };
    app.client()
        .remove_member(req(removal, &owner))
        .await
        .unwrap();
    assert!(app.inbox(&reporter).await.is_empty());
    app.comment(&owner, &issue.key, "two").await.unwrap();

    // Back in the project, they see nothing from while they were away.
    app.set_member(&owner, "SWAT", &reporter, pb::Role::Reporter)
        .await
        .unwrap();
    assert!(app.inbox(&reporter).await.is_empty());
    assert!(
        !app.watchers(&owner, &issue.key)
            .await
            .contains_key(&reporter.id)
    );
    let none = pb::MarkAllNotificationsReadRequest {};
    let marked = app
        .client()
        .mark_all_notifications_read(req(none, &reporter))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(marked.marked, 0);
}

#[tokio::test]
async fn the_inbox_lists_unread_first_then_newest_filters_and_pages() {
    let app = TestApp::spawn().await;
    let Cast {
        owner,
        reporter,
        maintainer,
        ..
    } = app.cast("SWAT").await;
    let mut keys = Vec::new();
    for _ in 0..5 {
        keys.push(app.file(&reporter, "SWAT", "", None).await.key);
    }
    for key in &keys {
        app.comment(&owner, key, "looking").await.unwrap();
    }
    app.edit(&maintainer, &keys[0], |u| {
        u.assignee_id = Some(reporter.id.clone())
    })
    .await;
    // keys[0] has two (the comment, then the assignment); the rest one each.
    let all = app.inbox(&reporter).await;
    assert_eq!(all.len(), 6);
    let oldest = all.last().unwrap().clone();
    assert_eq!(oldest.issue_key, keys[0]);

    let mark = pb::MarkNotificationReadRequest {
        id: oldest.id.clone(),
    };
    let read = app
        .client()
        .mark_notification_read(req(mark.clone(), &reporter))
        .await
        .unwrap()
        .into_inner();
    assert!(read.read);
    let read_at = read.read_at.expect("read_at is set");
    // Marking again keeps the first time.
    let again = app
        .client()
        .mark_notification_read(req(mark.clone(), &reporter))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.read_at, Some(read_at));
    // Nobody else may.
    let foreign = app
        .client()
        .mark_notification_read(req(mark, &owner))
        .await
        .unwrap_err();
    assert_eq!(foreign.code(), Code::NotFound);

    // Newest first, the read one last.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = app
            .inbox_page(
                &reporter,
                pb::ListNotificationsRequest {
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(page.unread_count, 5);
        seen.extend(page.notifications);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen.len(), 6);
    assert_eq!(seen.last().unwrap().id, oldest.id);
    assert!(seen[..5].iter().all(|n| !n.read));
    assert_eq!(seen[0].reason(), Reason::Assigned);
    for pair in seen[..5].windows(2) {
        let at = |n: &pb::Notification| n.created_at.map(|t| (t.seconds, t.nanos));
        assert!(at(&pair[0]) >= at(&pair[1]));
    }

    let assigned = app
        .inbox_page(
            &reporter,
            pb::ListNotificationsRequest {
                reasons: vec![Reason::Assigned as i32],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        reasons(&assigned.notifications),
        [(keys[0].clone(), Reason::Assigned)]
    );
    let unread = app
        .inbox_page(
            &reporter,
            pb::ListNotificationsRequest {
                unread_only: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(unread.notifications.len(), 5);

    let all_read = app
        .client()
        .mark_all_notifications_read(req(pb::MarkAllNotificationsReadRequest {}, &reporter))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all_read.marked, 5);
    let after = app.inbox_page(&reporter, Default::default()).await.unwrap();
    assert_eq!(after.unread_count, 0);
    assert!(after.notifications.iter().all(|n| n.read));
}

#[tokio::test]
async fn bad_inbox_requests_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let cases = [
        (
            pb::ListNotificationsRequest {
                reasons: vec![0],
                ..Default::default()
            },
            "reasons",
        ),
        (
            pb::ListNotificationsRequest {
                reasons: vec![99],
                ..Default::default()
            },
            "reasons",
        ),
        (
            pb::ListNotificationsRequest {
                page_size: 101,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListNotificationsRequest {
                page_token: "forged".into(),
                ..Default::default()
            },
            "page_token",
        ),
        (
            pb::ListNotificationsRequest {
                page_token: swatter_testkit::hand_made_page_token(&serde_json::json!({
                    "unread": true, "at": 0, "id": "00000000-0000-0000-0000-000000000000"
                })),
                ..Default::default()
            },
            "page_token",
        ),
    ];
    for (request, field) in cases {
        let status = app.inbox_page(&alice, request).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}");
        let fields: Vec<String> = violations(&status).into_iter().map(|v| v.field).collect();
        assert!(fields.contains(&field.to_owned()), "{field}: {fields:?}");
    }
    for id in ["not-a-uuid", "", "00000000-0000-0000-0000-000000000000"] {
        let mark = pb::MarkNotificationReadRequest { id: id.into() };
        let status = app
            .client()
            .mark_notification_read(req(mark, &alice))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{id:?}");
    }
}

#[tokio::test]
async fn concurrent_comments_notify_each_watcher_exactly_once_per_comment() {
    let app = TestApp::spawn().await;
    let Cast { owner, viewer, .. } = app.cast("SWAT").await;
    let issue = app.file(&owner, "SWAT", "", None).await;
    app.watch(&viewer, &issue.key).await.unwrap();
    let mut commenters = Vec::new();
    for n in 0..8 {
        let user = app.user(&format!("helper{n}")).await;
        app.set_member(&owner, "SWAT", &user, pb::Role::Reporter)
            .await
            .unwrap();
        commenters.push(user);
    }

    let comments = futures::future::join_all(
        commenters
            .iter()
            .map(|user| app.comment(user, &issue.key, "me too @swat-viewer")),
    )
    .await;
    assert!(comments.iter().all(Result::is_ok));

    let inbox = app.inbox(&viewer).await;
    assert_eq!(inbox.len(), 8);
    assert!(inbox.iter().all(|n| n.reason() == Reason::Mentioned));
    let mut actors: Vec<_> = inbox.iter().map(|n| n.actor_id.clone()).collect();
    actors.sort();
    actors.dedup();
    assert_eq!(actors.len(), 8);
    // The owner (author) heard of each comment once too.
    assert_eq!(app.inbox(&owner).await.len(), 8);
}

#[tokio::test]
async fn a_text_naming_thousands_of_users_is_accepted_and_notifies_only_the_first_fifty_names() {
    let app = TestApp::spawn().await;
    let Cast { owner, viewer, .. } = app.cast("SWAT").await;
    // 3,000 names, the member's among the first fifty; then the same text at the size limit.
    let mut text: String = (0..3000).map(|n| format!("@name{n:04} ")).collect();
    text.insert_str(0, "@swat-viewer ");
    text.truncate(20_000);
    let started = std::time::Instant::now();
    let issue = app.file(&owner, "SWAT", &text, None).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    assert_eq!(
        reasons(&app.inbox(&viewer).await),
        [(issue.key.clone(), Reason::Mentioned)]
    );

    // A name past the fiftieth is ignored.
    let late: String = (0..60).map(|n| format!("@late{n:04} ")).collect::<String>() + "@swat-owner";
    let reporter = app.user("late-reporter").await;
    app.set_member(&owner, "SWAT", &reporter, pb::Role::Reporter)
        .await
        .unwrap();
    app.comment(&reporter, &issue.key, &late).await.unwrap();
    let owner_inbox = app.inbox(&owner).await;
    assert!(owner_inbox.iter().all(|n| n.reason() != Reason::Mentioned));
}

#[tokio::test]
async fn watching_raced_against_removal_from_the_project_never_leaves_a_stranger_watching() {
    let app = TestApp::spawn().await;
    let Cast { owner, .. } = app.cast("SWAT").await;
    let issue = app.file(&owner, "SWAT", "", None).await;
    for round in 0..10 {
        let user = app.user(&format!("racer{round}")).await;
        app.set_member(&owner, "SWAT", &user, pb::Role::Viewer)
            .await
            .unwrap();
        let removal = pb::RemoveMemberRequest {
            project_key: "SWAT".into(),
            user_id: user.id.clone(),
        };
        let mut client = app.client();
        let (watched, removed) = tokio::join!(
            app.watch(&user, &issue.key),
            client.remove_member(req(removal, &owner))
        );
        removed.unwrap();
        if let Err(status) = watched {
            assert_eq!(status.code(), Code::NotFound, "{status:?}");
        }
        assert!(
            !app.watchers(&owner, &issue.key)
                .await
                .contains_key(&user.id),
            "round {round}: a removed member still watches"
        );
    }
}

#[tokio::test]
async fn the_unread_count_is_exact_up_to_a_thousand_and_stops_there() {
    let app = TestApp::spawn().await;
    let Cast {
        owner, reporter, ..
    } = app.cast("SWAT").await;
    app.file(&owner, "SWAT", "", Some(&reporter)).await;
    let first = app.inbox_page(&reporter, Default::default()).await.unwrap();
    assert_eq!(first.unread_count, 1);
    // A backlog written straight into the table (as the trigger would, one change each).
    sqlx::query(
        "INSERT INTO notifications (id, user_id, project_id, issue_id, project_key, issue_number,
                                    actor_id, reason, change_type, summary, change_xact)
         SELECT gen_random_uuid(), n.user_id, n.project_id, n.issue_id, n.project_key,
                n.issue_number, n.actor_id, 'watching', 'issue.updated', 'labels: none → bug', g
         FROM notifications n, generate_series(1, 1500) g",
    )
    .execute(&app.db.pool)
    .await
    .unwrap();
    let page = app.inbox_page(&reporter, Default::default()).await.unwrap();
    assert_eq!(page.unread_count, 1000);
    assert_eq!(page.notifications.len(), 20);
    assert!(!page.next_page_token.is_empty());
}
