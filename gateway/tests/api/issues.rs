//! Issues over HTTP: filing, reading with ETags, conditional updates, lists and filters,
//! idempotent creation and history (docs/api.md).

use std::collections::HashSet;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, TestUser, assert_invalid, assert_problem, issue_keys};

/// Alice owns SWAT; Bob is in it with `bob_role`.
async fn project_with_bob(app: &TestApp, bob_role: &str) -> (TestUser, TestUser) {
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.add_member(&alice.access_token, "SWAT", &bob.id, bob_role)
        .await;
    (alice, bob)
}

fn etag_of(response: &reqwest::Response) -> String {
    response.headers()[header::ETAG]
        .to_str()
        .expect("an ASCII ETag")
        .to_owned()
}

#[tokio::test]
async fn filing_an_issue_answers_201_with_its_location_etag_and_every_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let response = app
        .post_issue(
            &alice.access_token,
            "SWAT",
            &json!({"title": "Login fails", "description": "Steps…", "labels": ["ui", "bug", "ui"]}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::LOCATION], "/v1/issues/SWAT-1");
    let etag = etag_of(&response);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let issue: Value = response.json().await.unwrap();
    assert_eq!(issue["key"], "SWAT-1");
    assert_eq!(issue["project_key"], "SWAT");
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["title"], "Login fails");
    assert_eq!(issue["description"], "Steps…");
    assert_eq!(issue["status"], "open");
    assert_eq!(issue["priority"], "medium");
    assert_eq!(issue["labels"], json!(["bug", "ui"]));
    assert_eq!(issue["author_id"], alice.id.as_str());
    assert_eq!(issue["assignee_id"], Value::Null);
    assert_eq!(issue["closed_at"], Value::Null);
    assert!(issue["version"].is_i64());
    assert!(issue["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(
        issue["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    assert!(issue.get("etag").is_none(), "{issue}");

    let fetched = app.get_as(&alice.access_token, "/v1/issues/SWAT-1").await;
    assert_eq!(etag_of(&fetched), etag);
    assert_eq!(fetched.json::<Value>().await.unwrap(), issue);
    let second = app
        .create_issue(&alice.access_token, "SWAT", &json!({"title": "Another"}))
        .await;
    assert_eq!(second["key"], "SWAT-2");
}

#[tokio::test]
async fn a_viewer_may_not_file_an_issue() {
    let app = TestApp::spawn().await;
    let (_, bob) = project_with_bob(&app, "viewer").await;

    let response = app
        .post_issue(&bob.access_token, "SWAT", &json!({"title": "Nope"}))
        .await;

    assert_problem(response, 403, "forbidden").await;
}

#[tokio::test]
async fn an_issue_is_not_found_for_non_members() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mallory = app.user("mallory").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Secret"}))
        .await;

    let issue = app.get_as(&mallory.access_token, "/v1/issues/SWAT-1").await;
    let list = app
        .get_as(&mallory.access_token, "/v1/projects/SWAT/issues")
        .await;
    let file = app
        .post_issue(&mallory.access_token, "SWAT", &json!({"title": "Hi"}))
        .await;
    let across = app.get_ok(&mallory.access_token, "/v1/issues").await;

    assert_problem(issue, 404, "not-found").await;
    assert_problem(list, 404, "not-found").await;
    assert_problem(file, 404, "not-found").await;
    assert_eq!(across["items"], json!([]));
}

#[tokio::test]
async fn a_malformed_issue_key_names_nothing() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    for key in ["swat-1", "SWAT-0", "SWAT", "SWAT-x"] {
        let response = app
            .get_as(&alice.access_token, &format!("/v1/issues/{key}"))
            .await;
        assert_problem(response, 404, "not-found").await;
    }
}

#[tokio::test]
async fn a_current_if_none_match_answers_304_without_a_body_and_a_changed_issue_200() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Old"}))
        .await;
    let etag = etag_of(&app.get_as(&alice.access_token, "/v1/issues/SWAT-1").await);
    let get_if_none_match = |tags: String| {
        app.authed(Method::GET, "/v1/issues/SWAT-1", &alice.access_token)
            .header(header::IF_NONE_MATCH, tags)
            .send()
    };

    let current = get_if_none_match(etag.clone()).await.unwrap();
    let weak_in_a_list = get_if_none_match(format!("\"other\", W/{etag}"))
        .await
        .unwrap();
    let star = get_if_none_match("*".into()).await.unwrap();
    let other = get_if_none_match("\"other\"".into()).await.unwrap();
    app.patch_issue(
        &alice.access_token,
        "SWAT-1",
        None,
        &json!({"title": "New"}),
    )
    .await;
    let after_a_change = get_if_none_match(etag.clone()).await.unwrap();

    for response in [current, weak_in_a_list, star] {
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(etag_of(&response), etag);
        assert!(response.bytes().await.unwrap().is_empty());
    }
    assert_eq!(other.status(), StatusCode::OK);
    assert_eq!(after_a_change.status(), StatusCode::OK);
    assert_ne!(etag_of(&after_a_change), etag);
    assert_eq!(
        after_a_change.json::<Value>().await.unwrap()["title"],
        "New"
    );
}

#[tokio::test]
async fn a_stale_if_match_is_refused_with_412_and_the_current_one_applies() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Old"}))
        .await;
    let read = app.get_as(&alice.access_token, "/v1/issues/SWAT-1").await;
    let first_etag = etag_of(&read);

    let first = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            Some(&first_etag),
            &json!({"title": "New"}),
        )
        .await;
    assert_eq!(first.status(), StatusCode::OK);
    let second_etag = etag_of(&first);
    let stale = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            Some(&first_etag),
            &json!({"title": "Lost update"}),
        )
        .await;
    let current = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            Some(&second_etag),
            &json!({"priority": "high"}),
        )
        .await;

    assert_ne!(second_etag, first_etag);
    assert_eq!(first.json::<Value>().await.unwrap()["title"], "New");
    assert_problem(stale, 412, "precondition-failed").await;
    assert_eq!(current.status(), StatusCode::OK);
    assert_ne!(etag_of(&current), second_etag);
    let issue = app.get_ok(&alice.access_token, "/v1/issues/SWAT-1").await;
    assert_eq!(issue["title"], "New");
    assert_eq!(issue["priority"], "high");
}

#[tokio::test]
async fn without_if_match_or_with_a_star_the_update_applies() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Old"}))
        .await;

    let plain = app
        .patch_issue(&alice.access_token, "SWAT-1", None, &json!({"title": "A"}))
        .await;
    let star = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            Some("*"),
            &json!({"title": "B"}),
        )
        .await;

    assert_eq!(plain.status(), StatusCode::OK);
    assert_eq!(star.status(), StatusCode::OK);
    assert_eq!(star.json::<Value>().await.unwrap()["title"], "B");
}

#[tokio::test]
async fn a_null_assignee_unassigns_and_an_absent_one_leaves_the_assignee() {
    let app = TestApp::spawn().await;
    let (alice, bob) = project_with_bob(&app, "reporter").await;
    app.create_issue(
        &alice.access_token,
        "SWAT",
        &json!({"title": "Bug", "assignee_id": bob.id}),
    )
    .await;

    let untouched = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"title": "Bug!"}),
        )
        .await;
    let unassigned = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"assignee_id": null}),
        )
        .await;

    assert_eq!(
        untouched.json::<Value>().await.unwrap()["assignee_id"],
        bob.id.as_str()
    );
    let issue: Value = unassigned.json().await.unwrap();
    assert_eq!(issue["assignee_id"], Value::Null);
    assert_eq!(issue["title"], "Bug!");
}

#[tokio::test]
async fn empty_labels_clear_them_and_absent_labels_stay() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(
        &alice.access_token,
        "SWAT",
        &json!({"title": "Bug", "labels": ["bug"]}),
    )
    .await;

    let kept = app
        .patch_issue(&alice.access_token, "SWAT-1", None, &json!({"title": "T"}))
        .await;
    let cleared = app
        .patch_issue(&alice.access_token, "SWAT-1", None, &json!({"labels": []}))
        .await;

    assert_eq!(
        kept.json::<Value>().await.unwrap()["labels"],
        json!(["bug"])
    );
    assert_eq!(cleared.json::<Value>().await.unwrap()["labels"], json!([]));
}

#[tokio::test]
async fn resolving_sets_closed_at_and_reopening_clears_it() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;

    let resolved: Value = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"status": "resolved"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let reopened: Value = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"status": "open"}),
        )
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(resolved["status"], "resolved");
    assert!(
        resolved["closed_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    assert_eq!(reopened["closed_at"], Value::Null);
}

#[tokio::test]
async fn an_unknown_status_or_priority_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;

    let patch = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"status": "done"}),
        )
        .await;
    let create = app
        .post_issue(
            &alice.access_token,
            "SWAT",
            &json!({"title": "Bug", "priority": "critical"}),
        )
        .await;
    let filter = app
        .get_as(
            &alice.access_token,
            "/v1/projects/SWAT/issues?status=open,done",
        )
        .await;
    let repeated = app
        .get_as(
            &alice.access_token,
            "/v1/projects/SWAT/issues?status=open&status=closed",
        )
        .await;
    let null_status = app
        .patch_issue(
            &alice.access_token,
            "SWAT-1",
            None,
            &json!({"status": null}),
        )
        .await;

    let problem = assert_invalid(patch, &["status"]).await;
    assert_eq!(
        problem["errors"][0]["message"],
        "must be open, in_progress, resolved or closed"
    );
    assert_invalid(create, &["priority"]).await;
    assert_invalid(filter, &["status"]).await;
    assert_invalid(repeated, &["status"]).await;
    assert_invalid(null_status, &["status"]).await;
}

#[tokio::test]
async fn an_unknown_body_field_is_refused_by_name() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;

    let create = app
        .post_issue(
            &alice.access_token,
            "SWAT",
            &json!({"title": "Bug", "severity": "high"}),
        )
        .await;
    let patch = app
        .patch_issue(&alice.access_token, "SWAT-1", None, &json!({"version": 7}))
        .await;

    assert_invalid(create, &["severity"]).await;
    assert_invalid(patch, &["version"]).await;
}

#[tokio::test]
async fn issues_are_filtered_by_status_assignee_text_and_sorted_by_priority() {
    let app = TestApp::spawn().await;
    let (alice, bob) = project_with_bob(&app, "maintainer").await;
    let file = |title: &'static str, priority: &'static str, assignee: Option<&str>| {
        let mut body = json!({"title": title, "priority": priority});
        if let Some(id) = assignee {
            body["assignee_id"] = json!(id);
        }
        body
    };
    for body in [
        file("Crash on login", "urgent", Some(&alice.id)),
        file("Typo in footer", "low", Some(&bob.id)),
        file("Slow search page", "high", Some(&alice.id)),
        file("Login button misaligned", "medium", None),
    ] {
        app.create_issue(&alice.access_token, "SWAT", &body).await;
    }
    app.patch_issue(
        &alice.access_token,
        "SWAT-3",
        None,
        &json!({"status": "in_progress"}),
    )
    .await;
    app.patch_issue(
        &alice.access_token,
        "SWAT-2",
        None,
        &json!({"status": "closed"}),
    )
    .await;
    let list = |query: &'static str| {
        let app = &app;
        let token = alice.access_token.clone();
        async move {
            app.get_ok(&token, &format!("/v1/projects/SWAT/issues?{query}"))
                .await
        }
    };

    let active = list("status=open,in_progress&sort=-priority").await;
    let mine = list("assignee=me&sort=-priority").await;
    let unassigned = list("assignee=none").await;
    let about_login = list("q=login&sort=created_at").await;
    let urgent_or_high = list("priority=urgent,high&sort=priority").await;
    let by_bob = app
        .get_ok(
            &bob.access_token,
            &format!("/v1/projects/SWAT/issues?assignee={}", bob.id),
        )
        .await;
    let empty_params = list("status=&assignee=&q=&sort=&page_size=").await;

    assert_eq!(issue_keys(&active), ["SWAT-1", "SWAT-3", "SWAT-4"]);
    assert_eq!(issue_keys(&mine), ["SWAT-1", "SWAT-3"]);
    assert_eq!(issue_keys(&unassigned), ["SWAT-4"]);
    assert_eq!(issue_keys(&about_login), ["SWAT-1", "SWAT-4"]);
    assert_eq!(issue_keys(&urgent_or_high), ["SWAT-3", "SWAT-1"]);
    assert_eq!(issue_keys(&by_bob), ["SWAT-2"]);
    assert_eq!(issue_keys(&empty_params).len(), 4);
}

#[tokio::test]
async fn a_page_token_walks_every_issue_once_and_only_in_its_own_order() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    for n in 1..=5 {
        app.create_issue(
            &alice.access_token,
            "SWAT",
            &json!({"title": format!("Issue {n}")}),
        )
        .await;
    }

    let mut seen = Vec::new();
    let mut path = "/v1/projects/SWAT/issues?sort=created_at&page_size=2".to_owned();
    let mut pages = 0;
    let last_token = loop {
        let page = app.get_ok(&alice.access_token, &path).await;
        pages += 1;
        seen.extend(issue_keys(&page).into_iter().map(str::to_owned));
        match page["next_page_token"].as_str() {
            Some(token) => {
                path = format!(
                    "/v1/projects/SWAT/issues?sort=created_at&page_size=2&page_token={token}"
                );
            }
            None => break path,
        }
    };
    let other_order = app
        .get_as(
            &alice.access_token,
            &last_token.replace("sort=created_at", "sort=-priority"),
        )
        .await;
    let too_big = app
        .get_as(
            &alice.access_token,
            "/v1/projects/SWAT/issues?page_size=101",
        )
        .await;

    assert_eq!(pages, 3);
    assert_eq!(seen, ["SWAT-1", "SWAT-2", "SWAT-3", "SWAT-4", "SWAT-5"]);
    assert_invalid(other_order, &["page_token"]).await;
    assert_invalid(too_big, &["page_size"]).await;
}

#[tokio::test]
async fn my_work_spans_every_project_i_belong_to_and_nothing_else() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for key in ["AA", "BB"] {
        app.create_project(&alice.access_token, key).await;
        app.add_member(&alice.access_token, key, &bob.id, "reporter")
            .await;
        app.create_issue(
            &alice.access_token,
            key,
            &json!({"title": "Mine", "assignee_id": alice.id}),
        )
        .await;
        app.create_issue(&alice.access_token, key, &json!({"title": "Nobody's"}))
            .await;
    }
    app.create_issue(
        &alice.access_token,
        "BB",
        &json!({"title": "Done", "assignee_id": alice.id}),
    )
    .await;
    app.patch_issue(
        &alice.access_token,
        "BB-3",
        None,
        &json!({"status": "closed"}),
    )
    .await;
    app.create_project(&bob.access_token, "CC").await;
    app.create_issue(&bob.access_token, "CC", &json!({"title": "Bob's own"}))
        .await;

    let mine = app
        .get_ok(
            &alice.access_token,
            "/v1/issues?assignee=me&status=open,in_progress&sort=created_at",
        )
        .await;
    let bobs_authored = app.get_ok(&bob.access_token, "/v1/issues?author=me").await;
    let bob_sees = app
        .get_ok(
            &bob.access_token,
            "/v1/issues?sort=created_at&page_size=100",
        )
        .await;

    assert_eq!(issue_keys(&mine), ["AA-1", "BB-1"]);
    assert_eq!(issue_keys(&bobs_authored), ["CC-1"]);
    let visible: HashSet<&str> = issue_keys(&bob_sees).into_iter().collect();
    assert_eq!(
        visible,
        HashSet::from(["AA-1", "AA-2", "BB-1", "BB-2", "BB-3", "CC-1"])
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_issue_and_files_no_other() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    let post = |body: Value| {
        let request = app
            .authed(
                Method::POST,
                "/v1/projects/SWAT/issues",
                &alice.access_token,
            )
            .header("Idempotency-Key", "file-once-7")
            .json(&body);
        async move { request.send().await.unwrap() }
    };

    let first = post(json!({"title": "Only once"})).await;
    let replay = post(json!({"title": "Only once"})).await;
    let other_body = post(json!({"title": "Something else"})).await;

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()[header::LOCATION], "/v1/issues/SWAT-1");
    assert_eq!(etag_of(&replay), etag_of(&first));
    let first: Value = first.json().await.unwrap();
    assert_eq!(replay.json::<Value>().await.unwrap(), first);
    assert_invalid(other_body, &["Idempotency-Key"]).await;
    let all = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/issues")
        .await;
    assert_eq!(issue_keys(&all), ["SWAT-1"]);
}

#[tokio::test]
async fn an_idempotency_key_replays_a_created_project() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let post = || {
        app.authed(Method::POST, "/v1/projects", &alice.access_token)
            .header("Idempotency-Key", "project-once")
            .json(&json!({"key": "SWAT", "name": "Swatter"}))
            .send()
    };

    let first = post().await.unwrap();
    let replay = post().await.unwrap();

    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(
        replay.json::<Value>().await.unwrap()["id"],
        first.json::<Value>().await.unwrap()["id"]
    );
}

#[tokio::test]
async fn the_history_shows_creation_and_status_changes_in_order() {
    let app = TestApp::spawn().await;
    let (alice, bob) = project_with_bob(&app, "maintainer").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;
    app.patch_issue(
        &bob.access_token,
        "SWAT-1",
        None,
        &json!({"status": "in_progress"}),
    )
    .await;

    let events = app
        .get_ok(&alice.access_token, "/v1/issues/SWAT-1/events")
        .await;

    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{events}");
    assert_eq!(items[0]["kind"], "created");
    assert_eq!(items[0]["issue_key"], "SWAT-1");
    assert_eq!(items[0]["actor_id"], alice.id.as_str());
    assert_eq!(items[0]["field"], Value::Null);
    assert_eq!(items[1]["kind"], "status");
    assert_eq!(items[1]["field"], "status");
    assert_eq!(items[1]["old_value"], "open");
    assert_eq!(items[1]["new_value"], "in_progress");
    assert_eq!(items[1]["actor_id"], bob.id.as_str());
    assert!(
        items[1]["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z'))
    );
    assert_eq!(events["next_page_token"], Value::Null);
}

#[tokio::test]
async fn only_maintainers_delete_issues_and_a_deleted_key_names_nothing() {
    let app = TestApp::spawn().await;
    let (alice, bob) = project_with_bob(&app, "reporter").await;
    app.create_issue(&bob.access_token, "SWAT", &json!({"title": "Bob's"}))
        .await;

    let by_reporter = app.delete_as(&bob.access_token, "/v1/issues/SWAT-1").await;
    let by_owner = app
        .delete_as(&alice.access_token, "/v1/issues/SWAT-1")
        .await;

    assert_problem(by_reporter, 403, "forbidden").await;
    assert_eq!(by_owner.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_as(&alice.access_token, "/v1/issues/SWAT-1").await,
        404,
        "not-found",
    )
    .await;
    let next = app
        .create_issue(&alice.access_token, "SWAT", &json!({"title": "Next"}))
        .await;
    assert_eq!(next["key"], "SWAT-2");
}

#[tokio::test]
async fn a_reporter_may_not_assign_when_filing() {
    let app = TestApp::spawn().await;
    let (alice, bob) = project_with_bob(&app, "reporter").await;

    let response = app
        .post_issue(
            &bob.access_token,
            "SWAT",
            &json!({"title": "Mine", "assignee_id": alice.id}),
        )
        .await;

    assert_problem(response, 403, "forbidden").await;
}
