//! Test support (feature `test-util`): a fresh, migrated PostgreSQL database per test.
//!
//! The admin connection comes from `SWATTER_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`). Databases are named `swatter_test_<uuid>`;
//! `make test` drops leftovers before a run.

use sqlx::{
    Connection, Executor, PgConnection, PgPool, migrate::Migrator, postgres::PgPoolOptions,
};

/// The server URL tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("SWATTER_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// A database created for one test.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDatabase {
    /// Creates an empty database and runs `migrator` on it.
    pub async fn create(migrator: &Migrator) -> TestDatabase {
        let admin = admin_url();
        let name = format!("swatter_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = PgConnection::connect(&admin)
            .await
            .expect("tests need PostgreSQL: run them with `make test`");
        conn.execute(format!(r#"CREATE DATABASE "{name}""#).as_str())
            .await
            .expect("create test database");
        conn.close().await.ok();
        let (base, _) = admin.rsplit_once('/').expect("database URL has a path");
        let url = format!("{base}/{name}");
        let pool = PgPoolOptions::new()
            .max_connections(10)
            .connect(&url)
            .await
            .expect("connect to test database");
        migrator.run(&pool).await.expect("run migrations");
        TestDatabase { name, url, pool }
    }
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

/// Refuses new connections to database `name` and ends the open ones (`allowed = false`: the
/// database looks down to its service), or lets connections in again.
pub async fn allow_connections(name: &str, allowed: bool) {
    let mut admin = PgConnection::connect(&admin_url())
        .await
        .expect("connect to the test server");
    admin
        .execute(format!(r#"ALTER DATABASE "{name}" ALLOW_CONNECTIONS {allowed}"#).as_str())
        .await
        .expect("change ALLOW_CONNECTIONS");
    if !allowed {
        admin
            .execute(
                format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
                    .as_str(),
            )
            .await
            .expect("end the open connections");
    }
}

/// The gRPC health status of `service` (`""`: the whole server) at `channel`.
pub async fn health_status(
    channel: tonic::transport::Channel,
    service: &str,
) -> tonic_health::pb::health_check_response::ServingStatus {
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let status = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .expect("health check")
        .into_inner()
        .status;
    tonic_health::pb::health_check_response::ServingStatus::try_from(status)
        .expect("a known serving status")
}

/// Waits until `service`'s health is `want`, failing after three readiness probe intervals.
pub async fn wait_for_health(
    channel: tonic::transport::Channel,
    service: &str,
    want: tonic_health::pb::health_check_response::ServingStatus,
) {
    let deadline = tokio::time::Instant::now() + crate::server::READINESS_INTERVAL * 3;
    while health_status(channel.clone(), service).await != want {
        assert!(
            tokio::time::Instant::now() < deadline,
            "health of {service:?} never became {want:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
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
