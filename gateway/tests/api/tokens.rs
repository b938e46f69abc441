//! `POST /v1/auth/token`, `POST /v1/auth/revoke`, and identity's login throttling seen through
//! REST.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};
use swatter_identity::config::IdentityConfig;

use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USERNAME, SERVICE_CLIENT_ID, SERVICE_CLIENT_SECRET, TestApp, Tokens,
    assert_oauth_error, assert_problem, error_fields,
};

#[tokio::test]
async fn logging_in_with_a_form_returns_uncacheable_bearer_tokens() {
    let app = TestApp::spawn().await;

    let response = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let tokens: Tokens = response.json().await.unwrap();
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);
    assert_eq!(tokens.access_token.split('.').count(), 3, "a JWT");
    assert!(tokens.refresh_token.is_some_and(|t| !t.is_empty()));
}

#[tokio::test]
async fn logging_in_with_json_works_like_the_form() {
    let app = TestApp::spawn().await;

    let response = app
        .token_json(&json!({
            "grant_type": "password",
            "username": ADMIN_USERNAME,
            "password": ADMIN_PASSWORD
        }))
        .await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let tokens: Tokens = response.json().await.unwrap();
    let me: Value = app.get_me(&tokens.access_token).await.json().await.unwrap();
    assert_eq!(me["username"], ADMIN_USERNAME);
    assert_eq!(me["admin"], true);
}

#[tokio::test]
async fn a_wrong_password_is_an_invalid_grant_as_rfc_6749_says() {
    let app = TestApp::spawn().await;

    let response = app.login(ADMIN_USERNAME, "not-the-password").await;

    assert!(response.headers().get(header::WWW_AUTHENTICATE).is_none());
    let problem = assert_oauth_error(response, 400, "invalid_grant").await;
    assert_eq!(problem["error_description"], "invalid username or password");
}

#[tokio::test]
async fn a_password_grant_without_credentials_is_an_invalid_request_listing_each_missing_field() {
    let app = TestApp::spawn().await;

    let response = app.token_form(&[("grant_type", "password")]).await;

    let problem = assert_oauth_error(response, 400, "invalid_request").await;
    assert_eq!(error_fields(&problem), ["username", "password"]);
}

#[tokio::test]
async fn a_client_secret_is_an_invalid_client_and_public_clients_and_bearers_log_in() {
    let app = TestApp::spawn().await;
    let login = [
        ("grant_type", "password"),
        ("username", ADMIN_USERNAME),
        ("password", ADMIN_PASSWORD),
    ];
    let send = |authorization: &'static str| {
        app.client
            .post(app.url("/v1/auth/token"))
            .header(header::AUTHORIZATION, authorization)
            .form(&login)
            .send()
    };

    let basic = send("Basic c3dhdHRlci13ZWI6c2VjcmV0").await.unwrap();
    let bearer = send("Bearer left-over-access-token").await.unwrap();
    // `swatter-web:` (a public client naming itself) and `:` (what Swagger UI sends).
    let public_client = send("Basic c3dhdHRlci13ZWI6").await.unwrap();
    let swagger_ui = send("basic Og==").await.unwrap();
    let not_base64 = send("Basic !!!").await.unwrap();

    assert_eq!(
        basic.headers()[header::WWW_AUTHENTICATE],
        r#"Basic realm="swatter""#
    );
    assert_oauth_error(basic, 401, "invalid_client").await;
    assert_oauth_error(not_base64, 401, "invalid_client").await;
    assert_eq!(bearer.status(), StatusCode::OK);
    assert_eq!(public_client.status(), StatusCode::OK);
    assert_eq!(swagger_ui.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_token_request_that_is_neither_form_nor_json_is_an_invalid_request() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .post(app.url("/v1/auth/token"))
        .header(header::CONTENT_TYPE, "text/plain")
        .body("grant_type=password&username=admin&password=swatter-admin")
        .send()
        .await
        .unwrap();

    assert_oauth_error(response, 400, "invalid_request").await;
}

#[tokio::test]
async fn a_refresh_token_is_rotated_and_reusing_it_ends_the_whole_login() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let first = app.refresh(&alice.refresh_token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let rotated: Tokens = first.json().await.unwrap();
    let rotated_refresh = rotated.refresh_token.unwrap();
    assert_ne!(rotated_refresh, alice.refresh_token);
    let me: Value = app
        .get_me(&rotated.access_token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["username"], "alice");

    let reuse = app.refresh(&alice.refresh_token).await;
    assert_oauth_error(reuse, 400, "invalid_grant").await;
    let after_reuse = app.refresh(&rotated_refresh).await;
    assert_oauth_error(after_reuse, 400, "invalid_grant").await;
}

#[tokio::test]
async fn a_revoked_refresh_token_stops_working() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app.revoke(&alice.refresh_token).await;

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.text().await.unwrap(), "");
    assert_oauth_error(
        app.refresh(&alice.refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn revoking_with_an_rfc_7009_form_ends_the_login() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let response = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .form(&[
            ("token", alice.refresh_token.as_str()),
            ("token_type_hint", "refresh_token"),
            ("client_id", "swatter-cli"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_oauth_error(
        app.refresh(&alice.refresh_token).await,
        400,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn revoking_an_unknown_token_or_text_no_token_can_be_is_accepted() {
    let app = TestApp::spawn().await;

    for token in ["never-issued".to_owned(), "x".repeat(300)] {
        let response = app.revoke(&token).await;

        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{token}");
    }
}

#[tokio::test]
async fn revoking_without_a_token_or_an_access_token_is_refused_with_an_oauth_error() {
    let app = TestApp::spawn().await;
    let alice = app.user("alice").await;

    let empty = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .form(&[("token_type_hint", "refresh_token")])
        .send()
        .await
        .unwrap();
    let access = app.revoke(&alice.access_token).await;

    let null = app
        .client
        .post(app.url("/v1/auth/revoke"))
        .json(&serde_json::json!({"token": null, "refresh_token": "never-issued"}))
        .send()
        .await
        .unwrap();

    let problem = assert_oauth_error(empty, 400, "invalid_request").await;
    assert_eq!(error_fields(&problem), ["token"]);
    let problem = assert_oauth_error(null, 400, "invalid_request").await;
    assert_eq!(error_fields(&problem), ["token"]);
    assert_oauth_error(access, 400, "unsupported_token_type").await;
    assert_eq!(
        app.get_me(&alice.access_token).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_service_grant_is_not_offered_by_the_public_api_even_with_the_real_secret() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let admin_id = app.get_ok(&admin, "/v1/users/me").await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let probe = app
        .token_form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SERVICE_CLIENT_ID),
            ("client_secret", SERVICE_CLIENT_SECRET),
            ("subject_user_id", &admin_id),
        ])
        .await;
    let as_json = app
        .token_json(&json!({
            "grant_type": "client_credentials",
            "client_id": SERVICE_CLIENT_ID,
            "client_secret": SERVICE_CLIENT_SECRET,
        }))
        .await;
    let made_up = app.token_form(&[("grant_type", "implicit")]).await;

    for response in [probe, as_json, made_up] {
        assert_oauth_error(response, 400, "unsupported_grant_type").await;
    }
}

/// Identity settings allowing `failures` failed logins per (username, client address).
fn failures_per_username_and_client(failures: u32) -> impl FnOnce(&mut IdentityConfig) {
    move |identity| {
        identity.throttle.failures_per_username_and_client = failures.try_into().unwrap();
    }
}

#[tokio::test]
async fn password_guessing_through_rest_is_refused_by_identity_with_retry_after() {
    let app = TestApp::spawn_configured(failures_per_username_and_client(2), |_| {}).await;

    for _ in 0..2 {
        let response = app.login(ADMIN_USERNAME, "guess").await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    }
    let limited = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    let other_user = app.login("someone-else", "guess").await;

    let retry_after: u64 = limited.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let problem = assert_problem(limited, 429, "rate-limited").await;
    assert!(problem["detail"].as_str().unwrap().contains("username"));
    assert_eq!(problem["error"], "slow_down", "{problem}");
    assert_eq!(problem["error_description"], problem["detail"]);
    assert_eq!(other_user.status(), StatusCode::BAD_REQUEST);
}

/// A password grant sent through a proxy that appended `client` to `X-Forwarded-For`, after
/// whatever the client itself wrote there (`spoofed`).
async fn login_via_proxy(
    app: &TestApp,
    spoofed: Option<&str>,
    client: &str,
    password: &str,
) -> reqwest::Response {
    let forwarded_for = match spoofed {
        Some(spoofed) => format!("{spoofed}, {client}"),
        None => client.to_owned(),
    };
    app.client
        .post(app.url("/v1/auth/token"))
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("grant_type", "password"),
            ("username", ADMIN_USERNAME),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_guesses_from_one_client_do_not_lock_out_another() {
    let app = TestApp::spawn_configured(failures_per_username_and_client(2), |gateway| {
        gateway.trusted_proxy_hops = 1;
    })
    .await;

    for _ in 0..2 {
        let guess = login_via_proxy(&app, None, "203.0.113.1", "guess").await;
        assert_eq!(guess.status(), StatusCode::BAD_REQUEST);
    }
    let attacker = login_via_proxy(&app, None, "203.0.113.1", ADMIN_PASSWORD).await;
    let owner = login_via_proxy(&app, None, "203.0.113.2", ADMIN_PASSWORD).await;

    assert_problem(attacker, 429, "rate-limited").await;
    assert_eq!(owner.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_supplied_left_most_forwarded_entry_does_not_change_its_bucket() {
    let app = TestApp::spawn_configured(failures_per_username_and_client(2), |gateway| {
        gateway.trusted_proxy_hops = 1;
    })
    .await;

    for spoofed in ["198.51.100.1", "198.51.100.2"] {
        let guess = login_via_proxy(&app, Some(spoofed), "203.0.113.1", "guess").await;
        assert_eq!(guess.status(), StatusCode::BAD_REQUEST);
    }
    let spoofing_again = login_via_proxy(&app, Some("198.51.100.3"), "203.0.113.1", "guess").await;

    assert_problem(spoofing_again, 429, "rate-limited").await;
}
