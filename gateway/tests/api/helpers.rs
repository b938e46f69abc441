//! `TestApp`: the real identity and issues services, each with a fresh database, and the
//! gateway, all in-process on port 0 (see `swatter_testkit::Stack`), with a typed client for the
//! REST API. On request ([`TestApp::spawn_with_reporting`]) the reporting service too, with its
//! worker, the real RabbitMQ (queue names unique to the test) and an s3s-fs process owned by the
//! test; on request ([`TestApp::spawn_with_attachments`]) an s3s-fs for issues' attachments.

use std::net::SocketAddr;

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use swatter_gateway::config::GatewayConfig;
use swatter_identity::config::IdentityConfig;
use swatter_issues::config::AttachmentSettings;
use swatter_reporting::startup::Mode;
use swatter_testkit::{
    Broker, Identity, Issues, Reporting, S3Server, Stack, TestDatabase, Webhooks, Worker,
};

pub use swatter_reporting::startup::Mode as ReportingMode;

pub const ADMIN_USERNAME: &str = swatter_testkit::ADMIN.0;
pub const ADMIN_PASSWORD: &str = swatter_testkit::ADMIN.1;
pub const SERVICE_CLIENT_ID: &str = swatter_testkit::SERVICE_CLIENT.0;
pub const SERVICE_CLIENT_SECRET: &str = swatter_testkit::SERVICE_CLIENT.1;

/// The gateway in front of real identity and issues services (and reporting, on request).
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Where the gateway serves `GET /metrics`, unless the test turned metrics off.
    pub metrics_addr: Option<SocketAddr>,
    /// The gRPC addresses of the in-process identity and issues services.
    pub identity_addr: SocketAddr,
    pub issues_addr: SocketAddr,
    /// The reporting service, its object store and queue names, when the test asked for them.
    pub reporting: Option<Reporting>,
    /// The webhooks service, when the test asked for it (it stops when the app is dropped).
    _webhooks: Option<Webhooks>,
    broker: Option<Broker>,
    /// The object store of reporting or of attachments, when the test asked for one.
    pub s3: Option<S3Server>,
    _identity: Identity,
    _issues: Issues,
}

/// The answer of a successful token request.
#[derive(Debug, Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub token_type: String,
    pub expires_in: i64,
    pub refresh_token: Option<String>,
}

/// A signed-up, logged-in user.
#[derive(Debug)]
pub struct TestUser {
    pub id: String,
    pub password: String,
    pub access_token: String,
    pub refresh_token: String,
}

/// Builds the gateway and serves it on a background task; returns its base URL.
pub async fn spawn_gateway(config: GatewayConfig) -> String {
    swatter_testkit::Gateway::start(config).await.address
}

impl TestApp {
    /// The services and the gateway with default settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// The services and a gateway whose settings `customize` may change. Without reporting,
    /// the gateway's reporting upstream is the issues service (so readiness holds; reporting
    /// routes are not usable).
    pub async fn spawn_with(customize: impl FnOnce(&mut GatewayConfig) + Send) -> TestApp {
        TestApp::start(Stack::new().gateway_with(customize)).await
    }

    /// Like [`TestApp::spawn_with`], with identity's settings changed by `identity` too.
    pub async fn spawn_configured(
        identity: impl FnOnce(&mut IdentityConfig) + Send,
        gateway: impl FnOnce(&mut GatewayConfig) + Send,
    ) -> TestApp {
        TestApp::start(Stack::new().identity_with(identity).gateway_with(gateway)).await
    }

    /// The services including reporting in `mode` (`WithWorker`: API, relay, sweeper and
    /// worker; `Api`: no worker, so jobs stay queued), and the gateway.
    pub async fn spawn_with_reporting(mode: Mode) -> TestApp {
        TestApp::start(Stack::new().reporting(Worker::from(mode)).gateway()).await
    }

    /// The services with reporting (and its worker) and webhooks, and the gateway: reports and
    /// their events reach the project's webhooks.
    pub async fn spawn_with_reporting_and_webhooks() -> TestApp {
        TestApp::start(Stack::new().reporting(Worker::Running).webhooks().gateway()).await
    }

    /// The services and the gateway, with issues keeping attachments in an s3s-fs owned by the
    /// test.
    pub async fn spawn_with_attachments() -> TestApp {
        TestApp::spawn_with_attachments_configured(|_| {}).await
    }

    /// Like [`TestApp::spawn_with_attachments`], with the attachment settings (limits, URL
    /// lifetimes) changed by `customize`.
    pub async fn spawn_with_attachments_configured(
        customize: impl FnOnce(&mut AttachmentSettings) + Send,
    ) -> TestApp {
        TestApp::start(
            Stack::new()
                .issues_with_s3(move |config| customize(&mut config.attachments))
                .gateway(),
        )
        .await
    }

    /// The services including webhooks (deliveries may reach 127.0.0.1), and the gateway.
    pub async fn spawn_with_webhooks() -> TestApp {
        TestApp::start(Stack::new().webhooks().gateway()).await
    }

    async fn start(stack: Stack<'_>) -> TestApp {
        let stack = stack.start().await;
        let identity = stack.identity.expect("identity runs");
        let issues = stack.issues.expect("issues runs");
        let gateway = stack.gateway.expect("the gateway runs");
        TestApp {
            address: gateway.address,
            metrics_addr: gateway.metrics_addr,
            identity_addr: identity.addr,
            issues_addr: issues.addr,
            client: reqwest::Client::new(),
            reporting: stack.reporting,
            _webhooks: stack.webhooks,
            broker: stack.broker,
            s3: stack.s3,
            _identity: identity,
            _issues: issues,
        }
    }

    /// The identity service's database, for arranging what no request can (an expired token).
    pub fn identity_db(&self) -> &TestDatabase {
        &self._identity.db
    }

    /// The issues service's database, for arranging more rows than requests would make cheaply.
    pub fn issues_db(&self) -> &TestDatabase {
        &self._issues.db
    }

    /// Deletes this test's exchanges and queues from the shared broker (reporting runs).
    pub async fn cleanup_broker(&self) {
        self.broker
            .as_ref()
            .expect("reporting runs")
            .cleanup()
            .await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("send request")
    }

    /// `POST /v1/users` with alice's valid sign-up form plus (or overriding with) `extra`'s fields.
    pub async fn sign_up_alice_with(&self, extra: Value) -> Response {
        let mut body = json!({
            "username": "alice",
            "email": "alice@example.com",
            "password": "correct horse battery",
        });
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        self.sign_up(&body).await
    }

    pub async fn sign_up(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/users"))
            .json(body)
            .send()
            .await
            .expect("send request")
    }

    /// `POST /v1/auth/token` with a form.
    pub async fn token_form(&self, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .form(form)
            .send()
            .await
            .expect("send request")
    }

    /// `POST /v1/auth/token` with JSON.
    pub async fn token_json(&self, body: &Value) -> Response {
        self.client
            .post(self.url("/v1/auth/token"))
            .json(body)
            .send()
            .await
            .expect("send request")
    }

    /// A password grant, sent as a form.
    pub async fn login(&self, username: &str, password: &str) -> Response {
        self.token_form(&[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token_form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ])
        .await
    }

    pub async fn revoke(&self, refresh_token: &str) -> Response {
        self.client
            .post(self.url("/v1/auth/revoke"))
            .json(&json!({ "refresh_token": refresh_token }))
            .send()
            .await
            .expect("send request")
    }

    pub async fn get_me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/v1/users/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("send request")
    }

    pub async fn update_me(&self, token: &str, body: &Value) -> Response {
        self.client
            .patch(self.url("/v1/users/me"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send request")
    }

    pub async fn change_password(&self, token: &str, current: &str, new: &str) -> Response {
        self.client
            .post(self.url("/v1/users/me/password"))
            .bearer_auth(token)
            .json(&json!({ "current_password": current, "new_password": new }))
            .send()
            .await
            .expect("send request")
    }

    pub async fn search_users(&self, token: &str, query: &[(&str, &str)]) -> Response {
        self.client
            .get(self.url("/v1/users"))
            .bearer_auth(token)
            .query(query)
            .send()
            .await
            .expect("send request")
    }

    pub async fn get_user(&self, token: &str, id: &str) -> Response {
        self.client
            .get(self.url(&format!("/v1/users/{id}")))
            .bearer_auth(token)
            .send()
            .await
            .expect("send request")
    }

    pub async fn update_user(&self, token: &str, id: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(&format!("/v1/users/{id}")))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .expect("send request")
    }

    /// Logs in and returns the tokens, failing the test unless it worked.
    pub async fn tokens(&self, username: &str, password: &str) -> Tokens {
        let response = self.login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        response.json().await.expect("token body")
    }

    /// An access token of the bootstrap admin.
    pub async fn admin_token(&self) -> String {
        self.tokens(ADMIN_USERNAME, ADMIN_PASSWORD)
            .await
            .access_token
    }

    /// Signs `username` up (password `<username>-password`) and logs them in.
    pub async fn user(&self, username: &str) -> TestUser {
        let password = format!("{username}-password");
        let response = self
            .sign_up(&json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "password": password,
                "full_name": format!("{username} Example"),
            }))
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "sign-up of {username}"
        );
        let user: Value = response.json().await.expect("user body");
        let tokens = self.tokens(username, &password).await;
        TestUser {
            id: user["id"].as_str().expect("id").to_owned(),
            password,
            access_token: tokens.access_token,
            refresh_token: tokens.refresh_token.expect("a refresh token"),
        }
    }
}

/// The issues API (docs/api.md).
impl TestApp {
    /// A request to `path` carrying `token`.
    pub fn authed(&self, method: Method, path: &str, token: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(token)
    }

    /// `GET path` as the holder of `token`.
    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.authed(Method::GET, path, token)
            .send()
            .await
            .expect("send request")
    }

    /// `GET path` as the holder of `token`, failing the test unless it answers 200; the body.
    pub async fn get_ok(&self, token: &str, path: &str) -> Value {
        let response = self.get_as(token, path).await;
        assert_eq!(response.status(), StatusCode::OK, "GET {path}");
        response.json().await.expect("a JSON body")
    }

    /// `method path` with a JSON body as the holder of `token`.
    pub async fn send_json(
        &self,
        method: Method,
        token: &str,
        path: &str,
        body: &Value,
    ) -> Response {
        self.authed(method, path, token)
            .json(body)
            .send()
            .await
            .expect("send request")
    }

    /// `DELETE path` as the holder of `token`.
    pub async fn delete_as(&self, token: &str, path: &str) -> Response {
        self.authed(Method::DELETE, path, token)
            .send()
            .await
            .expect("send request")
    }

    pub async fn post_project(&self, token: &str, body: &Value) -> Response {
        self.send_json(Method::POST, token, "/v1/projects", body)
            .await
    }

    /// Creates project `key` owned by the holder of `token`; returns it.
    pub async fn create_project(&self, token: &str, key: &str) -> Value {
        let response = self
            .post_project(
                token,
                &json!({"key": key, "name": format!("Project {key}")}),
            )
            .await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "create project {key}"
        );
        response.json().await.expect("project body")
    }

    pub async fn put_member(&self, token: &str, key: &str, user_id: &str, role: &str) -> Response {
        self.send_json(
            Method::PUT,
            token,
            &format!("/v1/projects/{key}/members/{user_id}"),
            &json!({ "role": role }),
        )
        .await
    }

    /// Makes `user_id` a member of `key` in `role`, as the owner holding `token`.
    pub async fn add_member(&self, token: &str, key: &str, user_id: &str, role: &str) {
        let response = self.put_member(token, key, user_id, role).await;
        assert_eq!(response.status(), StatusCode::OK, "add {user_id} as {role}");
    }

    pub async fn post_issue(&self, token: &str, key: &str, body: &Value) -> Response {
        self.send_json(
            Method::POST,
            token,
            &format!("/v1/projects/{key}/issues"),
            body,
        )
        .await
    }

    /// Files an issue in `key`; returns it.
    pub async fn create_issue(&self, token: &str, key: &str, body: &Value) -> Value {
        let response = self.post_issue(token, key, body).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "create issue in {key}"
        );
        response.json().await.expect("issue body")
    }

    /// `PATCH /v1/issues/{issue_key}`, with `If-Match` when given.
    pub async fn patch_issue(
        &self,
        token: &str,
        issue_key: &str,
        if_match: Option<&str>,
        body: &Value,
    ) -> Response {
        let mut request = self
            .authed(Method::PATCH, &format!("/v1/issues/{issue_key}"), token)
            .json(body);
        if let Some(etag) = if_match {
            request = request.header(header::IF_MATCH, etag);
        }
        request.send().await.expect("send request")
    }

    pub async fn post_comment(&self, token: &str, issue_key: &str, body: &str) -> Response {
        self.send_json(
            Method::POST,
            token,
            &format!("/v1/issues/{issue_key}/comments"),
            &json!({ "body": body }),
        )
        .await
    }
}

/// Polls `GET /v1/jobs/{id}` until the job is terminal (bounded).
pub async fn wait_until_terminal(app: &TestApp, token: &str, id: &str) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let job = app.get_ok(token, &format!("/v1/jobs/{id}")).await;
        if matches!(
            job["state"].as_str(),
            Some("succeeded" | "failed" | "cancelled")
        ) {
            return job;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the job did not finish: {job}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// The `key`s of a page of issues, in order.
pub fn issue_keys(page: &Value) -> Vec<&str> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|issue| issue["key"].as_str().expect("key"))
        .collect()
}

/// Checks that `response` is a problem+json answer with `status` and the problem type `slug`,
/// whose `request_id` matches its `X-Request-ID`; returns the body.
pub async fn assert_problem(response: Response, status: u16, slug: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/problem+json"
    );
    let request_id = response.headers()["x-request-id"]
        .to_str()
        .expect("ASCII request id")
        .to_owned();
    let body: Value = response.json().await.expect("a JSON problem body");
    assert_eq!(
        body["type"],
        format!("https://swatter.dev/problems/{slug}"),
        "{body}"
    );
    assert_eq!(body["status"], status, "{body}");
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
    assert_eq!(body["request_id"], request_id, "{body}");
    body
}

/// Checks that `response` is an error of the OAuth2 endpoints: a problem with `status` whose
/// RFC 6749 §5.2 `error` is `error` (the problem type is its kebab-case form) and whose
/// `error_description` repeats the detail; returns the body.
pub async fn assert_oauth_error(response: Response, status: u16, error: &str) -> Value {
    let problem = assert_problem(response, status, &error.replace('_', "-")).await;
    assert_eq!(problem["error"], error, "{problem}");
    assert_eq!(problem["error_description"], problem["detail"], "{problem}");
    assert!(problem.get("access_token").is_none(), "{problem}");
    problem
}

/// The `field`s of a problem's `errors`, in order.
pub fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

/// Checks that `response` is a 422 `validation-failed` problem whose `errors` name `fields`, in
/// order; returns the body.
pub async fn assert_invalid(response: Response, fields: &[&str]) -> Value {
    let problem = assert_problem(response, 422, "validation-failed").await;
    assert_eq!(error_fields(&problem), fields);
    problem
}
