//! Exports over HTTP (docs/api.md, "Exports"): `POST /v1/reports` with `issues_csv` or
//! `issues_json` and the issue lists' filters, the job showing them, and the file downloaded with
//! its content type and name.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ReportingMode, TestApp, TestUser, assert_invalid, assert_problem, wait_until_terminal,
};

async fn post_export(app: &TestApp, token: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::POST, token, "/v1/reports", body)
        .await
}

/// Alice owns SWAT with four issues, two of them urgent, one titled like a formula.
async fn alice_with_issues(mode: ReportingMode) -> (TestApp, TestUser) {
    let app = TestApp::spawn_with_reporting(mode).await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    for (title, priority) in [
        ("=HYPERLINK(\"http://evil\",\"click\")", "urgent"),
        ("Login fails, \"sometimes\"", "urgent"),
        ("Typo on the front page", "low"),
        ("Export drops the last row", "medium"),
    ] {
        app.create_issue(
            &alice.access_token,
            "SWAT",
            &json!({"title": title, "priority": priority, "labels": ["bug"]}),
        )
        .await;
    }
    (app, alice)
}

/// Waits for the export to succeed and downloads it through the gateway: its headers and bytes.
async fn downloaded(app: &TestApp, token: &str, job: &Value) -> (header::HeaderMap, Vec<u8>) {
    let id = job["id"].as_str().unwrap();
    let done = wait_until_terminal(app, token, id).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    let response = app
        .get_as(token, &format!("/v1/jobs/{id}/artifact/content"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(
        headers[header::CONTENT_LENGTH],
        done["artifact"]["size_bytes"].to_string().as_str()
    );
    (headers, response.bytes().await.unwrap().to_vec())
}

#[tokio::test]
async fn exports_are_the_filtered_list_as_csv_or_json_and_download_with_their_type() {
    let (app, alice) = alice_with_issues(ReportingMode::WithWorker).await;
    let token = &alice.access_token;

    let body = json!({"kind": "issues_csv", "project_key": "SWAT", "priority": ["urgent"],
        "label": "bug", "sort": "created_at"});
    let response = post_export(&app, token, &body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["kind"], "issues_csv");
    assert_eq!(
        job["params"],
        json!({"kind": "issues_csv", "project_key": "SWAT", "status": [],
            "priority": ["urgent"], "assignee": null, "author": null, "label": "bug", "q": null,
            "sort": "created_at"})
    );
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        app.get_ok(token, &format!("/v1/jobs/{id}")).await["params"],
        job["params"]
    );
    let (headers, csv) = downloaded(&app, token, &job).await;
    assert_eq!(headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"export-{id}.csv\"").as_str()
    );
    let text = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert!(lines[0].starts_with("key,title,status,priority,"), "{text}");
    assert!(
        lines[1]
            .starts_with("SWAT-1,\"'=HYPERLINK(\"\"http://evil\"\",\"\"click\"\")\",open,urgent,"),
        "{text}"
    );
    assert!(
        lines[2].starts_with("SWAT-2,\"Login fails, \"\"sometimes\"\"\",open,urgent,"),
        "{text}"
    );
    assert_eq!(lines[3..], [""], "two rows and a final CRLF: {text}");

    // JSON: the issues exactly as the list shows them.
    let job: Value = post_export(
        &app,
        token,
        &json!({"kind": "issues_json", "q": "priority:<=medium", "sort": "-priority"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let (headers, json) = downloaded(&app, token, &job).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    let id = job["id"].as_str().unwrap();
    assert_eq!(
        headers[header::CONTENT_DISPOSITION],
        format!("attachment; filename=\"export-{id}.json\"").as_str()
    );
    let exported: Value = serde_json::from_slice(&json).unwrap();
    let listed = app
        .get_ok(token, "/v1/issues?q=priority:%3C%3Dmedium&sort=-priority")
        .await;
    assert_eq!(exported, listed["items"]);
    assert_eq!(exported.as_array().unwrap().len(), 2);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn bad_export_filters_are_refused_naming_the_list_field() {
    let (app, alice) = alice_with_issues(ReportingMode::Api).await;
    let bob = app.user("bob").await;
    let token = &alice.access_token;
    // The schema carries the list's limits; what it refuses, the route refuses.
    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();
    let export = &doc["components"]["schemas"]["ExportRequest"]["properties"];
    assert_eq!(export["q"]["maxLength"], 1000);
    assert_eq!(export["label"]["maxLength"], 50);
    assert_eq!(export["project_key"]["maxLength"], 10);
    assert!(
        export["sort"]["enum"]
            .as_array()
            .unwrap()
            .contains(&json!("-priority"))
    );
    assert_eq!(export["kind"]["enum"], json!(["issues_csv", "issues_json"]));

    for (body, field) in [
        (json!({"kind": "issues_csv", "q": "status:"}), "q"),
        (json!({"kind": "issues_csv", "q": "colour:red"}), "q"),
        (
            json!({"kind": "issues_json", "status": ["later"]}),
            "status[0]",
        ),
        (
            json!({"kind": "issues_json", "priority": "urgent"}),
            "priority",
        ),
        (
            json!({"kind": "issues_csv", "assignee": "someone"}),
            "assignee",
        ),
        (json!({"kind": "issues_csv", "sort": "title"}), "sort"),
        (
            json!({"kind": "issues_csv", "label": "x".repeat(51)}),
            "label",
        ),
        (json!({"kind": "issues_csv", "q": "x".repeat(1001)}), "q"),
        (
            json!({"kind": "issues_csv", "project_key": "not a key"}),
            "project_key",
        ),
        (json!({"kind": "issues_csv", "page_size": 10}), "page_size"),
        (json!({"kind": "issues_csv", "month": "2026-01"}), "month"),
    ] {
        assert_invalid(post_export(&app, token, &body).await, &[field]).await;
    }
    let hidden = post_export(
        &app,
        &bob.access_token,
        &json!({"kind": "issues_csv", "project_key": "SWAT"}),
    )
    .await;
    assert_problem(hidden, 404, "not-found").await;
    // A token limited to some projects exports one of them, named.
    let limited: Value = app
        .send_json(
            Method::POST,
            token,
            "/v1/users/me/tokens",
            &json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let limited = limited["secret"].as_str().unwrap();
    let across = post_export(&app, limited, &json!({"kind": "issues_csv"})).await;
    assert_problem(across, 403, "forbidden").await;
    let own = post_export(
        &app,
        limited,
        &json!({"kind": "issues_csv", "project_key": "SWAT"}),
    )
    .await;
    assert_eq!(own.status(), StatusCode::ACCEPTED);
    app.cleanup_broker().await;
}
