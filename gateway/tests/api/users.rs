//! The caller's own account, search, profiles and admin changes.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_USERNAME, TestApp, assert_invalid, assert_oauth_error, assert_problem, error_fields,
};

#[tokio::test]
async fn reading_me_without_a_token_is_unauthorized_with_a_challenge() {
    let app = TestApp::spawn().await;

    let response = app.get("/v1/users/me").await;

    assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
    assert_problem(response, 401, "unauthenticated").await;
}

#[tokio::test]
async fn a_garbage_token_is_refused_as_invalid() {
    let app = TestApp::spawn().await;

    let response = app.get_me("garbage").await;

    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_problem(response, 401, "invalid-token").await;
}

#[tokio::test]
async fn a_refresh_token_is_not_an_access_token() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app.get_me(&alice.refresh_token).await;

    assert_eq!(
        response.headers()[header::WWW_AUTHENTICATE],
        r#"Bearer error="invalid_token""#
    );
    assert_problem(response, 401, "invalid-token").await;
}

#[tokio::test]
async fn a_user_reads_their_own_full_profile() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app.get_me(&alice.access_token).await;

    assert_eq!(response.status(), StatusCode::OK);
    let me: Value = response.json().await.unwrap();
    assert_eq!(me["id"], alice.id.as_str());
    assert_eq!(me["username"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["admin"], false);
    assert!(me["created_at"].is_string());
}

#[tokio::test]
async fn a_user_changes_their_email_and_full_name() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app
        .update_me(
            &alice.access_token,
            &json!({"email": "alice@wonderland.example", "full_name": "Alice L."}),
        )
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["email"], "alice@wonderland.example");
    assert_eq!(updated["full_name"], "Alice L.");
    let me: Value = app.get_me(&alice.access_token).await.json().await.unwrap();
    assert_eq!(me["email"], "alice@wonderland.example");
}

#[tokio::test]
async fn a_user_cannot_take_another_users_email() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    app.user("bob").await;

    let response = app
        .update_me(&alice.access_token, &json!({"email": "Bob@example.com"}))
        .await;

    let problem = assert_problem(response, 409, "conflict").await;
    assert_eq!(error_fields(&problem), ["email"]);
}

#[tokio::test]
async fn changing_the_password_ends_old_logins_and_the_new_one_works() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let second_login = app.tokens("alice", &alice.password).await;

    let response = app
        .change_password(&alice.access_token, &alice.password, "a-brand-new-password")
        .await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_oauth_error(
        app.refresh(&alice.refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
    let second_refresh = second_login.refresh_token.unwrap();
    assert_oauth_error(app.refresh(&second_refresh).await, 400, "invalid_grant").await;
    assert_oauth_error(
        app.login("alice", &alice.password).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_eq!(
        app.login("alice", "a-brand-new-password").await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_wrong_current_password_names_the_field() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app
        .change_password(
            &alice.access_token,
            "not-my-password",
            "a-brand-new-password",
        )
        .await;

    assert_invalid(response, &["current_password"]).await;
}

#[tokio::test]
async fn users_see_public_fields_of_others_and_admins_see_everything() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let admin = app.admin_token().await;

    let as_alice: Value = app
        .search_users(&alice.access_token, &[("q", "bo")])
        .await
        .json()
        .await
        .unwrap();
    let as_admin: Value = app
        .search_users(&admin, &[("q", "bo")])
        .await
        .json()
        .await
        .unwrap();
    let profile_as_alice: Value = app
        .get_user(&alice.access_token, &bob.id)
        .await
        .json()
        .await
        .unwrap();

    assert_eq!(
        as_alice,
        json!({
            "items": [{"id": bob.id, "username": "bob", "full_name": "bob Example"}],
            "next_page_token": null
        })
    );
    let full = &as_admin["items"][0];
    assert_eq!(full["username"], "bob");
    assert_eq!(full["email"], "bob@example.com");
    assert_eq!(full["admin"], false);
    assert_eq!(full["disabled"], false);
    assert!(full["created_at"].is_string(), "{full}");
    assert_eq!(
        profile_as_alice,
        json!({"id": bob.id, "username": "bob", "full_name": "bob Example"})
    );
}

#[tokio::test]
async fn search_results_are_walked_page_by_page() {
    let app = TestApp::spawn().await;
    for name in ["walk-a", "walk-b", "walk-c", "walk-d", "walk-e"] {
        app.sign_up(&json!({
            "username": name,
            "email": format!("{name}@example.com"),
            "password": "long enough"
        }))
        .await;
    }
    let admin = app.admin_token().await;

    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut query = vec![("q", "walk"), ("page_size", "2")];
        if let Some(token) = &token {
            query.push(("page_token", token));
        }
        let response = app.search_users(&admin, &query).await;
        assert_eq!(response.status(), StatusCode::OK);
        let page: Value = response.json().await.unwrap();
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            seen.push(item["username"].as_str().unwrap().to_owned());
        }
        match page["next_page_token"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => {
                assert!(page["next_page_token"].is_null());
                break;
            }
        }
        assert!(pages < 10, "the walk does not end");
    }

    assert_eq!(pages, 3);
    assert_eq!(seen, ["walk-a", "walk-b", "walk-c", "walk-d", "walk-e"]);
}

#[tokio::test]
async fn bad_paging_parameters_are_named() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    for size in ["0", "101", "ten", "-1"] {
        let response = app.search_users(&admin, &[("page_size", size)]).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert_eq!(error_fields(&problem), ["page_size"], "page_size={size}");
    }
    let response = app
        .search_users(&admin, &[("page_token", "not-a-token")])
        .await;
    assert_invalid(response, &["page_token"]).await;
}

#[tokio::test]
async fn empty_query_parameters_count_as_absent() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let response = app
        .search_users(&admin, &[("q", ""), ("page_size", ""), ("page_token", "")])
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let page: Value = response.json().await.unwrap();
    assert_eq!(page["items"][0]["username"], ADMIN_USERNAME);
    assert!(page["next_page_token"].is_null());
}

#[tokio::test]
async fn a_user_id_that_is_not_a_uuid_names_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let response = app.get_user(&admin, "not-a-uuid").await;

    assert_problem(response, 404, "not-found").await;
}

#[tokio::test]
async fn an_unknown_user_id_is_not_found() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;

    let response = app
        .get_user(&admin, &uuid::Uuid::new_v4().to_string())
        .await;

    let problem = assert_problem(response, 404, "not-found").await;
    assert_eq!(problem["detail"], "user not found");
}

#[tokio::test]
async fn a_non_admin_cannot_make_anyone_an_admin() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app
        .update_user(&alice.access_token, &alice.id, &json!({"admin": true}))
        .await;

    assert_problem(response, 403, "forbidden").await;
    let me: Value = app.get_me(&alice.access_token).await.json().await.unwrap();
    assert_eq!(me["admin"], false);
}

#[tokio::test]
async fn a_disabled_user_can_neither_log_in_nor_refresh() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;
    let admin = app.admin_token().await;

    let response = app
        .update_user(&admin, &alice.id, &json!({"disabled": true}))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    let updated: Value = response.json().await.unwrap();
    assert_eq!(updated["disabled"], true);
    assert_oauth_error(
        app.login("alice", &alice.password).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        app.refresh(&alice.refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
    assert_problem(
        app.get_me(&alice.access_token).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn an_admin_cannot_disable_themself() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let me: Value = app.get_me(&admin).await.json().await.unwrap();
    assert_eq!(me["username"], ADMIN_USERNAME);

    let response = app
        .update_user(
            &admin,
            me["id"].as_str().unwrap(),
            &json!({"disabled": true}),
        )
        .await;

    assert_problem(response, 409, "conflict").await;
}
