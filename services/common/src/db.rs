//! A service's PostgreSQL database: its settings, connecting, migrating, readiness.

use std::time::Duration;

use anyhow::Context;
use sqlx::{
    Connection, PgPool,
    migrate::Migrator,
    postgres::{PgConnectOptions, PgListener, PgPoolOptions},
};

use crate::server::ReadinessProbe;

/// How long a pooled connection may sit idle before it is checked with a ping when handed out.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(5);

/// Connects to `url` (read from the setting `setting`) with the server settings `session` on every
/// connection (sent at connect, no extra round trip); errors name host and database, never the
/// password.
pub async fn connect(
    setting: &str,
    url: &str,
    max_connections: u32,
    session: &[(&str, &str)],
) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .with_context(|| format!("{setting} is not a PostgreSQL URL"))?
        .options(session.iter().copied());
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or("")
    );
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection it hands out by default: a second round trip for every
        // one-query request. A connection used within the last few seconds is alive; only one
        // that sat idle longer is pinged (a dead one is dropped and another taken), and a query
        // on a connection that died in between fails as unavailable (503) like any other.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_WHEN_IDLE_FOR {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options)
        .await
        .with_context(|| format!("cannot connect to PostgreSQL at {target} ({setting})"))
}

/// Whether a database error means the database is out of reach (a 503 to retry later) rather
/// than a fault of the query.
pub fn is_unavailable(error: &sqlx::Error) -> bool {
    matches!(
        error,
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed
    )
}

/// Declares a service's database settings: its own URL variable (each service owns a database),
/// and the pool size and migrate-at-start switch every service reads under the same names. The
/// struct gets `connect` (open the pool, migrate if asked) and `migrate` (the subcommand).
#[macro_export]
macro_rules! database_settings {
    ($name:ident, env = $env:literal, long = $long:literal, default = $default:literal) => {
        /// The service's database.
        #[derive(Clone, Debug, clap::Args)]
        pub struct $name {
            /// Database (its URL holds the password).
            #[arg(long = $long, env = $env, default_value = $default, hide_env_values = true)]
            pub url: String,
            /// Database pool size.
            #[arg(long = "database-max-connections", env = "SWATTER_DATABASE_MAX_CONNECTIONS", default_value = "10")]
            pub max_connections: u32,
            /// Apply migrations at start.
            #[arg(long = "migrate", env = "SWATTER_MIGRATE", default_value = "true", value_parser = ::swatter_common::config::flag, action = clap::ArgAction::Set)]
            pub run_migrations: bool,
        }

        impl $name {
            /// Opens the pool and, when `run_migrations`, applies `migrator`.
            pub async fn connect(
                &self,
                migrator: &::sqlx::migrate::Migrator,
            ) -> ::anyhow::Result<::sqlx::PgPool> {
                self.connect_with(migrator, &[]).await
            }

            /// [`Self::connect`] with server settings for every connection of the pool.
            pub async fn connect_with(
                &self,
                migrator: &::sqlx::migrate::Migrator,
                session: &[(&str, &str)],
            ) -> ::anyhow::Result<::sqlx::PgPool> {
                let migrator = self.run_migrations.then_some(migrator);
                ::swatter_common::db::connect_and_migrate(
                    $env,
                    &self.url,
                    self.max_connections,
                    session,
                    migrator,
                )
                .await
            }

            /// The `migrate` subcommand: applies `migrator` and exits.
            pub async fn migrate(&self, migrator: &::sqlx::migrate::Migrator) -> ::anyhow::Result<()> {
                ::swatter_common::db::migrate($env, &self.url, migrator).await
            }
        }
    };
}

/// Connects to the database `url` (read from `setting`) and, when `migrate`, applies `migrator`.
pub async fn connect_and_migrate(
    setting: &str,
    url: &str,
    max_connections: u32,
    session: &[(&str, &str)],
    migrator: Option<&Migrator>,
) -> anyhow::Result<PgPool> {
    let db = connect(setting, url, max_connections, session).await?;
    if let Some(migrator) = migrator {
        migrator
            .run(&db)
            .await
            .with_context(|| format!("run the migrations of {setting}"))?;
    }
    Ok(db)
}

/// The `migrate` subcommand: applies `migrator` to the database `url` and exits.
pub async fn migrate(setting: &str, url: &str, migrator: &Migrator) -> anyhow::Result<()> {
    connect_and_migrate(setting, url, 1, &[], Some(migrator)).await?;
    println!("migrations applied ({setting})");
    Ok(())
}

/// Ready while the database answers.
pub fn readiness_probe(db: PgPool) -> ReadinessProbe {
    std::sync::Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { sqlx::query("SELECT 1").execute(&db).await.is_ok() })
    })
}

/// A listener on `channel`, or `None` when it cannot listen now: the caller then polls at its
/// sweep interval and asks again on its next round.
pub async fn listen(db: &PgPool, channel: &str) -> Option<PgListener> {
    let result = async {
        let mut listener = PgListener::connect_with(db).await?;
        listener.listen(channel).await?;
        Ok::<_, sqlx::Error>(listener)
    }
    .await;
    match result {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(error = %error, channel, "cannot LISTEN; polling only");
            None
        }
    }
}
