//! What an access token is worth after its account changes, through REST and straight over gRPC
//! (every service checks tokens itself): disabling a user or taking admin away takes effect in
//! every service, and a token held by a service on a user's behalf reads only what a report needs.
//! The harness has the services ask identity at every request (`session_check_interval` zero);
//! the interval and what happens while identity is unreachable are unit-tested in
//! `swatter_common::auth`.

use reqwest::{Method, StatusCode};
use serde_json::json;
use swatter_proto::{
    identity::v1::{self as idpb, create_token_request::Grant},
    issues::v1 as ipb,
    reporting::v1 as rpb,
};
use tonic::{Code, transport::Channel};

use crate::helpers::{ReportingMode, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, TestApp};
use swatter_testkit::{authed, connect};

async fn issues(app: &TestApp) -> ipb::issues_service_client::IssuesServiceClient<Channel> {
    ipb::issues_service_client::IssuesServiceClient::new(connect(app.issues_addr).await)
}

async fn reporting(
    app: &TestApp,
) -> rpb::reporting_service_client::ReportingServiceClient<Channel> {
    let addr = app.reporting.as_ref().expect("reporting runs").addr;
    rpb::reporting_service_client::ReportingServiceClient::new(connect(addr).await)
}

fn new_project(key: &str) -> ipb::CreateProjectRequest {
    ipb::CreateProjectRequest {
        key: key.into(),
        name: format!("Project {key}"),
        ..Default::default()
    }
}

fn monthly_report() -> rpb::CreateReportRequest {
    rpb::CreateReportRequest {
        params: Some(rpb::ReportParams {
            params: Some(rpb::report_params::Params::UserMonthly(
                rpb::UserMonthlyReportParams::default(),
            )),
        }),
        request_id: String::new(),
    }
}

/// The token the report worker gets for `user_id`, asked of identity's gRPC port (the only
/// place that grants it).
async fn delegated_token(app: &TestApp, user_id: &str) -> String {
    idpb::identity_service_client::IdentityServiceClient::new(connect(app.identity_addr).await)
        .create_token(idpb::CreateTokenRequest {
            grant: Some(Grant::ClientCredentials(idpb::ClientCredentialsGrant {
                client_id: SERVICE_CLIENT_ID.into(),
                client_secret: SERVICE_CLIENT_SECRET.into(),
                subject_user_id: Some(user_id.into()),
            })),
        })
        .await
        .expect("a delegated token")
        .into_inner()
        .access_token
}

#[tokio::test]
async fn a_demoted_admins_old_token_can_no_longer_edit_users_nor_see_other_projects() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "ALI").await;
    let promote = app
        .update_user(&admin, &bob.id, &json!({"admin": true}))
        .await;
    assert_eq!(promote.status(), StatusCode::OK);
    let old_token = app.tokens("bob", &bob.password).await.access_token;
    let rename = json!({"full_name": "Alice Renamed"});
    assert_eq!(
        app.update_user(&old_token, &alice.id, &rename)
            .await
            .status(),
        StatusCode::OK
    );
    app.get_ok(&old_token, "/v1/projects/ALI").await;

    let demote = app
        .update_user(&admin, &bob.id, &json!({"admin": false}))
        .await;
    assert_eq!(demote.status(), StatusCode::OK);

    let edit = app.update_user(&old_token, &alice.id, &rename).await;
    let project = app.get_as(&old_token, "/v1/projects/ALI").await;
    let over_grpc = issues(&app)
        .await
        .get_project(authed(
            ipb::GetProjectRequest { key: "ALI".into() },
            &old_token,
        ))
        .await
        .unwrap_err();
    assert_eq!(edit.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(project.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(over_grpc.code(), Code::Unauthenticated);
    // Logged in again, bob is an ordinary user.
    let new_token = app.tokens("bob", &bob.password).await.access_token;
    let edit = app.update_user(&new_token, &alice.id, &rename).await;
    let project = app.get_as(&new_token, "/v1/projects/ALI").await;
    assert_eq!(edit.status(), StatusCode::FORBIDDEN);
    assert_eq!(project.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_disabled_users_old_token_cannot_create_a_project_or_ask_for_a_report() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let admin = app.admin_token().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "ALI").await;

    let disable = app
        .update_user(&admin, &alice.id, &json!({"disabled": true}))
        .await;
    assert_eq!(disable.status(), StatusCode::OK);

    let token = &alice.access_token;
    let project = app
        .post_project(token, &json!({"key": "NEW", "name": "New"}))
        .await;
    let report = app
        .send_json(
            Method::POST,
            token,
            "/v1/reports",
            &json!({"kind": "project", "project_key": "ALI"}),
        )
        .await;
    let project_over_grpc = issues(&app)
        .await
        .create_project(authed(new_project("NEW"), token))
        .await
        .unwrap_err();
    let report_over_grpc = reporting(&app)
        .await
        .create_report(authed(monthly_report(), token))
        .await
        .unwrap_err();
    app.cleanup_broker().await;

    assert_eq!(project.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(report.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(project_over_grpc.code(), Code::Unauthenticated);
    assert_eq!(report_over_grpc.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn a_token_held_for_an_admin_cannot_write_anything_nor_list_everyones_jobs() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let admin = app.admin_token().await;
    let admin_id = app.get_ok(&admin, "/v1/users/me").await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = app.user("alice").await;
    app.create_project(&admin, "ADM").await;
    let token = delegated_token(&app, &admin_id).await;

    let patch_user = app
        .update_user(&token, &alice.id, &json!({"admin": true}))
        .await;
    let create_project = app
        .post_project(&token, &json!({"key": "NEW", "name": "New"}))
        .await;
    let create_issue = app
        .post_issue(&token, "ADM", &json!({"title": "Planted"}))
        .await;
    let create_report = app
        .send_json(
            Method::POST,
            &token,
            "/v1/reports",
            &json!({"kind": "user_monthly"}),
        )
        .await;
    let all_jobs = app.get_as(&token, "/v1/jobs?all=true").await;
    let jobs_over_grpc = reporting(&app)
        .await
        .list_jobs(authed(
            rpb::ListJobsRequest {
                all: true,
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    let project_over_grpc = issues(&app)
        .await
        .create_project(authed(new_project("NEW"), &token))
        .await
        .unwrap_err();
    // What a report reads still works: the admin's own project.
    let read = issues(&app)
        .await
        .get_project(authed(ipb::GetProjectRequest { key: "ADM".into() }, &token))
        .await;
    app.cleanup_broker().await;

    for (what, response) in [
        ("PATCH user", patch_user),
        ("POST project", create_project),
        ("POST issue", create_issue),
        ("POST report", create_report),
        ("GET all jobs", all_jobs),
    ] {
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{what}");
    }
    assert_eq!(jobs_over_grpc.code(), Code::PermissionDenied);
    assert_eq!(project_over_grpc.code(), Code::PermissionDenied);
    assert!(read.is_ok(), "{read:?}");
}
