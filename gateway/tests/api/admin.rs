//! The operator dashboard over HTTP: the page and its assets under a strict CSP, the cookie
//! session (admins only), the CSRF header on every POST, the JSON and Server-Sent Events the page
//! reads, its actions, and the bearer-token `/v1/admin/...` routes for tools (docs/api.md,
//! "Operator dashboard").

use std::time::Duration;

use futures::StreamExt;
use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{
    ADMIN_PASSWORD, ADMIN_USERNAME, ReportingMode, TestApp, assert_invalid, assert_problem,
};

const CSRF: (&str, &str) = ("X-Swatter-Admin", "1");

impl TestApp {
    /// `POST /admin/session` with the CSRF header.
    async fn admin_login(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/admin/session"))
            .header(CSRF.0, CSRF.1)
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    /// The `Cookie` header of a dashboard session of the bootstrap admin.
    async fn admin_cookie(&self) -> String {
        let response = self.admin_login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK);
        cookies_of(&response)
    }

    fn with_cookie(&self, method: Method, path: &str, cookie: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header(header::COOKIE, cookie)
    }
}

fn assert_dashboard_csp(response: &reqwest::Response) {
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';"),
        "no inline script: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_from_the_gateway_under_a_strict_csp() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let redirect = app.client.get(app.url("/admin")).send().await.unwrap();
    // reqwest follows the redirect to the page.
    assert_eq!(redirect.url().path(), "/admin/");
    for (path, content_type, needle) in [
        (
            "/admin/",
            "text/html",
            "<script src=\"/admin/app.js\" defer></script>",
        ),
        (
            "/admin/app.js",
            "text/javascript",
            "new EventSource(\"/admin/api/events\")",
        ),
        ("/admin/app.css", "text/css", ":focus-visible"),
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_dashboard_csp(&response);
        assert!(
            response.headers()[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with(content_type),
            "{path}"
        );
        let body = response.text().await.unwrap();
        assert!(body.contains(needle), "{path}");
        // Nothing from elsewhere: no absolute URL to load.
        assert!(!body.contains("src=\"http"), "{path}");
        assert!(!body.contains("href=\"http"), "{path}");
        if path == "/admin/" {
            assert!(!body.contains("<script>"), "no inline script");
            assert!(!body.contains("style="), "no inline style");
        }
    }
    app.cleanup_broker().await;
}

#[tokio::test]
async fn only_admins_log_in_with_the_csrf_header_and_the_cookie_is_http_only_and_strict() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let bob = app.user("bob").await;

    let refused = app.admin_login("bob", &bob.password).await;
    assert!(refused.headers().get(header::SET_COOKIE).is_none());
    let problem = assert_problem(refused, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("not an admin"),
        "{problem}"
    );
    let wrong = app.admin_login(ADMIN_USERNAME, "wrong-password").await;
    assert!(wrong.status().is_client_error(), "{}", wrong.status());
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());
    assert_invalid(app.admin_login("", "").await, &["username", "password"]).await;

    // Without the CSRF header, refused before the password is even looked at.
    let forged = app
        .client
        .post(app.url("/admin/session"))
        .json(&json!({"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_dashboard_csp(&forged);
    assert_problem(forged, 403, "forbidden").await;

    let response = app.admin_login(ADMIN_USERNAME, ADMIN_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("swatter_admin="))
        .expect("the session cookie");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin;"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(
        !session.contains("Secure"),
        "plain HTTP without a proxy saying HTTPS"
    );
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], ADMIN_USERNAME);
    assert!(body["expires_in"].as_i64().unwrap() > 0);

    // Behind a trusted proxy that says HTTPS, the cookie is Secure.
    app.cleanup_broker().await;
    let proxied = TestApp::spawn_with(|config| config.trusted_proxy_hops = 1).await;
    let response = proxied
        .client
        .post(proxied.url("/admin/session"))
        .header(CSRF.0, CSRF.1)
        .header("X-Forwarded-Proto", "https")
        .json(&json!({"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|c| c.to_str().unwrap().ends_with("; Secure"))
    );
}

#[tokio::test]
async fn the_api_under_admin_reads_only_the_cookie_and_posts_need_the_csrf_header() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let admin_token = app.admin_token().await;

    // No cookie: 401, even with a good bearer token (the page's API reads the cookie only).
    let bearer_only = app.get_as(&admin_token, "/admin/api/dashboard").await;
    assert_problem(bearer_only, 401, "unauthenticated").await;
    let no_cookie = app.get("/admin/api/events").await;
    assert_problem(no_cookie, 401, "unauthenticated").await;
    let stale = app
        .with_cookie(
            Method::GET,
            "/admin/api/dashboard",
            "swatter_admin=not-a-token",
        )
        .send()
        .await
        .unwrap();
    assert_problem(stale, 401, "invalid-token").await;

    let cookie = app.admin_cookie().await;
    let dashboard = app
        .with_cookie(Method::GET, "/admin/api/dashboard", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);
    assert_dashboard_csp(&dashboard);
    let dashboard: Value = dashboard.json().await.unwrap();
    for key in [
        "at",
        "stats",
        "activity",
        "workers",
        "failed_jobs",
        "dead_letters",
        "dead_letter_count",
        "schedules",
        "active_jobs",
    ] {
        assert!(dashboard.get(key).is_some(), "{key}: {dashboard}");
    }

    // A POST without the CSRF header: 403, whatever the cookie.
    let id = uuid::Uuid::new_v4();
    for path in [
        format!("/admin/api/jobs/{id}/retry"),
        format!("/admin/api/jobs/{id}/cancel"),
        format!("/admin/api/dead-letters/{id}/requeue"),
        format!("/admin/api/dead-letters/{id}/discard"),
        "/admin/session/logout".to_owned(),
        "/admin/session/refresh".to_owned(),
    ] {
        let forged = app
            .with_cookie(Method::POST, &path, &cookie)
            .send()
            .await
            .unwrap();
        assert_problem(forged, 403, "forbidden").await;
        let wrong_value = app
            .with_cookie(Method::POST, &path, &cookie)
            .header(CSRF.0, "yes")
            .send()
            .await
            .unwrap();
        assert_problem(wrong_value, 403, "forbidden").await;
    }
    // With it: the action runs (here: no such job or dead letter).
    for path in [
        format!("/admin/api/jobs/{id}/retry"),
        format!("/admin/api/dead-letters/{id}/requeue"),
        format!("/admin/api/dead-letters/{id}/discard"),
    ] {
        let missing = app
            .with_cookie(Method::POST, &path, &cookie)
            .header(CSRF.0, CSRF.1)
            .send()
            .await
            .unwrap();
        assert_problem(missing, 404, "not-found").await;
    }
    let bad_id = app
        .with_cookie(Method::POST, "/admin/api/jobs/not-a-uuid/retry", &cookie)
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap();
    assert_eq!(bad_id.status(), StatusCode::NOT_FOUND);

    // Logging out deletes the cookies.
    let out = app
        .with_cookie(Method::POST, "/admin/session/logout", &cookie)
        .header(CSRF.0, CSRF.1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .all(|c| c.to_str().unwrap().contains("Max-Age=0"))
    );
    app.cleanup_broker().await;
}

/// The `Cookie` header made of a response's `Set-Cookie` values.
fn cookies_of(response: &reqwest::Response) -> String {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

fn deletes_the_cookies(response: &reqwest::Response) -> bool {
    let set: Vec<_> = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .collect();
    set.len() == 2
        && set
            .iter()
            .all(|c| c.to_str().unwrap().contains("Max-Age=0"))
}

#[tokio::test]
async fn a_session_is_renewed_from_the_refresh_cookie_and_a_refresh_token_works_once() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let renew = |cookie: &str| {
        app.with_cookie(Method::POST, "/admin/session/refresh", cookie)
            .header(CSRF.0, CSRF.1)
    };
    let cookie = app.admin_cookie().await;
    assert!(cookie.contains("swatter_admin_refresh="), "{cookie}");

    // Without the CSRF header: 403, as every POST under /admin.
    let forged = app
        .with_cookie(Method::POST, "/admin/session/refresh", &cookie)
        .send()
        .await
        .unwrap();
    assert_problem(forged, 403, "forbidden").await;
    // Without a refresh cookie: 401, and the cookies are deleted.
    let access_only = cookie
        .split("; ")
        .find(|c| c.starts_with("swatter_admin="))
        .unwrap()
        .to_owned();
    let none = renew(&access_only).send().await.unwrap();
    assert!(deletes_the_cookies(&none));
    assert_problem(none, 401, "unauthenticated").await;

    // Renewed: new cookies, and the new access token reads the dashboard.
    let renewed = renew(&cookie).send().await.unwrap();
    assert_eq!(renewed.status(), StatusCode::OK);
    assert_dashboard_csp(&renewed);
    let new_cookie = cookies_of(&renewed);
    assert_ne!(new_cookie, cookie, "the refresh token rotates");
    let session = renewed
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("swatter_admin="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/admin;"] {
        assert!(session.contains(attribute), "{session}");
    }
    let body: Value = renewed.json().await.unwrap();
    assert_eq!(body["username"], ADMIN_USERNAME);
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let dashboard = app
        .with_cookie(Method::GET, "/admin/api/dashboard", &new_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(dashboard.status(), StatusCode::OK);

    // The old refresh token again: reuse ends the login, the renewed one included.
    let reused = renew(&cookie).send().await.unwrap();
    assert!(deletes_the_cookies(&reused));
    let problem = assert_problem(reused, 401, "unauthenticated").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("log in again"),
        "{problem}"
    );
    let after_reuse = renew(&new_cookie).send().await.unwrap();
    assert_problem(after_reuse, 401, "unauthenticated").await;

    // An admin demoted since logging in cannot renew.
    let admin = app.admin_token().await;
    let bob = app.user("bob").await;
    let promote = app
        .update_user(&admin, &bob.id, &json!({"admin": true}))
        .await;
    assert_eq!(promote.status(), StatusCode::OK);
    let login = app.admin_login("bob", &bob.password).await;
    assert_eq!(login.status(), StatusCode::OK);
    let bobs = cookies_of(&login);
    let demote = app
        .update_user(&admin, &bob.id, &json!({"admin": false}))
        .await;
    assert_eq!(demote.status(), StatusCode::OK);
    let refused = renew(&bobs).send().await.unwrap();
    let problem = assert_problem(refused, 403, "forbidden").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("not an admin"),
        "{problem}"
    );
    // ... and that login has ended.
    let ended = renew(&bobs).send().await.unwrap();
    assert_problem(ended, 401, "unauthenticated").await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn the_event_stream_sends_a_snapshot_at_once_and_another_when_a_job_changes() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let alice = app.user("alice").await;
    let cookie = app.admin_cookie().await;
    let response = app
        .with_cookie(Method::GET, "/admin/api/events", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    assert_dashboard_csp(&response);
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let mut snapshots = Vec::new();
    let mut asked = false;
    while snapshots
        .last()
        .is_none_or(|d: &Value| d["active_jobs"].as_array().unwrap().is_empty())
    {
        let chunk = tokio::time::timeout(Duration::from_secs(10), body.next())
            .await
            .expect("an event within 10 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.lines().any(|line| line == "event: dashboard") {
                let data = event
                    .lines()
                    .find_map(|line| line.strip_prefix("data: "))
                    .expect("a data line");
                snapshots.push(serde_json::from_str::<Value>(data).unwrap());
            }
        }
        if !snapshots.is_empty() && !asked {
            asked = true;
            let response = app
                .authed(Method::POST, "/v1/reports", &alice.access_token)
                .json(&json!({"kind": "user_monthly", "month": "2026-01"}))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::ACCEPTED);
        }
    }
    let last = snapshots.last().unwrap();
    assert_eq!(last["active_jobs"][0]["state"], "queued");
    assert_eq!(last["stats"]["jobs_by_state"]["queued"], 1);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn the_v1_admin_routes_take_a_bearer_token_and_are_for_admins_only() {
    let app = TestApp::spawn_with_reporting(ReportingMode::Api).await;
    let bob = app.user("bob").await;
    let admin = app.admin_token().await;
    let id = uuid::Uuid::new_v4();
    for (method, path) in [
        (Method::GET, "/v1/admin/dashboard".to_owned()),
        (Method::GET, "/v1/admin/dead-letters".to_owned()),
        (Method::POST, format!("/v1/admin/dead-letters/{id}/requeue")),
        (Method::DELETE, format!("/v1/admin/dead-letters/{id}")),
    ] {
        let anonymous = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401, "unauthenticated").await;
        let not_admin = app
            .authed(method.clone(), &path, &bob.access_token)
            .send()
            .await
            .unwrap();
        assert_problem(not_admin, 403, "forbidden").await;
    }
    let dashboard = app.get_ok(&admin, "/v1/admin/dashboard").await;
    assert_eq!(dashboard["dead_letter_count"], 0);
    assert_eq!(dashboard["schedules"], json!([]));
    let letters = app.get_ok(&admin, "/v1/admin/dead-letters").await;
    assert_eq!(letters, json!({"items": [], "next_page_token": null}));
    for bad in ["page_size=0", "page_size=101", "page_size=x"] {
        let response = app
            .get_as(&admin, &format!("/v1/admin/dead-letters?{bad}"))
            .await;
        assert_invalid(response, &["page_size"]).await;
    }
    let bad_token = app
        .get_as(&admin, "/v1/admin/dead-letters?page_token=garbage")
        .await;
    assert_invalid(bad_token, &["page_token"]).await;
    for (method, path) in [
        (Method::POST, format!("/v1/admin/dead-letters/{id}/requeue")),
        (Method::DELETE, format!("/v1/admin/dead-letters/{id}")),
    ] {
        let missing = app.authed(method, &path, &admin).send().await.unwrap();
        assert_problem(missing, 404, "not-found").await;
    }
    for (method, path) in [
        (Method::POST, "/v1/admin/dead-letters/nope/requeue"),
        (Method::DELETE, "/v1/admin/dead-letters/nope"),
    ] {
        let not_an_id = app.authed(method, path, &admin).send().await.unwrap();
        assert_eq!(not_an_id.status(), StatusCode::NOT_FOUND, "{path}");
    }
    app.cleanup_broker().await;
}
