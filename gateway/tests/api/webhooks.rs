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
    let rotate_null = app
        .authed(
            Method::POST,
            &format!("/v1/webhooks/{SOME_ID}/rotate-secret"),
            &alice.access_token,
        )
        .json(&Value::Null)
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
    // Without a body, or with `null`, the rotation is asked of the service (which is down), not
    // refused.
    assert_problem(rotate, 503, "service-unavailable").await;
    assert_problem(rotate_null, 503, "service-unavailable").await;
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

/// A webhook receiver on 127.0.0.1: answers 200 `ok` and hands each request to the test.
pub struct Receiver {
    pub url: String,
    requests: tokio::sync::mpsc::UnboundedReceiver<(http::HeaderMap, bytes::Bytes)>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let (sender, requests) = tokio::sync::mpsc::unbounded_channel();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
                let _ = sender.send((headers, body));
                async { "ok" }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, requests }
    }

    /// The next request: its headers and the event it carried.
    pub async fn next(&mut self) -> (http::HeaderMap, Value) {
        let (headers, body) =
            tokio::time::timeout(std::time::Duration::from_secs(20), self.requests.recv())
                .await
                .expect("a delivery within 20 s")
                .expect("the receiver runs");
        (headers, serde_json::from_slice(&body).unwrap())
    }
}

/// An owner of project `key`, a maintainer of it and an outsider, with their tokens.
async fn project_with_people(app: &TestApp, key: &str) -> (String, String, String) {
    let owner = app.user("olive").await;
    let maintainer = app.user("mark").await;
    let outsider = app.user("otto").await;
    app.create_project(&owner.access_token, key).await;
    app.add_member(&owner.access_token, key, &maintainer.id, "maintainer")
        .await;
    (
        owner.access_token,
        maintainer.access_token,
        outsider.access_token,
    )
}

#[tokio::test]
async fn an_owner_registers_reads_changes_and_deletes_a_webhook_through_rest() {
    let app = TestApp::spawn_with_webhooks().await;
    let (owner, _, _) = project_with_people(&app, "HOOK").await;

    let created = app
        .authed(Method::POST, "/v1/projects/HOOK/webhooks", &owner)
        .header("idempotency-key", "hook-1")
        .json(&json!({"url": "https://ci.example.com/hook", "event_types": ["issue.created", "issue.created"], "description": "CI"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let location = created.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let webhook: Value = created.json().await.unwrap();
    let id = webhook["id"].as_str().unwrap().to_owned();
    let again = app
        .authed(Method::POST, "/v1/projects/HOOK/webhooks", &owner)
        .header("idempotency-key", "hook-1")
        .json(&json!({"url": "https://ci.example.com/hook", "event_types": ["issue.created", "issue.created"], "description": "CI"}))
        .send()
        .await
        .unwrap();
    let listed = app.get_ok(&owner, "/v1/projects/HOOK/webhooks").await;
    let read = app.get_ok(&owner, &format!("/v1/webhooks/{id}")).await;
    let changed = app
        .send_json(
            Method::PATCH,
            &owner,
            &format!("/v1/webhooks/{id}"),
            &json!({"active": false, "event_types": [], "description": null}),
        )
        .await;
    let deleted = app.delete_as(&owner, &format!("/v1/webhooks/{id}")).await;
    let gone = app.get_as(&owner, &format!("/v1/webhooks/{id}")).await;

    assert_eq!(location, format!("/v1/webhooks/{id}"));
    assert!(webhook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(webhook["project_key"], "HOOK");
    assert_eq!(webhook["event_types"], json!(["issue.created"]));
    assert_eq!(webhook["active"], true);
    assert_eq!(webhook["disabled_reason"], Value::Null);
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.json::<Value>().await.unwrap()["id"], id);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], id);
    assert!(listed["items"][0].get("secret").is_none(), "{listed}");
    assert!(read.get("secret").is_none(), "{read}");
    assert_eq!(read["description"], "CI");
    assert_eq!(changed.status(), StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["active"], false);
    assert_eq!(changed["event_types"], json!([]));
    assert_eq!(changed["description"], "");
    assert_eq!(changed["url"], "https://ci.example.com/hook");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(gone, 404, "not-found").await;
}

#[tokio::test]
async fn only_owners_manage_webhooks_and_outsiders_see_nothing() {
    let app = TestApp::spawn_with_webhooks().await;
    let (owner, maintainer, outsider) = project_with_people(&app, "HOOK").await;
    let body = json!({"url": "https://ci.example.com/hook"});
    let webhook: Value = app
        .send_json(Method::POST, &owner, "/v1/projects/HOOK/webhooks", &body)
        .await
        .json()
        .await
        .unwrap();
    let id = webhook["id"].as_str().unwrap();

    let by_maintainer = app
        .send_json(
            Method::POST,
            &maintainer,
            "/v1/projects/HOOK/webhooks",
            &body,
        )
        .await;
    let maintainer_reads = app.get_as(&maintainer, &format!("/v1/webhooks/{id}")).await;
    let outsider_lists = app.get_as(&outsider, "/v1/projects/HOOK/webhooks").await;
    let outsider_reads = app.get_as(&outsider, &format!("/v1/webhooks/{id}")).await;
    let outsider_deletes = app
        .delete_as(&outsider, &format!("/v1/webhooks/{id}"))
        .await;

    assert_problem(by_maintainer, 403, "forbidden").await;
    assert_problem(maintainer_reads, 403, "forbidden").await;
    assert_problem(outsider_lists, 404, "not-found").await;
    assert_problem(outsider_reads, 404, "not-found").await;
    assert_problem(outsider_deletes, 404, "not-found").await;
    assert_eq!(
        app.get_ok(&owner, &format!("/v1/webhooks/{id}")).await["id"],
        id
    );
}

#[tokio::test]
async fn the_service_refuses_bad_urls_and_unknown_event_types_naming_the_field() {
    let app = TestApp::spawn_with_webhooks().await;
    let (owner, _, _) = project_with_people(&app, "HOOK").await;
    let create = |body: Value| {
        let app = &app;
        let owner = owner.clone();
        async move {
            app.send_json(Method::POST, &owner, "/v1/projects/HOOK/webhooks", &body)
                .await
        }
    };

    let unknown_type =
        create(json!({"url": "https://example.com/", "event_types": ["issue.moved"]})).await;
    let private = create(json!({"url": "http://10.1.2.3/hook"})).await;
    let metadata = create(json!({"url": "http://169.254.169.254/latest/meta-data/"})).await;
    let user_info = create(json!({"url": "https://user:pass@example.com/"})).await;
    let not_http = create(json!({"url": "ftp://example.com/"})).await;
    let too_long =
        create(json!({"url": format!("https://example.com/{}", "a".repeat(2000))})).await;
    let long_description =
        create(json!({"url": "https://example.com/", "description": "d".repeat(201)})).await;

    assert_invalid(unknown_type, &["event_types"]).await;
    assert_invalid(private, &["url"]).await;
    assert_invalid(metadata, &["url"]).await;
    assert_invalid(user_info, &["url"]).await;
    assert_invalid(not_http, &["url"]).await;
    assert_invalid(too_long, &["url"]).await;
    assert_invalid(long_description, &["description"]).await;
}

#[tokio::test]
async fn a_ping_is_delivered_signed_logged_and_redelivered_with_the_same_id() {
    let app = TestApp::spawn_with_webhooks().await;
    let (owner, _, _) = project_with_people(&app, "HOOK").await;
    let mut receiver = Receiver::start().await;
    // Subscribed to pings only: the project's own events (members added) would come first.
    let webhook: Value = app
        .send_json(
            Method::POST,
            &owner,
            "/v1/projects/HOOK/webhooks",
            &json!({"url": receiver.url, "event_types": ["webhook.ping"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = webhook["id"].as_str().unwrap();

    let ping = app
        .authed(Method::POST, &format!("/v1/webhooks/{id}/ping"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(ping.status(), StatusCode::ACCEPTED);
    let location = ping.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let delivery: Value = ping.json().await.unwrap();
    let (headers, event) = receiver.next().await;
    let logged = wait_for_state(&app, &owner, &location, "succeeded").await;
    let listed = app
        .get_ok(
            &owner,
            &format!("/v1/webhooks/{id}/deliveries?state=succeeded"),
        )
        .await;
    let none_failed = app
        .get_ok(
            &owner,
            &format!("/v1/webhooks/{id}/deliveries?state=failed,retrying"),
        )
        .await;
    let redelivered = app
        .authed(Method::POST, &format!("{location}/redeliver"), &owner)
        .send()
        .await
        .unwrap();
    assert_eq!(redelivered.status(), StatusCode::ACCEPTED);
    let (again, _) = receiver.next().await;

    assert_eq!(
        location,
        format!(
            "/v1/webhooks/{id}/deliveries/{}",
            delivery["id"].as_str().unwrap()
        )
    );
    assert_eq!(delivery["event_type"], "webhook.ping");
    assert_eq!(event["type"], "webhook.ping");
    assert_eq!(
        headers["webhook-id"],
        delivery["event_id"].as_str().unwrap()
    );
    assert!(
        headers["webhook-signature"]
            .to_str()
            .unwrap()
            .starts_with("v1,")
    );
    assert!(headers.contains_key("webhook-timestamp"));
    assert_eq!(logged["attempts"], 1);
    assert_eq!(logged["last_response_status"], 200);
    assert_eq!(logged["payload"], event);
    let attempt = &logged["attempt_log"][0];
    assert_eq!(attempt["response_status"], 200);
    assert_eq!(attempt["response_body_excerpt"], "ok");
    assert_eq!(attempt["request_url"], receiver.url);
    assert_eq!(attempt["error"], Value::Null);
    assert!(
        attempt["request_headers"]["webhook-signature"].is_string(),
        "{attempt}"
    );
    assert_eq!(listed["items"][0]["id"], delivery["id"]);
    assert!(listed["items"][0].get("attempt_log").is_none());
    assert_eq!(none_failed["items"], json!([]));
    assert_eq!(again["webhook-id"], headers["webhook-id"]);
}

#[tokio::test]
async fn a_rotated_secret_comes_once_and_the_event_types_are_listed() {
    let app = TestApp::spawn_with_webhooks().await;
    let (owner, _, _) = project_with_people(&app, "HOOK").await;
    let webhook: Value = app
        .send_json(
            Method::POST,
            &owner,
            "/v1/projects/HOOK/webhooks",
            &json!({"url": "https://ci.example.com/hook"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = webhook["id"].as_str().unwrap();

    let rotated = app
        .authed(
            Method::POST,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &owner,
        )
        .send()
        .await
        .unwrap();
    let stopped_at_once = app
        .send_json(
            Method::POST,
            &owner,
            &format!("/v1/webhooks/{id}/rotate-secret"),
            &json!({"overlap_seconds": 0}),
        )
        .await;
    let types = app.get_ok(&owner, "/v1/webhook-event-types").await;

    assert_eq!(rotated.status(), StatusCode::OK);
    let rotated: Value = rotated.json().await.unwrap();
    assert_ne!(rotated["secret"], webhook["secret"]);
    assert!(
        rotated["previous_secret_expires_at"].is_string(),
        "{rotated}"
    );
    assert_eq!(stopped_at_once.status(), StatusCode::OK);
    let stopped: Value = stopped_at_once.json().await.unwrap();
    assert_ne!(stopped["secret"], rotated["secret"]);
    let names: Vec<&str> = types["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    for (name, _) in swatter_common::events::EVENT_TYPES {
        assert!(names.contains(name), "{name} in {names:?}");
    }
}

/// Reads a delivery until it is in `state` (10 s at most); the last answer.
async fn wait_for_state(app: &TestApp, token: &str, path: &str, state: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let delivery = app.get_ok(token, path).await;
        if delivery["state"] == state || tokio::time::Instant::now() > deadline {
            return delivery;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
