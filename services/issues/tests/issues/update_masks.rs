//! The gRPC conventions of Google APIs: `Update*` calls change the fields their `update_mask`
//! names (AIP-134) and refuse paths they cannot change; `ListMembers` pages (AIP-158).

use crate::support::{TestApp, User, req};
use swatter_common::status::violations;
use swatter_proto::issues::v1 as pb;
use swatter_testkit::altered_page_token;
use tonic::Code;

fn fields(status: &tonic::Status) -> Vec<String> {
    violations(status).into_iter().map(|v| v.field).collect()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// `BUG-1`, with a description, a label and an assignee (the owner), filed by `owner`.
async fn described_issue(app: &TestApp, owner: &User) -> pb::Issue {
    app.create_project(owner, "BUG").await.unwrap();
    app.client()
        .create_issue(req(
            pb::CreateIssueRequest {
                project_key: "BUG".into(),
                title: "Crash on start".into(),
                description: Some("It crashes".into()),
                priority: pb::Priority::High as i32,
                assignee_id: Some(owner.id.clone()),
                labels: vec!["crash".into()],
                ..Default::default()
            },
            owner,
        ))
        .await
        .unwrap()
        .into_inner()
}

#[tokio::test]
async fn a_masked_update_changes_only_the_named_fields_and_ignores_the_other_set_ones() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;

    let updated = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                title: Some("Crash on start-up".into()),
                description: Some("not named, so not changed".into()),
                priority: pb::Priority::Low as i32,
                update_mask: mask(&["title"]),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(updated.title, "Crash on start-up");
    assert_eq!(updated.description, "It crashes");
    assert_eq!(updated.priority, pb::Priority::High as i32);
    assert_eq!(updated.labels, ["crash"]);
    assert_eq!(updated.assignee_id.as_deref(), Some(owner.id.as_str()));
    assert_eq!(updated.version, issue.version + 1);
}

#[tokio::test]
async fn named_fields_left_unset_are_cleared() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;

    let cleared = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                update_mask: mask(&["description", "assignee_id", "labels"]),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(cleared.description, "");
    assert_eq!(cleared.assignee_id, None);
    assert!(cleared.labels.is_empty());
    assert_eq!(cleared.title, issue.title);
}

#[tokio::test]
async fn a_named_title_status_or_priority_must_be_given() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;

    let status = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                update_mask: mask(&["*"]),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();

    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(fields(&status), ["title", "status", "priority"]);
    let unchanged = app.get_issue(&owner, &issue.key).await.unwrap();
    assert_eq!(unchanged.version, issue.version);
}

#[tokio::test]
async fn a_star_mask_replaces_every_updatable_field() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;

    let replaced = app
        .update_issue(
            &owner,
            pb::UpdateIssueRequest {
                issue_key: issue.key.clone(),
                title: Some("Replaced".into()),
                status: pb::IssueStatus::Closed as i32,
                priority: pb::Priority::Low as i32,
                update_mask: mask(&["*"]),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    assert_eq!(replaced.title, "Replaced");
    assert_eq!(replaced.description, "");
    assert_eq!(replaced.status, pb::IssueStatus::Closed as i32);
    assert_eq!(replaced.priority, pb::Priority::Low as i32);
    assert_eq!(replaced.assignee_id, None);
    assert!(replaced.labels.is_empty());
    assert!(replaced.closed_at.is_some());
}

#[tokio::test]
async fn unknown_or_output_only_paths_are_refused_naming_the_update_mask() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;

    for paths in [&["bogus"][..], &["key"], &["title", "etag"], &["issue_key"]] {
        let status = app
            .update_issue(
                &owner,
                pb::UpdateIssueRequest {
                    issue_key: issue.key.clone(),
                    title: Some("Never applied".into()),
                    update_mask: mask(paths),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{paths:?}");
        assert_eq!(fields(&status), ["update_mask"], "{paths:?}");
    }
    let unchanged = app.get_issue(&owner, &issue.key).await.unwrap();
    assert_eq!(unchanged.title, issue.title);
    assert_eq!(unchanged.version, issue.version);
}

#[tokio::test]
async fn project_and_comment_updates_take_a_mask_too() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    let issue = described_issue(&app, &owner).await;
    app.client()
        .update_project(req(
            pb::UpdateProjectRequest {
                key: "BUG".into(),
                description: Some("Bugs".into()),
                update_mask: None,
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();

    let renamed = app
        .client()
        .update_project(req(
            pb::UpdateProjectRequest {
                key: "BUG".into(),
                name: Some("Bugs and more".into()),
                update_mask: mask(&["name", "description"]),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(renamed.name, "Bugs and more");
    assert_eq!(renamed.description, "");

    let immutable_key = app
        .client()
        .update_project(req(
            pb::UpdateProjectRequest {
                key: "BUG".into(),
                update_mask: mask(&["key"]),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&immutable_key), ["update_mask"]);

    let comment = app.comment(&owner, &issue.key, "first").await.unwrap();
    let edit = |paths: &[&str]| {
        let request = pb::UpdateCommentRequest {
            id: comment.id.clone(),
            body: "edited".into(),
            update_mask: mask(paths),
        };
        let mut client = app.client();
        let owner = owner.clone();
        async move { client.update_comment(req(request, &owner)).await }
    };
    let author = edit(&["author_id"]).await.unwrap_err();
    assert_eq!(fields(&author), ["update_mask"]);
    let edited = edit(&["body"]).await.unwrap().into_inner();
    assert_eq!(edited.body, "edited");
}

#[tokio::test]
async fn list_members_pages_through_every_member_by_username() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "TEAM").await.unwrap();
    for name in ["dora", "bert", "carl", "anna"] {
        let member = app.user(name).await;
        app.set_member(&owner, "TEAM", &member, pb::Role::Reporter)
            .await
            .unwrap();
    }
    let page = |page_size: i32, page_token: String| {
        let mut client = app.client();
        let owner = owner.clone();
        async move {
            client
                .list_members(req(
                    pb::ListMembersRequest {
                        project_key: "TEAM".into(),
                        page_size,
                        page_token,
                    },
                    &owner,
                ))
                .await
                .map(|r| r.into_inner())
        }
    };

    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    loop {
        let answer = page(2, token).await.unwrap();
        assert!(answer.members.len() <= 2);
        seen.extend(answer.members.into_iter().map(|m| m.username));
        if answer.next_page_token.is_empty() {
            break;
        }
        token = answer.next_page_token;
        tokens.push(token.clone());
    }
    assert_eq!(seen, ["anna", "bert", "carl", "dora", "owner"]);
    assert_eq!(tokens.len(), 2, "five members in pages of two: three pages");

    let everyone = page(0, String::new()).await.unwrap();
    assert_eq!(everyone.members.len(), 5);
    assert!(everyone.next_page_token.is_empty());

    let forged = page(2, altered_page_token(&tokens[0])).await.unwrap_err();
    assert_eq!(fields(&forged), ["page_token"]);
    let too_big = page(101, String::new()).await.unwrap_err();
    assert_eq!(fields(&too_big), ["page_size"]);
}
