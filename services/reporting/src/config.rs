//! The reporting service's settings, read from the environment (see the README's table).

use std::{net::SocketAddr, time::Duration};

use swatter_common::{
    auth,
    config::{ConfigError, Env, Source},
    metrics,
};

use crate::domain::Backoff;

/// Everything the reporting API and worker need.
#[derive(Clone, Debug)]
pub struct ReportingConfig {
    /// `SWATTER_REPORTING_ADDR`, default `127.0.0.1:50053`.
    pub addr: SocketAddr,
    /// `SWATTER_REPORTING_DATABASE_URL`.
    pub database_url: String,
    /// `SWATTER_DATABASE_MAX_CONNECTIONS`, default 10.
    pub database_max_connections: u32,
    /// `SWATTER_MIGRATE`, default true.
    pub run_migrations: bool,
    /// `SWATTER_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672/%2f`.
    pub amqp_url: String,
    /// `SWATTER_QUEUE_PREFIX`, default `swatter.reports`: names of the exchanges and queues.
    pub queue_prefix: String,
    /// `SWATTER_IDENTITY_URL` / `SWATTER_ISSUES_URL`.
    pub identity_url: String,
    pub issues_url: String,
    /// `SWATTER_JWT_ISSUER` / `SWATTER_JWT_AUDIENCE`.
    pub issuer: String,
    pub audience: String,
    /// `SWATTER_SESSION_CHECK_SECS`, default 10: how often a token's session is asked again.
    pub session_check_interval: Duration,
    /// `SWATTER_SERVICE_CLIENT_ID` / `SWATTER_SERVICE_CLIENT_SECRET`: the worker's credential.
    pub service_client_id: String,
    pub service_client_secret: String,
    pub s3: S3Config,
    /// `SWATTER_WORKER_CONCURRENCY`, default 2: renders at once, and the prefetch.
    pub worker_concurrency: u16,
    /// `SWATTER_JOB_MAX_ATTEMPTS`, default 5.
    pub max_attempts: i32,
    /// `SWATTER_RETRY_BASE_MS` (1000), `SWATTER_RETRY_FACTOR` (2), `SWATTER_RETRY_MAX_MS` (60000).
    pub backoff: Backoff,
    /// `SWATTER_JOB_LEASE_SECS`, default 30: a running job whose lease lapses is taken over.
    pub lease: Duration,
    /// `SWATTER_OUTBOX_SWEEP_MS`, default 1000: the relay's and the lease sweeper's safety-net period.
    pub sweep_interval: Duration,
    /// `SWATTER_MAX_ACTIVE_JOBS_PER_USER`, default 10: a user's jobs queued, running or retrying
    /// at once; more are refused with `RESOURCE_EXHAUSTED` (REST 429).
    pub max_active_jobs_per_user: u32,
    /// `SWATTER_MAX_STREAMS_PER_USER`, default 10: a user's `WatchJob` streams (REST: job event
    /// streams) open at once in one reporting process.
    pub max_streams_per_user: u32,
    /// `SWATTER_METRICS_ADDR`: where `GET /metrics` listens, default `127.0.0.1:9103`; `off`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
}

/// The object store.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `SWATTER_S3_ENDPOINT`: where the services reach the store, default `http://127.0.0.1:9900`.
    pub endpoint: String,
    /// `SWATTER_S3_PUBLIC_ENDPOINT`: the host presigned URLs name (reachable by clients), default the endpoint.
    pub public_endpoint: String,
    /// `SWATTER_S3_REGION`, default `us-east-1`.
    pub region: String,
    /// `SWATTER_S3_BUCKET`, default `swatter-reports`.
    pub bucket: String,
    /// `SWATTER_S3_ACCESS_KEY` / `SWATTER_S3_SECRET_KEY`.
    pub access_key: String,
    pub secret_key: String,
    /// `SWATTER_PRESIGN_TTL_SECS`, default 900.
    pub presign_ttl: Duration,
}

fn url<S: Source>(
    env: &Env<S>,
    name: &str,
    default: &str,
    schemes: &[&str],
) -> Result<String, ConfigError> {
    let value: String = env.or(name, default.to_owned())?;
    if schemes.iter().any(|scheme| value.starts_with(scheme)) {
        Ok(value)
    } else {
        Err(ConfigError::malformed(
            name,
            &value,
            format!("expected a URL starting with {}", schemes.join(" or ")),
        ))
    }
}

impl ReportingConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        let http = &["http://", "https://"];
        let endpoint = url(env, "SWATTER_S3_ENDPOINT", "http://127.0.0.1:9900", http)?;
        let public_endpoint = match env.raw("SWATTER_S3_PUBLIC_ENDPOINT") {
            Some(_) => url(env, "SWATTER_S3_PUBLIC_ENDPOINT", "", http)?,
            None => endpoint.clone(),
        };
        let concurrency: u16 = env.or("SWATTER_WORKER_CONCURRENCY", 2)?;
        if concurrency == 0 {
            return Err(ConfigError::malformed(
                "SWATTER_WORKER_CONCURRENCY",
                "0",
                "must be at least 1",
            ));
        }
        let max_attempts: i32 = env.or("SWATTER_JOB_MAX_ATTEMPTS", 5)?;
        if max_attempts < 1 {
            return Err(ConfigError::malformed(
                "SWATTER_JOB_MAX_ATTEMPTS",
                &max_attempts.to_string(),
                "must be at least 1",
            ));
        }
        let lease = env.seconds("SWATTER_JOB_LEASE_SECS", Duration::from_secs(30))?;
        if lease < Duration::from_secs(2) {
            return Err(ConfigError::malformed(
                "SWATTER_JOB_LEASE_SECS",
                &lease.as_secs().to_string(),
                "must be at least 2",
            ));
        }
        let at_least_one = |name: &str, default: u32| -> Result<u32, ConfigError> {
            let value: u32 = env.or(name, default)?;
            if value == 0 {
                return Err(ConfigError::malformed(name, "0", "must be at least 1"));
            }
            Ok(value)
        };
        let max_active_jobs_per_user = at_least_one("SWATTER_MAX_ACTIVE_JOBS_PER_USER", 10)?;
        let max_streams_per_user = at_least_one("SWATTER_MAX_STREAMS_PER_USER", 10)?;
        Ok(ReportingConfig {
            addr: env.or(
                "SWATTER_REPORTING_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 50053)),
            )?,
            database_url: env.or(
                "SWATTER_REPORTING_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/swatter_reporting".to_owned(),
            )?,
            database_max_connections: env.or("SWATTER_DATABASE_MAX_CONNECTIONS", 10)?,
            run_migrations: env.flag("SWATTER_MIGRATE", true)?,
            amqp_url: url(
                env,
                "SWATTER_AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
                &["amqp://", "amqps://"],
            )?,
            queue_prefix: env.or("SWATTER_QUEUE_PREFIX", "swatter.reports".to_owned())?,
            identity_url: url(env, "SWATTER_IDENTITY_URL", "http://127.0.0.1:50051", http)?,
            issues_url: url(env, "SWATTER_ISSUES_URL", "http://127.0.0.1:50052", http)?,
            issuer: env.or("SWATTER_JWT_ISSUER", "swatter".to_owned())?,
            audience: env.or("SWATTER_JWT_AUDIENCE", "swatter".to_owned())?,
            session_check_interval: auth::session_check_interval(env)?,
            service_client_id: env.or("SWATTER_SERVICE_CLIENT_ID", "reporting".to_owned())?,
            service_client_secret: env.required("SWATTER_SERVICE_CLIENT_SECRET")?,
            s3: S3Config {
                endpoint,
                public_endpoint,
                region: env.or("SWATTER_S3_REGION", "us-east-1".to_owned())?,
                bucket: env.or("SWATTER_S3_BUCKET", "swatter-reports".to_owned())?,
                access_key: env.required("SWATTER_S3_ACCESS_KEY")?,
                secret_key: env.required("SWATTER_S3_SECRET_KEY")?,
                presign_ttl: env.seconds("SWATTER_PRESIGN_TTL_SECS", Duration::from_secs(900))?,
            },
            worker_concurrency: concurrency,
            max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(env.or("SWATTER_RETRY_BASE_MS", 1000)?),
                factor: env.or("SWATTER_RETRY_FACTOR", 2)?,
                cap: Duration::from_millis(env.or("SWATTER_RETRY_MAX_MS", 60_000)?),
            },
            lease,
            sweep_interval: Duration::from_millis(env.or("SWATTER_OUTBOX_SWEEP_MS", 1000)?),
            max_active_jobs_per_user,
            max_streams_per_user,
            metrics_addr: metrics::metrics_addr(env, SocketAddr::from(([127, 0, 0, 1], 9103)))?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    const REQUIRED: [(&str, &str); 3] = [
        ("SWATTER_SERVICE_CLIENT_SECRET", "secret-secret"),
        ("SWATTER_S3_ACCESS_KEY", "a"),
        ("SWATTER_S3_SECRET_KEY", "b"),
    ];

    #[test]
    fn defaults_follow_the_spec() {
        let config = ReportingConfig::from_env(&env(&REQUIRED)).unwrap();
        assert_eq!(config.max_attempts, 5);
        assert_eq!(config.backoff, Backoff::default());
        assert_eq!(config.s3.public_endpoint, config.s3.endpoint);
        assert_eq!(config.addr.port(), 50053);
        assert_eq!(config.max_active_jobs_per_user, 10);
        assert_eq!(config.max_streams_per_user, 10);
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9103)))
        );
        let mut off = REQUIRED.to_vec();
        off.push(("SWATTER_METRICS_ADDR", "off"));
        assert_eq!(
            ReportingConfig::from_env(&env(&off)).unwrap().metrics_addr,
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
            ("SWATTER_JOB_MAX_ATTEMPTS", "many"),
            ("SWATTER_MAX_ACTIVE_JOBS_PER_USER", "0"),
            ("SWATTER_MAX_STREAMS_PER_USER", "none"),
            ("SWATTER_METRICS_ADDR", "everywhere"),
        ] {
            let mut pairs = REQUIRED.to_vec();
            pairs.push((name, value));
            let err = ReportingConfig::from_env(&env(&pairs)).unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
        let err = ReportingConfig::from_env(&env(&REQUIRED[1..])).unwrap_err();
        assert!(err.to_string().contains("SWATTER_SERVICE_CLIENT_SECRET"));
    }
}
