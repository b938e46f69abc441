//! What every binary does around its own work: read its command line and settings, start logs
//! and traces, migrate or open its database, and report a failure as `NAME: error`.

use std::{future::Future, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use sqlx::{PgPool, migrate::Migrator};
use swatter_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::Endpoint;

use crate::{
    auth::{GrpcJwks, GrpcSessions, TokenVerifier},
    client::TracedChannel,
    config::{self, Env},
    db, pagination,
    telemetry::{self, TelemetryGuard, TelemetrySettings},
};

/// What every service reads besides its own settings.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceSettings {
    /// Key page tokens are signed with (at least 32 characters); default a random key per
    /// process. Replicas behind one address must share it, or a token from one is refused (422)
    /// by another; unset, tokens also stop working at a restart.
    #[arg(long, env = "SWATTER_PAGE_TOKEN_SECRET", value_parser = config::secret, hide_env_values = true)]
    pub page_token_secret: Option<String>,
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
}

impl ServiceSettings {
    /// Starts logs and traces as `name` and installs the page-token key. Keep the guard until the
    /// program ends.
    pub fn init(&self, name: &str) -> anyhow::Result<TelemetryGuard> {
        let guard = telemetry::init(name, &self.telemetry)?;
        pagination::init(self.page_token_secret.as_deref());
        Ok(guard)
    }
}

/// A binary's `main`: parses `C` from the command line and the environment, runs `body` with it,
/// and turns an error into `NAME: error` on stderr and exit status 1.
pub async fn run<C, F>(body: impl FnOnce(C) -> F) -> ExitCode
where
    C: Parser,
    F: Future<Output = anyhow::Result<()>>,
{
    let name = C::command().get_name().to_owned();
    let result = match config::parse::<C>(&Env::process(), std::env::args_os()) {
        Ok(cli) => body(cli).await,
        Err(error) => Err(error.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{name}: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the settings table of binary `C` (its `config-reference` subcommand).
pub fn print_reference<C: Parser>() -> anyhow::Result<()> {
    print!("{}", config::reference(&C::command()));
    Ok(())
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
            /// Database.
            #[arg(long = $long, env = $env, default_value = $default)]
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
                let migrator = self.run_migrations.then_some(migrator);
                ::swatter_common::bootstrap::database($env, &self.url, self.max_connections, migrator)
                    .await
            }

            /// The `migrate` subcommand: applies `migrator` and exits.
            pub async fn migrate(&self, migrator: &::sqlx::migrate::Migrator) -> ::anyhow::Result<()> {
                ::swatter_common::bootstrap::migrate($env, &self.url, migrator).await
            }
        }
    };
}

/// Connects to the database `url` (read from `setting`) and, when `migrate`, applies `migrator`.
pub async fn database(
    setting: &str,
    url: &str,
    max_connections: u32,
    migrator: Option<&Migrator>,
) -> anyhow::Result<PgPool> {
    let db = db::connect(setting, url, max_connections).await?;
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
    database(setting, url, 1, Some(migrator)).await?;
    println!("migrations applied ({setting})");
    Ok(())
}

/// A channel to the gRPC service at `url` (read from `setting`) that connects on first use.
pub fn lazy_channel(url: &str, setting: &str) -> anyhow::Result<TracedChannel> {
    Ok(TracedChannel::new(
        Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("{setting} is not a URL"))?
            .connect_timeout(Duration::from_secs(3))
            .tcp_nodelay(true)
            .connect_lazy(),
    ))
}

/// How a service other than identity checks the access tokens identity writes.
#[derive(Debug, Clone, clap::Args)]
pub struct TokenSettings {
    /// `iss` of access tokens (identity writes it, the others check it).
    #[arg(long, env = "SWATTER_JWT_ISSUER", default_value = "swatter")]
    pub issuer: String,
    /// `aud` of access tokens.
    #[arg(long, env = "SWATTER_JWT_AUDIENCE", default_value = "swatter")]
    pub audience: String,
    /// How often, in seconds, a token seen before is checked again with identity (disabled user,
    /// admin rights); at most 25.
    #[arg(long, env = "SWATTER_SESSION_CHECK_SECS", default_value = "10", value_parser = crate::auth::session_check_interval)]
    pub session_check_interval: Duration,
}

/// The token verifier of a service other than identity: signing keys from `identity`, and each
/// token's session asked again every `session_check_interval`. Identity may not be up yet: its
/// keys are then fetched on first use.
pub async fn identity_verifier(
    identity: &IdentityServiceClient<TracedChannel>,
    settings: &TokenSettings,
) -> Arc<TokenVerifier> {
    let verifier = Arc::new(
        TokenVerifier::new(
            &settings.issuer,
            &settings.audience,
            GrpcJwks(identity.clone()),
        )
        .with_sessions(
            GrpcSessions(identity.clone()),
            settings.session_check_interval,
        ),
    );
    if let Err(error) = verifier.refresh().await {
        tracing::warn!(error = %error, "identity's signing keys are not available yet; will fetch on first use");
    }
    verifier
}
