//! How the gateway answers bodies it cannot use: every answer is a problem.

use reqwest::header;
use serde_json::json;

use crate::helpers::{TestApp, assert_invalid, assert_problem};

#[tokio::test]
async fn a_body_that_is_not_json_is_a_bad_request() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/v1/users"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(r#"{"username": "alice", "#)
        .send()
        .await
        .unwrap();

    assert_problem(response, 400, "malformed-body").await;
}

#[tokio::test]
async fn an_unknown_field_is_refused_by_name() {
    let app = TestApp::spawn().await;

    let response = app.sign_up_alice_with(json!({"admin": true})).await;

    assert_invalid(response, &["admin"]).await;
}

#[tokio::test]
async fn a_field_of_the_wrong_type_or_a_missing_one_is_named() {
    let app = TestApp::spawn().await;

    let wrong_type = app
        .sign_up(&json!({"username": 42, "email": "a@example.com", "password": "long enough"}))
        .await;
    let missing = app
        .sign_up(&json!({"username": "alice", "password": "long enough"}))
        .await;

    assert_invalid(wrong_type, &["username"]).await;
    let problem = assert_invalid(missing, &["email"]).await;
    assert_eq!(problem["errors"][0]["message"], "is required");
}

#[tokio::test]
async fn a_body_without_a_json_content_type_is_unsupported() {
    let app = TestApp::spawn().await;
    let body = r#"{"username": "alice", "email": "alice@example.com", "password": "long enough"}"#;

    let as_text = app
        .client
        .post(app.url("/v1/users"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    let without_type = app
        .client
        .post(app.url("/v1/users"))
        .body(body)
        .send()
        .await
        .unwrap();

    assert_problem(as_text, 415, "unsupported-media-type").await;
    assert_problem(without_type, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn a_body_over_one_mebibyte_is_too_large() {
    let app = TestApp::spawn().await;
    let padding = "x".repeat(1024 * 1024);

    let response = app
        .sign_up(&json!({"username": "alice", "email": "a@example.com", "password": padding}))
        .await;

    assert_problem(response, 413, "payload-too-large").await;
}
