//! The webhooks service's settings: each variable's name, default and help are declared once,
//! below; the README's table is generated from them (`swatter-webhooks config-reference`).

use std::{net::SocketAddr, time::Duration};

use swatter_common::{
    bootstrap::{ServiceSettings, TokenSettings},
    config::{self, ConfigError, Env, Source},
    events, metrics,
};

use crate::domain::{AddressPolicy, RetrySchedule};

swatter_common::database_settings!(
    WebhooksDatabase,
    env = "SWATTER_WEBHOOKS_DATABASE_URL",
    long = "webhooks-database-url",
    default = "postgres://postgres@127.0.0.1:5432/swatter_webhooks"
);

/// `swatter-webhooks`: project webhook endpoints over gRPC, and the delivery of the change events
/// to them.
#[derive(clap::Parser)]
#[command(name = "swatter-webhooks")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub config: WebhooksConfig,
    #[command(flatten)]
    pub service: ServiceSettings,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the service: the API, the event consumer, the dispatcher and the outbox relay (the
    /// default).
    Serve,
    /// Apply the migrations and exit.
    Migrate,
    /// Print the settings as the README's Markdown table.
    ConfigReference,
}

/// Everything the webhooks service needs.
#[derive(Clone, Debug, clap::Args)]
pub struct WebhooksConfig {
    /// Listen address (gRPC).
    #[arg(
        long = "webhooks-addr",
        env = "SWATTER_WEBHOOKS_ADDR",
        default_value = "127.0.0.1:50054"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: WebhooksDatabase,
    /// RabbitMQ (`amqp://` or `amqps://`).
    #[arg(long, env = "SWATTER_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", value_parser = config::amqp_url, hide_env_values = true)]
    pub amqp_url: String,
    /// The topic exchange the contexts publish their change events to.
    #[arg(long, env = "SWATTER_EVENTS_EXCHANGE", default_value = events::DEFAULT_EXCHANGE)]
    pub events_exchange: String,
    /// Name of the queue this service reads the events from (`<prefix>.events`).
    #[arg(long, env = "SWATTER_QUEUE_PREFIX", default_value = "swatter.webhooks")]
    pub queue_prefix: String,
    /// Identity's gRPC endpoint.
    #[arg(long, env = "SWATTER_IDENTITY_URL", default_value = "http://127.0.0.1:50051", value_parser = config::http_url)]
    pub identity_url: String,
    /// Issues' gRPC endpoint (asked who may manage a project's endpoints).
    #[arg(long, env = "SWATTER_ISSUES_URL", default_value = "http://127.0.0.1:50052", value_parser = config::http_url)]
    pub issues_url: String,
    #[command(flatten)]
    pub tokens: TokenSettings,
    /// Delays between the attempts of a delivery, comma-separated, each with a unit (`ms`, `s`,
    /// `m`, `h`); ± 20 % jitter. Once used up, the endpoint is disabled.
    #[arg(long = "webhook-retry-schedule", env = "SWATTER_WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h", value_parser = parse_schedule)]
    pub retry_schedule: RetrySchedule,
    /// How long, in milliseconds, one delivery attempt may take (connect, send, answer).
    #[arg(long = "webhook-timeout-ms", env = "SWATTER_WEBHOOK_TIMEOUT_MS", default_value = "10000", value_parser = positive_millis)]
    pub timeout: Duration,
    /// Networks webhooks may reach although they are loopback, private, link-local or otherwise
    /// refused, comma-separated (`127.0.0.1/32,10.1.0.0/16`); empty: none.
    #[arg(long = "webhook-allow-networks", env = "SWATTER_WEBHOOK_ALLOW_NETWORKS", default_value = "", value_parser = parse_policy)]
    pub address_policy: AddressPolicy,
    /// Seconds after which a delivery whose dispatcher vanished (process killed) is attempted
    /// again; longer than the timeout.
    #[arg(long = "webhook-lease-secs", env = "SWATTER_WEBHOOK_LEASE_SECS", default_value = "30", value_parser = config::positive_seconds)]
    pub lease: Duration,
    /// Deliveries attempted at once by one process (each endpoint has at most one in flight)
    /// (≥ 1).
    #[arg(long = "webhook-concurrency", env = "SWATTER_WEBHOOK_CONCURRENCY", default_value = "64", value_parser = config::at_least_one::<u16>)]
    pub concurrency: u16,
    /// Days a finished delivery (succeeded or failed) stays in the delivery log (≥ 1).
    #[arg(long = "webhook-log-retention-days", env = "SWATTER_WEBHOOK_LOG_RETENTION_DAYS", default_value = "30", value_parser = retention_days)]
    pub log_retention: Duration,
    /// Period, in milliseconds, of the dispatcher's and outbox relay's safety-net scans (they are
    /// woken at once by new work).
    #[arg(long = "outbox-sweep-ms", env = "SWATTER_OUTBOX_SWEEP_MS", default_value = "1000", value_parser = config::millis)]
    pub sweep_interval: Duration,
    /// Where `GET /metrics` (Prometheus text format) listens; `off`: no endpoint.
    #[arg(long, env = "SWATTER_METRICS_ADDR", default_value = "127.0.0.1:9104", value_parser = metrics::metrics_addr)]
    pub metrics_addr: std::option::Option<SocketAddr>,
}

fn parse_schedule(raw: &str) -> Result<RetrySchedule, String> {
    raw.parse()
}

fn parse_policy(raw: &str) -> Result<AddressPolicy, String> {
    raw.parse()
}

fn retention_days(raw: &str) -> Result<Duration, String> {
    let days = config::at_least_one::<u32>(raw)?;
    Ok(Duration::from_secs(u64::from(days) * 24 * 3600))
}

fn positive_millis(raw: &str) -> Result<Duration, String> {
    match config::millis(raw)? {
        Duration::ZERO => Err("must be at least 1".to_owned()),
        duration => Ok(duration),
    }
}

impl WebhooksConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        config::from_env::<WebhooksConfig>(env)?.checked()
    }

    /// The configuration, unless its settings contradict each other.
    pub fn checked(self) -> Result<Self, ConfigError> {
        if self.lease <= self.timeout {
            return Err(ConfigError::malformed(
                "SWATTER_WEBHOOK_LEASE_SECS",
                &self.lease.as_secs().to_string(),
                "must be longer than SWATTER_WEBHOOK_TIMEOUT_MS",
            ));
        }
        Ok(self)
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
    fn defaults_follow_the_spec() {
        let config = WebhooksConfig::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(config.addr.port(), 50054);
        assert_eq!(config.retry_schedule, RetrySchedule::standard());
        assert_eq!(config.timeout, Duration::from_secs(10));
        assert_eq!(config.events_exchange, "swatter.events");
        assert!(config.address_policy.allowed.is_empty());
        assert_eq!(config.log_retention, Duration::from_secs(30 * 24 * 3600));
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9104)))
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("SWATTER_AMQP_URL", "http://rabbit"),
            ("SWATTER_WEBHOOK_RETRY_SCHEDULE", "5 minutes"),
            ("SWATTER_WEBHOOK_ALLOW_NETWORKS", "localhost"),
            ("SWATTER_WEBHOOK_TIMEOUT_MS", "0"),
            ("SWATTER_WEBHOOK_LEASE_SECS", "5"),
            ("SWATTER_WEBHOOK_CONCURRENCY", "0"),
            ("SWATTER_WEBHOOK_LOG_RETENTION_DAYS", "0"),
            ("SWATTER_METRICS_ADDR", "everywhere"),
        ] {
            let err = WebhooksConfig::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
    }
}
