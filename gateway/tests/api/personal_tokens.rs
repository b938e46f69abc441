//! Personal access tokens through REST and straight over gRPC: creating, listing and revoking
//! them, their scopes and project limits in every service, and how soon a revoked token or a
//! disabled user's token stops working everywhere (SPEC: within 5 s).

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};
use swatter_proto::{issues::v1 as ipb, reporting::v1 as rpb};
use tonic::{Code, transport::Channel};

use crate::helpers::{ReportingMode, TestApp, TestUser, assert_invalid, assert_problem};
use swatter_testkit::{authed, connect};

/// `POST /v1/users/me/tokens` as the holder of `token`.
async fn post_token(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, token, "/v1/users/me/tokens", body)
        .await
}

/// Creates a personal access token for the holder of the password login `token`; returns the
/// answer (`token` and `secret`).
async fn create_token(app: &TestApp, token: &str, body: &Value) -> Value {
    let response = post_token(app, token, body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "create a token");
    response.json().await.unwrap()
}

fn secret(created: &Value) -> String {
    created["secret"].as_str().unwrap().to_owned()
}

async fn issues(app: &TestApp) -> ipb::issues_service_client::IssuesServiceClient<Channel> {
    ipb::issues_service_client::IssuesServiceClient::new(connect(app.issues_addr).await)
}

/// Asks `probe` every 100 ms until it answers `false`; how long that took (the test fails after
/// 10 s).
async fn time_until<F, Fut>(mut probe: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let started = Instant::now();
    while probe().await {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "still accepted after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Alice owns SWAT (one issue) and OPS (one issue).
async fn alice_with_two_projects(app: &TestApp) -> TestUser {
    let alice = app.user("alice").await;
    for key in ["SWAT", "OPS"] {
        app.create_project(&alice.access_token, key).await;
        app.create_issue(
            &alice.access_token,
            key,
            &json!({"title": format!("Broken in {key}")}),
        )
        .await;
    }
    alice
}

#[tokio::test]
async fn a_token_is_shown_once_with_a_checksummed_prefix_listed_without_its_secret_and_revoked() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = post_token(
        &app,
        &alice.access_token,
        &json!({"name": "ci", "scopes": ["read", "write"], "expires_in_days": 30}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let created: Value = response.json().await.unwrap();
    let secret = secret(&created);
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/users/me/tokens/{id}"));
    assert!(
        secret.starts_with("swt_pat_") && secret.len() == 46,
        "{secret}"
    );
    assert!(swatter_common::personal_token::well_formed(&secret));
    assert_eq!(created["token"]["scopes"], json!(["read", "write"]));
    assert_eq!(created["token"]["projects"], Value::Null);
    assert_eq!(created["token"]["prefix"], secret[..12]);
    let expires =
        chrono::DateTime::parse_from_rfc3339(created["token"]["expires_at"].as_str().unwrap())
            .unwrap();
    let days = (expires.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_hours();
    assert!((29 * 24..=30 * 24).contains(&days), "{days} hours");

    // The token works, and its use is noted.
    let me = app.get_ok(&secret, "/v1/users/me").await;
    assert_eq!(me["username"], "alice");
    let listed = app.get_ok(&alice.access_token, "/v1/users/me/tokens").await;
    let text = listed.to_string();
    assert!(!text.contains(&secret), "the secret is never listed");
    assert_eq!(listed["items"][0]["id"], id);
    assert_eq!(listed["items"][0]["name"], "ci");
    assert!(listed["items"][0]["last_used_at"].is_string(), "{listed}");

    let revoked = app
        .delete_as(&alice.access_token, &format!("/v1/users/me/tokens/{id}"))
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = app.get_as(&secret, "/v1/users/me").await;
    assert_eq!(
        refused.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token", error_description="the personal access token has been revoked""#
    );
    assert_problem(refused, 401, "token-revoked").await;
    let listed = app.get_ok(&alice.access_token, "/v1/users/me/tokens").await;
    assert_eq!(listed["items"], json!([]));
    let again = app
        .delete_as(&alice.access_token, &format!("/v1/users/me/tokens/{id}"))
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "revoking twice is no error"
    );
}

#[tokio::test]
async fn a_token_cannot_manage_tokens_change_the_password_or_be_refreshed_or_revoked_as_a_login() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let token = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "all", "scopes": ["write"]}),
        )
        .await,
    );

    let mint = post_token(&app, &token, &json!({"name": "more", "scopes": ["write"]})).await;
    let list = app.get_as(&token, "/v1/users/me/tokens").await;
    let password = app
        .change_password(&token, &alice.password, "a-new-password-123")
        .await;
    let refresh = app.refresh(&token).await;
    let revoke = app.revoke(&token).await;

    assert_problem(mint, 403, "forbidden").await;
    assert_problem(list, 403, "forbidden").await;
    assert_problem(password, 403, "forbidden").await;
    assert_eq!(refresh.status(), StatusCode::BAD_REQUEST);
    assert_eq!(revoke.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        app.get_as(&token, "/v1/users/me").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn bad_token_requests_are_422_naming_the_field() {
    let app = TestApp::spawn().await;
    let alice = alice_with_two_projects(&app).await;
    let bob = app.user("bob").await;
    app.create_project(&bob.access_token, "BOB").await;

    let cases = [
        (
            json!({"name": "x", "scopes": ["read", "delete"]}),
            "scopes[1]",
        ),
        (json!({"name": "x", "scopes": ["admin"]}), "scopes[0]"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (
            json!({"name": "x", "scopes": ["read"], "expires_in_days": 366}),
            "expires_in_days",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "never_expires": true}),
            "never_expires",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "projects": ["SWAT", "BOB"]}),
            "projects[1]",
        ),
        (
            json!({"name": "x", "scopes": ["read"], "projects": ["NOPE"]}),
            "projects[0]",
        ),
        (json!({"name": " ", "scopes": ["read"]}), "name"),
    ];
    for (body, field) in cases {
        let response = post_token(&app, &alice.access_token, &body).await;
        assert_invalid(response, &[field]).await;
    }
    create_token(
        &app,
        &alice.access_token,
        &json!({"name": "ci", "scopes": ["read"]}),
    )
    .await;
    let twice = post_token(
        &app,
        &alice.access_token,
        &json!({"name": "ci", "scopes": ["read"]}),
    )
    .await;
    assert_problem(twice, 409, "conflict").await;
}

#[tokio::test]
async fn a_read_token_reads_but_cannot_write_over_rest_or_grpc() {
    let app = TestApp::spawn().await;
    let alice = alice_with_two_projects(&app).await;
    let token = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "ro", "scopes": ["read"]}),
        )
        .await,
    );

    let read = app.get_as(&token, "/v1/issues/SWAT-1").await;
    let feed = app.get_as(&token, "/v1/projects/SWAT/changes").await;
    let write = app
        .post_issue(&token, "SWAT", &json!({"title": "From a read token"}))
        .await;
    let grpc_write = issues(&app)
        .await
        .create_issue(authed(
            ipb::CreateIssueRequest {
                project_key: "SWAT".into(),
                title: "From a read token".into(),
                ..Default::default()
            },
            &token,
        ))
        .await
        .unwrap_err();
    let grpc_read = issues(&app)
        .await
        .get_issue(authed(
            ipb::GetIssueRequest {
                issue_key: "SWAT-1".into(),
            },
            &token,
        ))
        .await;

    assert_eq!(read.status(), StatusCode::OK);
    assert_eq!(feed.status(), StatusCode::OK);
    let problem = assert_problem(write, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("`write`"),
        "{problem}"
    );
    assert_eq!(grpc_write.code(), Code::PermissionDenied);
    assert!(grpc_read.is_ok());
}

#[tokio::test]
async fn a_project_limited_token_sees_nothing_of_other_projects_not_even_in_lists() {
    let app = TestApp::spawn().await;
    let alice = alice_with_two_projects(&app).await;
    let token = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
        )
        .await,
    );

    let projects = app.get_ok(&token, "/v1/projects").await;
    let issues_list = app.get_ok(&token, "/v1/issues").await;
    let other = app.get_as(&token, "/v1/projects/OPS").await;
    let other_issue = app.get_as(&token, "/v1/issues/OPS-1").await;
    let other_feed = app.get_as(&token, "/v1/projects/OPS/changes").await;
    let other_stream = app.get_as(&token, "/v1/projects/OPS/changes/stream").await;
    let other_write = app
        .post_issue(&token, "OPS", &json!({"title": "Elsewhere"}))
        .await;
    let new_project = app
        .post_project(&token, &json!({"key": "NEW", "name": "New"}))
        .await;
    let grpc_other = issues(&app)
        .await
        .get_project(authed(ipb::GetProjectRequest { key: "OPS".into() }, &token))
        .await
        .unwrap_err();

    let keys: Vec<&str> = projects["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["SWAT"]);
    let issue_keys: Vec<&str> = issues_list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["key"].as_str().unwrap())
        .collect();
    assert_eq!(issue_keys, ["SWAT-1"]);
    assert_problem(other, 404, "not-found").await;
    assert_problem(other_issue, 404, "not-found").await;
    assert_problem(other_feed, 404, "not-found").await;
    assert_problem(other_stream, 404, "not-found").await;
    assert_problem(other_write, 404, "not-found").await;
    assert_problem(new_project, 403, "forbidden").await;
    assert_eq!(grpc_other.code(), Code::NotFound);
    assert_eq!(
        app.get_as(&token, "/v1/issues/SWAT-1").await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get_as(&token, "/v1/projects/SWAT/changes")
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_revoked_token_is_refused_by_the_gateway_and_by_issues_directly_within_5_seconds() {
    let app = TestApp::spawn().await;
    let alice = alice_with_two_projects(&app).await;
    let created = create_token(
        &app,
        &alice.access_token,
        &json!({"name": "ci", "scopes": ["read"]}),
    )
    .await;
    let token = secret(&created);
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let mut grpc = issues(&app).await;
    let get = || ipb::GetIssueRequest {
        issue_key: "SWAT-1".into(),
    };
    // Both have seen (and cached) the token.
    assert_eq!(
        app.get_as(&token, "/v1/issues/SWAT-1").await.status(),
        StatusCode::OK
    );
    grpc.get_issue(authed(get(), &token)).await.unwrap();

    let revoke = app
        .delete_as(&alice.access_token, &format!("/v1/users/me/tokens/{id}"))
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let grpc_took = time_until(|| {
        let mut grpc = grpc.clone();
        let token = token.clone();
        async move { grpc.get_issue(authed(get(), &token)).await.is_ok() }
    })
    .await;
    let rest_took = time_until(|| async {
        app.get_as(&token, "/v1/issues/SWAT-1").await.status() == StatusCode::OK
    })
    .await;

    assert!(
        grpc_took < Duration::from_secs(5),
        "issues took {grpc_took:?}"
    );
    assert!(
        rest_took < Duration::from_secs(5),
        "the gateway took {rest_took:?}"
    );
    let status = grpc.get_issue(authed(get(), &token)).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(
        status.message(),
        "the personal access token has been revoked"
    );
}

#[tokio::test]
async fn a_disabled_users_token_is_refused_everywhere_within_5_seconds() {
    let app = TestApp::spawn().await;
    let alice = alice_with_two_projects(&app).await;
    let admin = app.admin_token().await;
    let token = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "ci", "scopes": ["read"]}),
        )
        .await,
    );
    let mut grpc = issues(&app).await;
    let get = || ipb::GetIssueRequest {
        issue_key: "SWAT-1".into(),
    };
    grpc.get_issue(authed(get(), &token)).await.unwrap();
    assert_eq!(
        app.get_as(&token, "/v1/issues/SWAT-1").await.status(),
        StatusCode::OK
    );

    let disable = app
        .update_user(&admin, &alice.id, &json!({"disabled": true}))
        .await;
    assert_eq!(disable.status(), StatusCode::OK);
    let grpc_took = time_until(|| {
        let mut grpc = grpc.clone();
        let token = token.clone();
        async move { grpc.get_issue(authed(get(), &token)).await.is_ok() }
    })
    .await;

    assert!(
        grpc_took < Duration::from_secs(5),
        "issues took {grpc_took:?}"
    );
    let refused = app.get_as(&token, "/v1/issues/SWAT-1").await;
    assert_problem(refused, 401, "account-disabled").await;
}

#[tokio::test]
async fn an_expired_token_is_401_saying_it_expired() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let created = create_token(
        &app,
        &alice.access_token,
        &json!({"name": "old", "scopes": ["read"]}),
    )
    .await;
    let token = secret(&created);
    sqlx::query("UPDATE personal_access_tokens SET expires_at = now() - interval '1 second'")
        .execute(&app.identity_db().pool)
        .await
        .unwrap();

    let refused = app.get_as(&token, "/v1/users/me").await;
    let grpc = issues(&app)
        .await
        .list_projects(authed(ipb::ListProjectsRequest::default(), &token))
        .await
        .unwrap_err();

    let problem = assert_problem(refused, 401, "token-expired").await;
    assert_eq!(
        problem["detail"],
        "the personal access token has expired; create a new one"
    );
    assert_eq!(grpc.code(), Code::Unauthenticated);
    assert_eq!(grpc.message(), "the personal access token has expired");
}

#[tokio::test]
async fn admins_list_and_revoke_other_users_tokens_and_others_cannot() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin_token().await;
    let created = create_token(
        &app,
        &alice.access_token,
        &json!({"name": "ci", "scopes": ["read"]}),
    )
    .await;
    let id = created["token"]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/users/{}/tokens", alice.id);

    let by_bob = app.get_as(&bob.access_token, &path).await;
    let bob_revokes = app
        .delete_as(&bob.access_token, &format!("{path}/{id}"))
        .await;
    let by_admin = app.get_ok(&admin, &path).await;
    let admin_revokes = app.delete_as(&admin, &format!("{path}/{id}")).await;

    assert_problem(by_bob, 403, "forbidden").await;
    assert_problem(bob_revokes, 403, "forbidden").await;
    assert_eq!(by_admin["items"][0]["id"], id);
    assert_eq!(admin_revokes.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_as(&secret(&created), "/v1/users/me").await,
        401,
        "token-revoked",
    )
    .await;
}

#[tokio::test]
async fn an_admin_token_has_admin_rights_only_with_the_admin_scope() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let admin = app.admin_token().await;
    let plain =
        secret(&create_token(&app, &admin, &json!({"name": "plain", "scopes": ["write"]})).await);
    let powered = secret(
        &create_token(
            &app,
            &admin,
            &json!({"name": "admin", "scopes": ["write", "admin"]}),
        )
        .await,
    );
    let path = format!("/v1/users/{}", alice.id);
    let rename = json!({"full_name": "Renamed"});

    let without = app.update_user(&plain, &alice.id, &rename).await;
    let with = app.update_user(&powered, &alice.id, &rename).await;

    assert_problem(without, 403, "forbidden").await;
    assert_eq!(with.status(), StatusCode::OK);
    assert_eq!(app.get_ok(&plain, &path).await.get("email"), None);
}

#[tokio::test]
async fn reporting_enforces_scopes_and_project_limits_of_tokens() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = alice_with_two_projects(&app).await;
    let read = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "ro", "scopes": ["read"]}),
        )
        .await,
    );
    let swat = secret(
        &create_token(
            &app,
            &alice.access_token,
            &json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
        )
        .await,
    );
    let report = |key: &str| json!({"kind": "project", "project_key": key});
    // Alice's own password login asks for a report of OPS.
    let ops_job = app
        .send_json(
            Method::POST,
            &alice.access_token,
            "/v1/reports",
            &report("OPS"),
        )
        .await;
    assert_eq!(ops_job.status(), StatusCode::ACCEPTED);
    let ops_job: Value = ops_job.json().await.unwrap();

    let read_write = app
        .send_json(Method::POST, &read, "/v1/reports", &report("SWAT"))
        .await;
    let limited_other = app
        .send_json(Method::POST, &swat, "/v1/reports", &report("OPS"))
        .await;
    let limited_monthly = app
        .send_json(
            Method::POST,
            &swat,
            "/v1/reports",
            &json!({"kind": "user_monthly", "month": "2026-01"}),
        )
        .await;
    let limited_own = app
        .send_json(Method::POST, &swat, "/v1/reports", &report("SWAT"))
        .await;
    let limited_jobs = app.get_ok(&swat, "/v1/jobs").await;
    let limited_ops_job = app
        .get_as(
            &swat,
            &format!("/v1/jobs/{}", ops_job["id"].as_str().unwrap()),
        )
        .await;
    let addr = app.reporting.as_ref().unwrap().addr;
    let grpc = rpb::reporting_service_client::ReportingServiceClient::new(connect(addr).await)
        .create_report(authed(
            rpb::CreateReportRequest {
                params: Some(rpb::ReportParams {
                    params: Some(rpb::report_params::Params::UserMonthly(
                        rpb::UserMonthlyReportParams::default(),
                    )),
                }),
                request_id: String::new(),
            },
            &read,
        ))
        .await
        .unwrap_err();

    assert_problem(read_write, 403, "forbidden").await;
    assert_problem(limited_other, 404, "not-found").await;
    assert_problem(limited_monthly, 403, "forbidden").await;
    assert_eq!(limited_own.status(), StatusCode::ACCEPTED);
    assert_eq!(
        limited_jobs["items"].as_array().unwrap().len(),
        1,
        "{limited_jobs}"
    );
    assert_eq!(
        limited_jobs["items"][0]["params"]["project_key"], "SWAT",
        "{limited_jobs}"
    );
    assert_problem(limited_ops_job, 404, "not-found").await;
    assert_eq!(grpc.code(), Code::PermissionDenied);

    // Revoked: reporting itself refuses the token within 5 s.
    let mut reporting =
        rpb::reporting_service_client::ReportingServiceClient::new(connect(addr).await);
    reporting
        .list_jobs(authed(rpb::ListJobsRequest::default(), &read))
        .await
        .unwrap();
    let listed = app.get_ok(&alice.access_token, "/v1/users/me/tokens").await;
    let read_id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ro")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoke = app
        .delete_as(
            &alice.access_token,
            &format!("/v1/users/me/tokens/{read_id}"),
        )
        .await;
    assert_eq!(revoke.status(), StatusCode::NO_CONTENT);
    let took = time_until(|| {
        let mut reporting = reporting.clone();
        let read = read.clone();
        async move {
            reporting
                .list_jobs(authed(rpb::ListJobsRequest::default(), &read))
                .await
                .is_ok()
        }
    })
    .await;
    assert!(took < Duration::from_secs(5), "reporting took {took:?}");
    app.cleanup_broker().await;
}

#[tokio::test]
async fn token_lists_are_paged_newest_first() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for name in ["first", "second", "third"] {
        create_token(
            &app,
            &alice.access_token,
            &json!({"name": name, "scopes": ["read"]}),
        )
        .await;
    }

    let first = app
        .get_ok(&alice.access_token, "/v1/users/me/tokens?page_size=2")
        .await;
    let token = first["next_page_token"].as_str().unwrap();
    let second = app
        .get_ok(
            &alice.access_token,
            &format!("/v1/users/me/tokens?page_size=2&page_token={token}"),
        )
        .await;

    let names = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(names(&first), ["third", "second"]);
    assert_eq!(names(&second), ["first"]);
    assert_eq!(second["next_page_token"], Value::Null);
}
