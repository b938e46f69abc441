//! Test support of the swatter workspace, a dev-dependency of every crate's tests and benchmarks.
//!
//! - [`db`]: a fresh, migrated PostgreSQL database per test;
//! - [`config`]: each service's settings for tests, built in one place;
//! - [`Stack`]: any part of the stack (identity, issues, reporting with or without its worker,
//!   the gateway, s3s-fs, a broker namespace) started in-process on port 0;
//! - [`S3Server`], [`Broker`], [`free_port`], [`User`] and the login helpers, [`metrics`] scraping,
//!   page-token forgery and PDF text for assertions.
//!
//! Features (`identity`, `issues`, `reporting`, `webhooks`, `gateway`) choose the services that can start, so
//! a crate's test binary links only what it runs.

pub mod db;
pub mod metrics;
mod s3;

#[cfg(feature = "broker")]
mod broker;
#[cfg(feature = "identity")]
pub mod config;
#[cfg(feature = "identity")]
mod stack;

use std::{net::SocketAddr, time::Duration};

use tonic::{Request, transport::Channel};
use tonic_health::pb::health_check_response::ServingStatus;

#[cfg(feature = "broker")]
pub use broker::{Broker, bind_events_queue};
pub use db::{TestDatabase, allow_connections};
pub use s3::{S3_KEY, S3_SECRET, S3Server};
#[cfg(feature = "gateway")]
pub use stack::Gateway;
#[cfg(feature = "webhooks")]
pub use stack::Webhooks;
#[cfg(feature = "identity")]
pub use stack::{Identity, Running, Stack};
#[cfg(feature = "issues")]
pub use stack::{Issues, create_issue, create_project, listed_keys};
#[cfg(feature = "reporting")]
pub use stack::{Reporting, Worker};

/// The bootstrap admin of every test identity service: username and password.
pub const ADMIN: (&str, &str) = ("admin", "swatter-admin");
/// The service client (the report worker's credential) every test identity service knows.
pub const SERVICE_CLIENT: (&str, &str) = (
    "reporting",
    "test-reporting-secret-of-32-characters-or-more",
);
/// The password [`Identity::user`] signs users up with.
pub const PASSWORD: &str = "correct-horse";

/// The broker tests use (`SWATTER_TEST_AMQP_URL`, default the local guest account).
pub fn amqp_url() -> String {
    std::env::var("SWATTER_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind a free port")
        .local_addr()
        .expect("a bound address")
        .port()
}

/// A gRPC channel to `addr`.
pub async fn connect(addr: SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect()
        .await
        .unwrap_or_else(|err| panic!("connect to {addr}: {err}"))
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// `message` with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}

/// `message` sent as `user`.
pub fn req<T>(message: T, user: &User) -> Request<T> {
    authed(message, &user.token)
}

/// The fields a status's violations name, sorted.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    let mut fields: Vec<String> = swatter_common::status::violations(status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    fields.sort();
    fields
}

/// The gRPC health status of `service` (`""`: the whole server) at `channel`.
pub async fn health_status(channel: Channel, service: &str) -> ServingStatus {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    ServingStatus::try_from(status).expect("a known serving status")
}

/// Waits until `service`'s health is `want`, failing after three readiness probe intervals.
pub async fn wait_for_health(channel: Channel, service: &str, want: ServingStatus) {
    let deadline = tokio::time::Instant::now() + swatter_common::server::READINESS_INTERVAL * 3;
    while health_status(channel.clone(), service).await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "health of {service:?} never became {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Microseconds since the epoch of an instant in the year −100000: chrono reads it, PostgreSQL
/// cannot store it, so a cursor holding it must be refused before any query.
pub const YEAR_MINUS_100000_MICROS: i64 = -3_217_862_419_200_000_000;

/// A page token a client made by hand: `cursor` as unsigned base64url JSON.
pub fn hand_made_page_token(cursor: &serde_json::Value) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    URL_SAFE_NO_PAD.encode(cursor.to_string())
}

/// `token` (base64url) with its middle byte changed.
pub fn altered_page_token(token: &str) -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = URL_SAFE_NO_PAD.decode(token).expect("a base64url token");
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The text of a PDF (layout kept), via pdftotext from poppler-utils, which `make test` installs.
pub fn pdf_text(pdf: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!("swatter-{}.pdf", uuid::Uuid::new_v4().simple()));
    std::fs::write(&path, pdf).expect("write the PDF");
    let output = std::process::Command::new("pdftotext")
        .args(["-layout"])
        .arg(&path)
        .arg("-")
        .output()
        .expect("tests need pdftotext: run them with `make test` (it installs poppler-utils)");
    let _ = std::fs::remove_file(&path);
    assert!(output.status.success(), "pdftotext failed");
    String::from_utf8_lossy(&output.stdout).into_owned()
}
