//! Planning: milestones (order, progress, unique titles, closing, deletion that detaches issues,
//! permissions, idempotency) and the resolution, due date, estimate and milestone of issues.

use serde_json::Value;
use swatter_common::status::violations;
use swatter_proto::issues::v1 as pb;
use swatter_testkit::{altered_page_token, hand_made_page_token};
use tonic::Code;

use crate::support::{TestApp, User, req};

fn fields(status: &tonic::Status) -> Vec<String> {
    violations(status).into_iter().map(|v| v.field).collect()
}

fn new_milestone(key: &str, title: &str, due_on: Option<&str>) -> pb::CreateMilestoneRequest {
    pb::CreateMilestoneRequest {
        project_key: key.into(),
        title: title.into(),
        due_on: due_on.map(Into::into),
        ..Default::default()
    }
}

async fn create(
    app: &TestApp,
    user: &User,
    request: pb::CreateMilestoneRequest,
) -> Result<pb::Milestone, tonic::Status> {
    app.client()
        .create_milestone(req(request, user))
        .await
        .map(|r| r.into_inner())
}

async fn get(app: &TestApp, user: &User, id: &str) -> Result<pb::Milestone, tonic::Status> {
    app.client()
        .get_milestone(req(pb::GetMilestoneRequest { id: id.into() }, user))
        .await
        .map(|r| r.into_inner())
}

async fn list(
    app: &TestApp,
    user: &User,
    key: &str,
    state: pb::MilestoneState,
    page_size: i32,
    page_token: &str,
) -> Result<pb::ListMilestonesResponse, tonic::Status> {
    app.client()
        .list_milestones(req(
            pb::ListMilestonesRequest {
                project_key: key.into(),
                state: state as i32,
                page_size,
                page_token: page_token.into(),
            },
            user,
        ))
        .await
        .map(|r| r.into_inner())
}

async fn update(
    app: &TestApp,
    user: &User,
    request: pb::UpdateMilestoneRequest,
) -> Result<pb::Milestone, tonic::Status> {
    app.client()
        .update_milestone(req(request, user))
        .await
        .map(|r| r.into_inner())
}

async fn delete(app: &TestApp, user: &User, id: &str) -> Result<(), tonic::Status> {
    app.client()
        .delete_milestone(req(pb::DeleteMilestoneRequest { id: id.into() }, user))
        .await
        .map(|_| ())
}

fn set_milestone(issue_key: &str, milestone_id: &str) -> pb::UpdateIssueRequest {
    pb::UpdateIssueRequest {
        issue_key: issue_key.into(),
        milestone_id: Some(milestone_id.into()),
        ..Default::default()
    }
}

fn set_status(issue_key: &str, status: pb::IssueStatus) -> pb::UpdateIssueRequest {
    pb::UpdateIssueRequest {
        issue_key: issue_key.into(),
        status: status as i32,
        ..Default::default()
    }
}

async fn events(app: &TestApp, user: &User, issue_key: &str) -> Vec<pb::IssueEvent> {
    app.client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: issue_key.into(),
                page_size: 100,
                page_token: String::new(),
            },
            user,
        ))
        .await
        .unwrap()
        .into_inner()
        .events
}

/// Every change of the project's feed: (type, data).
async fn feed(app: &TestApp, user: &User, key: &str) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    let mut after = 0;
    loop {
        let page = app
            .client()
            .list_changes(req(
                pb::ListChangesRequest {
                    project_key: key.into(),
                    after,
                    page_size: 1000,
                },
                user,
            ))
            .await
            .unwrap()
            .into_inner();
        if page.changes.is_empty() {
            return all;
        }
        after = page.next_after;
        all.extend(
            page.changes
                .into_iter()
                .map(|c| (c.r#type, serde_json::from_str(&c.data_json).unwrap())),
        );
    }
}

#[tokio::test]
async fn milestones_list_by_due_date_with_undated_ones_last_then_by_title_across_pages() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSO").await;
    for (title, due) in [
        ("Someday", None),
        ("Beta", Some("2026-12-24")),
        ("Alpha", Some("2026-12-24")),
        ("Launch", Some("2027-03-01")),
        ("Backlog", None),
        ("Kickoff", Some("1999-01-01")),
    ] {
        create(&app, &cast.maintainer, new_milestone("MSO", title, due))
            .await
            .unwrap();
    }
    let mut titles = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &app,
            &cast.viewer,
            "MSO",
            pb::MilestoneState::Unspecified,
            4,
            &token,
        )
        .await
        .unwrap();
        titles.extend(page.milestones.into_iter().map(|m| m.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        titles,
        ["Kickoff", "Alpha", "Beta", "Launch", "Backlog", "Someday"]
    );
    // Pages of one also walk every milestone once (the cursor crosses into the undated ones).
    let mut titles = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &app,
            &cast.owner,
            "MSO",
            pb::MilestoneState::Open,
            1,
            &token,
        )
        .await
        .unwrap();
        titles.extend(page.milestones.into_iter().map(|m| m.title));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(titles.len(), 6);
    let closed = list(&app, &cast.owner, "MSO", pb::MilestoneState::Closed, 0, "")
        .await
        .unwrap();
    assert!(closed.milestones.is_empty());
}

#[tokio::test]
async fn a_milestone_counts_its_issues_by_status_and_shows_the_percent_done() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSP").await;
    let milestone = create(
        &app,
        &cast.owner,
        new_milestone("MSP", "v1.0", Some("2026-12-24")),
    )
    .await
    .unwrap();
    let progress = milestone.progress.unwrap();
    assert_eq!((progress.total, progress.percent_done), (0, 0));
    for (n, status) in [
        pb::IssueStatus::Open,
        pb::IssueStatus::InProgress,
        pb::IssueStatus::Resolved,
    ]
    .into_iter()
    .enumerate()
    {
        let issue = app
            .create_issue(&cast.reporter, "MSP", &format!("issue {n}"))
            .await
            .unwrap();
        app.update_issue(&cast.maintainer, set_milestone(&issue.key, &milestone.id))
            .await
            .unwrap();
        if status != pb::IssueStatus::Open {
            app.update_issue(&cast.maintainer, set_status(&issue.key, status))
                .await
                .unwrap();
        }
    }
    // An issue of the project without the milestone does not count.
    app.create_issue(&cast.reporter, "MSP", "elsewhere")
        .await
        .unwrap();
    let progress = get(&app, &cast.viewer, &milestone.id)
        .await
        .unwrap()
        .progress
        .unwrap();
    assert_eq!(
        progress,
        pb::MilestoneProgress {
            open: 1,
            in_progress: 1,
            resolved: 1,
            closed: 0,
            total: 3,
            percent_done: 33,
        }
    );
}

#[tokio::test]
async fn titles_are_unique_per_project_and_a_duplicate_is_a_conflict_naming_the_title() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSU").await;
    app.create_project(&cast.owner, "MSV").await.unwrap();
    let first = create(&app, &cast.owner, new_milestone("MSU", "v1.0", None))
        .await
        .unwrap();
    let error = create(&app, &cast.owner, new_milestone("MSU", "v1.0", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists);
    assert_eq!(fields(&error), ["title"]);
    // Trimmed before comparison, and another project may use the same title.
    let error = create(&app, &cast.owner, new_milestone("MSU", "  v1.0 ", None))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists);
    create(&app, &cast.owner, new_milestone("MSV", "v1.0", None))
        .await
        .unwrap();
    // Renaming onto another milestone's title is the same conflict.
    let second = create(&app, &cast.owner, new_milestone("MSU", "v2.0", None))
        .await
        .unwrap();
    let error = update(
        &app,
        &cast.owner,
        pb::UpdateMilestoneRequest {
            id: second.id.clone(),
            title: Some(first.title.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(error.code(), Code::AlreadyExists);
    assert_eq!(fields(&error), ["title"]);

    // Concurrent creations with one title: exactly one wins, the others conflict.
    let attempts = (0..8).map(|_| create(&app, &cast.owner, new_milestone("MSU", "race", None)));
    let results = futures::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    for error in results.into_iter().filter_map(Result::err) {
        assert_eq!(error.code(), Code::AlreadyExists, "{error:?}");
    }
}

#[tokio::test]
async fn closing_a_milestone_sets_closed_at_reopening_clears_it_and_the_mask_clears_fields() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSC").await;
    let milestone = create(
        &app,
        &cast.owner,
        pb::CreateMilestoneRequest {
            description: Some("The first release".into()),
            ..new_milestone("MSC", "v1.0", Some("2026-12-24"))
        },
    )
    .await
    .unwrap();
    assert_eq!(milestone.state, pb::MilestoneState::Open as i32);
    assert!(milestone.closed_at.is_none());
    let closed = update(
        &app,
        &cast.maintainer,
        pb::UpdateMilestoneRequest {
            id: milestone.id.clone(),
            state: pb::MilestoneState::Closed as i32,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(closed.state, pb::MilestoneState::Closed as i32);
    assert!(closed.closed_at.is_some());
    assert_eq!(closed.description, "The first release");
    let reopened = update(
        &app,
        &cast.maintainer,
        pb::UpdateMilestoneRequest {
            id: milestone.id.clone(),
            state: pb::MilestoneState::Open as i32,
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["state".into(), "due_on".into(), "description".into()],
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(reopened.closed_at.is_none());
    assert_eq!(reopened.due_on, None);
    assert_eq!(reopened.description, "");
    // Naming the state without one is refused; so is an unknown path.
    for paths in [vec!["state"], vec!["progress"], vec!["nonsense"]] {
        let error = update(
            &app,
            &cast.owner,
            pb::UpdateMilestoneRequest {
                id: milestone.id.clone(),
                update_mask: Some(prost_types::FieldMask {
                    paths: paths.iter().map(|p| p.to_string()).collect(),
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{paths:?}");
    }
}

#[tokio::test]
async fn deleting_a_milestone_detaches_its_issues_with_history_and_feed_events_in_one_go() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSD").await;
    let milestone = create(&app, &cast.owner, new_milestone("MSD", "v1.0", None))
        .await
        .unwrap();
    let other = create(&app, &cast.owner, new_milestone("MSD", "v2.0", None))
        .await
        .unwrap();
    let mut keys = Vec::new();
    for n in 0..3 {
        let issue = app
            .create_issue(&cast.reporter, "MSD", &format!("issue {n}"))
            .await
            .unwrap();
        app.update_issue(&cast.maintainer, set_milestone(&issue.key, &milestone.id))
            .await
            .unwrap();
        keys.push(issue.key);
    }
    let kept = app
        .create_issue(&cast.reporter, "MSD", "on v2")
        .await
        .unwrap();
    app.update_issue(&cast.maintainer, set_milestone(&kept.key, &other.id))
        .await
        .unwrap();

    delete(&app, &cast.maintainer, &milestone.id).await.unwrap();

    assert_eq!(
        get(&app, &cast.owner, &milestone.id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    for key in &keys {
        let issue = app.get_issue(&cast.viewer, key).await.unwrap();
        assert_eq!(issue.milestone_id, None, "{key}");
        let last = events(&app, &cast.viewer, key).await.pop().unwrap();
        assert_eq!(
            (
                last.kind.as_str(),
                last.field.as_str(),
                last.old_value.as_deref(),
                last.new_value.as_deref(),
                last.actor_id.as_str()
            ),
            (
                "milestone",
                "milestone_id",
                Some(milestone.id.as_str()),
                None,
                cast.maintainer.id.as_str()
            )
        );
    }
    let kept = app.get_issue(&cast.viewer, &kept.key).await.unwrap();
    assert_eq!(kept.milestone_id.as_deref(), Some(other.id.as_str()));

    let changes = feed(&app, &cast.owner, "MSD").await;
    let tail: Vec<_> = changes[changes.len() - 4..]
        .iter()
        .map(|(kind, data)| (kind.as_str(), data["key"].as_str().map(str::to_owned)))
        .collect();
    assert_eq!(
        tail,
        [
            ("issue.updated", Some(keys[0].clone())),
            ("issue.updated", Some(keys[1].clone())),
            ("issue.updated", Some(keys[2].clone())),
            ("milestone.deleted", None),
        ]
    );
    let (_, deleted) = changes.last().unwrap();
    assert_eq!(deleted["id"], milestone.id);
    assert_eq!(deleted["title"], "v1.0");
    let (_, detached) = &changes[changes.len() - 2];
    assert_eq!(detached["milestone_id"], Value::Null);
    let created = changes
        .iter()
        .find(|(kind, data)| kind == "milestone.created" && data["id"] == milestone.id)
        .unwrap();
    assert_eq!(created.1["state"], "open");
    assert_eq!(created.1["progress"]["total"], 0);
}

#[tokio::test]
async fn issues_attached_while_their_milestone_is_deleted_end_detached_or_refused_never_dangling() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSR").await;
    let mut keys = Vec::new();
    for n in 0..12 {
        keys.push(
            app.create_issue(&cast.reporter, "MSR", &format!("issue {n}"))
                .await
                .unwrap()
                .key,
        );
    }
    for round in 0..3 {
        let milestone = create(
            &app,
            &cast.owner,
            new_milestone("MSR", &format!("m{round}"), None),
        )
        .await
        .unwrap();
        let attaches = keys
            .iter()
            .map(|key| app.update_issue(&cast.maintainer, set_milestone(key, &milestone.id)));
        let (attached, deleted) = tokio::join!(
            futures::future::join_all(attaches),
            delete(&app, &cast.owner, &milestone.id)
        );
        deleted.unwrap();
        for (key, result) in keys.iter().zip(attached) {
            if let Err(error) = result {
                assert_eq!(error.code(), Code::InvalidArgument, "{key}: {error:?}");
                assert_eq!(fields(&error), ["milestone_id"], "{key}");
            }
            let issue = app.get_issue(&cast.owner, key).await.unwrap();
            assert_eq!(
                issue.milestone_id, None,
                "{key} points at a deleted milestone"
            );
        }
    }
}

#[tokio::test]
async fn maintainers_manage_milestones_members_read_them_and_outsiders_see_nothing() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSA").await;
    let milestone = create(&app, &cast.maintainer, new_milestone("MSA", "v1.0", None))
        .await
        .unwrap();
    for user in [&cast.viewer, &cast.reporter] {
        let error = create(&app, user, new_milestone("MSA", "mine", None))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied);
        let error = update(
            &app,
            user,
            pb::UpdateMilestoneRequest {
                id: milestone.id.clone(),
                title: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied);
        let error = delete(&app, user, &milestone.id).await.unwrap_err();
        assert_eq!(error.code(), Code::PermissionDenied);
        assert_eq!(get(&app, user, &milestone.id).await.unwrap().title, "v1.0");
        let page = list(&app, user, "MSA", pb::MilestoneState::Unspecified, 0, "")
            .await
            .unwrap();
        assert_eq!(page.milestones.len(), 1);
    }
    let outsider = &cast.outsider;
    for error in [
        create(&app, outsider, new_milestone("MSA", "mine", None))
            .await
            .unwrap_err(),
        get(&app, outsider, &milestone.id).await.unwrap_err(),
        list(
            &app,
            outsider,
            "MSA",
            pb::MilestoneState::Unspecified,
            0,
            "",
        )
        .await
        .unwrap_err(),
        update(
            &app,
            outsider,
            pb::UpdateMilestoneRequest {
                id: milestone.id.clone(),
                title: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err(),
        delete(&app, outsider, &milestone.id).await.unwrap_err(),
        get(&app, outsider, "not-a-uuid").await.unwrap_err(),
        get(&app, &cast.owner, &uuid::Uuid::now_v7().to_string())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(error.code(), Code::NotFound, "{error:?}");
    }
    // The admin manages any project's milestones.
    update(
        &app,
        &cast.admin,
        pb::UpdateMilestoneRequest {
            id: milestone.id.clone(),
            title: Some("v1.0 final".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    delete(&app, &cast.admin, &milestone.id).await.unwrap();
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_milestone_and_refuses_another_body() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSI").await;
    let keyed = |title: &str| pb::CreateMilestoneRequest {
        request_id: "create-v1".into(),
        ..new_milestone("MSI", title, Some("2026-12-24"))
    };
    let (first, second) = tokio::join!(
        create(&app, &cast.owner, keyed("v1.0")),
        create(&app, &cast.owner, keyed("v1.0"))
    );
    let replays: Vec<_> = [first, second].into_iter().filter_map(Result::ok).collect();
    assert!(!replays.is_empty());
    let again = create(&app, &cast.owner, keyed("v1.0")).await.unwrap();
    assert!(replays.iter().all(|m| m.id == again.id));
    let error = create(&app, &cast.owner, keyed("v2.0")).await.unwrap_err();
    assert_eq!(fields(&error), ["Idempotency-Key"]);
    let page = list(
        &app,
        &cast.owner,
        "MSI",
        pb::MilestoneState::Unspecified,
        0,
        "",
    )
    .await
    .unwrap();
    assert_eq!(page.milestones.len(), 1);
}

#[tokio::test]
async fn hostile_milestone_input_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSH").await;
    let cases: Vec<(pb::CreateMilestoneRequest, &str)> = vec![
        (new_milestone("MSH", "", None), "title"),
        (new_milestone("MSH", "   ", None), "title"),
        (new_milestone("MSH", "nul\0", None), "title"),
        (new_milestone("MSH", "two\nlines", None), "title"),
        (new_milestone("MSH", &"x".repeat(201), None), "title"),
        (
            pb::CreateMilestoneRequest {
                description: Some("d".repeat(20_001)),
                ..new_milestone("MSH", "ok", None)
            },
            "description",
        ),
        (new_milestone("MSH", "ok", Some("2026-02-30")), "due_on"),
        (new_milestone("MSH", "ok", Some("1899-12-31")), "due_on"),
        (new_milestone("MSH", "ok", Some("10000-01-01")), "due_on"),
        (
            new_milestone("MSH", "ok", Some("2026-12-24T00:00:00Z")),
            "due_on",
        ),
        (
            new_milestone("MSH", "ok", Some("'; DROP TABLE milestones; --")),
            "due_on",
        ),
    ];
    for (request, field) in cases {
        let error = create(&app, &cast.owner, request.clone())
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(fields(&error), [field], "{request:?}");
    }
    let error = list(
        &app,
        &cast.owner,
        "MSH",
        pb::MilestoneState::Unspecified,
        0,
        "forged",
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&error), ["page_token"]);
    let error = app
        .client()
        .list_milestones(req(
            pb::ListMilestonesRequest {
                project_key: "MSH".into(),
                state: 9,
                page_size: 0,
                page_token: String::new(),
            },
            &cast.owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&error), ["state"]);
    for _ in 0..3 {
        create(
            &app,
            &cast.owner,
            new_milestone("MSH", &uuid::Uuid::now_v7().to_string(), None),
        )
        .await
        .unwrap();
    }
    let page = list(
        &app,
        &cast.owner,
        "MSH",
        pb::MilestoneState::Unspecified,
        1,
        "",
    )
    .await
    .unwrap();
    let altered = altered_page_token(&page.next_page_token);
    let error = list(
        &app,
        &cast.owner,
        "MSH",
        pb::MilestoneState::Unspecified,
        1,
        &altered,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&error), ["page_token"]);
    let hand_made = hand_made_page_token(&serde_json::json!([null, "a", "not-a-uuid"]));
    let error = list(
        &app,
        &cast.owner,
        "MSH",
        pb::MilestoneState::Unspecified,
        1,
        &hand_made,
    )
    .await
    .unwrap_err();
    assert_eq!(fields(&error), ["page_token"]);
}

#[tokio::test]
async fn maintainers_plan_issues_with_a_due_date_an_estimate_and_a_milestone_all_in_the_history() {
    let app = TestApp::spawn().await;
    let cast = app.cast("PLN").await;
    let milestone = create(&app, &cast.owner, new_milestone("PLN", "v1.0", None))
        .await
        .unwrap();
    let issue = app
        .client()
        .create_issue(req(
            pb::CreateIssueRequest {
                project_key: "PLN".into(),
                title: "Planned".into(),
                due_on: Some("2026-12-24".into()),
                estimate: Some(5),
                milestone_id: Some(milestone.id.clone()),
                ..Default::default()
            },
            &cast.maintainer,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(issue.due_on.as_deref(), Some("2026-12-24"));
    assert_eq!(issue.estimate, Some(5));
    assert_eq!(issue.milestone_id.as_deref(), Some(milestone.id.as_str()));

    // A reporter may file issues but not plan them.
    let error = app
        .client()
        .create_issue(req(
            pb::CreateIssueRequest {
                project_key: "PLN".into(),
                title: "Mine".into(),
                estimate: Some(1),
                ..Default::default()
            },
            &cast.reporter,
        ))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);

    // Changes, then clearing through the mask, each in the history.
    let updated = app
        .update_issue(
            &cast.maintainer,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                due_on: Some("2027-01-15".into()),
                estimate: Some(8),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.due_on.as_deref(), Some("2027-01-15"));
    assert_eq!(updated.estimate, Some(8));
    let cleared = app
        .update_issue(
            &cast.maintainer,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["due_on".into(), "estimate".into(), "milestone_id".into()],
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (cleared.due_on, cleared.estimate, cleared.milestone_id),
        (None, None, None)
    );
    let history: Vec<_> = events(&app, &cast.viewer, &issue.key)
        .await
        .into_iter()
        .map(|e| (e.field, e.old_value, e.new_value))
        .collect();
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        history[1..],
        [
            ("due_on".into(), text("2026-12-24"), text("2027-01-15")),
            ("estimate".into(), text("5"), text("8")),
            ("due_on".into(), text("2027-01-15"), None),
            ("estimate".into(), text("8"), None),
            ("milestone_id".into(), Some(milestone.id.clone()), None),
        ]
    );

    // Reporters may not change planning fields, not even on their own issue.
    let own = app
        .create_issue(&cast.reporter, "PLN", "own")
        .await
        .unwrap();
    let error = app
        .update_issue(
            &cast.reporter,
            pb::UpdateIssueRequest {
                issue_key: own.key.clone(),
                due_on: Some("2027-01-15".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_milestone_must_belong_to_the_issues_project() {
    let app = TestApp::spawn().await;
    let cast = app.cast("PLA").await;
    app.create_project(&cast.owner, "PLB").await.unwrap();
    let foreign = create(&app, &cast.owner, new_milestone("PLB", "theirs", None))
        .await
        .unwrap();
    let issue = app.create_issue(&cast.owner, "PLA", "x").await.unwrap();
    for milestone_id in [foreign.id.clone(), uuid::Uuid::now_v7().to_string()] {
        let error = app
            .update_issue(&cast.owner, set_milestone(&issue.key, &milestone_id))
            .await
            .unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(fields(&error), ["milestone_id"]);
        let error = app
            .client()
            .create_issue(req(
                pb::CreateIssueRequest {
                    project_key: "PLA".into(),
                    title: "y".into(),
                    milestone_id: Some(milestone_id.clone()),
                    ..Default::default()
                },
                &cast.owner,
            ))
            .await
            .unwrap_err();
        assert_eq!(fields(&error), ["milestone_id"]);
    }
    let error = app
        .update_issue(&cast.owner, set_milestone(&issue.key, "not-a-uuid"))
        .await
        .unwrap_err();
    assert_eq!(fields(&error), ["milestone_id"]);
}

#[tokio::test]
async fn a_resolution_goes_with_resolving_or_closing_and_reopening_clears_it() {
    let app = TestApp::spawn().await;
    let cast = app.cast("RES").await;
    let issue = app
        .create_issue(&cast.reporter, "RES", "bug")
        .await
        .unwrap();
    let resolution = |r: pb::Resolution| pb::UpdateIssueRequest {
        issue_key: issue.key.clone(),
        resolution: r as i32,
        ..Default::default()
    };
    // On an open issue: refused, naming the field.
    let error = app
        .update_issue(&cast.maintainer, resolution(pb::Resolution::Fixed))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(fields(&error), ["resolution"]);
    // Resolving without one leaves it unset.
    let resolved = app
        .update_issue(
            &cast.maintainer,
            set_status(&issue.key, pb::IssueStatus::Resolved),
        )
        .await
        .unwrap();
    assert_eq!(resolved.resolution, pb::Resolution::Unspecified as i32);
    // Then one may be given; closing keeps it.
    let fixed = app
        .update_issue(&cast.maintainer, resolution(pb::Resolution::WontFix))
        .await
        .unwrap();
    assert_eq!(fixed.resolution, pb::Resolution::WontFix as i32);
    let closed = app
        .update_issue(
            &cast.maintainer,
            set_status(&issue.key, pb::IssueStatus::Closed),
        )
        .await
        .unwrap();
    assert_eq!(closed.resolution, pb::Resolution::WontFix as i32);
    // Status and resolution together, and a number outside the enum.
    let error = app
        .update_issue(
            &cast.maintainer,
            pb::UpdateIssueRequest {
                status: pb::IssueStatus::Open as i32,
                ..resolution(pb::Resolution::Fixed)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&error), ["resolution"]);
    let error = app
        .update_issue(
            &cast.maintainer,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                resolution: 42,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(fields(&error), ["resolution"]);

    // The reporter it is assigned to may reopen it, which clears the resolution...
    app.update_issue(
        &cast.maintainer,
        pb::UpdateIssueRequest {
            issue_key: issue.key.clone(),
            assignee_id: Some(cast.reporter.id.clone()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let reopened = app
        .update_issue(
            &cast.reporter,
            set_status(&issue.key, pb::IssueStatus::Open),
        )
        .await
        .unwrap();
    assert_eq!(reopened.resolution, pb::Resolution::Unspecified as i32);
    let last = events(&app, &cast.viewer, &issue.key).await.pop().unwrap();
    assert_eq!(
        (
            last.field.as_str(),
            last.old_value.as_deref(),
            last.new_value
        ),
        ("resolution", Some("wont_fix"), None)
    );
    // ...and resolve it, but not say why: that is triage.
    let error = app
        .update_issue(
            &cast.reporter,
            pb::UpdateIssueRequest {
                status: pb::IssueStatus::Resolved as i32,
                ..resolution(pb::Resolution::Fixed)
            },
        )
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn bad_dates_and_estimates_on_issues_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let cast = app.cast("BAD").await;
    let issue = app.create_issue(&cast.owner, "BAD", "x").await.unwrap();
    let cases = [
        (Some("2026-02-29"), None, "due_on"),
        (Some("1899-12-31"), None, "due_on"),
        (Some("99999-01-01"), None, "due_on"),
        (Some("2026-1-1"), None, "due_on"),
        (Some("tomorrow"), None, "due_on"),
        (None, Some(-1), "estimate"),
        (None, Some(1001), "estimate"),
        (None, Some(i32::MIN), "estimate"),
    ];
    for (due_on, estimate, field) in cases {
        let error = app
            .update_issue(
                &cast.owner,
                pb::UpdateIssueRequest {
                    issue_key: issue.key.clone(),
                    due_on: due_on.map(Into::into),
                    estimate,
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(
            error.code(),
            Code::InvalidArgument,
            "{due_on:?} {estimate:?}"
        );
        assert_eq!(fields(&error), [field]);
        let error = app
            .client()
            .create_issue(req(
                pb::CreateIssueRequest {
                    project_key: "BAD".into(),
                    title: "y".into(),
                    due_on: due_on.map(Into::into),
                    estimate,
                    ..Default::default()
                },
                &cast.owner,
            ))
            .await
            .unwrap_err();
        assert_eq!(fields(&error), [field]);
    }
    // The bounds themselves are fine.
    for (due_on, estimate) in [("1900-01-01", 0), ("9999-12-31", 1000)] {
        let issue = app
            .update_issue(
                &cast.owner,
                pb::UpdateIssueRequest {
                    issue_key: issue.key.clone(),
                    due_on: Some(due_on.into()),
                    estimate: Some(estimate),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(issue.due_on.as_deref(), Some(due_on));
    }
}

#[tokio::test]
async fn deleting_a_project_removes_its_milestones_with_its_issues() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSX").await;
    let milestone = create(&app, &cast.owner, new_milestone("MSX", "v1.0", None))
        .await
        .unwrap();
    let issue = app.create_issue(&cast.owner, "MSX", "x").await.unwrap();
    app.update_issue(&cast.owner, set_milestone(&issue.key, &milestone.id))
        .await
        .unwrap();

    app.client()
        .delete_project(req(
            pb::DeleteProjectRequest { key: "MSX".into() },
            &cast.owner,
        ))
        .await
        .unwrap();

    assert_eq!(
        get(&app, &cast.admin, &milestone.id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM milestones")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn concurrent_edits_of_one_milestone_each_apply_whole_and_the_feed_has_one_event_each() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MSE").await;
    let milestone = create(&app, &cast.owner, new_milestone("MSE", "v1.0", None))
        .await
        .unwrap();
    let edits = (0..10).map(|n| {
        update(
            &app,
            if n % 2 == 0 {
                &cast.owner
            } else {
                &cast.maintainer
            },
            pb::UpdateMilestoneRequest {
                id: milestone.id.clone(),
                title: Some(format!("title {n}")),
                due_on: Some(format!("2027-01-{:02}", n + 1)),
                ..Default::default()
            },
        )
    });
    let results = futures::future::join_all(edits).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let last = get(&app, &cast.viewer, &milestone.id).await.unwrap();
    // Title and due date come from the same edit: no write was interleaved with another.
    let n: u32 = last.title.strip_prefix("title ").unwrap().parse().unwrap();
    assert_eq!(last.due_on, Some(format!("2027-01-{:02}", n + 1)));
    let updates = feed(&app, &cast.owner, "MSE")
        .await
        .into_iter()
        .filter(|(kind, _)| kind == "milestone.updated")
        .count();
    assert_eq!(updates, 10);
}
