//! Watching issues and the notification inbox over HTTP (docs/api.md, "Watching and
//! notifications").

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_invalid, assert_problem};

/// Alice owns SWAT and OPS; Bob is a reporter in both. Alice files SWAT-1 and OPS-1 assigned to
/// Bob and mentions him in a comment on SWAT-1.
async fn bob_with_an_inbox(app: &TestApp) -> (TestUser, TestUser) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for key in ["SWAT", "OPS"] {
        app.create_project(&alice.access_token, key).await;
        app.add_member(&alice.access_token, key, &bob.id, "reporter")
            .await;
        app.create_issue(
            &alice.access_token,
            key,
            &json!({"title": format!("Broken in {key}"), "assignee_id": bob.id}),
        )
        .await;
    }
    let comment = app
        .post_comment(&alice.access_token, "SWAT-1", "@bob can you look?")
        .await;
    assert_eq!(comment.status(), StatusCode::CREATED);
    (alice, bob)
}

fn summaries(page: &Value) -> Vec<(String, String, String)> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["issue_key"].as_str().unwrap().to_owned(),
                n["reason"].as_str().unwrap().to_owned(),
                n["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_user_reads_filters_and_clears_their_inbox() {
    let app = TestApp::spawn().await;
    let (alice, bob) = bob_with_an_inbox(&app).await;

    let inbox = app.get_ok(&bob.access_token, "/v1/notifications").await;
    assert_eq!(
        summaries(&inbox),
        [
            (
                "SWAT-1".into(),
                "mentioned".into(),
                "commented: @bob can you look?".into()
            ),
            (
                "OPS-1".into(),
                "assigned".into(),
                "created: Broken in OPS".into()
            ),
            (
                "SWAT-1".into(),
                "assigned".into(),
                "created: Broken in SWAT".into()
            ),
        ]
    );
    assert_eq!(inbox["unread_count"], 3);
    assert_eq!(inbox["next_page_token"], Value::Null);
    let first = &inbox["items"][0];
    assert_eq!(first["project_key"], "SWAT");
    assert_eq!(first["actor_id"], alice.id.as_str());
    assert_eq!(first["change_type"], "comment.created");
    assert_eq!(first["read"], false);
    assert_eq!(first["read_at"], Value::Null);
    assert!(
        app.get_ok(&alice.access_token, "/v1/notifications").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let mentioned = app
        .get_ok(
            &bob.access_token,
            "/v1/notifications?reason=mentioned,watching",
        )
        .await;
    assert_eq!(mentioned["items"].as_array().unwrap().len(), 1);
    let paged = app
        .get_ok(&bob.access_token, "/v1/notifications?page_size=2")
        .await;
    let token = paged["next_page_token"].as_str().unwrap();
    let rest = app
        .get_ok(
            &bob.access_token,
            &format!("/v1/notifications?page_size=2&page_token={token}"),
        )
        .await;
    assert_eq!(rest["items"][0]["issue_key"], "SWAT-1");
    assert_eq!(rest["items"][0]["reason"], "assigned");

    let id = first["id"].as_str().unwrap();
    let read = app
        .send_json(
            Method::POST,
            &bob.access_token,
            &format!("/v1/notifications/{id}/read"),
            &json!({}),
        )
        .await;
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["read"], true);
    assert!(read["read_at"].is_string());
    let unread = app
        .get_ok(&bob.access_token, "/v1/notifications?unread=true")
        .await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 2);
    assert_eq!(unread["unread_count"], 2);

    let foreign = app
        .send_json(
            Method::POST,
            &alice.access_token,
            &format!("/v1/notifications/{id}/read"),
            &json!({}),
        )
        .await;
    assert_problem(foreign, 404, "not-found").await;

    let all = app
        .send_json(
            Method::POST,
            &bob.access_token,
            "/v1/notifications/read-all",
            &json!({}),
        )
        .await;
    assert_eq!(all.status(), StatusCode::OK);
    assert_eq!(all.json::<Value>().await.unwrap(), json!({"marked": 2}));
    let after = app.get_ok(&bob.access_token, "/v1/notifications").await;
    assert_eq!(after["unread_count"], 0);
}

#[tokio::test]
async fn watching_is_set_and_listed_per_issue() {
    let app = TestApp::spawn().await;
    let (alice, bob) = bob_with_an_inbox(&app).await;
    let carol = app.user("carol").await;
    app.add_member(&alice.access_token, "SWAT", &carol.id, "viewer")
        .await;

    let watch = app
        .send_json(
            Method::PUT,
            &carol.access_token,
            "/v1/issues/SWAT-1/watch",
            &json!({}),
        )
        .await;
    assert_eq!(watch.status(), StatusCode::OK);
    assert_eq!(
        watch.json::<Value>().await.unwrap(),
        json!({"issue_key": "SWAT-1", "watching": true})
    );
    let watchers = app
        .get_ok(&carol.access_token, "/v1/issues/SWAT-1/watchers")
        .await;
    let reasons: Vec<(&str, &str)> = watchers["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["user_id"].as_str().unwrap(),
                w["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (alice.id.as_str(), "author"),
            (bob.id.as_str(), "assignee"),
            (carol.id.as_str(), "manual"),
        ]
    );
    let paged = app
        .get_ok(
            &carol.access_token,
            "/v1/issues/SWAT-1/watchers?page_size=1",
        )
        .await;
    assert!(paged["next_page_token"].is_string());

    let unwatch = app
        .delete_as(&carol.access_token, "/v1/issues/SWAT-1/watch")
        .await;
    assert_eq!(unwatch.status(), StatusCode::OK);
    assert_eq!(
        unwatch.json::<Value>().await.unwrap(),
        json!({"issue_key": "SWAT-1", "watching": false})
    );

    let stranger = app.user("dave").await;
    for response in [
        app.send_json(
            Method::PUT,
            &stranger.access_token,
            "/v1/issues/SWAT-1/watch",
            &json!({}),
        )
        .await,
        app.get_as(&stranger.access_token, "/v1/issues/SWAT-1/watchers")
            .await,
        app.delete_as(&stranger.access_token, "/v1/issues/SWAT-1/watch")
            .await,
    ] {
        assert_problem(response, 404, "not-found").await;
    }
}

#[tokio::test]
async fn a_token_limited_to_a_project_sees_and_clears_only_that_projects_notifications() {
    let app = TestApp::spawn().await;
    let (_alice, bob) = bob_with_an_inbox(&app).await;
    let created = app
        .send_json(
            Method::POST,
            &bob.access_token,
            "/v1/users/me/tokens",
            &json!({"name": "ops", "scopes": ["read", "write"], "projects": ["OPS"]}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let pat = created.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();

    let inbox = app.get_ok(&pat, "/v1/notifications").await;
    assert_eq!(
        summaries(&inbox),
        [(
            "OPS-1".into(),
            "assigned".into(),
            "created: Broken in OPS".into()
        )]
    );
    assert_eq!(inbox["unread_count"], 1);
    let swat_id = app.get_ok(&bob.access_token, "/v1/notifications").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hidden = app
        .send_json(
            Method::POST,
            &pat,
            &format!("/v1/notifications/{swat_id}/read"),
            &json!({}),
        )
        .await;
    assert_problem(hidden, 404, "not-found").await;
    let all = app
        .send_json(Method::POST, &pat, "/v1/notifications/read-all", &json!({}))
        .await;
    assert_eq!(all.json::<Value>().await.unwrap(), json!({"marked": 1}));
    let full = app.get_ok(&bob.access_token, "/v1/notifications").await;
    assert_eq!(full["unread_count"], 2, "SWAT's stay unread");
    assert_problem(
        app.get_as(&pat, "/v1/issues/SWAT-1/watchers").await,
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn bad_inbox_and_watch_requests_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let (_alice, bob) = bob_with_an_inbox(&app).await;
    let token = &bob.access_token;
    for (query, field) in [
        ("reason=loud", "reason"),
        ("reason=assigned,,watching", "reason"),
        ("reason=ASSIGNED", "reason"),
        ("unread=yes", "unread"),
        ("unread=1", "unread"),
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_size=-1", "page_size"),
        ("page_token=forged", "page_token"),
        ("page_token=%00", "page_token"),
    ] {
        let response = app
            .get_as(token, &format!("/v1/notifications?{query}"))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        assert_invalid(response, &[field]).await;
    }
    // An empty list is no filter, as on the issue lists.
    let unfiltered = app.get_ok(token, "/v1/notifications?reason=&unread=").await;
    assert_eq!(unfiltered["items"].as_array().unwrap().len(), 3);
    let long_token = "a".repeat(600);
    assert_invalid(
        app.get_as(token, &format!("/v1/notifications?page_token={long_token}"))
            .await,
        &["page_token"],
    )
    .await;

    assert_invalid(
        app.get_as(token, "/v1/issues/SWAT-1/watchers?page_token=forged")
            .await,
        &["page_token"],
    )
    .await;
    for path in [
        "/v1/notifications/not-a-uuid/read",
        "/v1/notifications/00000000-0000-0000-0000-000000000000/read",
    ] {
        let response = app.send_json(Method::POST, token, path, &json!({})).await;
        let status = response.status().as_u16();
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    for path in [
        "/v1/issues/swat-1/watch",
        "/v1/issues/SWAT-0/watch",
        "/v1/issues/SWAT-99999999999999999999/watch",
        "/v1/issues/SWAT-99/watch",
    ] {
        let response = app.send_json(Method::PUT, token, path, &json!({})).await;
        let status = response.status().as_u16();
        assert!(status == 404 || status == 422, "{path}: {status}");
    }
    let anonymous = app
        .client
        .get(format!("{}/v1/notifications", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
