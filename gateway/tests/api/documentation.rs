//! The OpenAPI description tools can trust (its limits are the services' limits, every status the
//! gateway answers is declared, the OAuth2 password flow logs in), and Swagger UI's files served
//! compressed and cacheable (docs/api.md, *Operations and documentation*).

use std::io::Read;

use flate2::read::GzDecoder;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::TestApp;

pub async fn description(app: &TestApp) -> Value {
    let response = app.get("/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// The schema of a component's property.
pub fn property<'a>(doc: &'a Value, component: &str, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][component]["properties"][name];
    assert!(schema.is_object(), "{component}.{name} is not described");
    schema
}

/// The parameter `name` of an operation.
fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

/// Whether `value` is a string that `schema` (type, lengths, pattern) allows.
pub fn allows(schema: &Value, value: &str) -> bool {
    let length = value.chars().count() as u64;
    let min = schema["minLength"].as_u64().unwrap_or(0);
    let max = schema["maxLength"].as_u64().unwrap_or(u64::MAX);
    let pattern = schema["pattern"].as_str().unwrap_or("");
    (min..=max).contains(&length) && regex::Regex::new(pattern).unwrap().is_match(value)
}

#[tokio::test]
async fn the_description_carries_every_input_limit() {
    let app = TestApp::spawn().await;

    let doc = description(&app).await;

    let username = property(&doc, "SignUpRequest", "username");
    assert_eq!(username["pattern"], "^[a-z0-9_.-]+$");
    assert_eq!(
        (&username["minLength"], &username["maxLength"]),
        (&json!(3), &json!(32))
    );
    assert_eq!(property(&doc, "SignUpRequest", "email")["format"], "email");
    let password = property(&doc, "SignUpRequest", "password");
    assert_eq!(
        (&password["minLength"], &password["maxLength"]),
        (&json!(8), &json!(128))
    );
    assert_eq!(
        property(&doc, "SignUpRequest", "full_name")["maxLength"],
        100
    );
    assert_eq!(
        property(&doc, "ChangePasswordRequest", "new_password")["minLength"],
        8
    );
    let key = property(&doc, "CreateProjectRequest", "key");
    assert_eq!(key["pattern"], "^[A-Z][A-Z0-9]*$");
    assert_eq!(
        (&key["minLength"], &key["maxLength"]),
        (&json!(2), &json!(10))
    );
    for (component, field, max) in [
        ("CreateProjectRequest", "name", 200),
        ("CreateProjectRequest", "description", 20_000),
        ("CreateIssueRequest", "title", 200),
        ("CreateIssueRequest", "description", 20_000),
        ("UpdateIssueRequest", "title", 200),
        ("CommentRequest", "body", 10_000),
    ] {
        let schema = property(&doc, component, field);
        assert_eq!(schema["maxLength"], max, "{component}.{field}");
        assert!(schema["pattern"].is_string(), "{component}.{field}");
    }
    let labels = property(&doc, "CreateIssueRequest", "labels");
    assert_eq!(labels["maxItems"], 20);
    assert_eq!(labels["items"]["maxLength"], 50);
    let sort = parameter(&doc, "/v1/projects/{key}/issues", "get", "sort");
    assert_eq!(
        sort["schema"]["enum"],
        json!([
            "-updated_at",
            "updated_at",
            "-created_at",
            "created_at",
            "-priority",
            "priority",
            "-due_on",
            "due_on",
            "-estimate",
            "estimate"
        ])
    );
    for path in ["/v1/projects/{key}/issues", "/v1/issues"] {
        let q = parameter(&doc, path, "get", "q");
        assert_eq!(q["schema"]["maxLength"], 1000, "{path}");
    }
    let view_query = property(&doc, "CreateSavedViewRequest", "query");
    assert_eq!(view_query["maxLength"], 1000);
    let view_name = property(&doc, "CreateSavedViewRequest", "name");
    assert_eq!(
        (&view_name["minLength"], &view_name["maxLength"]),
        (&json!(1), &json!(100))
    );
    let state = parameter(&doc, "/v1/jobs", "get", "state");
    assert_eq!(
        state["schema"]["items"]["$ref"],
        "#/components/schemas/JobState"
    );
    let key = parameter(&doc, "/v1/projects", "post", "Idempotency-Key");
    assert_eq!(
        (&key["in"], &key["schema"]["minLength"]),
        (&json!("header"), &json!(1))
    );
    assert_eq!(key["schema"]["maxLength"], 200);
    let grant = &doc["components"]["schemas"]["TokenRequest"]["properties"]["grant_type"];
    assert_eq!(grant["enum"], json!(["password", "refresh_token"]));
}

#[tokio::test]
async fn what_the_schema_allows_the_services_accept_and_what_it_refuses_they_refuse() {
    let app = TestApp::spawn().await;
    let doc = description(&app).await;
    let username = property(&doc, "SignUpRequest", "username").clone();
    let owner = app.user("limits").await.access_token;
    let title = property(&doc, "CreateProjectRequest", "name").clone();

    for (i, candidate) in [
        "ab",
        "abc",
        "Abc",
        "a_b.c-d",
        "a b",
        "é12",
        &"x".repeat(32),
        &"x".repeat(33),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .sign_up(&json!({
                "username": candidate,
                "email": format!("user{i}@example.com"),
                "password": "correct horse battery staple",
            }))
            .await;
        let accepted = response.status() == StatusCode::CREATED;
        assert_eq!(
            allows(&username, candidate),
            accepted,
            "username {candidate:?}"
        );
    }
    for (i, candidate) in [
        "Swatter",
        "  padded\t",
        "",
        " ",
        "tab\tinside",
        "nul\u{0}",
        &"n".repeat(200),
        &"n".repeat(201),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .post_project(
                &owner,
                &json!({"key": format!("LIM{i}"), "name": candidate}),
            )
            .await;
        let accepted = response.status() == StatusCode::CREATED;
        assert_eq!(
            allows(&title, candidate),
            accepted,
            "project name {candidate:?}"
        );
    }
}

#[tokio::test]
async fn every_operation_has_an_operation_id_of_its_own() {
    let app = TestApp::spawn().await;

    let doc = description(&app).await;

    // Generated clients name their functions and types after these: two alike break the build
    // of a TypeScript client (tests/ecosystem) and shadow a method in others.
    let mut seen = std::collections::BTreeMap::new();
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let Some(id) = operation["operationId"].as_str() else {
                continue;
            };
            if let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId {id} names both {first} and {method} {path}");
            }
        }
    }
    assert!(seen.len() > 50, "only {} operations described", seen.len());
}

#[tokio::test]
async fn every_status_the_gateway_answers_is_declared() {
    let app = TestApp::spawn().await;

    let doc = description(&app).await;

    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    let sign_up = responses("/v1/users", "post");
    for status in [
        "201", "400", "403", "409", "413", "415", "422", "429", "5XX",
    ] {
        assert!(sign_up[status].is_object(), "POST /v1/users: {status}");
    }
    // The OAuth2 endpoints answer every fault of a request as 400 `invalid_request`.
    let token = responses("/v1/auth/token", "post");
    for status in ["200", "400", "401", "429"] {
        assert!(token[status].is_object(), "POST /v1/auth/token: {status}");
    }
    for status in ["413", "415", "422"] {
        assert!(token[status].is_null(), "POST /v1/auth/token: {status}");
    }
    for (path, method) in [
        ("/v1/issues", "get"),
        ("/v1/users", "get"),
        ("/v1/projects", "post"),
        ("/v1/reports", "post"),
    ] {
        assert!(
            responses(path, method)["422"].is_object(),
            "{method} {path}: 422"
        );
    }
    for (path, method) in [("/v1/jobs/{id}", "get"), ("/v1/comments/{id}", "delete")] {
        assert!(
            responses(path, method)["404"].is_object(),
            "{method} {path}: 404"
        );
    }
    let events = &responses("/v1/jobs/{id}/events", "get")["200"]["content"]["text/event-stream"];
    assert_eq!(events["schema"]["$ref"], "#/components/schemas/JobEvent");
    let event = &doc["components"]["schemas"]["JobEvent"];
    assert_eq!(event["properties"]["event"]["enum"], json!(["job"]));
    assert_eq!(
        event["properties"]["data"]["contentSchema"]["$ref"],
        "#/components/schemas/Job"
    );
}

#[tokio::test]
async fn swagger_ui_logs_in_with_the_oauth2_password_flow_and_keeps_the_token_in_memory() {
    let app = TestApp::spawn().await;
    let user = app.user("swagger").await;

    let doc = description(&app).await;
    let flow = &doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"];
    let token_url = flow["tokenUrl"].as_str().unwrap();
    // What Swagger UI's Authorize sends for the password flow without a client id.
    let login = app
        .client
        .post(app.url(token_url))
        .form(&[
            ("grant_type", "password"),
            ("username", "swagger"),
            ("password", user.password.as_str()),
            ("scope", ""),
        ])
        .send()
        .await
        .unwrap();
    let initializer = app
        .get("/docs/swagger-initializer.js")
        .await
        .text()
        .await
        .unwrap();

    assert_eq!(login.status(), StatusCode::OK);
    let me = &doc["paths"]["/v1/users/me"]["get"]["security"];
    assert_eq!(me, &json!([{"bearer": []}, {"oauth2": []}]));
    let config = initializer.replace([' ', '\n'], "");
    assert!(
        config.contains("\"persistAuthorization\":false"),
        "{initializer}"
    );
}

#[tokio::test]
async fn swagger_ui_files_are_served_gzipped_and_revalidated_by_etag() {
    let app = TestApp::spawn().await;
    let get = |path: &'static str, headers: Vec<(header::HeaderName, String)>| {
        let mut request = app.client.get(app.url(path));
        for (name, value) in headers {
            request = request.header(name, value);
        }
        request.send()
    };

    let plain = get("/docs/swagger-ui-bundle.js", vec![]).await.unwrap();
    let plain_etag = plain.headers()[header::ETAG].to_str().unwrap().to_owned();
    let plain_body = plain.bytes().await.unwrap();
    let gzipped = get(
        "/docs/swagger-ui-bundle.js",
        vec![(header::ACCEPT_ENCODING, "br, gzip".into())],
    )
    .await
    .unwrap();
    let headers = gzipped.headers().clone();
    let gzipped_body = gzipped.bytes().await.unwrap();
    let etag = headers[header::ETAG].to_str().unwrap().to_owned();
    let revalidated = get(
        "/docs/swagger-ui-bundle.js",
        vec![
            (header::ACCEPT_ENCODING, "gzip".into()),
            (header::IF_NONE_MATCH, etag.clone()),
        ],
    )
    .await
    .unwrap();
    let changed = get(
        "/docs/swagger-ui-bundle.js",
        vec![(header::IF_NONE_MATCH, "\"something-else\"".into())],
    )
    .await
    .unwrap();

    assert_eq!(headers[header::CONTENT_ENCODING], "gzip");
    assert_eq!(headers[header::VARY], "accept-encoding");
    assert!(
        headers[header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    assert!(
        gzipped_body.len() * 3 < plain_body.len(),
        "{} bytes",
        gzipped_body.len()
    );
    let mut unzipped = Vec::new();
    GzDecoder::new(&gzipped_body[..])
        .read_to_end(&mut unzipped)
        .unwrap();
    assert_eq!(unzipped, plain_body);
    assert_ne!(etag, plain_etag);
    assert_eq!(revalidated.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(revalidated.headers()[header::ETAG], etag.as_str());
    assert!(revalidated.bytes().await.unwrap().is_empty());
    assert_eq!(changed.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_page_and_the_description_are_revalidated_on_every_use() {
    let app = TestApp::spawn().await;

    for path in ["/docs/", "/docs/swagger-initializer.js", "/openapi.json"] {
        let first = app
            .client
            .get(app.url(path))
            .header(header::ACCEPT_ENCODING, "gzip")
            .send()
            .await
            .unwrap();
        let etag = first.headers()[header::ETAG].clone();
        let again = app
            .client
            .get(app.url(path))
            .header(header::ACCEPT_ENCODING, "gzip")
            .header(header::IF_NONE_MATCH, etag)
            .send()
            .await
            .unwrap();

        assert_eq!(first.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
    }
    let description = app
        .client
        .get(app.url("/openapi.json"))
        .header(header::ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(description.headers()[header::CONTENT_ENCODING], "gzip");
}
