//! `/v1/issues/{issue_key}/relations`: make, list and remove relations over REST; a cycle is a
//! 409 naming it; hostile bodies and paths are 4xx naming the field; closing as a duplicate.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, error_fields};

async fn relate(app: &TestApp, token: &str, issue: &str, body: &Value) -> reqwest::Response {
    app.send_json(
        Method::POST,
        token,
        &format!("/v1/issues/{issue}/relations"),
        body,
    )
    .await
}

/// An owner's token and project `key` with `n` issues.
async fn project(app: &TestApp, key: &str, n: usize) -> String {
    let token = app.admin_token().await;
    app.create_project(&token, key).await;
    for i in 0..n {
        app.create_issue(&token, key, &json!({"title": format!("issue {i}")}))
            .await;
    }
    token
}

#[tokio::test]
async fn a_relation_is_made_listed_from_both_ends_and_removed() {
    let app = TestApp::spawn().await;
    let token = project(&app, "REST", 2).await;

    let response = relate(
        &app,
        &token,
        "REST-1",
        &json!({"kind": "blocks", "issue_key": "REST-2"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(
        response.headers()[header::LOCATION],
        "/v1/issues/REST-1/relations/blocks/REST-2"
    );
    let made: Value = response.json().await.unwrap();
    assert_eq!(made["kind"], "blocks");
    assert_eq!(made["issue_key"], "REST-2");
    assert_eq!(made["hidden"], false);
    assert_eq!(made["status"], "open");

    let other = app.get_ok(&token, "/v1/issues/REST-2/relations").await;
    assert_eq!(other["items"][0]["kind"], "blocked_by");
    assert_eq!(other["items"][0]["issue_key"], "REST-1");
    let blocked = app.get_ok(&token, "/v1/issues/REST-2").await;
    assert_eq!(blocked["blocked"], true);

    let removed = app
        .delete_as(&token, "/v1/issues/REST-2/relations/blocked_by/REST-1")
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    let again = app
        .delete_as(&token, "/v1/issues/REST-2/relations/blocked_by/REST-1")
        .await;
    assert_problem(again, 404, "not-found").await;
    let listed = app.get_ok(&token, "/v1/issues/REST-1/relations").await;
    assert_eq!(listed["items"], json!([]));
}

#[tokio::test]
async fn a_cycle_is_a_409_whose_problem_names_it() {
    let app = TestApp::spawn().await;
    let token = project(&app, "LOOP", 3).await;
    relate(
        &app,
        &token,
        "LOOP-1",
        &json!({"kind": "blocks", "issue_key": "LOOP-2"}),
    )
    .await;

    let response = relate(
        &app,
        &token,
        "LOOP-2",
        &json!({"kind": "blocks", "issue_key": "LOOP-1"}),
    )
    .await;
    let problem = assert_problem(response, 409, "relation-cycle").await;
    assert_eq!(problem["detail"], "LOOP-2 → LOOP-1 → LOOP-2");
    assert_eq!(error_fields(&problem), ["issue_key"]);

    relate(
        &app,
        &token,
        "LOOP-1",
        &json!({"kind": "parent_of", "issue_key": "LOOP-2"}),
    )
    .await;
    let response = relate(
        &app,
        &token,
        "LOOP-3",
        &json!({"kind": "parent_of", "issue_key": "LOOP-2"}),
    )
    .await;
    let problem = assert_problem(response, 409, "conflict").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("already has a parent")
    );
    let response = relate(
        &app,
        &token,
        "LOOP-2",
        &json!({"kind": "parent_of", "issue_key": "LOOP-1"}),
    )
    .await;
    let problem = assert_problem(response, 409, "relation-cycle").await;
    assert_eq!(problem["detail"], "LOOP-2 → LOOP-1 → LOOP-2");
}

#[tokio::test]
async fn hostile_relation_bodies_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let token = project(&app, "HOST", 2).await;
    for (body, field) in [
        (
            json!({"kind": "blocks", "issue_key": "HOST-1"}),
            "issue_key",
        ),
        (
            json!({"kind": "blocks", "issue_key": "HOST-99"}),
            "issue_key",
        ),
        (json!({"kind": "blocks", "issue_key": "ZZZ-1"}), "issue_key"),
        (
            json!({"kind": "blocks", "issue_key": "HOST-1\u{0}"}),
            "issue_key",
        ),
        (
            json!({"kind": "blocks", "issue_key": "x".repeat(5000)}),
            "issue_key",
        ),
        (json!({"kind": "blocks", "issue_key": 12}), "issue_key"),
        (json!({"kind": "eats", "issue_key": "HOST-2"}), "kind"),
        (json!({"kind": null, "issue_key": "HOST-2"}), "kind"),
        (json!({"issue_key": "HOST-2"}), "kind"),
    ] {
        let response = relate(&app, &token, "HOST-1", &body).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let problem: Value = response.json().await.unwrap();
        assert_eq!(error_fields(&problem), [field], "{body}: {problem}");
    }
    let extra = relate(
        &app,
        &token,
        "HOST-1",
        &json!({"kind": "blocks", "issue_key": "HOST-2", "x": 1}),
    )
    .await;
    assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);

    relate(
        &app,
        &token,
        "HOST-1",
        &json!({"kind": "relates_to", "issue_key": "HOST-2"}),
    )
    .await;
    let twice = relate(
        &app,
        &token,
        "HOST-2",
        &json!({"kind": "relates_to", "issue_key": "HOST-1"}),
    )
    .await;
    let problem = assert_problem(twice, 409, "conflict").await;
    assert_eq!(error_fields(&problem), ["issue_key"]);

    // Paths that name nothing are 404s.
    for path in [
        "/v1/issues/HOST-1/relations/eats/HOST-2",
        "/v1/issues/HOST-1/relations/blocks/nope",
        "/v1/issues/HOST-999/relations/blocks/HOST-1",
        "/v1/issues/HOST-1/relations/blocks/HOST-2",
    ] {
        let response = app.delete_as(&token, path).await;
        assert_problem(response, 404, "not-found").await;
    }
    for path in ["/v1/issues/HOST-999/relations", "/v1/issues/nope/relations"] {
        let response = app.get_as(&token, path).await;
        assert_problem(response, 404, "not-found").await;
    }
}

#[tokio::test]
async fn a_relation_to_an_issue_out_of_sight_is_shown_hidden() {
    let app = TestApp::spawn().await;
    let admin = project(&app, "SEEN", 1).await;
    app.create_project(&admin, "UNSEEN").await;
    app.create_issue(&admin, "UNSEEN", &json!({"title": "secret"}))
        .await;
    relate(
        &app,
        &admin,
        "SEEN-1",
        &json!({"kind": "child_of", "issue_key": "UNSEEN-1"}),
    )
    .await;
    let bob = app.user("bob").await;
    app.add_member(&admin, "SEEN", &bob.id, "viewer").await;

    let listed = app
        .get_ok(&bob.access_token, "/v1/issues/SEEN-1/relations")
        .await;
    assert_eq!(
        listed["items"],
        json!([{"kind": "child_of", "hidden": true}])
    );
    let issue = app.get_ok(&bob.access_token, "/v1/issues/SEEN-1").await;
    assert_eq!(issue["parent_key"], Value::Null);
    assert_eq!(issue["parent_hidden"], true);
    let refused = relate(
        &app,
        &bob.access_token,
        "SEEN-1",
        &json!({"kind": "relates_to", "issue_key": "UNSEEN-1"}),
    )
    .await;
    assert_problem(refused, 403, "forbidden").await;
}

#[tokio::test]
async fn duplicate_of_without_resolution_duplicate_is_refused_naming_it() {
    let app = TestApp::spawn().await;
    let token = project(&app, "DUPE", 2).await;
    let response = app
        .patch_issue(&token, "DUPE-1", None, &json!({"duplicate_of": "DUPE-2"}))
        .await;
    assert_invalid(response, &["duplicate_of"]).await;
    let response = app
        .patch_issue(&token, "DUPE-1", None, &json!({"duplicate_of": null}))
        .await;
    assert_invalid(response, &["duplicate_of"]).await;
}

/// A token limited to one project treats every other project's issues as out of sight: it can
/// neither name them nor read their keys in relations, the issue, or its history.
#[tokio::test]
async fn a_project_limited_token_sees_other_projects_issues_as_hidden() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    for key in ["SWAT", "OPS"] {
        app.create_project(&alice.access_token, key).await;
        app.create_issue(&alice.access_token, key, &json!({"title": "one"}))
            .await;
    }
    let response = app
        .send_json(
            Method::POST,
            &alice.access_token,
            "/v1/users/me/tokens",
            &json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    let token = created["secret"].as_str().unwrap().to_owned();

    let refused = relate(
        &app,
        &token,
        "SWAT-1",
        &json!({"kind": "blocks", "issue_key": "OPS-1"}),
    )
    .await;
    assert_invalid(refused, &["issue_key"]).await;
    let made = relate(
        &app,
        &alice.access_token,
        "SWAT-1",
        &json!({"kind": "child_of", "issue_key": "OPS-1"}),
    )
    .await;
    assert_eq!(made.status(), StatusCode::CREATED);

    let listed = app.get_ok(&token, "/v1/issues/SWAT-1/relations").await;
    assert_eq!(
        listed["items"],
        json!([{"kind": "child_of", "hidden": true}])
    );
    let issue = app.get_ok(&token, "/v1/issues/SWAT-1").await;
    assert_eq!(
        (issue["parent_key"].clone(), issue["parent_hidden"].clone()),
        (Value::Null, json!(true))
    );
    let history = app.get_ok(&token, "/v1/issues/SWAT-1/events").await;
    let text = history.to_string();
    assert!(!text.contains("OPS-1"), "{text}");
    assert!(text.contains("(hidden)"), "{text}");
    let full = app.get_ok(&alice.access_token, "/v1/issues/SWAT-1").await;
    assert_eq!(full["parent_key"], "OPS-1");
}
