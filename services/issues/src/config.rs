//! The issues service's settings: each variable's name, default and help are declared once,
//! below; the README's table is generated from them (`swatter-issues config-reference`).

use std::{net::SocketAddr, time::Duration};

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
    #[command(flatten)]
    pub changes: ChangeFeedSettings,
    #[command(flatten)]
    pub attachments: AttachmentSettings,
}

/// Attachments: the object store their bytes live in, and their limits (docs/api.md,
/// "Attachments").
#[derive(Clone, Debug, clap::Args)]
pub struct AttachmentSettings {
    /// Where the service reaches the object store (attachments' bytes).
    #[arg(long = "s3-endpoint", env = "SWATTER_S3_ENDPOINT", default_value = "http://127.0.0.1:9900", value_parser = config::http_url)]
    pub s3_endpoint: String,
    /// The host presigned upload and download URLs name (must be reachable by clients); default
    /// the endpoint.
    #[arg(long = "s3-public-endpoint", env = "SWATTER_S3_PUBLIC_ENDPOINT", value_parser = config::http_url)]
    pub s3_public_endpoint: Option<String>,
    /// Signing region.
    #[arg(
        long = "s3-region",
        env = "SWATTER_S3_REGION",
        default_value = "us-east-1"
    )]
    pub s3_region: String,
    /// Object store access key; required.
    #[arg(
        long = "s3-access-key",
        env = "SWATTER_S3_ACCESS_KEY",
        hide_env_values = true
    )]
    pub s3_access_key: Option<String>,
    /// Object store secret key; required.
    #[arg(
        long = "s3-secret-key",
        env = "SWATTER_S3_SECRET_KEY",
        hide_env_values = true
    )]
    pub s3_secret_key: Option<String>,
    /// Bucket of the attachments (created when first needed).
    #[arg(
        long = "attachments-bucket",
        env = "SWATTER_ATTACHMENTS_BUCKET",
        default_value = "swatter-attachments"
    )]
    pub bucket: String,
    /// Largest attachment, in bytes (default 25 MiB).
    #[arg(long = "attachment-max-bytes", env = "SWATTER_ATTACHMENT_MAX_BYTES", default_value = "26214400", value_parser = config::at_least_one::<u64>)]
    pub max_file_bytes: u64,
    /// Most attachments an issue may have (its comments' included).
    #[arg(long = "attachments-per-issue", env = "SWATTER_ATTACHMENTS_PER_ISSUE", default_value = "100", value_parser = config::at_least_one::<u32>)]
    pub max_per_issue: u32,
    /// Bytes of attachments a project may hold, pending uploads included (default 1 GiB).
    #[arg(long = "attachment-quota-bytes", env = "SWATTER_ATTACHMENT_QUOTA_BYTES", default_value = "1073741824", value_parser = config::at_least_one::<u64>)]
    pub project_quota_bytes: u64,
    /// Seconds a presigned upload URL stays valid.
    #[arg(long = "upload-url-ttl-secs", env = "SWATTER_UPLOAD_URL_TTL_SECS", default_value = "300", value_parser = config::positive_seconds)]
    pub upload_url_ttl: Duration,
    /// Seconds after its request an unconfirmed upload is swept (its object deleted); longer
    /// than the upload URL's life.
    #[arg(long = "upload-confirm-secs", env = "SWATTER_UPLOAD_CONFIRM_SECS", default_value = "3600", value_parser = config::positive_seconds)]
    pub pending_ttl: Duration,
    /// Seconds a presigned download (or thumbnail) URL stays valid.
    #[arg(long = "attachment-download-ttl-secs", env = "SWATTER_ATTACHMENT_DOWNLOAD_TTL_SECS", default_value = "300", value_parser = config::positive_seconds)]
    pub download_ttl: Duration,
    /// Largest image, in pixels (width × height), that gets a thumbnail; larger ones (and
    /// decompression bombs) are refused without being decoded.
    #[arg(long = "thumbnail-max-pixels", env = "SWATTER_THUMBNAIL_MAX_PIXELS", default_value = "40000000", value_parser = config::at_least_one::<u64>)]
    pub thumbnail_max_pixels: u64,
    /// Milliseconds between the sweeps of expired uploads and deleted attachments' objects.
    #[arg(long = "attachment-sweep-ms", env = "SWATTER_ATTACHMENT_SWEEP_MS", default_value = "5000", value_parser = config::millis)]
    pub sweep_interval: Duration,
}

/// The change feed: where its events are published, how long it is kept, how far a stream's
/// client may fall behind.
#[derive(Clone, Debug, clap::Args)]
pub struct ChangeFeedSettings {
    /// RabbitMQ (`amqp://` or `amqps://`), where the outbox relay publishes change events.
    #[arg(long, env = "SWATTER_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", value_parser = config::amqp_url, hide_env_values = true)]
    pub amqp_url: String,
    /// The durable topic exchange events are published to (routing key: the event type).
    #[arg(long, env = "SWATTER_EVENTS_EXCHANGE", default_value = swatter_common::events::DEFAULT_EXCHANGE)]
    pub events_exchange: String,
    /// Days a change stays in the feed (≥ 1); older cursors are answered 410 Gone.
    #[arg(long = "changes-retention-days", env = "SWATTER_CHANGES_RETENTION_DAYS", default_value = "30", value_parser = config::at_least_one::<u32>)]
    pub retention_days: u32,
    /// Changes buffered per live stream (≥ 1): a client that leaves this many unread for longer
    /// than `SWATTER_CHANGES_STREAM_LAG_MS` is told to resume from its cursor.
    #[arg(long = "changes-stream-buffer", env = "SWATTER_CHANGES_STREAM_BUFFER", default_value = "256", value_parser = config::at_least_one::<u16>)]
    pub stream_buffer: u16,
    /// Milliseconds a live stream's full buffer may wait for its client before the stream ends.
    #[arg(long = "changes-stream-lag-ms", env = "SWATTER_CHANGES_STREAM_LAG_MS", default_value = "10000", value_parser = config::millis)]
    pub stream_lag: Duration,
}

impl ChangeFeedSettings {
    /// How long changes are kept.
    pub fn retention(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.retention_days))
    }
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

    #[test]
    fn the_change_feed_keeps_thirty_days_by_default_and_at_least_one() {
        let config = IssuesConfig::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(config.changes.retention_days, 30);
        assert_eq!(config.changes.events_exchange, "swatter.events");
        let err =
            IssuesConfig::from_env(&Env::from_pairs(&[("SWATTER_CHANGES_RETENTION_DAYS", "0")]))
                .err()
                .unwrap();
        assert!(
            err.to_string().contains("SWATTER_CHANGES_RETENTION_DAYS"),
            "{err}"
        );
    }
}
