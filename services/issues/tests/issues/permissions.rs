//! The roles table of docs/api.md, enforced by the issues service itself: every role × action,
//! plus a non-member (who is never told the project exists) and an admin, through the real RPCs.

use std::{
    sync::atomic::{AtomicUsize, Ordering},
    time::{Duration, Instant},
};

use crate::support::{Cast, TestApp, User, req};
use swatter_proto::issues::v1::{self as pb, issues_service_client::IssuesServiceClient};
use tonic::{Code, transport::Channel};

#[derive(Debug, Clone, Copy)]
enum Action {
    GetProject,
    ListIssues,
    GetIssue,
    ListComments,
    ListEvents,
    CreateIssue,
    CreateComment,
    EditOwnIssueTitle,
    EditOthersIssueTitle,
    ChangeStatusOfIssueAssignedToThem,
    ChangeStatusOfOthersIssue,
    ChangePriority,
    AssignIssue,
    LabelIssue,
    DeleteIssue,
    EditOwnComment,
    EditOthersComment,
    DeleteOwnComment,
    DeleteOthersComment,
    UpdateProject,
    DeleteProject,
    AddMember,
    ChangeRole,
    RemoveMember,
}

const OK: Code = Code::Ok;
const NO: Code = Code::PermissionDenied;
const HIDDEN: Code = Code::NotFound;
/// The actor cannot be in this situation (a viewer cannot have written an issue or comment).
const NA: Option<Code> = None;

/// Columns: outsider, viewer, reporter, maintainer, owner, admin.
fn table() -> Vec<(Action, [Option<Code>; 6])> {
    use Action::*;
    let all = |codes: [Code; 6]| codes.map(Some);
    vec![
        (GetProject, all([HIDDEN, OK, OK, OK, OK, OK])),
        (ListIssues, all([HIDDEN, OK, OK, OK, OK, OK])),
        (GetIssue, all([HIDDEN, OK, OK, OK, OK, OK])),
        (ListComments, all([HIDDEN, OK, OK, OK, OK, OK])),
        (ListEvents, all([HIDDEN, OK, OK, OK, OK, OK])),
        (CreateIssue, all([HIDDEN, NO, OK, OK, OK, OK])),
        (CreateComment, all([HIDDEN, NO, OK, OK, OK, OK])),
        (
            EditOwnIssueTitle,
            [NA, NA, Some(OK), Some(OK), Some(OK), Some(OK)],
        ),
        (EditOthersIssueTitle, all([HIDDEN, NO, NO, OK, OK, OK])),
        (
            ChangeStatusOfIssueAssignedToThem,
            [NA, Some(NO), Some(OK), Some(OK), Some(OK), NA],
        ),
        (ChangeStatusOfOthersIssue, all([HIDDEN, NO, NO, OK, OK, OK])),
        (ChangePriority, all([HIDDEN, NO, NO, OK, OK, OK])),
        (AssignIssue, all([HIDDEN, NO, NO, OK, OK, OK])),
        (LabelIssue, all([HIDDEN, NO, NO, OK, OK, OK])),
        (DeleteIssue, all([HIDDEN, NO, NO, OK, OK, OK])),
        (
            EditOwnComment,
            [NA, NA, Some(OK), Some(OK), Some(OK), Some(OK)],
        ),
        (EditOthersComment, all([HIDDEN, NO, NO, NO, NO, OK])),
        (
            DeleteOwnComment,
            [NA, NA, Some(OK), Some(OK), Some(OK), Some(OK)],
        ),
        (DeleteOthersComment, all([HIDDEN, NO, NO, OK, OK, OK])),
        (UpdateProject, all([HIDDEN, NO, NO, NO, OK, OK])),
        (DeleteProject, all([HIDDEN, NO, NO, NO, OK, OK])),
        (AddMember, all([HIDDEN, NO, NO, NO, OK, OK])),
        (ChangeRole, all([HIDDEN, NO, NO, NO, OK, OK])),
        (RemoveMember, all([HIDDEN, NO, NO, NO, OK, OK])),
    ]
}

static PROJECTS: AtomicUsize = AtomicUsize::new(0);

/// A fresh project with the cast's roles, so destructive actions never affect other cells.
async fn fresh_project(app: &TestApp, cast: &Cast) -> String {
    let key = format!("P{}", PROJECTS.fetch_add(1, Ordering::SeqCst));
    app.create_project(&cast.owner, &key).await.unwrap();
    for (user, role) in [
        (&cast.viewer, pb::Role::Viewer),
        (&cast.reporter, pb::Role::Reporter),
        (&cast.maintainer, pb::Role::Maintainer),
    ] {
        app.set_member(&cast.owner, &key, user, role).await.unwrap();
    }
    key
}

fn code<T>(result: Result<T, tonic::Status>) -> Code {
    match result {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

async fn perform(app: &TestApp, cast: &Cast, actor: &User, action: Action) -> Code {
    let key = fresh_project(app, cast).await;
    let mut client = app.client();
    // "Others'" fixtures are the admin's: someone else for every actor but the admin, who may do
    // everything anyway.
    let others_issue = app
        .create_issue(&cast.admin, &key, "someone else's issue")
        .await
        .unwrap();
    let others_comment = app
        .comment(&cast.admin, &others_issue.key, "someone else's comment")
        .await
        .unwrap();
    let update = |issue: &pb::Issue| pb::UpdateIssueRequest {
        issue_key: issue.key.clone(),
        ..Default::default()
    };
    match action {
        Action::GetProject => code(
            client
                .get_project(req(pb::GetProjectRequest { key }, actor))
                .await,
        ),
        Action::ListIssues => code(
            app.list(
                actor,
                pb::ListIssuesRequest {
                    project_key: key,
                    ..Default::default()
                },
            )
            .await,
        ),
        Action::GetIssue => code(app.get_issue(actor, &others_issue.key).await),
        Action::ListComments => code(
            client
                .list_comments(req(
                    pb::ListCommentsRequest {
                        issue_key: others_issue.key,
                        ..Default::default()
                    },
                    actor,
                ))
                .await,
        ),
        Action::ListEvents => code(
            client
                .list_issue_events(req(
                    pb::ListIssueEventsRequest {
                        issue_key: others_issue.key,
                        ..Default::default()
                    },
                    actor,
                ))
                .await,
        ),
        Action::CreateIssue => code(app.create_issue(actor, &key, "mine").await),
        Action::CreateComment => code(app.comment(actor, &others_issue.key, "hello").await),
        Action::EditOwnIssueTitle => {
            let own = app.create_issue(actor, &key, "mine").await.unwrap();
            code(
                app.update_issue(
                    actor,
                    pb::UpdateIssueRequest {
                        title: Some("renamed".into()),
                        ..update(&own)
                    },
                )
                .await,
            )
        }
        Action::EditOthersIssueTitle => code(
            app.update_issue(
                actor,
                pb::UpdateIssueRequest {
                    title: Some("renamed".into()),
                    ..update(&others_issue)
                },
            )
            .await,
        ),
        Action::ChangeStatusOfIssueAssignedToThem => {
            app.update_issue(
                &cast.owner,
                pb::UpdateIssueRequest {
                    assignee_id: Some(actor.id.clone()),
                    ..update(&others_issue)
                },
            )
            .await
            .unwrap();
            code(
                app.update_issue(
                    actor,
                    pb::UpdateIssueRequest {
                        status: pb::IssueStatus::InProgress as i32,
                        ..update(&others_issue)
                    },
                )
                .await,
            )
        }
        Action::ChangeStatusOfOthersIssue => code(
            app.update_issue(
                actor,
                pb::UpdateIssueRequest {
                    status: pb::IssueStatus::Resolved as i32,
                    ..update(&others_issue)
                },
            )
            .await,
        ),
        Action::ChangePriority => code(
            app.update_issue(
                actor,
                pb::UpdateIssueRequest {
                    priority: pb::Priority::Urgent as i32,
                    ..update(&others_issue)
                },
            )
            .await,
        ),
        Action::AssignIssue => code(
            app.update_issue(
                actor,
                pb::UpdateIssueRequest {
                    assignee_id: Some(cast.maintainer.id.clone()),
                    ..update(&others_issue)
                },
            )
            .await,
        ),
        Action::LabelIssue => code(
            app.update_issue(
                actor,
                pb::UpdateIssueRequest {
                    labels: Some(pb::LabelSet {
                        labels: vec!["bug".into()],
                    }),
                    ..update(&others_issue)
                },
            )
            .await,
        ),
        Action::DeleteIssue => code(
            client
                .delete_issue(req(
                    pb::DeleteIssueRequest {
                        issue_key: others_issue.key,
                    },
                    actor,
                ))
                .await,
        ),
        Action::EditOwnComment => {
            let own = app.comment(actor, &others_issue.key, "mine").await.unwrap();
            code(
                client
                    .update_comment(req(
                        pb::UpdateCommentRequest {
                            id: own.id,
                            body: "edited".into(),
                            update_mask: None,
                        },
                        actor,
                    ))
                    .await,
            )
        }
        Action::EditOthersComment => code(
            client
                .update_comment(req(
                    pb::UpdateCommentRequest {
                        id: others_comment.id,
                        body: "edited".into(),
                        update_mask: None,
                    },
                    actor,
                ))
                .await,
        ),
        Action::DeleteOwnComment => {
            let own = app.comment(actor, &others_issue.key, "mine").await.unwrap();
            code(
                client
                    .delete_comment(req(pb::DeleteCommentRequest { id: own.id }, actor))
                    .await,
            )
        }
        Action::DeleteOthersComment => code(
            client
                .delete_comment(req(
                    pb::DeleteCommentRequest {
                        id: others_comment.id,
                    },
                    actor,
                ))
                .await,
        ),
        Action::UpdateProject => code(
            client
                .update_project(req(
                    pb::UpdateProjectRequest {
                        key,
                        name: Some("Renamed".into()),
                        description: None,
                        update_mask: None,
                    },
                    actor,
                ))
                .await,
        ),
        Action::DeleteProject => code(
            client
                .delete_project(req(pb::DeleteProjectRequest { key }, actor))
                .await,
        ),
        Action::AddMember => {
            let newcomer = app
                .user(&format!("new-{}", PROJECTS.fetch_add(1, Ordering::SeqCst)))
                .await;
            code(
                app.set_member(actor, &key, &newcomer, pb::Role::Reporter)
                    .await,
            )
        }
        Action::ChangeRole => code(
            app.set_member(actor, &key, &cast.viewer, pb::Role::Reporter)
                .await,
        ),
        Action::RemoveMember => {
            let newcomer = app
                .user(&format!("new-{}", PROJECTS.fetch_add(1, Ordering::SeqCst)))
                .await;
            app.set_member(&cast.owner, &key, &newcomer, pb::Role::Viewer)
                .await
                .unwrap();
            code(
                client
                    .remove_member(req(
                        pb::RemoveMemberRequest {
                            project_key: key,
                            user_id: newcomer.id.clone(),
                        },
                        actor,
                    ))
                    .await,
            )
        }
    }
}

#[tokio::test]
async fn every_role_may_do_exactly_what_the_permission_table_says() {
    let app = TestApp::spawn().await;
    let cast = app.cast("CAST").await;
    let actors = [
        ("outsider", &cast.outsider),
        ("viewer", &cast.viewer),
        ("reporter", &cast.reporter),
        ("maintainer", &cast.maintainer),
        ("owner", &cast.owner),
        ("admin", &cast.admin),
    ];
    let mut failures = Vec::new();
    for (action, expected) in table() {
        for ((name, actor), want) in actors.iter().zip(expected) {
            let Some(want) = want else { continue };
            let got = perform(&app, &cast, actor, action).await;
            if got != want {
                failures.push(format!(
                    "{action:?} as {name}: expected {want:?}, got {got:?}"
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission table violated:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn a_non_member_cannot_tell_a_hidden_project_from_a_missing_one() {
    let app = TestApp::spawn().await;
    let cast = app.cast("HID").await;
    let issue = app
        .create_issue(&cast.owner, "HID", "secret")
        .await
        .unwrap();
    let mut client = app.client();
    let hidden = client
        .get_project(req(
            pb::GetProjectRequest { key: "HID".into() },
            &cast.outsider,
        ))
        .await
        .unwrap_err();
    let missing = client
        .get_project(req(
            pb::GetProjectRequest { key: "NOPE".into() },
            &cast.outsider,
        ))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    assert_eq!(hidden.message(), missing.message());
    let hidden_issue = app.get_issue(&cast.outsider, &issue.key).await.unwrap_err();
    let missing_issue = app.get_issue(&cast.outsider, "HID-999").await.unwrap_err();
    assert_eq!(hidden_issue.code(), Code::NotFound);
    assert_eq!(hidden_issue.message(), missing_issue.message());
}

#[tokio::test]
async fn members_may_leave_but_the_last_owner_may_neither_leave_nor_be_demoted() {
    let app = TestApp::spawn().await;
    let cast = app.cast("LEAVE").await;
    let mut client = app.client();
    let leave = |user: &User| {
        req(
            pb::RemoveMemberRequest {
                project_key: "LEAVE".into(),
                user_id: user.id.clone(),
            },
            user,
        )
    };
    client.remove_member(leave(&cast.viewer)).await.unwrap();
    let gone = client
        .get_project(req(
            pb::GetProjectRequest {
                key: "LEAVE".into(),
            },
            &cast.viewer,
        ))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), Code::NotFound);

    let last_owner_leaves = client.remove_member(leave(&cast.owner)).await.unwrap_err();
    assert_eq!(last_owner_leaves.code(), Code::FailedPrecondition);
    let last_owner_demoted = app
        .set_member(&cast.owner, "LEAVE", &cast.owner, pb::Role::Maintainer)
        .await
        .unwrap_err();
    assert_eq!(last_owner_demoted.code(), Code::FailedPrecondition);

    // With a second owner, the first may step down.
    app.set_member(&cast.owner, "LEAVE", &cast.maintainer, pb::Role::Owner)
        .await
        .unwrap();
    app.set_member(&cast.owner, "LEAVE", &cast.owner, pb::Role::Maintainer)
        .await
        .unwrap();
    let members = client
        .list_members(req(
            pb::ListMembersRequest {
                project_key: "LEAVE".into(),
                ..Default::default()
            },
            &cast.maintainer,
        ))
        .await
        .unwrap()
        .into_inner()
        .members;
    let owners: Vec<_> = members
        .iter()
        .filter(|m| m.role == pb::Role::Owner as i32)
        .map(|m| m.username.as_str())
        .collect();
    assert_eq!(owners, [cast.maintainer.username.as_str()]);
}

#[tokio::test]
async fn members_must_exist_in_identity_and_roles_must_be_known() {
    let app = TestApp::spawn().await;
    let cast = app.cast("MEM").await;
    let ghost = User {
        id: uuid::Uuid::new_v4().to_string(),
        username: "ghost".into(),
        token: String::new(),
    };
    let status = app
        .set_member(&cast.owner, "MEM", &ghost, pb::Role::Viewer)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "user not found");

    let status = app
        .client()
        .set_member(req(
            pb::SetMemberRequest {
                project_key: "MEM".into(),
                user_id: cast.outsider.id.clone(),
                role: 42,
            },
            &cast.owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(swatter_common::status::violations(&status)[0].field, "role");
}

/// A write that a user starts while their demotion is in flight.
#[derive(Debug, Clone, Copy)]
enum RacingWrite {
    /// Owner-only: add another owner.
    AddOwner,
    /// Owner-only: rename the project.
    RenameProject,
    /// Reporter and up: file an issue.
    CreateIssue,
}

impl RacingWrite {
    async fn run(
        self,
        mut client: IssuesServiceClient<Channel>,
        key: String,
        actor: User,
        other: User,
    ) -> Result<(), tonic::Status> {
        match self {
            RacingWrite::AddOwner => client
                .set_member(req(
                    pb::SetMemberRequest {
                        project_key: key,
                        user_id: other.id,
                        role: pb::Role::Owner as i32,
                    },
                    &actor,
                ))
                .await
                .map(drop),
            RacingWrite::RenameProject => client
                .update_project(req(
                    pb::UpdateProjectRequest {
                        key,
                        name: Some("renamed".into()),
                        description: None,
                        update_mask: None,
                    },
                    &actor,
                ))
                .await
                .map(drop),
            RacingWrite::CreateIssue => client
                .create_issue(req(
                    pb::CreateIssueRequest {
                        project_key: key,
                        title: "filed while demoted".into(),
                        ..Default::default()
                    },
                    &actor,
                ))
                .await
                .map(drop),
        }
    }
}

/// Backends of the issues database waiting for a lock.
async fn lock_waiters(db: &sqlx::PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
         WHERE datname = current_database() AND wait_event_type = 'Lock'",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

async fn until_lock_waiters(db: &sqlx::PgPool, n: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while lock_waiters(db).await < n {
        assert!(Instant::now() < deadline, "nobody waited for a lock");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_write_racing_its_authors_demotion_either_precedes_it_or_is_refused() {
    let app = TestApp::spawn().await;
    let owner = app.user("race-owner").await;
    let other = app.user("race-other").await;
    let cases = [
        (RacingWrite::AddOwner, pb::Role::Owner, pb::Role::Maintainer),
        (
            RacingWrite::RenameProject,
            pb::Role::Owner,
            pb::Role::Maintainer,
        ),
        (
            RacingWrite::CreateIssue,
            pb::Role::Reporter,
            pb::Role::Viewer,
        ),
    ];
    for (n, (write, before, after)) in cases.into_iter().enumerate() {
        let key = format!("RACE{n}");
        app.create_project(&owner, &key).await.unwrap();
        let victim = app.user(&format!("race-victim-{n}")).await;
        app.set_member(&owner, &key, &victim, before).await.unwrap();

        // The demotion stays in flight: it waits for the test's lock on the victim's membership
        // row, holding what it locked before (the project row).
        let mut hold = app.db.pool.begin().await.unwrap();
        sqlx::query(
            "SELECT 1 FROM members m JOIN projects p ON p.id = m.project_id
             WHERE p.key = $1 AND m.user_id = $2::uuid FOR SHARE OF m",
        )
        .bind(&key)
        .bind(&victim.id)
        .execute(&mut *hold)
        .await
        .unwrap();
        let demotion = {
            let mut client = app.client();
            let request = req(
                pb::SetMemberRequest {
                    project_key: key.clone(),
                    user_id: victim.id.clone(),
                    role: after as i32,
                },
                &owner,
            );
            tokio::spawn(async move { client.set_member(request).await })
        };
        until_lock_waiters(&app.db.pool, 1).await;

        let racing =
            tokio::spawn(write.run(app.client(), key.clone(), victim.clone(), other.clone()));
        // The write either completes while the demotion is still open, or waits for a lock.
        let completed_before_demotion = loop {
            if racing.is_finished() {
                break true;
            }
            if lock_waiters(&app.db.pool).await >= 2 {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        hold.commit().await.unwrap();
        demotion.await.unwrap().unwrap();
        let outcome = racing.await.unwrap();

        match outcome {
            Ok(()) => assert!(
                completed_before_demotion,
                "{write:?} succeeded after the demotion committed"
            ),
            Err(status) => assert_eq!(status.code(), Code::PermissionDenied, "{write:?}"),
        }
        // Once the demotion has committed, the write is refused.
        let again = write
            .run(app.client(), key.clone(), victim.clone(), other.clone())
            .await
            .unwrap_err();
        assert_eq!(again.code(), Code::PermissionDenied, "{write:?} again");
    }
}
