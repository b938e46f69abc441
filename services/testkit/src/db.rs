//! A fresh, migrated PostgreSQL database per test.
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
#[derive(Clone)]
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
