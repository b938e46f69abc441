//! Request ids, probes, documentation, keys, and answers for routes that do not exist.

use std::{
    net::{SocketAddr, TcpListener},
    time::Duration,
};

use reqwest::{StatusCode, header};
use serde_json::Value;

use swatter_testkit::config::gateway_for_tests as gateway_config;

use crate::helpers::{ADMIN_PASSWORD, ADMIN_USERNAME, TestApp, assert_problem, spawn_gateway};

#[tokio::test]
async fn a_sane_client_request_id_is_echoed_everywhere() {
    let app = TestApp::spawn().await;

    let ok = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    let problem = app
        .client
        .get(app.url("/v1/users/me"))
        .header("x-request-id", "trace-me-43")
        .send()
        .await
        .unwrap();

    assert_eq!(ok.headers()["x-request-id"], "trace-me-42");
    assert_eq!(problem.headers()["x-request-id"], "trace-me-43");
    let body = assert_problem(problem, 401, "unauthenticated").await;
    assert_eq!(body["request_id"], "trace-me-43");
}

#[tokio::test]
async fn a_missing_or_insane_request_id_is_replaced_by_a_uuid() {
    let app = TestApp::spawn().await;

    let missing = app.get("/healthz").await;
    let too_long = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "x".repeat(129))
        .send()
        .await
        .unwrap();

    for response in [missing, too_long] {
        let id = response.headers()["x-request-id"].to_str().unwrap();
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }
}

#[tokio::test]
async fn liveness_always_answers_ok() {
    let app = TestApp::spawn().await;

    let response = app.get("/healthz").await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn the_gateway_is_ready_and_strictly_ready_when_every_service_serves() {
    let app = TestApp::spawn().await;

    let response = app.get("/readyz").await;
    let strict = app.get("/readyz?strict=true").await;

    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "status": "ready",
            "services": {
                "identity": "serving", "issues": "serving", "reporting": "serving",
                "webhooks": "serving"
            }
        })
    );
    assert_eq!(strict.status(), StatusCode::OK);
}

#[tokio::test]
async fn without_the_services_the_gateway_takes_traffic_answers_503_and_is_not_strictly_ready() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed = SocketAddr::from(([127, 0, 0, 1], closed_port));
    let address = spawn_gateway(gateway_config(closed, closed, closed)).await;
    let client = reqwest::Client::new();

    let ready = client
        .get(format!("{address}/readyz"))
        .send()
        .await
        .unwrap();
    let strictly_ready = client
        .get(format!("{address}/readyz?strict=true"))
        .send()
        .await
        .unwrap();
    let sign_up = client
        .post(format!("{address}/v1/users"))
        .json(&serde_json::json!({"username": "alice", "email": "a@example.com", "password": "long enough"}))
        .send()
        .await
        .unwrap();
    let live = client
        .get(format!("{address}/healthz"))
        .send()
        .await
        .unwrap();

    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "status": "degraded",
            "services": {
                "identity": "unreachable", "issues": "unreachable", "reporting": "unreachable",
                "webhooks": "unreachable"
            }
        })
    );
    let problem = assert_problem(strictly_ready, 503, "service-unavailable").await;
    assert_eq!(
        problem["detail"],
        "not ready: identity is unreachable, issues is unreachable, reporting is unreachable, \
         webhooks is unreachable"
    );
    let problem = assert_problem(sign_up, 503, "service-unavailable").await;
    assert!(
        !problem["detail"]
            .as_str()
            .unwrap()
            .contains(&closed_port.to_string()),
        "{problem}"
    );
    assert_eq!(live.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_issues_down_identity_routes_keep_answering_and_issue_routes_answer_503() {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = TestApp::spawn_with(|config| {
        config.issues_url = format!("http://127.0.0.1:{closed_port}").parse().unwrap();
    })
    .await;
    let alice = app.user("alice").await;

    let ready = app.get("/readyz").await;
    let projects = app.get_as(&alice.access_token, "/v1/projects").await;
    let issue = app.get_as(&alice.access_token, "/v1/issues/APP-1").await;
    let me = app.get_me(&alice.access_token).await;

    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(
        body,
        serde_json::json!({
            "status": "degraded",
            "services": {
                "identity": "serving", "issues": "unreachable", "reporting": "serving",
                "webhooks": "serving"
            }
        })
    );
    assert_problem(projects, 503, "service-unavailable").await;
    assert_problem(issue, 503, "service-unavailable").await;
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_reporting_down_identity_and_issues_routes_keep_answering_and_report_routes_answer_503()
 {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let app = TestApp::spawn_with(|config| {
        config.reporting_url = format!("http://127.0.0.1:{closed_port}").parse().unwrap();
    })
    .await;
    let alice = app.user("alice").await;

    let ready = app.get("/readyz").await;
    let jobs = app.get_as(&alice.access_token, "/v1/jobs").await;
    let report = app
        .client
        .post(app.url("/v1/reports"))
        .bearer_auth(&alice.access_token)
        .json(&serde_json::json!({"kind": "user_monthly"}))
        .send()
        .await
        .unwrap();
    let project = app.create_project(&alice.access_token, "APP").await;
    let projects = app.get_as(&alice.access_token, "/v1/projects").await;
    let me = app.get_me(&alice.access_token).await;

    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["reporting"], "unreachable");
    assert_problem(jobs, 503, "service-unavailable").await;
    assert_problem(report, 503, "service-unavailable").await;
    assert_eq!(project["key"], "APP");
    assert_eq!(projects.status(), StatusCode::OK);
    assert_eq!(me.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_openapi_description_is_3_1_and_covers_the_routes() {
    let app = TestApp::spawn().await;

    let response = app.get("/openapi.json").await;

    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = response.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["paths"]["/v1/users/me"]["get"].is_object());
    assert!(doc["paths"]["/v1/auth/token"]["post"]["requestBody"]["content"]
        ["application/x-www-form-urlencoded"]
        .is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["paths"]["/v1/projects/{key}/issues"]["post"].is_object());
    assert!(doc["paths"]["/v1/projects/{key}/issues"]["get"].is_object());
    let issue = &doc["paths"]["/v1/issues/{issue_key}"];
    assert!(issue["get"]["responses"]["200"]["headers"]["ETag"].is_object());
    assert!(issue["patch"]["responses"]["412"].is_object());
    assert!(issue["delete"].is_object());
    let tags: Vec<&str> = doc["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|tag| tag["name"].as_str())
        .collect();
    for tag in ["projects", "issues", "comments"] {
        assert!(tags.contains(&tag), "{tags:?}");
    }
}

#[tokio::test]
async fn the_docs_are_swagger_ui_html() {
    let app = TestApp::spawn().await;

    let response = app.get("/docs").await;

    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.url().path().starts_with("/docs"));
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    let initializer = app.get("/docs/swagger-initializer.js").await;
    assert_eq!(initializer.status(), StatusCode::OK);
    assert!(initializer.text().await.unwrap().contains("/openapi.json"));
}

#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = TestApp::spawn().await;
    let token = app.user("headers").await.access_token;
    let header_of = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_else(|| panic!("{} has no {name}", response.url()))
            .to_owned()
    };

    // Swagger UI: its own scripts and styles, framed by no one.
    for path in [
        "/docs/",
        "/docs/swagger-ui.css",
        "/docs/swagger-initializer.js",
    ] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let csp = header_of(&response, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(csp.contains(directive), "{path}: {csp}");
        }
        assert!(!csp.contains("script-src 'self' 'unsafe"), "{path}: {csp}");
        assert_eq!(header_of(&response, "x-content-type-options"), "nosniff");
        assert_eq!(header_of(&response, "referrer-policy"), "no-referrer");
    }

    // The API: data that loads nothing and is framed by no one, whoever answered.
    let answers = [
        app.get("/openapi.json").await,
        app.get("/healthz").await,
        app.get_as(&token, "/v1/users/me").await,
        app.get("/v1/users/me").await,
        app.get("/v1/no-such-route").await,
        app.client
            .delete(app.url("/v1/users/me"))
            .send()
            .await
            .unwrap(),
        app.client
            .post(app.url("/v1/users"))
            .header("content-type", "application/json")
            .body(vec![b' '; 2 * 1024 * 1024])
            .send()
            .await
            .unwrap(),
    ];
    let statuses: Vec<u16> = answers.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 401, 404, 405, 413]);
    for response in &answers {
        let csp = header_of(response, "content-security-policy");
        assert!(csp.starts_with("default-src 'none'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header_of(response, "x-content-type-options"), "nosniff");
        assert_eq!(header_of(response, "x-frame-options"), "DENY");
        assert_eq!(header_of(response, "referrer-policy"), "no-referrer");
    }
}

#[tokio::test]
async fn the_jwks_holds_one_ed25519_key() {
    let app = TestApp::spawn().await;

    let response = app.get("/.well-known/jwks.json").await;

    assert_eq!(response.status(), StatusCode::OK);
    let jwks: Value = response.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["crv"], "Ed25519");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert!(key["x"].as_str().is_some_and(|x| x.len() == 43));
    assert!(key["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
}

#[tokio::test]
async fn an_unknown_route_is_a_not_found_problem() {
    let app = TestApp::spawn().await;

    let response = app.get("/v1/nothing-here").await;

    assert_problem(response, 404, "not-found").await;
}

#[tokio::test]
async fn a_wrong_method_is_a_method_not_allowed_problem() {
    let app = TestApp::spawn().await;

    let response = app
        .client
        .delete(app.url("/v1/users/me"))
        .send()
        .await
        .unwrap();

    let allow = response.headers()[header::ALLOW]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET") && allow.contains("PATCH"), "{allow}");
    assert_problem(response, 405, "method-not-allowed").await;
}

#[tokio::test]
async fn a_request_slower_than_the_timeout_is_a_gateway_timeout() {
    // A password check alone takes far longer than a millisecond.
    let app = TestApp::spawn_with(|config| config.request_timeout = Duration::from_millis(1)).await;

    let response = app.login(ADMIN_USERNAME, ADMIN_PASSWORD).await;

    assert_problem(response, 504, "timeout").await;
}
