//! The issues service's settings: each variable's name, default and help are declared once,
//! below; the README's table is generated from them (`swatter-issues config-reference`).

use std::net::SocketAddr;

use swatter_common::{
    bootstrap::{ServiceSettings, TokenSettings},
    config::{self, ConfigError, Env, Source},
    metrics,
};

swatter_common::database_settings!(
    IssuesDatabase,
    env = "SWATTER_ISSUES_DATABASE_URL",
    long = "issues-database-url",
    default = "postgres://postgres@127.0.0.1:5432/swatter_issues"
);

/// `swatter-issues`: projects, issues and comments over gRPC.
#[derive(clap::Parser)]
#[command(name = "swatter-issues")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: IssuesConfig,
    #[command(flatten)]
    pub service: ServiceSettings,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Apply the migrations and exit.
    Migrate,
    /// Print the settings as the README's Markdown table.
    ConfigReference,
}

#[derive(Clone, clap::Args)]
pub struct IssuesConfig {
    /// Listen address (gRPC).
    #[arg(
        long = "issues-addr",
        env = "SWATTER_ISSUES_ADDR",
        default_value = "127.0.0.1:50052"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: IssuesDatabase,
    /// Identity's gRPC endpoint.
    #[arg(long, env = "SWATTER_IDENTITY_URL", default_value = "http://127.0.0.1:50051", value_parser = config::http_url)]
    pub identity_url: String,
    #[command(flatten)]
    pub tokens: TokenSettings,
    /// Where `GET /metrics` (Prometheus text format) listens; `off`: no endpoint.
    #[arg(long, env = "SWATTER_METRICS_ADDR", default_value = "127.0.0.1:9102", value_parser = metrics::metrics_addr)]
    pub metrics_addr: std::option::Option<SocketAddr>,
}

impl IssuesConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        config::from_env(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_these_settings() {
        config::assert_readme_lists::<Cli>(include_str!("../../../README.md"));
    }

    #[test]
    fn the_metrics_address_defaults_can_be_turned_off_and_is_named_when_malformed() {
        let config = IssuesConfig::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9102)))
        );
        let off =
            IssuesConfig::from_env(&Env::from_pairs(&[("SWATTER_METRICS_ADDR", "off")])).unwrap();
        assert_eq!(off.metrics_addr, None);
        let err =
            IssuesConfig::from_env(&Env::from_pairs(&[("SWATTER_METRICS_ADDR", "metrics:x")]))
                .err()
                .unwrap();
        assert!(err.to_string().contains("SWATTER_METRICS_ADDR"), "{err}");
    }
}
