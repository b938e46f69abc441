use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields};

#[tokio::test]
async fn signing_up_creates_the_user_and_points_to_it() {
    let app = TestApp::spawn().await;

    let response = app
        .sign_up_alice_with(json!({"full_name": "Alice Liddell"}))
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let user: Value = response.json().await.unwrap();
    let id = user["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{user}");
    assert_eq!(location, format!("/v1/users/{id}"));
    assert_eq!(user["username"], "alice");
    assert_eq!(user["full_name"], "Alice Liddell");
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(user["admin"], false);
    assert_eq!(user["disabled"], false);
    let created_at = user["created_at"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(created_at).is_ok() && created_at.ends_with('Z'),
        "{created_at}"
    );
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());
}

#[tokio::test]
async fn signing_up_without_a_full_name_leaves_it_empty() {
    let app = TestApp::spawn().await;

    let response = app
        .sign_up(
            &json!({"username": "bob", "email": "bob@example.com", "password": "bob-password"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["full_name"], "");
}

#[tokio::test]
async fn a_taken_username_is_a_conflict_naming_the_field() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    let response = app
        .sign_up(&json!({
            "username": "alice",
            "email": "another@example.com",
            "password": "correct horse battery"
        }))
        .await;

    let problem = assert_problem(response, 409, "conflict").await;
    assert_eq!(error_fields(&problem), ["username"]);
}

#[tokio::test]
async fn an_email_taken_in_another_case_is_a_conflict() {
    let app = TestApp::spawn().await;
    app.user("alice").await;

    let response = app
        .sign_up(&json!({
            "username": "alice2",
            "email": "ALICE@Example.COM",
            "password": "correct horse battery"
        }))
        .await;

    let problem = assert_problem(response, 409, "conflict").await;
    assert_eq!(error_fields(&problem), ["email"]);
}

#[tokio::test]
async fn invalid_fields_are_all_listed() {
    let app = TestApp::spawn().await;

    let response = app
        .sign_up(&json!({
            "username": "No Spaces!",
            "email": "not-an-email",
            "password": "short",
            "full_name": "x".repeat(101)
        }))
        .await;

    let problem = assert_problem(response, 422, "validation-failed").await;
    assert_eq!(
        error_fields(&problem),
        ["username", "email", "password", "full_name"]
    );
    for error in problem["errors"].as_array().unwrap() {
        assert!(!error["message"].as_str().unwrap().is_empty(), "{error}");
    }
}

#[tokio::test]
async fn sign_ups_beyond_the_limit_per_client_are_refused_with_retry_after() {
    let app = TestApp::spawn_configured(
        |identity| identity.throttle.signups_per_client_per_hour = 2,
        |_| {},
    )
    .await;
    let body = |name: &str| {
        json!({
            "username": name,
            "email": format!("{name}@example.com"),
            "password": "correct horse battery",
        })
    };

    for name in ["first", "second"] {
        assert_eq!(app.sign_up(&body(name)).await.status(), StatusCode::CREATED);
    }
    let limited = app.sign_up(&body("third")).await;
    let admin_token = app.admin_token().await;
    let by_admin = app
        .client
        .post(app.url("/v1/users"))
        .bearer_auth(&admin_token)
        .json(&body("fourth"))
        .send()
        .await
        .unwrap();

    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=1800).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(limited, 429, "rate-limited").await;
    assert!(problem["detail"].as_str().unwrap().contains("sign-ups"));
    assert_eq!(
        by_admin.status(),
        StatusCode::CREATED,
        "admins are not counted"
    );
}
