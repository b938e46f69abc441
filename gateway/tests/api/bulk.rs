//! `POST /v1/projects/{key}/issues/bulk`: previews, all or nothing, the problems naming each
//! refused issue, `Idempotency-Key`, and hostile bodies.

use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, error_fields};

const PATH: &str = "/v1/projects/BULK/issues/bulk";

async fn post_bulk(app: &TestApp, token: &str, body: &Value, key: Option<&str>) -> Response {
    let mut request = app.authed(Method::POST, PATH, token).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    request.send().await.expect("send request")
}

/// An owner with project BULK holding `n` issues, and a reporter and a maintainer in it.
struct Scene {
    owner: String,
    reporter: String,
    reporter_id: String,
    maintainer: String,
}

async fn scene(app: &TestApp, n: usize) -> Scene {
    let owner = app.user("bulk-owner").await;
    let reporter = app.user("bulk-reporter").await;
    let maintainer = app.user("bulk-maintainer").await;
    app.create_project(&owner.access_token, "BULK").await;
    app.add_member(&owner.access_token, "BULK", &reporter.id, "reporter")
        .await;
    app.add_member(&owner.access_token, "BULK", &maintainer.id, "maintainer")
        .await;
    for i in 0..n {
        app.create_issue(
            &reporter.access_token,
            "BULK",
            &json!({"title": format!("issue {i}"), "labels": ["needs-info"]}),
        )
        .await;
    }
    Scene {
        owner: owner.access_token,
        reporter: reporter.access_token,
        reporter_id: reporter.id,
        maintainer: maintainer.access_token,
    }
}

#[tokio::test]
async fn a_maintainer_previews_a_bulk_edit_then_applies_it_once() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 2).await;
    let mut body = json!({
        "issue_keys": ["BULK-2", "BULK-1"],
        "set": {"status": "closed", "resolution": "wont_fix", "due_on": "2026-12-24"},
        "add_labels": ["triaged"],
        "remove_labels": ["needs-info"],
        "dry_run": true
    });

    let preview = post_bulk(&app, &s.maintainer, &body, None).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let preview: Value = preview.json().await.unwrap();
    assert_eq!(preview["dry_run"], true);
    assert_eq!(preview["changed"], 2);
    assert_eq!(preview["results"][0]["issue_key"], "BULK-2");
    assert_eq!(preview["results"][0]["issue"]["status"], "closed");
    assert_eq!(preview["results"][0]["issue"]["labels"], json!(["triaged"]));
    let fields: Vec<&str> = preview["results"][0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "resolution", "due_on", "labels"]);
    let untouched = app.get_ok(&s.owner, "/v1/issues/BULK-2").await;
    assert_eq!(untouched["status"], "open", "a dry run writes nothing");
    assert_eq!(untouched["version"], 1);

    body["dry_run"] = json!(false);
    let applied = post_bulk(&app, &s.maintainer, &body, Some("bulk-1")).await;
    assert_eq!(applied.status(), StatusCode::OK);
    let applied: Value = applied.json().await.unwrap();
    assert_eq!(applied["dry_run"], false);
    assert_eq!(
        applied["results"][0]["changes"],
        preview["results"][0]["changes"]
    );
    let stored = app.get_ok(&s.owner, "/v1/issues/BULK-2").await;
    assert_eq!(applied["results"][0]["issue"], stored);
    assert_eq!(stored["resolution"], "wont_fix");
    assert_eq!(stored["due_on"], "2026-12-24");

    let replay = post_bulk(&app, &s.maintainer, &body, Some("bulk-1")).await;
    assert_eq!(replay.status(), StatusCode::OK);
    assert_eq!(replay.json::<Value>().await.unwrap(), applied);
    assert_eq!(
        app.get_ok(&s.owner, "/v1/issues/BULK-2").await["version"],
        2,
        "applied once"
    );
    body["add_labels"] = json!(["other"]);
    let reused = post_bulk(&app, &s.maintainer, &body, Some("bulk-1")).await;
    assert_invalid(reused, &["Idempotency-Key"]).await;
}

#[tokio::test]
async fn a_reporters_bulk_edit_of_issues_they_may_not_change_is_403_naming_each() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 3).await;
    let assign = app
        .patch_issue(
            &s.owner,
            "BULK-2",
            None,
            &json!({"assignee_id": s.reporter_id}),
        )
        .await;
    assert_eq!(assign.status(), StatusCode::OK);
    let body = json!({
        "issue_keys": ["BULK-1", "BULK-2", "BULK-3"],
        "set": {"status": "in_progress"}
    });

    let refused = post_bulk(&app, &s.reporter, &body, None).await;

    let problem = assert_problem(refused, 403, "forbidden").await;
    assert_eq!(error_fields(&problem), ["issue_keys[0]", "issue_keys[2]"]);
    assert!(
        problem["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("BULK-3"),
        "{problem}"
    );
    let issue = app.get_ok(&s.owner, "/v1/issues/BULK-2").await;
    assert_eq!(issue["status"], "open", "all or nothing");
}

#[tokio::test]
async fn expected_versions_that_moved_are_412_naming_those_issues() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 2).await;
    let moved = app
        .patch_issue(&s.owner, "BULK-1", None, &json!({"title": "renamed"}))
        .await;
    assert_eq!(moved.status(), StatusCode::OK);
    let body = json!({
        "issue_keys": ["BULK-1", "BULK-2"],
        "set": {"priority": "urgent"},
        "expected_versions": {"BULK-1": 1, "BULK-2": 1}
    });

    let refused = post_bulk(&app, &s.owner, &body, None).await;

    let problem = assert_problem(refused, 412, "precondition-failed").await;
    assert_eq!(error_fields(&problem), ["expected_versions.BULK-1"]);
    assert_eq!(
        app.get_ok(&s.owner, "/v1/issues/BULK-2").await["priority"],
        "medium"
    );
}

#[tokio::test]
async fn hostile_bulk_edits_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 2).await;
    let other = app.user("other-owner").await;
    app.create_project(&other.access_token, "OTHER").await;
    let keys = |n: usize| -> Vec<String> { (1..=n).map(|i| format!("BULK-{i}")).collect() };
    let low = json!({"priority": "low"});
    let cases: Vec<(Value, Vec<&str>)> = vec![
        (json!({"issue_keys": [], "set": low}), vec!["issue_keys"]),
        (
            json!({"issue_keys": keys(501), "set": low}),
            vec!["issue_keys"],
        ),
        (
            json!({"issue_keys": ["BULK-1", "BULK-1"], "set": low}),
            vec!["issue_keys[1]"],
        ),
        (
            json!({"issue_keys": ["BULK-1", "OTHER-1", "BULK-77", "bulk-2"], "set": low}),
            vec!["issue_keys[1]", "issue_keys[3]"],
        ),
        (
            json!({"issue_keys": ["BULK-1", "BULK-77"], "set": low}),
            vec!["issue_keys[1]"],
        ),
        (json!({"issue_keys": ["BULK-1"]}), vec!["set"]),
        (json!({"issue_keys": ["BULK-1"], "set": {}}), vec!["set"]),
        (json!({"set": low}), vec!["issue_keys"]),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"status": "done"}}),
            vec!["set.status"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"priority": null}}),
            vec!["set.priority"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"title": "no"}}),
            vec!["set.title"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"due_on": "1899-12-31"}}),
            vec!["set.due_on"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"due_on": "2026-02-30"}}),
            vec!["set.due_on"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"assignee_id": ""}}),
            vec!["set.assignee_id"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"assignee_id": other.id}}),
            vec!["set.assignee_id"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"milestone_id": "01936f90-1b2c-7d3e-8f4a-5b6c7d8e9f0a"}}),
            vec!["set.milestone_id"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": {"resolution": "fixed"}}),
            vec!["set.resolution"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "add_labels": ["x".repeat(51)]}),
            vec!["add_labels"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "add_labels": ["a"], "remove_labels": ["a"]}),
            vec!["remove_labels"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "remove_labels": ["nul\u{0}"]}),
            vec!["remove_labels"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": low, "expected_versions": {"BULK-1": 0}}),
            vec!["expected_versions.BULK-1"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": low, "expected_versions": {"BULK-2": 1}}),
            vec!["expected_versions"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": low, "expected_versions": {"BULK-1": "1"}}),
            vec!["expected_versions.BULK-1"],
        ),
        (
            json!({"issue_keys": ["BULK-1"], "set": low, "dry_run": "yes"}),
            vec!["dry_run"],
        ),
    ];
    for (body, fields) in cases {
        let response = post_bulk(&app, &s.owner, &body, None).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let not_json = app
        .authed(Method::POST, PATH, &s.owner)
        .header("content-type", "application/json")
        .body("{\"issue_keys\": [")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let outsider = post_bulk(
        &app,
        &other.access_token,
        &json!({"issue_keys": ["BULK-1"], "set": low}),
        None,
    )
    .await;
    assert_problem(outsider, 404, "not-found").await;
    for key in ["BULK-1", "BULK-2"] {
        assert_eq!(
            app.get_ok(&s.owner, &format!("/v1/issues/{key}")).await["version"],
            1,
            "nothing was written"
        );
    }
}

#[tokio::test]
async fn five_hundred_issues_change_in_one_request_well_within_a_second() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 0).await;
    sqlx::query(
        "INSERT INTO issues (id, project_id, number, title, author_id)
         SELECT gen_random_uuid(), p.id, n, 'Issue ' || n, gen_random_uuid()
         FROM projects p, generate_series(1, 500) n WHERE p.key = 'BULK'",
    )
    .execute(&app.issues_db().pool)
    .await
    .unwrap();
    let keys: Vec<String> = (1..=500).map(|n| format!("BULK-{n}")).collect();
    let body = json!({
        "issue_keys": keys,
        "set": {"status": "in_progress", "priority": "high", "due_on": "2026-12-31"},
        "add_labels": ["sprint-12"]
    });

    let started = std::time::Instant::now();
    let response = post_bulk(&app, &s.maintainer, &body, None).await;
    let took = started.elapsed();

    assert_eq!(response.status(), StatusCode::OK);
    let response: Value = response.json().await.unwrap();
    assert_eq!(response["changed"], 500);
    eprintln!("500-issue bulk edit through the gateway (debug build): {took:?}");
    // Debug build on a shared machine; the release figure is in BENCHMARKS.md (make bench).
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    let last = app.get_ok(&s.owner, "/v1/issues/BULK-500").await;
    assert_eq!(last["labels"], json!(["sprint-12"]));
    assert_eq!(last["version"], 2);
}

/// A personal access token of the holder of `login` with `body`'s scopes and projects.
async fn personal_token(app: &TestApp, login: &str, body: &Value) -> String {
    let response = app
        .send_json(Method::POST, login, "/v1/users/me/tokens", body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_read_token_cannot_bulk_edit_and_a_token_limited_to_another_project_sees_no_project() {
    let app = TestApp::spawn().await;
    let s = scene(&app, 1).await;
    app.create_project(&s.owner, "ELSE").await;
    let read = personal_token(&app, &s.owner, &json!({"name": "ro", "scopes": ["read"]})).await;
    let elsewhere = personal_token(
        &app,
        &s.owner,
        &json!({"name": "else", "scopes": ["write"], "projects": ["ELSE"]}),
    )
    .await;
    let body = json!({"issue_keys": ["BULK-1"], "set": {"priority": "urgent"}, "dry_run": true});

    let refused = post_bulk(&app, &read, &body, None).await;
    let hidden = post_bulk(&app, &elsewhere, &body, None).await;

    assert_problem(refused, 403, "forbidden").await;
    assert_problem(hidden, 404, "not-found").await;
    let scoped = personal_token(
        &app,
        &s.owner,
        &json!({"name": "bulk", "scopes": ["write"], "projects": ["BULK"]}),
    )
    .await;
    assert_eq!(
        post_bulk(&app, &scoped, &body, None).await.status(),
        StatusCode::OK
    );
}
