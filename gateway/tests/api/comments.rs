//! Comments over HTTP (docs/api.md).

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_invalid, assert_problem};

/// Alice owns SWAT with issue SWAT-1; Bob is a reporter in it.
async fn issue_with_reporter(app: &TestApp) -> (TestUser, TestUser) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.add_member(&alice.access_token, "SWAT", &bob.id, "reporter")
        .await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;
    (alice, bob)
}

fn bodies(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn comments_are_added_listed_oldest_first_edited_and_deleted() {
    let app = TestApp::spawn().await;
    let (alice, bob) = issue_with_reporter(&app).await;

    let first = app
        .post_comment(&alice.access_token, "SWAT-1", "First!")
        .await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let location = first.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let first: Value = first.json().await.unwrap();
    let second: Value = app
        .post_comment(&bob.access_token, "SWAT-1", "Reproduced.")
        .await
        .json()
        .await
        .unwrap();
    let listed = app
        .get_ok(&bob.access_token, "/v1/issues/SWAT-1/comments")
        .await;
    let edited = app
        .send_json(
            Method::PATCH,
            &alice.access_token,
            &location,
            &json!({"body": "First, edited"}),
        )
        .await;
    let deleted = app
        .delete_as(
            &bob.access_token,
            &format!("/v1/comments/{}", second["id"].as_str().unwrap()),
        )
        .await;
    let after = app
        .get_ok(&alice.access_token, "/v1/issues/SWAT-1/comments")
        .await;

    assert_eq!(
        location,
        format!("/v1/comments/{}", first["id"].as_str().unwrap())
    );
    assert_eq!(first["issue_key"], "SWAT-1");
    assert_eq!(first["author_id"], alice.id.as_str());
    assert_eq!(first["body"], "First!");
    assert!(
        first["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    assert_eq!(bodies(&listed), ["First!", "Reproduced."]);
    assert_eq!(listed["next_page_token"], Value::Null);
    assert_eq!(edited.status(), StatusCode::OK);
    assert_eq!(
        edited.json::<Value>().await.unwrap()["body"],
        "First, edited"
    );
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_eq!(bodies(&after), ["First, edited"]);
    let events = app
        .get_ok(&alice.access_token, "/v1/issues/SWAT-1/events")
        .await;
    let kinds: Vec<&str> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "comment_added",
            "comment_added",
            "comment_removed"
        ]
    );
}

#[tokio::test]
async fn comments_page_oldest_first() {
    let app = TestApp::spawn().await;
    let (alice, _) = issue_with_reporter(&app).await;
    for n in 1..=3 {
        app.post_comment(&alice.access_token, "SWAT-1", &format!("c{n}"))
            .await;
    }

    let first = app
        .get_ok(
            &alice.access_token,
            "/v1/issues/SWAT-1/comments?page_size=2",
        )
        .await;
    let token = first["next_page_token"].as_str().unwrap();
    let second = app
        .get_ok(
            &alice.access_token,
            &format!("/v1/issues/SWAT-1/comments?page_size=2&page_token={token}"),
        )
        .await;

    assert_eq!(bodies(&first), ["c1", "c2"]);
    assert_eq!(bodies(&second), ["c3"]);
    assert_eq!(second["next_page_token"], Value::Null);
}

#[tokio::test]
async fn only_the_author_edits_a_comment_but_an_owner_may_delete_it() {
    let app = TestApp::spawn().await;
    let (alice, bob) = issue_with_reporter(&app).await;
    let comment: Value = app
        .post_comment(&bob.access_token, "SWAT-1", "Bob's words")
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/v1/comments/{}", comment["id"].as_str().unwrap());

    let edit_by_owner = app
        .send_json(
            Method::PATCH,
            &alice.access_token,
            &path,
            &json!({"body": "Alice's words"}),
        )
        .await;
    let delete_by_owner = app.delete_as(&alice.access_token, &path).await;

    assert_problem(edit_by_owner, 403, "forbidden").await;
    assert_eq!(delete_by_owner.status(), StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn an_empty_comment_or_an_unknown_field_is_refused_by_name() {
    let app = TestApp::spawn().await;
    let (alice, _) = issue_with_reporter(&app).await;

    let empty = app.post_comment(&alice.access_token, "SWAT-1", "   ").await;
    let extra = app
        .send_json(
            Method::POST,
            &alice.access_token,
            "/v1/issues/SWAT-1/comments",
            &json!({"body": "Hi", "author_id": "someone"}),
        )
        .await;

    assert_invalid(empty, &["body"]).await;
    assert_invalid(extra, &["author_id"]).await;
}

#[tokio::test]
async fn a_comment_sent_twice_with_one_idempotency_key_is_added_once() {
    let app = TestApp::spawn().await;
    let (alice, _) = issue_with_reporter(&app).await;
    let post = || {
        app.authed(
            Method::POST,
            "/v1/issues/SWAT-1/comments",
            &alice.access_token,
        )
        .header("Idempotency-Key", "comment-1")
        .json(&json!({"body": "Once"}))
        .send()
    };

    let first = post().await.unwrap();
    let replay = post().await.unwrap();

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(
        replay.json::<Value>().await.unwrap(),
        first.json::<Value>().await.unwrap()
    );
    let listed = app
        .get_ok(&alice.access_token, "/v1/issues/SWAT-1/comments")
        .await;
    assert_eq!(bodies(&listed), ["Once"]);
}

#[tokio::test]
async fn a_comment_id_that_is_not_a_uuid_names_nothing() {
    let app = TestApp::spawn().await;
    let (alice, _) = issue_with_reporter(&app).await;

    let response = app
        .send_json(
            Method::PATCH,
            &alice.access_token,
            "/v1/comments/42",
            &json!({"body": "x"}),
        )
        .await;

    assert_problem(response, 404, "not-found").await;
}
