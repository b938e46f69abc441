//! Milestones over REST, and the planning fields of issues (resolution, due date, estimate,
//! milestone): what a client sends, sees and is refused.

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem};

/// An owner's token and a project `key` with a maintainer, a reporter and a viewer: their tokens.
struct Team {
    owner: String,
    maintainer: String,
    reporter: String,
    reporter_id: String,
    viewer: String,
}

async fn team(app: &TestApp, key: &str) -> Team {
    let lower = key.to_lowercase();
    let owner = app.user(&format!("{lower}-owner")).await;
    app.create_project(&owner.access_token, key).await;
    let mut tokens = Vec::new();
    let mut ids = Vec::new();
    for role in ["maintainer", "reporter", "viewer"] {
        let user = app.user(&format!("{lower}-{role}")).await;
        app.add_member(&owner.access_token, key, &user.id, role)
            .await;
        tokens.push(user.access_token);
        ids.push(user.id);
    }
    let [maintainer, reporter, viewer]: [String; 3] = tokens.try_into().unwrap();
    Team {
        owner: owner.access_token,
        maintainer,
        reporter,
        reporter_id: ids[1].clone(),
        viewer,
    }
}

async fn post_milestone(app: &TestApp, token: &str, key: &str, body: &Value) -> reqwest::Response {
    app.send_json(
        Method::POST,
        token,
        &format!("/v1/projects/{key}/milestones"),
        body,
    )
    .await
}

async fn create_milestone(app: &TestApp, token: &str, key: &str, body: &Value) -> Value {
    let response = post_milestone(app, token, key, body).await;
    assert_eq!(response.status(), StatusCode::CREATED, "create milestone");
    response.json().await.unwrap()
}

async fn patch(app: &TestApp, token: &str, path: &str, body: &Value) -> reqwest::Response {
    app.send_json(Method::PATCH, token, path, body).await
}

#[tokio::test]
async fn a_milestone_is_created_listed_by_due_date_closed_and_deleted_detaching_its_issues() {
    let app = TestApp::spawn().await;
    let team = team(&app, "MIL").await;

    let response = post_milestone(
        &app,
        &team.maintainer,
        "MIL",
        &json!({"title": "v1.0", "description": "First release", "due_on": "2026-12-24"}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let v1: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/milestones/{}", v1["id"].as_str().unwrap())
    );
    assert_eq!(v1["project_key"], "MIL");
    assert_eq!(v1["state"], "open");
    assert_eq!(v1["due_on"], "2026-12-24");
    assert_eq!(v1["closed_at"], Value::Null);
    assert_eq!(
        v1["progress"],
        json!({"open": 0, "in_progress": 0, "resolved": 0, "closed": 0, "total": 0, "percent_done": 0})
    );
    create_milestone(&app, &team.owner, "MIL", &json!({"title": "Backlog"})).await;
    create_milestone(
        &app,
        &team.owner,
        "MIL",
        &json!({"title": "v0.9", "due_on": "2026-11-30"}),
    )
    .await;

    let page = app
        .get_ok(&team.viewer, "/v1/projects/MIL/milestones")
        .await;
    let titles: Vec<_> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["v0.9", "v1.0", "Backlog"]);
    assert_eq!(page["next_page_token"], Value::Null);

    // Two issues in the milestone, one of them resolved: half done.
    for title in ["first", "second"] {
        let issue = app
            .create_issue(
                &team.maintainer,
                "MIL",
                &json!({"title": title, "milestone_id": v1["id"], "estimate": 2}),
            )
            .await;
        assert_eq!(issue["milestone_id"], v1["id"]);
    }
    let resolved = patch(
        &app,
        &team.maintainer,
        "/v1/issues/MIL-1",
        &json!({"status": "resolved", "resolution": "fixed"}),
    )
    .await;
    assert_eq!(resolved.status(), StatusCode::OK);
    let path = format!("/v1/milestones/{}", v1["id"].as_str().unwrap());
    let read = app.get_ok(&team.viewer, &path).await;
    assert_eq!(read["progress"]["resolved"], 1);
    assert_eq!(read["progress"]["total"], 2);
    assert_eq!(read["progress"]["percent_done"], 50);

    let closed = patch(&app, &team.owner, &path, &json!({"state": "closed"})).await;
    assert_eq!(closed.status(), StatusCode::OK);
    let closed: Value = closed.json().await.unwrap();
    assert!(closed["closed_at"].is_string());
    let open_only = app
        .get_ok(&team.viewer, "/v1/projects/MIL/milestones?state=open")
        .await;
    assert_eq!(open_only["items"].as_array().unwrap().len(), 2);
    let cleared = patch(
        &app,
        &team.owner,
        &path,
        &json!({"due_on": null, "description": null}),
    )
    .await
    .json::<Value>()
    .await
    .unwrap();
    assert_eq!(
        (&cleared["due_on"], &cleared["description"]),
        (&Value::Null, &json!(""))
    );

    let deleted = app.delete_as(&team.maintainer, &path).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_as(&team.owner, &path).await, 404, "not-found").await;
    let issue = app.get_ok(&team.viewer, "/v1/issues/MIL-2").await;
    assert_eq!(issue["milestone_id"], Value::Null);
    let events = app.get_ok(&team.viewer, "/v1/issues/MIL-2/events").await;
    let last = events["items"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["kind"], "milestone");
    assert_eq!(last["field"], "milestone_id");
    assert_eq!(last["old_value"], v1["id"]);
    assert_eq!(last["new_value"], Value::Null);
}

#[tokio::test]
async fn milestone_rules_are_enforced_with_the_status_a_client_expects() {
    let app = TestApp::spawn().await;
    let team = team(&app, "MRU").await;
    let outsider = app.user("mru-outsider").await;
    let v1 = create_milestone(&app, &team.owner, "MRU", &json!({"title": "v1.0"})).await;
    let path = format!("/v1/milestones/{}", v1["id"].as_str().unwrap());

    let duplicate = post_milestone(&app, &team.owner, "MRU", &json!({"title": "v1.0"})).await;
    let problem = assert_problem(duplicate, 409, "conflict").await;
    assert_eq!(problem["errors"][0]["field"], "title");

    for token in [&team.reporter, &team.viewer] {
        assert_problem(
            post_milestone(&app, token, "MRU", &json!({"title": "mine"})).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(
            patch(&app, token, &path, &json!({"title": "x"})).await,
            403,
            "forbidden",
        )
        .await;
        assert_problem(app.delete_as(token, &path).await, 403, "forbidden").await;
    }
    for response in [
        post_milestone(&app, &outsider.access_token, "MRU", &json!({"title": "x"})).await,
        app.get_as(&outsider.access_token, &path).await,
        app.get_as(&outsider.access_token, "/v1/projects/MRU/milestones")
            .await,
        app.delete_as(&outsider.access_token, &path).await,
        app.get_as(&team.owner, "/v1/milestones/not-a-uuid").await,
    ] {
        assert_problem(response, 404, "not-found").await;
    }

    for (body, field) in [
        (json!({"title": ""}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"title": "ok", "due_on": "2026-02-30"}), "due_on"),
        (json!({"title": "ok", "due_on": "1899-12-31"}), "due_on"),
        (json!({"title": "ok", "due_on": ""}), "due_on"),
        (json!({"title": "ok", "due_on": 20261224}), "due_on"),
    ] {
        let response = post_milestone(&app, &team.owner, "MRU", &body).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert!(
            problem["errors"][0]["field"] == field
                || problem["detail"].as_str().unwrap().contains(field),
            "{body}: {problem}"
        );
    }
    for (body, field) in [
        (json!({"state": "done"}), "state"),
        (json!({"state": null}), "state"),
        (json!({"title": null}), "title"),
        (json!({"due_on": "24/12/2026"}), "due_on"),
    ] {
        assert_invalid(patch(&app, &team.owner, &path, &body).await, &[field]).await;
    }
    assert_invalid(
        app.get_as(&team.owner, "/v1/projects/MRU/milestones?state=all")
            .await,
        &["state"],
    )
    .await;
    assert_invalid(
        app.get_as(&team.owner, "/v1/projects/MRU/milestones?page_token=forged")
            .await,
        &["page_token"],
    )
    .await;

    // The same Idempotency-Key replays the first answer; with another body it is refused.
    let keyed = |title: &'static str| {
        app.authed(Method::POST, "/v1/projects/MRU/milestones", &team.owner)
            .header("Idempotency-Key", "milestone-1")
            .json(&json!({"title": title}))
            .send()
    };
    let first: Value = keyed("v2.0").await.unwrap().json().await.unwrap();
    let again = keyed("v2.0").await.unwrap();
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], first["id"]);
    assert_invalid(keyed("v3.0").await.unwrap(), &["Idempotency-Key"]).await;
}

#[tokio::test]
async fn issues_carry_a_due_date_an_estimate_a_milestone_and_a_resolution_that_null_clears() {
    let app = TestApp::spawn().await;
    let team = team(&app, "PLF").await;
    let other = app.user("plf-other").await;
    app.create_project(&other.access_token, "PLG").await;
    let foreign = create_milestone(
        &app,
        &other.access_token,
        "PLG",
        &json!({"title": "theirs"}),
    )
    .await;
    let ours = create_milestone(&app, &team.owner, "PLF", &json!({"title": "ours"})).await;

    let issue = app
        .create_issue(
            &team.maintainer,
            "PLF",
            &json!({"title": "Planned", "due_on": "2026-12-24", "estimate": 3.0, "milestone_id": ours["id"]}),
        )
        .await;
    assert_eq!(issue["due_on"], "2026-12-24");
    assert_eq!(issue["estimate"], 3);
    assert_eq!(issue["resolution"], Value::Null);
    let key = issue["key"].as_str().unwrap().to_owned();
    let path = format!("/v1/issues/{key}");

    // A reporter files, but does not plan.
    assert_problem(
        app.post_issue(
            &team.reporter,
            "PLF",
            &json!({"title": "x", "due_on": "2026-12-24"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;

    for (body, field) in [
        (json!({"due_on": "2026-13-01"}), "due_on"),
        (json!({"due_on": ""}), "due_on"),
        (json!({"due_on": "10000-01-01"}), "due_on"),
        (json!({"estimate": -1}), "estimate"),
        (json!({"estimate": 1001}), "estimate"),
        (json!({"estimate": 2.5}), "estimate"),
        (json!({"estimate": "3"}), "estimate"),
        (json!({"milestone_id": foreign["id"]}), "milestone_id"),
        (
            json!({"milestone_id": "00000000-0000-0000-0000-000000000000"}),
            "milestone_id",
        ),
        (json!({"milestone_id": ""}), "milestone_id"),
        (json!({"resolution": "fixed"}), "resolution"),
        (json!({"resolution": "done"}), "resolution"),
        (
            json!({"status": "open", "resolution": "wont_fix"}),
            "resolution",
        ),
    ] {
        assert_invalid(patch(&app, &team.owner, &path, &body).await, &[field]).await;
        if body.get("resolution").is_none() && body.get("status").is_none() {
            let mut create = body.clone();
            create["title"] = json!("t");
            assert_invalid(app.post_issue(&team.owner, "PLF", &create).await, &[field]).await;
        }
    }

    let closed = patch(
        &app,
        &team.owner,
        &path,
        &json!({"status": "closed", "resolution": "duplicate", "estimate": 5}),
    )
    .await;
    assert_eq!(closed.status(), StatusCode::OK);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(
        (&closed["resolution"], &closed["estimate"]),
        (&json!("duplicate"), &json!(5))
    );
    let cleared: Value = patch(
        &app,
        &team.owner,
        &path,
        &json!({"resolution": null, "due_on": null, "estimate": null, "milestone_id": null}),
    )
    .await
    .json()
    .await
    .unwrap();
    for field in ["resolution", "due_on", "estimate", "milestone_id"] {
        assert_eq!(cleared[field], Value::Null, "{field}");
    }
    let history = app.get_ok(&team.viewer, &format!("{path}/events")).await;
    let changed: Vec<_> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap_or("").to_owned(),
                e["old_value"].clone(),
                e["new_value"].clone(),
            )
        })
        .collect();
    for expected in [
        ("status".to_owned(), json!("open"), json!("closed")),
        ("resolution".to_owned(), Value::Null, json!("duplicate")),
        ("estimate".to_owned(), json!("3"), json!("5")),
        ("resolution".to_owned(), json!("duplicate"), Value::Null),
        ("due_on".to_owned(), json!("2026-12-24"), Value::Null),
        ("milestone_id".to_owned(), ours["id"].clone(), Value::Null),
    ] {
        assert!(changed.contains(&expected), "{expected:?} in {changed:?}");
    }

    // The reporter it is assigned to may reopen it; that clears a resolution.
    patch(
        &app,
        &team.owner,
        &path,
        &json!({"assignee_id": team.reporter_id, "status": "resolved", "resolution": "fixed"}),
    )
    .await;
    let reopened = patch(&app, &team.reporter, &path, &json!({"status": "open"})).await;
    assert_eq!(reopened.status(), StatusCode::OK);
    assert_eq!(
        reopened.json::<Value>().await.unwrap()["resolution"],
        Value::Null
    );
}

/// A personal access token of the holder of the password login `token`.
async fn personal_token(app: &TestApp, token: &str, body: &Value) -> String {
    let response = app
        .send_json(Method::POST, token, "/v1/users/me/tokens", body)
        .await;
    assert_eq!(response.status(), StatusCode::CREATED, "create a token");
    let created: Value = response.json().await.unwrap();
    created["secret"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn personal_access_tokens_read_milestones_within_their_scope_and_projects_only() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let mut paths = Vec::new();
    for key in ["SWAT", "OPS"] {
        app.create_project(&alice.access_token, key).await;
        let milestone = create_milestone(
            &app,
            &alice.access_token,
            key,
            &json!({"title": format!("{key} v1")}),
        )
        .await;
        paths.push(format!(
            "/v1/milestones/{}",
            milestone["id"].as_str().unwrap()
        ));
    }
    let (swat, ops) = (&paths[0], &paths[1]);
    let read = personal_token(
        &app,
        &alice.access_token,
        &json!({"name": "ro", "scopes": ["read"]}),
    )
    .await;
    let limited = personal_token(
        &app,
        &alice.access_token,
        &json!({"name": "swat", "scopes": ["write"], "projects": ["SWAT"]}),
    )
    .await;

    // A read token reads, but does not write.
    assert_eq!(app.get_as(&read, swat).await.status(), StatusCode::OK);
    assert_eq!(
        app.get_as(&read, "/v1/projects/OPS/milestones")
            .await
            .status(),
        StatusCode::OK
    );
    for response in [
        post_milestone(&app, &read, "SWAT", &json!({"title": "v2"})).await,
        patch(&app, &read, swat, &json!({"state": "closed"})).await,
        app.delete_as(&read, swat).await,
    ] {
        assert_problem(response, 403, "forbidden").await;
    }

    // A token limited to SWAT manages SWAT's milestones and sees nothing of OPS's.
    assert_eq!(
        patch(&app, &limited, swat, &json!({"title": "SWAT v1.0"}))
            .await
            .status(),
        StatusCode::OK
    );
    for response in [
        app.get_as(&limited, ops).await,
        app.get_as(&limited, "/v1/projects/OPS/milestones").await,
        post_milestone(&app, &limited, "OPS", &json!({"title": "v2"})).await,
        patch(&app, &limited, ops, &json!({"state": "closed"})).await,
        app.delete_as(&limited, ops).await,
    ] {
        assert_problem(response, 404, "not-found").await;
    }
    assert_eq!(app.get_ok(&alice.access_token, ops).await["state"], "open");
}
