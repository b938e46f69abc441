//! What every binary does around its own work: read its command line and settings, start logs
//! and traces, migrate or open its database, and report a failure as `NAME: error`.

use std::{future::Future, process::ExitCode, sync::Arc, time::Duration};

use anyhow::Context;
use clap::Parser;
use swatter_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::Endpoint;

use crate::{
    auth::{
        GrpcJwks, GrpcPersonalTokens, GrpcSessions, PERSONAL_TOKEN_CHECK_INTERVAL, TokenVerifier,
    },
    client::TracedChannel,
    config::{self, Env},
    pagination,
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

/// The token verifier of a service other than identity: signing keys from `identity`, each
/// token's session asked again every `session_check_interval`, and personal access tokens asked
/// about every [`PERSONAL_TOKEN_CHECK_INTERVAL`]. Identity may not be up yet: its
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
        )
        .with_personal_tokens(
            GrpcPersonalTokens(identity.clone()),
            PERSONAL_TOKEN_CHECK_INTERVAL,
        ),
    );
    if let Err(error) = verifier.refresh().await {
        tracing::warn!(error = %error, "identity's signing keys are not available yet; will fetch on first use");
    }
    verifier
}
