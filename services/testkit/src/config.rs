//! Each service's settings for tests, built in one place: every service on 127.0.0.1:0 with
//! metrics on 127.0.0.1:0, tokens checked against identity at every request (tests see changes
//! at once), and short timings where the production defaults would make a test wait.

use std::{collections::HashMap, net::SocketAddr, time::Duration};

#[cfg(feature = "issues")]
use swatter_common::bootstrap::TokenSettings;
use swatter_identity::config::{BootstrapAdmin, IdentityConfig, IdentityDatabase, ThrottleConfig};
#[cfg(feature = "issues")]
use swatter_issues::config::{IssuesConfig, IssuesDatabase};

use crate::{ADMIN, SERVICE_CLIENT};

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Identity on `database_url` signing with `signing_key_pem`, with the bootstrap admin
/// [`ADMIN`], the service client [`SERVICE_CLIENT`] and no sign-up throttle (tests sign many
/// users up from one address; the throttling tests set their limits).
pub fn identity_for_tests(database_url: &str, signing_key_pem: &str) -> IdentityConfig {
    IdentityConfig {
        addr: any_port(),
        database: IdentityDatabase {
            url: database_url.to_owned(),
            max_connections: 5,
            run_migrations: true,
        },
        signing_key_pem: signing_key_pem.to_owned(),
        verify_key_pems: Vec::new(),
        issuer: "swatter".into(),
        audience: "swatter".into(),
        access_token_ttl: Duration::from_secs(900),
        refresh_token_ttl: Duration::from_secs(3600),
        signup_enabled: true,
        pat_allow_no_expiry: false,
        bootstrap_admin: Some(BootstrapAdmin {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
            email: "admin@swatter.test".into(),
        }),
        service_clients: HashMap::from([(
            SERVICE_CLIENT.0.to_owned(),
            SERVICE_CLIENT.1.to_owned(),
        )]),
        password_hash_concurrency: 2,
        metrics_addr: Some(any_port()),
        throttle: ThrottleConfig {
            signups_per_client_per_hour: 0,
            ..ThrottleConfig::default()
        },
    }
}

/// Issues on `database_url`, verifying tokens with the identity service at `identity_url`.
#[cfg(feature = "issues")]
pub fn issues_for_tests(database_url: &str, identity_url: &str) -> IssuesConfig {
    IssuesConfig {
        addr: any_port(),
        database: IssuesDatabase {
            url: database_url.to_owned(),
            max_connections: 10,
            run_migrations: true,
        },
        identity_url: identity_url.to_owned(),
        tokens: TokenSettings {
            issuer: "swatter".into(),
            audience: "swatter".into(),
            session_check_interval: Duration::ZERO,
        },
        metrics_addr: Some(any_port()),
        changes: swatter_issues::config::ChangeFeedSettings {
            amqp_url: crate::amqp_url(),
            // Each test publishes to its own exchange, so that no test consumes another's events.
            events_exchange: format!("swatter.test.events.{}", uuid::Uuid::new_v4().simple()),
            retention_days: 30,
            stream_buffer: 256,
            stream_lag: Duration::from_secs(10),
        },
        // No object store until a test asks for one (`Stack::issues_with_s3`); the keys are the
        // test store's.
        attachments: swatter_issues::config::AttachmentSettings {
            s3_endpoint: "http://127.0.0.1:9".into(),
            s3_public_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key: Some(crate::S3_KEY.into()),
            s3_secret_key: Some(crate::S3_SECRET.into()),
            bucket: "swatter-attachments".into(),
            max_file_bytes: 25 * 1024 * 1024,
            max_per_issue: 100,
            project_quota_bytes: 1024 * 1024 * 1024,
            upload_url_ttl: Duration::from_secs(300),
            pending_ttl: Duration::from_secs(3600),
            download_ttl: Duration::from_secs(300),
            thumbnail_max_pixels: 40_000_000,
            sweep_interval: Duration::from_millis(200),
        },
    }
}

/// Reporting on `database_url`, the broker namespace `broker` and the object store at
/// `s3_endpoint`, calling identity and issues at their URLs as the service client
/// [`SERVICE_CLIENT`]; retries, leases and sweeps take fractions of a second.
#[cfg(feature = "reporting")]
pub fn reporting_for_tests(
    database_url: &str,
    broker: &crate::Broker,
    s3_endpoint: &str,
    identity_url: &str,
    issues_url: &str,
) -> swatter_reporting::config::ReportingConfig {
    use swatter_reporting::{
        config::{ReportingConfig, ReportingDatabase, S3Config},
        domain::Backoff,
    };
    ReportingConfig {
        addr: any_port(),
        database: ReportingDatabase {
            url: database_url.to_owned(),
            max_connections: 10,
            run_migrations: true,
        },
        amqp_url: broker.amqp_url.clone(),
        queue_prefix: broker.queue_prefix.clone(),
        events_exchange: broker.events_exchange(),
        identity_url: identity_url.to_owned(),
        issues_url: issues_url.to_owned(),
        tokens: TokenSettings {
            issuer: "swatter".into(),
            audience: "swatter".into(),
            session_check_interval: Duration::ZERO,
        },
        service_client_id: SERVICE_CLIENT.0.into(),
        service_client_secret: SERVICE_CLIENT.1.into(),
        s3: S3Config {
            endpoint: s3_endpoint.to_owned(),
            public_endpoint: s3_endpoint.to_owned(),
            region: "us-east-1".into(),
            bucket: "swatter-reports".into(),
            access_key: crate::S3_KEY.into(),
            secret_key: crate::S3_SECRET.into(),
            presign_ttl: Duration::from_secs(300),
        },
        worker_concurrency: 2,
        worker_heartbeat: Duration::from_millis(500),
        max_attempts: 5,
        backoff: Backoff {
            base: Duration::from_millis(200),
            factor: 2,
            cap: Duration::from_secs(2),
        },
        lease: Duration::from_secs(3),
        sweep_interval: Duration::from_millis(200),
        max_active_jobs_per_user: 10,
        max_streams_per_user: 10,
        scheduler_tick: Duration::from_millis(50),
        max_schedules_per_user: 50,
        metrics_addr: Some(any_port()),
    }
}

/// The environment a `swatter-reporting` process needs to run with `config` (e.g. a worker
/// joining a test's stack): the counterpart of [`reporting_for_tests`] for a child process.
#[cfg(feature = "reporting")]
pub fn reporting_env(config: &swatter_reporting::config::ReportingConfig) -> Vec<(String, String)> {
    let c = config;
    [
        ("SWATTER_REPORTING_ADDR", "127.0.0.1:0".to_owned()),
        ("SWATTER_REPORTING_DATABASE_URL", c.database.url.clone()),
        ("SWATTER_AMQP_URL", c.amqp_url.clone()),
        ("SWATTER_QUEUE_PREFIX", c.queue_prefix.clone()),
        ("SWATTER_EVENTS_EXCHANGE", c.events_exchange.clone()),
        ("SWATTER_IDENTITY_URL", c.identity_url.clone()),
        ("SWATTER_ISSUES_URL", c.issues_url.clone()),
        ("SWATTER_SERVICE_CLIENT_ID", c.service_client_id.clone()),
        (
            "SWATTER_SERVICE_CLIENT_SECRET",
            c.service_client_secret.clone(),
        ),
        ("SWATTER_S3_ENDPOINT", c.s3.endpoint.clone()),
        ("SWATTER_S3_ACCESS_KEY", c.s3.access_key.clone()),
        ("SWATTER_S3_SECRET_KEY", c.s3.secret_key.clone()),
        ("SWATTER_S3_BUCKET", c.s3.bucket.clone()),
        ("SWATTER_JOB_LEASE_SECS", c.lease.as_secs().to_string()),
        (
            "SWATTER_WORKER_HEARTBEAT_MS",
            c.worker_heartbeat.as_millis().to_string(),
        ),
        (
            "SWATTER_RETRY_BASE_MS",
            c.backoff.base.as_millis().to_string(),
        ),
        (
            "SWATTER_RETRY_MAX_MS",
            c.backoff.cap.as_millis().to_string(),
        ),
        (
            "SWATTER_OUTBOX_SWEEP_MS",
            c.sweep_interval.as_millis().to_string(),
        ),
        (
            "SWATTER_MAX_ACTIVE_JOBS_PER_USER",
            c.max_active_jobs_per_user.to_string(),
        ),
        (
            "SWATTER_SCHEDULER_TICK_MS",
            c.scheduler_tick.as_millis().to_string(),
        ),
        ("SWATTER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Webhooks on `database_url` and the broker namespace `broker` (its events exchange and queue),
/// calling identity and issues at their URLs; deliveries may reach 127.0.0.1, retries follow a
/// compressed schedule (0.2 s, 0.4 s, 0.8 s), an attempt times out after 2 s and a lapsed lease
/// is taken over after 3 s.
#[cfg(feature = "webhooks")]
pub fn webhooks_for_tests(
    database_url: &str,
    broker: &crate::Broker,
    identity_url: &str,
    issues_url: &str,
) -> swatter_webhooks::config::WebhooksConfig {
    use swatter_webhooks::config::{WebhooksConfig, WebhooksDatabase};
    WebhooksConfig {
        addr: any_port(),
        database: WebhooksDatabase {
            url: database_url.to_owned(),
            max_connections: 10,
            run_migrations: true,
        },
        amqp_url: broker.amqp_url.clone(),
        events_exchange: broker.events_exchange(),
        queue_prefix: broker.queue_prefix.clone(),
        identity_url: identity_url.to_owned(),
        issues_url: issues_url.to_owned(),
        tokens: TokenSettings {
            issuer: "swatter".into(),
            audience: "swatter".into(),
            session_check_interval: Duration::ZERO,
        },
        retry_schedule: "200ms,400ms,800ms".parse().expect("a schedule"),
        timeout: Duration::from_secs(2),
        address_policy: "127.0.0.1/32".parse().expect("a network"),
        lease: Duration::from_secs(3),
        concurrency: 16,
        log_retention: Duration::from_secs(30 * 24 * 3600),
        sweep_interval: Duration::from_millis(200),
        metrics_addr: Some(any_port()),
    }
}

/// The environment a `swatter-webhooks` process needs to run with `config` (a child process
/// joining a test's stack).
#[cfg(feature = "webhooks")]
pub fn webhooks_env(config: &swatter_webhooks::config::WebhooksConfig) -> Vec<(String, String)> {
    let c = config;
    [
        ("SWATTER_WEBHOOKS_ADDR", "127.0.0.1:0".to_owned()),
        ("SWATTER_WEBHOOKS_DATABASE_URL", c.database.url.clone()),
        ("SWATTER_AMQP_URL", c.amqp_url.clone()),
        ("SWATTER_EVENTS_EXCHANGE", c.events_exchange.clone()),
        ("SWATTER_QUEUE_PREFIX", c.queue_prefix.clone()),
        ("SWATTER_IDENTITY_URL", c.identity_url.clone()),
        ("SWATTER_ISSUES_URL", c.issues_url.clone()),
        (
            "SWATTER_WEBHOOK_RETRY_SCHEDULE",
            c.retry_schedule.to_string(),
        ),
        (
            "SWATTER_WEBHOOK_TIMEOUT_MS",
            c.timeout.as_millis().to_string(),
        ),
        (
            "SWATTER_WEBHOOK_ALLOW_NETWORKS",
            c.address_policy
                .allowed
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("SWATTER_WEBHOOK_LEASE_SECS", c.lease.as_secs().to_string()),
        ("SWATTER_WEBHOOK_CONCURRENCY", c.concurrency.to_string()),
        (
            "SWATTER_WEBHOOK_LOG_RETENTION_DAYS",
            (c.log_retention.as_secs() / (24 * 3600)).max(1).to_string(),
        ),
        (
            "SWATTER_OUTBOX_SWEEP_MS",
            c.sweep_interval.as_millis().to_string(),
        ),
        ("SWATTER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The gateway in front of identity, issues and reporting at these addresses, with the
/// production defaults otherwise.
#[cfg(feature = "gateway")]
pub fn gateway_for_tests(
    identity: SocketAddr,
    issues: SocketAddr,
    reporting: SocketAddr,
) -> swatter_gateway::config::GatewayConfig {
    swatter_gateway::config::GatewayConfig {
        addr: any_port(),
        identity_url: format!("http://{identity}").parse().expect("identity URL"),
        issues_url: format!("http://{issues}").parse().expect("issues URL"),
        reporting_url: format!("http://{reporting}")
            .parse()
            .expect("reporting URL"),
        // Without a webhooks service in the stack, readiness asks issues in its place (as for
        // reporting); webhook routes are then not usable.
        webhooks_url: format!("http://{issues}").parse().expect("webhooks URL"),
        jwt_issuer: "swatter".into(),
        jwt_audience: "swatter".into(),
        trusted_proxy_hops: 0,
        request_timeout: Duration::from_secs(30),
        metrics_addr: Some(any_port()),
    }
}
