//! `TestApp`: the real identity and issues services, each with a fresh database, and the
//! gateway, all in-process on port 0, with a typed client for the REST API. On request
//! ([`TestApp::spawn_with_reporting`]) the reporting service too, with its worker, the real
//! RabbitMQ (queue names unique to the test) and an s3s-fs process owned by the test.

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use reqwest::{Method, RequestBuilder, Response, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use swatter_common::testing::TestDatabase;
use swatter_gateway::{config::GatewayConfig, startup::Application};
use swatter_identity::{
    config::{BootstrapAdmin, IdentityConfig, ThrottleConfig},
    tokens::SigningKey,
};
use swatter_issues::config::IssuesConfig;
use swatter_reporting::{
    config::{ReportingConfig, S3Config},
    domain::Backoff,
    startup::Mode,
};

pub use swatter_reporting::startup::Mode as ReportingMode;

pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASSWORD: &str = "swatter-admin";
pub const SERVICE_CLIENT_ID: &str = "reporting";
pub const SERVICE_CLIENT_SECRET: &str = "test-reporting-secret-of-32-characters-or-more";

/// The gateway in front of real identity and issues services (and reporting, on request).
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// Where the gateway serves `GET /metrics`, unless the test turned metrics off.
    pub metrics_addr: Option<SocketAddr>,
    /// The gRPC addresses of the in-process identity and issues services.
    pub identity_addr: SocketAddr,
    pub issues_addr: SocketAddr,
    /// The reporting stack, when the test asked for it.
    pub reporting: Option<ReportingStack>,
    _identity_database: TestDatabase,
    _issues_database: TestDatabase,
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

/// Settings that make the gateway talk to `identity`, `issues` and `reporting`, with the
/// production defaults otherwise.
pub fn gateway_config(
    identity: SocketAddr,
    issues: SocketAddr,
    reporting: SocketAddr,
) -> GatewayConfig {
    GatewayConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        identity_url: format!("http://{identity}").parse().expect("identity URL"),
        issues_url: format!("http://{issues}").parse().expect("issues URL"),
        reporting_url: format!("http://{reporting}")
            .parse()
            .expect("reporting URL"),
        jwt_issuer: "swatter".into(),
        jwt_audience: "swatter".into(),
        trusted_proxy_hops: 0,
        request_timeout: Duration::from_secs(30),
        metrics_addr: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
    }
}

/// Builds the gateway and serves it on a background task; returns its base URL.
pub async fn spawn_gateway(config: GatewayConfig) -> String {
    spawn_gateway_with_metrics(config).await.0
}

/// Like [`spawn_gateway`], also returning where `GET /metrics` listens (unless off).
pub async fn spawn_gateway_with_metrics(config: GatewayConfig) -> (String, Option<SocketAddr>) {
    let gateway = Application::build(config).await.expect("build the gateway");
    let address = format!("http://{}", gateway.local_addr());
    let metrics = gateway.metrics_addr();
    tokio::spawn(gateway.run_until(std::future::pending()));
    (address, metrics)
}

impl TestApp {
    /// The services and the gateway with default settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// The services and a gateway whose settings `customize` may change. Without reporting,
    /// the gateway's reporting upstream is the issues service (so readiness holds; reporting
    /// routes are not usable).
    pub async fn spawn_with(customize: impl FnOnce(&mut GatewayConfig)) -> TestApp {
        TestApp::spawn_stack(|_| {}, customize, None).await
    }

    /// Like [`TestApp::spawn_with`], with identity's settings changed by `identity` too.
    pub async fn spawn_configured(
        identity: impl FnOnce(&mut IdentityConfig),
        gateway: impl FnOnce(&mut GatewayConfig),
    ) -> TestApp {
        TestApp::spawn_stack(identity, gateway, None).await
    }

    /// The services including reporting in `mode` (`WithWorker`: API, relay, sweeper and
    /// worker; `Api`: no worker, so jobs stay queued), and the gateway.
    pub async fn spawn_with_reporting(mode: Mode) -> TestApp {
        TestApp::spawn_stack(|_| {}, |_| {}, Some(mode)).await
    }

    async fn spawn_stack(
        customize_identity: impl FnOnce(&mut IdentityConfig),
        customize_gateway: impl FnOnce(&mut GatewayConfig),
        reporting_mode: Option<Mode>,
    ) -> TestApp {
        let identity_database = TestDatabase::create(&swatter_identity::MIGRATOR).await;
        let mut identity_config = IdentityConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: identity_database.url.clone(),
            database_max_connections: 5,
            run_migrations: true,
            signing_key_pem: SigningKey::generate_pem().expect("generate a signing key"),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
            signup_enabled: true,
            bootstrap_admin: Some(BootstrapAdmin {
                username: ADMIN_USERNAME.into(),
                password: ADMIN_PASSWORD.into(),
                email: "admin@swatter.local".into(),
            }),
            service_clients: HashMap::from([(
                SERVICE_CLIENT_ID.to_owned(),
                SERVICE_CLIENT_SECRET.to_owned(),
            )]),
            password_hash_concurrency: 2,
            metrics_addr: None,
            // Tests sign many users up from one address; the throttling tests set their limits.
            throttle: ThrottleConfig {
                signups_per_client_per_hour: 0,
                ..ThrottleConfig::default()
            },
        };
        customize_identity(&mut identity_config);
        let identity = swatter_identity::startup::Application::build(identity_config)
            .await
            .expect("build identity");
        let identity_addr = identity.local_addr();
        tokio::spawn(identity.run_until(std::future::pending()));

        let issues_database = TestDatabase::create(&swatter_issues::MIGRATOR).await;
        let issues = swatter_issues::startup::Application::build(IssuesConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: issues_database.url.clone(),
            database_max_connections: 5,
            run_migrations: true,
            identity_url: format!("http://{identity_addr}"),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            // Ask identity about sessions at every request: tests see changes at once.
            session_check_interval: Duration::ZERO,
            metrics_addr: None,
        })
        .await
        .expect("build issues");
        let issues_addr = issues.local_addr();
        tokio::spawn(issues.run_until(std::future::pending()));

        let reporting = match reporting_mode {
            Some(mode) => Some(ReportingStack::start(identity_addr, issues_addr, mode).await),
            None => None,
        };
        let reporting_addr = reporting.as_ref().map_or(issues_addr, |r| r.addr);
        let mut config = gateway_config(identity_addr, issues_addr, reporting_addr);
        customize_gateway(&mut config);
        let (address, metrics_addr) = spawn_gateway_with_metrics(config).await;
        TestApp {
            address,
            metrics_addr,
            identity_addr,
            issues_addr,
            client: reqwest::Client::new(),
            reporting,
            _identity_database: identity_database,
            _issues_database: issues_database,
        }
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

/// The `field`s of a problem's `errors`, in order.
pub fn error_fields(problem: &Value) -> Vec<&str> {
    problem["errors"]
        .as_array()
        .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default()
}

/// The broker tests use.
pub fn amqp_url() -> String {
    std::env::var("SWATTER_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

pub const S3_KEY: &str = "swatter-test";
pub const S3_SECRET: &str = "swatter-test-secret";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("a bound address")
        .port()
}

fn s3s_fs_binary() -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|dir| dir.join("s3s-fs"))
        .find(|p| p.is_file())
        .expect("tests need s3s-fs: run them with `make test` (it installs s3s-fs 0.14.1)")
}

/// An s3s-fs server owned by one test, removed with its folder when dropped.
pub struct S3Server {
    pub port: u16,
    dir: PathBuf,
    child: Child,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let dir = std::env::temp_dir().join(format!(
            "swatter-gateway-s3-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("create the s3s-fs folder");
        let port = free_port();
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        let server = S3Server { port, dir, child };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("s3s-fs did not start on port {port}");
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The reporting service of a test, with its database, object store and queue names.
pub struct ReportingStack {
    pub addr: SocketAddr,
    pub config: ReportingConfig,
    _database: TestDatabase,
    _s3: S3Server,
}

impl ReportingStack {
    async fn start(identity: SocketAddr, issues: SocketAddr, mode: Mode) -> ReportingStack {
        let s3 = S3Server::start().await;
        let database = TestDatabase::create(&swatter_reporting::MIGRATOR).await;
        let config = ReportingConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            database_url: database.url.clone(),
            database_max_connections: 5,
            run_migrations: true,
            amqp_url: amqp_url(),
            queue_prefix: format!("swatter.gateway-test.{}", uuid::Uuid::new_v4().simple()),
            identity_url: format!("http://{identity}"),
            issues_url: format!("http://{issues}"),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            // Ask identity about sessions at every request: tests see changes at once.
            session_check_interval: Duration::ZERO,
            service_client_id: SERVICE_CLIENT_ID.into(),
            service_client_secret: SERVICE_CLIENT_SECRET.into(),
            s3: S3Config {
                endpoint: s3.endpoint(),
                public_endpoint: s3.endpoint(),
                region: "us-east-1".into(),
                bucket: "swatter-reports".into(),
                access_key: S3_KEY.into(),
                secret_key: S3_SECRET.into(),
                presign_ttl: Duration::from_secs(300),
            },
            worker_concurrency: 2,
            max_attempts: 5,
            backoff: Backoff {
                base: Duration::from_millis(200),
                factor: 2,
                cap: Duration::from_secs(2),
            },
            lease: Duration::from_secs(3),
            sweep_interval: Duration::from_millis(200),
            max_active_jobs_per_user: 10,
            max_streams_per_user: 10,
            metrics_addr: None,
        };
        let app = swatter_reporting::startup::Application::build(config.clone(), mode)
            .await
            .expect("build reporting");
        let addr = app.local_addr();
        tokio::spawn(app.run_until(std::future::pending()));
        ReportingStack {
            addr,
            config,
            _database: database,
            _s3: s3,
        }
    }

    /// Deletes this test's exchanges and queues from the shared broker.
    pub async fn cleanup_broker(&self) {
        swatter_reporting::broker::Topology::new(&self.config.queue_prefix)
            .delete(&self.config.amqp_url)
            .await;
    }
}
