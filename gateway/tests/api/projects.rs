//! Projects and their members over HTTP (docs/api.md).

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem, error_fields};

#[tokio::test]
async fn creating_a_project_answers_201_with_its_location_and_the_creator_as_owner() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app
        .post_project(
            &alice.access_token,
            &json!({"key": "SWAT", "name": "Swatter", "description": "The tracker"}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()[header::LOCATION], "/v1/projects/SWAT");
    let project: Value = response.json().await.unwrap();
    assert_eq!(project["key"], "SWAT");
    assert_eq!(project["name"], "Swatter");
    assert_eq!(project["description"], "The tracker");
    assert_eq!(project["my_role"], "owner");
    assert!(
        project["created_at"]
            .as_str()
            .is_some_and(|at| at.ends_with('Z')),
        "{project}"
    );
    let fetched = app.get_ok(&alice.access_token, "/v1/projects/SWAT").await;
    assert_eq!(fetched, project);
    let members = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/members")
        .await;
    assert_eq!(members["items"][0]["user_id"], alice.id.as_str());
    assert_eq!(members["items"][0]["username"], "alice");
    assert_eq!(members["items"][0]["role"], "owner");
}

#[tokio::test]
async fn the_member_list_holds_every_member_even_beyond_one_page_of_list_members() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let project = app.create_project(&alice.access_token, "SWAT").await;
    // 150 more members than the 100 of one `ListMembers` page, written straight to the issues
    // database (signing up 150 users would cost 150 password hashes).
    let project_id = project["id"].as_str().unwrap().parse().unwrap();
    for n in 0..150 {
        swatter_issues::store::upsert_member(
            &app.issues_db().pool,
            project_id,
            uuid::Uuid::new_v4(),
            &format!("member{n:03}"),
            swatter_issues::domain::Role::Viewer,
        )
        .await
        .unwrap();
    }

    let members = app
        .get_ok(&alice.access_token, "/v1/projects/SWAT/members")
        .await;

    let names: Vec<&str> = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["username"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = std::iter::once("alice".to_owned())
        .chain((0..150).map(|n| format!("member{n:03}")))
        .collect();
    assert_eq!(names, expected);
    assert!(members.get("next_page_token").is_none(), "{members}");
}

#[tokio::test]
async fn a_taken_project_key_is_a_conflict_naming_the_key() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let response = app
        .post_project(&bob.access_token, &json!({"key": "SWAT", "name": "Mine"}))
        .await;

    let problem = assert_problem(response, 409, "conflict").await;
    assert_eq!(error_fields(&problem), ["key"]);
}

#[tokio::test]
async fn an_invalid_project_key_or_a_missing_name_is_refused_by_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let lower_case = app
        .post_project(&alice.access_token, &json!({"key": "swat", "name": "S"}))
        .await;
    let too_long = app
        .post_project(
            &alice.access_token,
            &json!({"key": "ABCDEFGHIJK", "name": "S"}),
        )
        .await;
    let no_name = app
        .post_project(&alice.access_token, &json!({"key": "SWAT"}))
        .await;

    for response in [lower_case, too_long] {
        assert_invalid(response, &["key"]).await;
    }
    assert_invalid(no_name, &["name"]).await;
}

#[tokio::test]
async fn a_project_is_not_found_for_non_members_exactly_as_an_unknown_one() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let hidden = app.get_as(&bob.access_token, "/v1/projects/SWAT").await;
    let unknown = app.get_as(&bob.access_token, "/v1/projects/NOPE").await;
    let malformed = app.get_as(&bob.access_token, "/v1/projects/no-pe").await;
    let members = app
        .get_as(&bob.access_token, "/v1/projects/SWAT/members")
        .await;

    let hidden = assert_problem(hidden, 404, "not-found").await;
    let unknown = assert_problem(unknown, 404, "not-found").await;
    assert_eq!(hidden["detail"], unknown["detail"]);
    assert_problem(malformed, 404, "not-found").await;
    assert_problem(members, 404, "not-found").await;
}

#[tokio::test]
async fn projects_are_listed_for_their_members_by_key_one_page_at_a_time() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    for key in ["CC", "AA", "BB"] {
        app.create_project(&alice.access_token, key).await;
    }
    app.create_project(&bob.access_token, "DD").await;

    let first = app
        .get_ok(&alice.access_token, "/v1/projects?page_size=2")
        .await;
    let token = first["next_page_token"].as_str().unwrap().to_owned();
    let second = app
        .get_ok(
            &alice.access_token,
            &format!("/v1/projects?page_size=2&page_token={token}"),
        )
        .await;
    let admin = app.admin_token().await;
    let everything = app.get_ok(&admin, "/v1/projects").await;

    let keys = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["key"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(keys(&first), ["AA", "BB"]);
    assert_eq!(keys(&second), ["CC"]);
    assert_eq!(second["next_page_token"], Value::Null);
    assert_eq!(keys(&everything), ["AA", "BB", "CC", "DD"]);
    assert_eq!(everything["items"][0]["my_role"], Value::Null);
}

#[tokio::test]
async fn an_owner_renames_a_project_and_clears_its_description_but_a_maintainer_may_not() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.post_project(
        &alice.access_token,
        &json!({"key": "SWAT", "name": "Swatter", "description": "old"}),
    )
    .await;
    app.add_member(&alice.access_token, "SWAT", &bob.id, "maintainer")
        .await;

    let renamed = app
        .send_json(
            Method::PATCH,
            &alice.access_token,
            "/v1/projects/SWAT",
            &json!({"name": "Swatter 2", "description": null}),
        )
        .await;
    let null_name = app
        .send_json(
            Method::PATCH,
            &alice.access_token,
            "/v1/projects/SWAT",
            &json!({"name": null}),
        )
        .await;
    let by_maintainer = app
        .send_json(
            Method::PATCH,
            &bob.access_token,
            "/v1/projects/SWAT",
            &json!({"name": "Bob's"}),
        )
        .await;

    assert_eq!(renamed.status(), StatusCode::OK);
    let project: Value = renamed.json().await.unwrap();
    assert_eq!(project["name"], "Swatter 2");
    assert_eq!(project["description"], "");
    assert_invalid(null_name, &["name"]).await;
    assert_problem(by_maintainer, 403, "forbidden").await;
}

#[tokio::test]
async fn deleting_a_project_removes_it_with_its_issues_and_frees_its_key() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;
    app.create_issue(&alice.access_token, "SWAT", &json!({"title": "Bug"}))
        .await;

    let response = app
        .delete_as(&alice.access_token, "/v1/projects/SWAT")
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_as(&alice.access_token, "/v1/projects/SWAT").await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        app.get_as(&alice.access_token, "/v1/issues/SWAT-1").await,
        404,
        "not-found",
    )
    .await;
    app.create_project(&alice.access_token, "SWAT").await;
}

#[tokio::test]
async fn an_owner_adds_a_member_and_changes_their_role() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let added = app
        .put_member(&alice.access_token, "SWAT", &bob.id, "reporter")
        .await;
    let promoted = app
        .put_member(&alice.access_token, "SWAT", &bob.id, "maintainer")
        .await;

    assert_eq!(added.status(), StatusCode::OK);
    let member: Value = added.json().await.unwrap();
    assert_eq!(member["user_id"], bob.id.as_str());
    assert_eq!(member["username"], "bob");
    assert_eq!(member["role"], "reporter");
    assert!(member["added_at"].is_string());
    assert_eq!(promoted.status(), StatusCode::OK);
    let members = app
        .get_ok(&bob.access_token, "/v1/projects/SWAT/members")
        .await;
    let bob_entry = members["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user_id"] == bob.id.as_str())
        .unwrap();
    assert_eq!(bob_entry["role"], "maintainer");
    let project = app.get_ok(&bob.access_token, "/v1/projects/SWAT").await;
    assert_eq!(project["my_role"], "maintainer");
}

#[tokio::test]
async fn an_unknown_role_is_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let response = app
        .put_member(&alice.access_token, "SWAT", &bob.id, "admin")
        .await;

    let problem = assert_invalid(response, &["role"]).await;
    assert_eq!(
        problem["errors"][0]["message"],
        "must be owner, maintainer, reporter or viewer"
    );
}

#[tokio::test]
async fn a_user_id_that_is_not_a_uuid_names_no_member() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "SWAT").await;

    let response = app
        .delete_as(&alice.access_token, "/v1/projects/SWAT/members/bob")
        .await;

    assert_problem(response, 404, "not-found").await;
}

#[tokio::test]
async fn the_last_owner_can_neither_leave_nor_be_demoted_until_another_owner_exists() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    app.create_project(&alice.access_token, "SWAT").await;
    let me = format!("/v1/projects/SWAT/members/{}", alice.id);

    let leave = app.delete_as(&alice.access_token, &me).await;
    let demote = app
        .put_member(&alice.access_token, "SWAT", &alice.id, "maintainer")
        .await;
    app.add_member(&alice.access_token, "SWAT", &bob.id, "owner")
        .await;
    let leave_after = app.delete_as(&alice.access_token, &me).await;

    let problem = assert_problem(leave, 409, "conflict").await;
    assert_eq!(problem["detail"], "a project needs at least one owner");
    assert_problem(demote, 409, "conflict").await;
    assert_eq!(leave_after.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get_as(&alice.access_token, "/v1/projects/SWAT").await,
        404,
        "not-found",
    )
    .await;
}
