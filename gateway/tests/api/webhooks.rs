//! The webhook routes (docs/api.md, *Webhooks*): their OpenAPI description (limits, answers), what
//! the gateway refuses before calling the webhooks service, and how the routes behave while that
//! service is down.

use std::net::TcpListener;

use reqwest::{Method, StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_invalid, assert_problem};

const SOME_ID: &str = "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f";

async fn description(app: &TestApp) -> Value {
    app.get("/openapi.json").await.json().await.unwrap()
}

fn property<'a>(doc: &'a Value, component: &str, name: &str) -> &'a Value {
    let schema = &doc["components"]["schemas"][component]["properties"][name];
    assert!(schema.is_object(), "{component}.{name} is not described");
    schema
}

fn parameter<'a>(doc: &'a Value, path: &str, method: &str, name: &str) -> &'a Value {
    doc["paths"][path][method]["parameters"]
        .as_array()
        .unwrap_or_else(|| panic!("{method} {path} has no parameters"))
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("{method} {path} has no parameter {name}"))
}

#[tokio::test]
async fn the_description_carries_every_webhook_limit() {
    let app = TestApp::spawn().await;

    let doc = description(&app).await;

    for component in ["CreateWebhookRequest", "UpdateWebhookRequest"] {
        let url = property(&doc, component, "url");
        assert_eq!(url["maxLength"], 2000, "{component}");
        assert_eq!(url["format"], "uri", "{component}");
        let pattern = regex::Regex::new(url["pattern"].as_str().unwrap()).unwrap();
        assert!(pattern.is_match("https://ci.example.com/hooks?x=1"));
        assert!(pattern.is_match("HTTP://127.0.0.1:9400/"));
        for refused in [
            "ftp://example.com/",
            "https://example.com/#top",
            "example.com",
        ] {
            assert!(!pattern.is_match(refused), "{refused}");
        }
        let types = property(&doc, component, "event_types");
        assert_eq!(types["maxItems"], 50, "{component}");
        let names: Vec<&str> = swatter_common::events::EVENT_TYPES
            .iter()
            .map(|(name, _)| *name)
            .collect();
        assert_eq!(types["items"]["enum"], json!(names), "{component}");
        assert_eq!(
            property(&doc, component, "description")["maxLength"],
            200,
            "{component}"
        );
    }
    let overlap = property(&doc, "RotateSecretRequest", "overlap_seconds");
    assert_eq!(
        (&overlap["minimum"], &overlap["maximum"]),
        (&json!(0), &json!(604_800))
    );
    let state = parameter(&doc, "/v1/webhooks/{id}/deliveries", "get", "state");
    assert_eq!(
        state["schema"]["items"]["$ref"],
        "#/components/schemas/DeliveryState"
    );
    assert_eq!(
        doc["components"]["schemas"]["DeliveryState"]["enum"],
        json!(["pending", "retrying", "succeeded", "failed"])
    );
    for path in [
        "/v1/projects/{key}/webhooks",
        "/v1/webhooks/{id}/deliveries",
    ] {
        let size = &parameter(&doc, path, "get", "page_size")["schema"];
        assert_eq!(
            (&size["minimum"], &size["maximum"]),
            (&json!(1), &json!(100)),
            "{path}"
        );
    }
    let key = &parameter(&doc, "/v1/projects/{key}/webhooks", "post", "key")["schema"];
    assert_eq!(key["pattern"], "^[A-Z][A-Z0-9]*$");
}

#[tokio::test]
async fn every_webhook_route_is_described_with_its_answers() {
    let app = TestApp::spawn().await;

    let doc = description(&app).await;

    let responses = |path: &str, method: &str| doc["paths"][path][method]["responses"].clone();
    for (path, method, success) in [
        ("/v1/projects/{key}/webhooks", "post", "201"),
        ("/v1/projects/{key}/webhooks", "get", "200"),
        ("/v1/webhooks/{id}", "get", "200"),
        ("/v1/webhooks/{id}", "patch", "200"),
        ("/v1/webhooks/{id}", "delete", "204"),
        ("/v1/webhooks/{id}/rotate-secret", "post", "200"),
        ("/v1/webhooks/{id}/ping", "post", "202"),
        ("/v1/webhooks/{id}/deliveries", "get", "200"),
        ("/v1/webhooks/{id}/deliveries/{delivery_id}", "get", "200"),
        (
            "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
            "post",
            "202",
        ),
        ("/v1/webhook-event-types", "get", "200"),
    ] {
        let answers = responses(path, method);
        assert!(answers[success].is_object(), "{method} {path}: {success}");
        assert!(answers["401"].is_object(), "{method} {path}: 401");
        assert_eq!(
            doc["paths"][path][method]["tags"],
            json!(["webhooks"]),
            "{method} {path}"
        );
        if path.contains('{') {
            assert!(answers["404"].is_object(), "{method} {path}: 404");
        }
    }
    let create = &doc["paths"]["/v1/projects/{key}/webhooks"]["post"];
    assert!(create["responses"]["201"]["headers"]["Location"].is_object());
    assert!(create["responses"]["422"].is_object());
    assert_eq!(
        parameter(
            &doc,
            "/v1/projects/{key}/webhooks",
            "post",
            "Idempotency-Key"
        )["in"],
        "header"
    );
    let created = &create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"];
    assert_eq!(created, "#/components/schemas/WebhookWithSecret");
    let with_secret =
        serde_json::to_string(&doc["components"]["schemas"]["WebhookWithSecret"]).unwrap();
    assert!(with_secret.contains("secret"), "{with_secret}");
    assert!(
        doc["components"]["schemas"]["Webhook"]["properties"]["secret"].is_null(),
        "only creation and rotation show a secret"
    );
    let rotate = &doc["paths"]["/v1/webhooks/{id}/rotate-secret"]["post"];
    assert_ne!(
        rotate["requestBody"]["required"], true,
        "the body may be left out"
    );
    for path in [
        "/v1/webhooks/{id}/ping",
        "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ] {
        assert!(
            responses(path, "post")["202"]["headers"]["Location"].is_object(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn webhook_routes_need_a_token() {
    let app = TestApp::spawn().await;

    for (method, path) in [
        (Method::POST, "/v1/projects/APP/webhooks".to_owned()),
        (Method::GET, "/v1/projects/APP/webhooks".to_owned()),
        (Method::GET, format!("/v1/webhooks/{SOME_ID}")),
        (Method::DELETE, format!("/v1/webhooks/{SOME_ID}")),
        (Method::POST, format!("/v1/webhooks/{SOME_ID}/ping")),
        (Method::GET, format!("/v1/webhooks/{SOME_ID}/deliveries")),
        (Method::GET, "/v1/webhook-event-types".to_owned()),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .send()
            .await
            .unwrap();

        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path}"
        );
        assert!(response.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}

#[tokio::test]
async fn bad_webhook_input_is_refused_naming_the_field_before_any_service_is_asked() {
    // Nothing listens for webhooks: every answer below comes from the gateway itself.
    let app = spawn_without_webhooks().await;
    let alice = app.user("alice").await;
    let token = &alice.access_token;

    let too_long = app
        .send_json(
            Method::POST,
            token,
            &format!("/v1/webhooks/{SOME_ID}/rotate-secret"),
            &json!({"overlap_seconds": 604_801}),
        )
        .await;
    let negative = app
        .send_json(
            Method::POST,
            token,
            &format!("/v1/webhooks/{SOME_ID}/rotate-secret"),
            &json!({"overlap_seconds": -1}),
        )
        .await;
    let unknown_field = app
        .send_json(
            Method::POST,
            token,
            "/v1/projects/APP/webhooks",
            &json!({"url": "https://example.com/", "secret": "mine"}),
        )
        .await;
    let no_url = app
        .send_json(Method::POST, token, "/v1/projects/APP/webhooks", &json!({}))
        .await;
    let null_url = app
        .send_json(
            Method::PATCH,
            token,
            &format!("/v1/webhooks/{SOME_ID}"),
            &json!({"url": null}),
        )
        .await;
    let bad_state = app
        .get_as(
            token,
            &format!("/v1/webhooks/{SOME_ID}/deliveries?state=done"),
        )
        .await;
    let bad_page = app
        .get_as(token, "/v1/projects/APP/webhooks?page_size=0")
        .await;
    let not_an_id = app.get_as(token, "/v1/webhooks/not-a-uuid").await;
    let rotate_as_text = app
        .authed(
            Method::POST,
            &format!("/v1/webhooks/{SOME_ID}/rotate-secret"),
            token,
        )
        .header(header::CONTENT_TYPE, "text/plain")
        .body("overlap=1")
        .send()
        .await
        .unwrap();

    assert_invalid(too_long, &["overlap_seconds"]).await;
    assert_invalid(negative, &["overlap_seconds"]).await;
    assert_invalid(unknown_field, &["secret"]).await;
    assert_invalid(no_url, &["url"]).await;
    assert_invalid(null_url, &["url"]).await;
    let problem = assert_invalid(bad_state, &["state"]).await;
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("pending, retrying, succeeded or failed")
    );
    assert_invalid(bad_page, &["page_size"]).await;
    assert_problem(not_an_id, 404, "not-found").await;
    assert_problem(rotate_as_text, 415, "unsupported-media-type").await;
}

#[tokio::test]
async fn with_webhooks_down_its_routes_answer_503_and_the_rest_keeps_answering() {
    let app = spawn_without_webhooks().await;
    let alice = app.user("alice").await;

    let ready = app.get("/readyz").await;
    let strict = app.get("/readyz?strict=true").await;
    let list = app
        .get_as(&alice.access_token, "/v1/projects/APP/webhooks")
        .await;
    let rotate = app
        .authed(
            Method::POST,
            &format!("/v1/webhooks/{SOME_ID}/rotate-secret"),
            &alice.access_token,
        )
        .send()
        .await
        .unwrap();
    let types = app
        .get_as(&alice.access_token, "/v1/webhook-event-types")
        .await;
    let project = app.create_project(&alice.access_token, "APP").await;

    assert_eq!(ready.status(), StatusCode::OK);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["services"]["webhooks"], "unreachable");
    let problem = assert_problem(strict, 503, "service-unavailable").await;
    assert!(problem["detail"].as_str().unwrap().contains("webhooks"));
    assert_problem(list, 503, "service-unavailable").await;
    // Without a body, the rotation is asked of the service (which is down), not refused.
    assert_problem(rotate, 503, "service-unavailable").await;
    assert_problem(types, 503, "service-unavailable").await;
    assert_eq!(project["key"], "APP");
}

/// The gateway with its webhooks upstream at a port nothing listens on.
async fn spawn_without_webhooks() -> TestApp {
    let closed_port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    TestApp::spawn_with(|config| {
        config.webhooks_url = format!("http://127.0.0.1:{closed_port}").parse().unwrap();
    })
    .await
}
