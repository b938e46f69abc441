//! The reporting service's settings: each variable's name, default and help are declared once,
//! below; the README's table is generated from them (`swatter-reporting config-reference`).

use std::{net::SocketAddr, time::Duration};

use swatter_common::{
    bootstrap::{ServiceSettings, TokenSettings},
    config::{self, ConfigError, Env, Source},
    metrics,
};

use crate::{domain::Backoff, startup::Mode};

swatter_common::database_settings!(
    ReportingDatabase,
    env = "SWATTER_REPORTING_DATABASE_URL",
    long = "reporting-database-url",
    default = "postgres://postgres@127.0.0.1:5432/swatter_reporting"
);

/// `swatter-reporting`: PDF report jobs over gRPC, rendered by workers fed through RabbitMQ.
#[derive(clap::Parser)]
#[command(name = "swatter-reporting")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: ReportingSettings,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run everything in one process: the API, the outbox relay, the lease sweeper and the
    /// worker (the default, and `make run`).
    Serve,
    /// Run the API, the outbox relay and the lease sweeper; no rendering.
    Api,
    /// Run only the worker: render the jobs from the queue. Binds no API port, only metrics.
    Worker,
    /// Apply the migrations and exit.
    Migrate,
    /// Print the settings as the README's Markdown table.
    ConfigReference,
}

impl Command {
    /// What runs in this process, for the commands that serve.
    pub fn mode(&self) -> Option<Mode> {
        match self {
            Command::Serve => Some(Mode::WithWorker),
            Command::Api => Some(Mode::Api),
            Command::Worker => Some(Mode::Worker),
            Command::Migrate | Command::ConfigReference => None,
        }
    }
}

/// Everything reporting reads: its own settings and those every service reads.
#[derive(Clone, clap::Args)]
pub struct ReportingSettings {
    #[command(flatten)]
    pub config: ReportingConfig,
    /// Reporting's secret at identity (see `SWATTER_SERVICE_CLIENTS`); required.
    #[arg(long, env = "SWATTER_SERVICE_CLIENT_SECRET", hide_env_values = true)]
    service_client_secret: Option<String>,
    /// The host presigned URLs name (must be reachable by clients); default the endpoint.
    #[arg(long, env = "SWATTER_S3_PUBLIC_ENDPOINT", value_parser = config::http_url)]
    s3_public_endpoint: Option<String>,
    /// Object store access key; required.
    #[arg(long, env = "SWATTER_S3_ACCESS_KEY", hide_env_values = true)]
    s3_access_key: Option<String>,
    /// Object store secret key; required.
    #[arg(long, env = "SWATTER_S3_SECRET_KEY", hide_env_values = true)]
    s3_secret_key: Option<String>,
    /// First retry delay, in milliseconds; the delay grows by the factor at each attempt.
    #[arg(long = "retry-base-ms", env = "SWATTER_RETRY_BASE_MS", default_value = "1000", value_parser = config::millis)]
    retry_base: Duration,
    /// Backoff growth factor.
    #[arg(long, env = "SWATTER_RETRY_FACTOR", default_value = "2")]
    retry_factor: u32,
    /// Longest retry delay, in milliseconds (half of each delay is random jitter).
    #[arg(long = "retry-max-ms", env = "SWATTER_RETRY_MAX_MS", default_value = "60000", value_parser = config::millis)]
    retry_max: Duration,
    #[command(flatten)]
    pub service: ServiceSettings,
}

impl ReportingSettings {
    /// The configuration these settings make, or why they make none.
    pub fn into_config(self) -> Result<ReportingConfig, ConfigError> {
        let required = |value: Option<String>, name: &str| {
            value.ok_or_else(|| ConfigError::Missing {
                name: name.to_owned(),
            })
        };
        let mut config = self.config;
        config.service_client_secret =
            required(self.service_client_secret, "SWATTER_SERVICE_CLIENT_SECRET")?;
        config.s3.access_key = required(self.s3_access_key, "SWATTER_S3_ACCESS_KEY")?;
        config.s3.secret_key = required(self.s3_secret_key, "SWATTER_S3_SECRET_KEY")?;
        config.s3.public_endpoint = self
            .s3_public_endpoint
            .unwrap_or_else(|| config.s3.endpoint.clone());
        config.backoff = Backoff {
            base: self.retry_base,
            factor: self.retry_factor,
            cap: self.retry_max,
        };
        Ok(config)
    }
}

/// Everything the reporting API and worker need.
#[derive(Clone, Debug, clap::Args)]
pub struct ReportingConfig {
    /// Listen address (gRPC) of the API.
    #[arg(
        long = "reporting-addr",
        env = "SWATTER_REPORTING_ADDR",
        default_value = "127.0.0.1:50053"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: ReportingDatabase,
    /// RabbitMQ (`amqp://` or `amqps://`).
    #[arg(long, env = "SWATTER_AMQP_URL", default_value = "amqp://guest:guest@127.0.0.1:5672/%2f", value_parser = config::amqp_url, hide_env_values = true)]
    pub amqp_url: String,
    /// The durable topic exchange job state changes are published to (`job.state_changed`).
    #[arg(long, env = "SWATTER_EVENTS_EXCHANGE", default_value = swatter_common::events::DEFAULT_EXCHANGE)]
    pub events_exchange: String,
    /// Names of the exchange and queues (`<prefix>`, `<prefix>.work`, `<prefix>.dlx`,
    /// `<prefix>.dead`).
    #[arg(long, env = "SWATTER_QUEUE_PREFIX", default_value = "swatter.reports")]
    pub queue_prefix: String,
    /// Identity's gRPC endpoint.
    #[arg(long, env = "SWATTER_IDENTITY_URL", default_value = "http://127.0.0.1:50051", value_parser = config::http_url)]
    pub identity_url: String,
    /// Issues' gRPC endpoint.
    #[arg(long, env = "SWATTER_ISSUES_URL", default_value = "http://127.0.0.1:50052", value_parser = config::http_url)]
    pub issues_url: String,
    #[command(flatten)]
    pub tokens: TokenSettings,
    /// Reporting's client id at identity (one of `SWATTER_SERVICE_CLIENTS`).
    #[arg(long, env = "SWATTER_SERVICE_CLIENT_ID", default_value = "reporting")]
    pub service_client_id: String,
    /// The worker's credential at identity (`SWATTER_SERVICE_CLIENT_SECRET`).
    #[arg(skip)]
    pub service_client_secret: String,
    #[command(flatten)]
    pub s3: S3Config,
    /// Renders at once per worker, and the broker prefetch (≥ 1).
    #[arg(long, env = "SWATTER_WORKER_CONCURRENCY", default_value = "2", value_parser = config::at_least_one::<u16>)]
    pub worker_concurrency: u16,
    /// Period, in milliseconds, of each worker's heartbeat in the operator dashboard's worker
    /// list (silent for three periods: shown as not alive; for an hour: forgotten) (≥ 100).
    #[arg(long = "worker-heartbeat-ms", env = "SWATTER_WORKER_HEARTBEAT_MS", default_value = "5000", value_parser = heartbeat)]
    pub worker_heartbeat: Duration,
    /// Attempts before a job fails and its message is dead-lettered (≥ 1).
    #[arg(long = "job-max-attempts", env = "SWATTER_JOB_MAX_ATTEMPTS", default_value = "5", value_parser = config::at_least_one::<i32>)]
    pub max_attempts: i32,
    /// `SWATTER_RETRY_BASE_MS`, `SWATTER_RETRY_FACTOR`, `SWATTER_RETRY_MAX_MS`.
    #[arg(skip)]
    pub backoff: Backoff,
    /// Seconds after which a running job whose lease lapsed (worker gone) is taken over (≥ 2).
    #[arg(long = "job-lease-secs", env = "SWATTER_JOB_LEASE_SECS", default_value = "30", value_parser = lease)]
    pub lease: Duration,
    /// Period, in milliseconds, of the outbox relay's and lease sweeper's safety-net scans.
    #[arg(long = "outbox-sweep-ms", env = "SWATTER_OUTBOX_SWEEP_MS", default_value = "1000", value_parser = config::millis)]
    pub sweep_interval: Duration,
    /// Report jobs a user may have queued, running or retrying at once (creating or retrying
    /// more: 429) (≥ 1).
    #[arg(long, env = "SWATTER_MAX_ACTIVE_JOBS_PER_USER", default_value = "10", value_parser = config::at_least_one::<u32>)]
    pub max_active_jobs_per_user: u32,
    /// Job event streams (`WatchJob`, `GET /v1/jobs/{id}/events`) a user may have open at once,
    /// per reporting process (more: 429) (≥ 1).
    #[arg(long, env = "SWATTER_MAX_STREAMS_PER_USER", default_value = "10", value_parser = config::at_least_one::<u32>)]
    pub max_streams_per_user: u32,
    /// Period, in milliseconds, at which each API process looks for due scheduled reports
    /// (≥ 10).
    #[arg(long = "scheduler-tick-ms", env = "SWATTER_SCHEDULER_TICK_MS", default_value = "1000", value_parser = scheduler_tick)]
    pub scheduler_tick: Duration,
    /// Scheduled reports a user may have (creating more: 429) (≥ 1).
    #[arg(long, env = "SWATTER_MAX_SCHEDULES_PER_USER", default_value = "50", value_parser = config::at_least_one::<u32>)]
    pub max_schedules_per_user: u32,
    /// Where `GET /metrics` (Prometheus text format) listens; `off`: no endpoint.
    #[arg(long, env = "SWATTER_METRICS_ADDR", default_value = "127.0.0.1:9103", value_parser = metrics::metrics_addr)]
    pub metrics_addr: std::option::Option<SocketAddr>,
}

fn lease(raw: &str) -> Result<Duration, String> {
    match config::seconds(raw)? {
        lease if lease < Duration::from_secs(2) => Err("must be at least 2".to_owned()),
        lease => Ok(lease),
    }
}

fn scheduler_tick(raw: &str) -> Result<Duration, String> {
    match config::millis(raw)? {
        tick if tick < Duration::from_millis(10) => Err("must be at least 10".to_owned()),
        tick => Ok(tick),
    }
}

fn heartbeat(raw: &str) -> Result<Duration, String> {
    match config::millis(raw)? {
        period if period < Duration::from_millis(100) => Err("must be at least 100".to_owned()),
        period => Ok(period),
    }
}

/// The object store.
#[derive(Clone, Debug, clap::Args)]
pub struct S3Config {
    /// Where the service reaches the object store.
    #[arg(long = "s3-endpoint", env = "SWATTER_S3_ENDPOINT", default_value = "http://127.0.0.1:9900", value_parser = config::http_url)]
    pub endpoint: String,
    /// `SWATTER_S3_PUBLIC_ENDPOINT`, default the endpoint.
    #[arg(skip)]
    pub public_endpoint: String,
    /// Signing region.
    #[arg(
        long = "s3-region",
        env = "SWATTER_S3_REGION",
        default_value = "us-east-1"
    )]
    pub region: String,
    /// Bucket of the PDFs (created at start if missing).
    #[arg(
        long = "s3-bucket",
        env = "SWATTER_S3_BUCKET",
        default_value = "swatter-reports"
    )]
    pub bucket: String,
    /// `SWATTER_S3_ACCESS_KEY` / `SWATTER_S3_SECRET_KEY`.
    #[arg(skip)]
    pub access_key: String,
    #[arg(skip)]
    pub secret_key: String,
    /// Lifetime of presigned download URLs, in seconds.
    #[arg(long = "presign-ttl-secs", env = "SWATTER_PRESIGN_TTL_SECS", default_value = "900", value_parser = config::seconds)]
    pub presign_ttl: Duration,
}

impl ReportingConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        config::from_env::<ReportingSettings>(env)?.into_config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_these_settings() {
        config::assert_readme_lists::<Cli>(include_str!("../../../README.md"));
    }

    const REQUIRED: [(&str, &str); 3] = [
        ("SWATTER_SERVICE_CLIENT_SECRET", "secret-secret"),
        ("SWATTER_S3_ACCESS_KEY", "a"),
        ("SWATTER_S3_SECRET_KEY", "b"),
    ];

    #[test]
    fn defaults_follow_the_spec() {
        let config = ReportingConfig::from_env(&Env::from_pairs(&REQUIRED)).unwrap();
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.backoff, Backoff::default());
        assert_eq!(config.s3.public_endpoint, config.s3.endpoint);
        assert_eq!(config.addr.port(), 50053);
        assert_eq!(config.max_active_jobs_per_user, 10);
        assert_eq!(config.max_streams_per_user, 10);
        assert_eq!(config.scheduler_tick, Duration::from_secs(1));
        assert_eq!(config.max_schedules_per_user, 50);
        assert_eq!(config.worker_heartbeat, Duration::from_secs(5));
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9103)))
        );
        let mut off = REQUIRED.to_vec();
        off.push(("SWATTER_METRICS_ADDR", "off"));
        assert_eq!(
            ReportingConfig::from_env(&Env::from_pairs(&off))
                .unwrap()
                .metrics_addr,
            None
        );
    }

    #[test]
    fn bad_values_are_named() {
        for (name, value) in [
            ("SWATTER_AMQP_URL", "http://rabbit"),
            ("SWATTER_S3_ENDPOINT", "s3.example.com"),
            ("SWATTER_WORKER_CONCURRENCY", "0"),
            ("SWATTER_JOB_LEASE_SECS", "1"),
            ("SWATTER_WORKER_HEARTBEAT_MS", "10"),
            ("SWATTER_JOB_MAX_ATTEMPTS", "many"),
            ("SWATTER_MAX_ACTIVE_JOBS_PER_USER", "0"),
            ("SWATTER_MAX_STREAMS_PER_USER", "none"),
            ("SWATTER_SCHEDULER_TICK_MS", "5"),
            ("SWATTER_MAX_SCHEDULES_PER_USER", "0"),
            ("SWATTER_METRICS_ADDR", "everywhere"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push((name, value));
            let err = ReportingConfig::from_env(&Env::from_pairs(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = ReportingConfig::from_env(&Env::from_pairs(&REQUIRED[1..])).unwrap_err();
        assert!(err.to_string().contains("SWATTER_SERVICE_CLIENT_SECRET"));
    }
}
