//! The query language in `q` on both issue lists, the due date and estimate orders, and saved
//! views, over REST (docs/api.md, "Searching issues", "Saved views").

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, issue_keys};

async fn list(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> Response {
    app.authed(Method::GET, path, token)
        .query(query)
        .send()
        .await
        .expect("send request")
}

async fn listed(app: &TestApp, token: &str, path: &str, query: &[(&str, &str)]) -> Vec<String> {
    let response = list(app, token, path, query).await;
    assert_eq!(response.status(), StatusCode::OK, "{path} {query:?}");
    let page: Value = response.json().await.unwrap();
    issue_keys(&page).into_iter().map(str::to_owned).collect()
}

/// SWAT with three issues: SWAT-1 (urgent, bug, assigned to alice), SWAT-2 (low, wontfix,
/// closed), SWAT-3 (high, due 2026-12-20, estimate 5).
async fn fixture() -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let token = alice.access_token;
    app.create_project(&token, "SWAT").await;
    app.create_issue(
        &token,
        "SWAT",
        &json!({"title": "Login fails", "priority": "urgent", "labels": ["bug"], "assignee_id": alice.id}),
    )
    .await;
    app.create_issue(
        &token,
        "SWAT",
        &json!({"title": "Old idea", "priority": "low", "labels": ["wontfix"]}),
    )
    .await;
    app.create_issue(
        &token,
        "SWAT",
        &json!({"title": "Export to CSV", "priority": "high"}),
    )
    .await;
    app.patch_issue(&token, "SWAT-2", None, &json!({"status": "closed"}))
        .await;
    sqlx::query("UPDATE issues SET due_on = '2026-12-20', estimate = 5 WHERE number = 3")
        .execute(&app.issues_db().pool)
        .await
        .unwrap();
    (app, token)
}

#[tokio::test]
async fn both_issue_lists_take_the_query_language_in_q_together_with_the_other_filters() {
    let (app, token) = fixture().await;
    for path in ["/v1/projects/SWAT/issues", "/v1/issues"] {
        let found = |q: &'static str| {
            let app = &app;
            let token = &token;
            async move { listed(app, token, path, &[("q", q), ("sort", "created_at")]).await }
        };
        assert_eq!(found("is:open -label:wontfix").await, ["SWAT-1", "SWAT-3"]);
        assert_eq!(found("priority:>=high assignee:me").await, ["SWAT-1"]);
        assert_eq!(
            found("due:<2026-12-31 estimate:>=5 no:assignee").await,
            ["SWAT-3"]
        );
        assert_eq!(
            found("login").await,
            ["SWAT-1"],
            "plain text still searches"
        );
        assert_eq!(found("\"to CSV\"").await, ["SWAT-3"]);
        assert_eq!(found("is:closed").await, ["SWAT-2"]);
        let example = "status:open,in_progress assignee:me -label:wontfix priority:>=high \
                       milestone:\"v1.0\" due:<2026-12-31 updated:>=2026-11-01 is:blocked \
                       has:assignee no:milestone parent:SWAT-12 \"free text\"";
        assert_eq!(
            found(example).await,
            Vec::<String>::new(),
            "the example runs"
        );
        let both = listed(
            &app,
            &token,
            path,
            &[
                ("q", "-label:wontfix"),
                ("priority", "high,low"),
                ("status", "open"),
            ],
        )
        .await;
        assert_eq!(both, ["SWAT-3"], "separate filters and q must both hold");
    }
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_422_naming_q_with_the_position() {
    let (app, token) = fixture().await;
    for path in ["/v1/projects/SWAT/issues", "/v1/issues"] {
        for (q, message) in [
            ("status:", "at 8: expected a value after \"status:\""),
            (
                "is:open colour:red",
                "at 9: expected a known field (status, priority, assignee, author, label, milestone, due, created, updated, estimate, resolution, is, has, no, parent), not \"colour\"",
            ),
            (
                "priority:>=extreme",
                "at 12: expected a priority (low, medium, high, urgent)",
            ),
            ("due:2026-02-30", "at 5: expected a date as YYYY-MM-DD"),
            (
                "due:1899-12-31",
                "at 5: expected a date from 1900-01-01 to 9999-12-31",
            ),
            (
                "estimate:-1",
                "at 10: expected an estimate from 0 to 2147483647",
            ),
            (
                "milestone:\"v1",
                "at 11: expected a closing quote for the quote opened here",
            ),
        ] {
            let problem = assert_invalid(list(&app, &token, path, &[("q", q)]).await, &["q"]).await;
            assert_eq!(problem["errors"][0]["message"], message, "{path} {q}");
        }
        let terms = vec!["w"; 31].join(" ");
        let values = vec!["l"; 21].join(",");
        let too_long = "x".repeat(1001);
        for q in [terms.as_str(), &format!("label:{values}"), &too_long] {
            assert_invalid(list(&app, &token, path, &[("q", q)]).await, &["q"]).await;
        }
        let longest = "x".repeat(1000);
        assert_eq!(
            listed(&app, &token, path, &[("q", &longest)]).await,
            Vec::<String>::new()
        );
    }
}

#[tokio::test]
async fn due_date_and_estimate_orders_list_issues_without_a_value_last() {
    let (app, token) = fixture().await;
    let path = "/v1/projects/SWAT/issues";
    assert_eq!(
        listed(&app, &token, path, &[("sort", "due_on")]).await,
        ["SWAT-3", "SWAT-1", "SWAT-2"]
    );
    assert_eq!(
        listed(&app, &token, path, &[("sort", "-estimate")]).await,
        ["SWAT-3", "SWAT-2", "SWAT-1"]
    );
    assert_invalid(
        list(&app, &token, path, &[("sort", "due")]).await,
        &["sort"],
    )
    .await;
    let first = list(
        &app,
        &token,
        path,
        &[("sort", "due_on"), ("page_size", "1")],
    )
    .await;
    let first: Value = first.json().await.unwrap();
    let page_token = first["next_page_token"].as_str().unwrap();
    let second = listed(
        &app,
        &token,
        path,
        &[
            ("sort", "due_on"),
            ("page_size", "1"),
            ("page_token", page_token),
        ],
    )
    .await;
    assert_eq!(second, ["SWAT-1"]);
    let other = list(
        &app,
        &token,
        path,
        &[("sort", "estimate"), ("page_token", page_token)],
    )
    .await;
    assert_invalid(other, &["page_token"]).await;
}

async fn save(app: &TestApp, token: &str, key: &str, body: &Value) -> Response {
    app.send_json(
        Method::POST,
        token,
        &format!("/v1/projects/{key}/views"),
        body,
    )
    .await
}

#[tokio::test]
async fn saved_views_are_created_listed_and_deleted_by_their_owner_only() {
    let (app, token) = fixture().await;
    let bob = app.user("bob").await;
    let created = save(
        &app,
        &token,
        "SWAT",
        &json!({"name": "My open work", "query": "assignee:me is:open", "sort": "-priority"}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let view: Value = created.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/views/{}", view["id"].as_str().unwrap())
    );
    assert_eq!(view["name"], "My open work");
    assert_eq!(view["query"], "assignee:me is:open");
    assert_eq!(view["sort"], "-priority");
    assert_eq!(view["project_key"], "SWAT");
    let plain = save(&app, &token, "SWAT", &json!({"name": "All", "query": ""})).await;
    assert_eq!(plain.status(), StatusCode::CREATED);
    let plain: Value = plain.json().await.unwrap();
    assert_eq!(plain["sort"], "");

    let page = app.get_ok(&token, "/v1/projects/SWAT/views").await;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["All", "My open work"]);
    assert_eq!(page["next_page_token"], Value::Null);

    // The view's query lists what it says.
    let q = view["query"].as_str().unwrap();
    let found = listed(
        &app,
        &token,
        "/v1/projects/SWAT/issues",
        &[("q", q), ("sort", "-priority")],
    )
    .await;
    assert_eq!(found, ["SWAT-1"]);

    let taken = save(
        &app,
        &token,
        "SWAT",
        &json!({"name": "My open work", "query": "x"}),
    )
    .await;
    let problem = assert_problem(taken, 409, "conflict").await;
    assert_eq!(problem["errors"][0]["field"], "name");

    for status in [
        app.get_as(&bob.access_token, "/v1/projects/SWAT/views")
            .await
            .status(),
        save(
            &app,
            &bob.access_token,
            "SWAT",
            &json!({"name": "peek", "query": ""}),
        )
        .await
        .status(),
        app.delete_as(&bob.access_token, &location).await.status(),
    ] {
        assert_eq!(status, StatusCode::NOT_FOUND, "another user sees nothing");
    }
    assert_eq!(
        app.delete_as(&token, &location).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.delete_as(&token, &location).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete_as(&token, "/v1/views/not-a-uuid").await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_saved_view_with_a_bad_name_query_or_sort_is_422_naming_the_field() {
    let (app, token) = fixture().await;
    for (body, fields) in [
        (json!({"name": "", "query": "x"}), vec!["name"]),
        (json!({"name": "n".repeat(101), "query": "x"}), vec!["name"]),
        (
            json!({"name": "ok", "query": "is:open status:"}),
            vec!["query"],
        ),
        (
            json!({"name": "ok", "query": "x".repeat(1001)}),
            vec!["query"],
        ),
        (json!({"name": "ok", "query": "a\u{7}b"}), vec!["query"]),
        (
            json!({"name": "ok", "query": "x", "sort": "title"}),
            vec!["sort"],
        ),
    ] {
        let problem = assert_invalid(save(&app, &token, "SWAT", &body).await, &fields).await;
        if body["query"] == "is:open status:" {
            assert_eq!(
                problem["errors"][0]["message"],
                "at 16: expected a value after \"status:\""
            );
        }
    }
    let missing = save(&app, &token, "SWAT", &json!({"name": "no query"})).await;
    assert!(missing.status().is_client_error());
    let unknown = save(
        &app,
        &token,
        "SWAT",
        &json!({"name": "x", "query": "", "colour": "red"}),
    )
    .await;
    assert!(unknown.status().is_client_error());
}

#[tokio::test]
async fn a_user_may_save_at_most_a_hundred_views_per_project() {
    let (app, token) = fixture().await;
    let saves = (0..100).map(|n| {
        let app = &app;
        let token = &token;
        async move {
            save(
                app,
                token,
                "SWAT",
                &json!({"name": format!("view {n}"), "query": ""}),
            )
            .await
            .status()
        }
    });
    let statuses = futures::future::join_all(saves).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "{statuses:?}"
    );
    let over = save(
        &app,
        &token,
        "SWAT",
        &json!({"name": "one more", "query": ""}),
    )
    .await;
    assert_problem(over, 409, "conflict").await;
}

async fn personal_token(app: &TestApp, login: &str, body: &Value) -> String {
    let response = app
        .send_json(Method::POST, login, "/v1/users/me/tokens", body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let created: Value = response.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_read_token_lists_views_but_cannot_save_or_delete_and_a_limited_one_sees_only_its_projects()
 {
    let (app, token) = fixture().await;
    app.create_project(&token, "OTHR").await;
    let saved = save(
        &app,
        &token,
        "SWAT",
        &json!({"name": "Mine", "query": "is:open"}),
    )
    .await;
    let view: Value = saved.json().await.unwrap();
    let path = format!("/v1/views/{}", view["id"].as_str().unwrap());

    let read = personal_token(&app, &token, &json!({"name": "ro", "scopes": ["read"]})).await;
    assert_eq!(
        app.get_ok(&read, "/v1/projects/SWAT/views").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let found = listed(&app, &read, "/v1/issues", &[("q", "is:open label:bug")]).await;
    assert_eq!(found, ["SWAT-1"], "a read token searches");
    let write = save(&app, &read, "SWAT", &json!({"name": "ro", "query": ""})).await;
    assert_eq!(write.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        app.delete_as(&read, &path).await.status(),
        StatusCode::FORBIDDEN
    );

    let limited = personal_token(
        &app,
        &token,
        &json!({"name": "othr", "scopes": ["read", "write"], "projects": ["OTHR"]}),
    )
    .await;
    assert_eq!(
        app.get_as(&limited, "/v1/projects/SWAT/views")
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.delete_as(&limited, &path).await.status(),
        StatusCode::NOT_FOUND
    );
    let outside = listed(&app, &limited, "/v1/issues", &[("q", "label:bug")]).await;
    assert_eq!(
        outside,
        Vec::<String>::new(),
        "a limited token's search stays in its projects"
    );
    assert_eq!(
        app.delete_as(&token, &path).await.status(),
        StatusCode::NO_CONTENT
    );
}
