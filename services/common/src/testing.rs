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
