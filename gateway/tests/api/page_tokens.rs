//! Page tokens are tamper-proof (docs/api.md): a token with one byte changed, or a cursor made by hand
//! (an unsigned base64 JSON cursor, the format tokens once had, with a timestamp in the year
//! −100000), is 422 naming `page_token` on every list, never a server error.

use reqwest::StatusCode;
use serde_json::json;
use swatter_testkit::{
    YEAR_MINUS_100000_MICROS, altered_page_token as flipped, hand_made_page_token as hand_made,
};

use crate::helpers::{ReportingMode, TestApp, assert_problem, error_fields};

/// A cursor of `(created_at, id)` lists (comments, events, jobs) in the year −100000.
fn ancient_time_cursor() -> String {
    hand_made(&json!([
        YEAR_MINUS_100000_MICROS,
        "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b"
    ]))
}

/// The `next_page_token` of the first one-item page of `path`, checking it works.
async fn real_token(app: &TestApp, token: &str, path: &str) -> String {
    let separator = if path.contains('?') { '&' } else { '?' };
    let page = app
        .get_ok(token, &format!("{path}{separator}page_size=1"))
        .await;
    let next = page["next_page_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{path} has a second page: {page}"))
        .to_owned();
    let second = app
        .get_as(
            token,
            &format!("{path}{separator}page_size=1&page_token={next}"),
        )
        .await;
    assert_eq!(second.status(), StatusCode::OK, "{path} with its own token");
    next
}

/// Checks that every token in `bad` is refused on `path` as 422 `page_token`.
async fn assert_refused(app: &TestApp, token: &str, path: &str, bad: &[String]) {
    let separator = if path.contains('?') { '&' } else { '?' };
    for page_token in bad {
        let response = app
            .get_as(token, &format!("{path}{separator}page_token={page_token}"))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path} with {page_token}"
        );
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert_eq!(error_fields(&problem), ["page_token"], "{path}: {problem}");
    }
}

#[tokio::test]
async fn altered_and_hand_made_page_tokens_are_refused_on_every_issues_and_users_list() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await;
    let token = &alice.access_token;
    app.create_project(token, "TOK").await;
    app.create_project(token, "TOL").await;
    for title in ["First", "Second"] {
        app.create_issue(token, "TOK", &json!({ "title": title }))
            .await;
    }
    for body in ["one", "two"] {
        let response = app.post_comment(token, "TOK-1", body).await;
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let response = app
        .patch_issue(token, "TOK-1", None, &json!({"status": "in_progress"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);

    let ancient_issue_cursor = |sort: &str| {
        hand_made(&json!({
            "value": YEAR_MINUS_100000_MICROS,
            "id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b",
            "sort": sort,
        }))
    };
    let lists = [
        ("/v1/issues", ancient_issue_cursor("-updated_at")),
        (
            "/v1/projects/TOK/issues?sort=created_at",
            ancient_issue_cursor("created_at"),
        ),
        ("/v1/issues/TOK-1/comments", ancient_time_cursor()),
        ("/v1/issues/TOK-1/events", ancient_time_cursor()),
        ("/v1/users", hand_made(&json!("a\u{0}b"))),
        ("/v1/projects", hand_made(&json!("A\u{0}"))),
    ];
    for (path, hand_made_token) in lists {
        let real = real_token(&app, token, path).await;
        assert_refused(&app, token, path, &[flipped(&real), hand_made_token]).await;
    }
}

#[tokio::test]
async fn altered_and_hand_made_page_tokens_are_refused_on_the_job_list() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;
    for _ in 0..2 {
        let response = app
            .authed(reqwest::Method::POST, "/v1/reports", token)
            .json(&json!({"kind": "user_monthly"}))
            .send()
            .await
            .expect("send request");
        assert_eq!(response.status(), StatusCode::ACCEPTED);
    }

    let real = real_token(&app, token, "/v1/jobs").await;
    assert_refused(
        &app,
        token,
        "/v1/jobs",
        &[flipped(&real), ancient_time_cursor()],
    )
    .await;
    app.cleanup_broker().await;
}
