//! The gateway's settings: each variable's name, default and help are declared once, below; the
//! README's table is generated from them (`swatter-gateway config-reference`).

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use clap::ArgAction;
use http::Uri;
use swatter_common::{
    config::{self, ConfigError, Env, Source},
    metrics,
    telemetry::TelemetrySettings,
};

/// `swatter-gateway`: the REST face of swatter.
#[derive(clap::Parser)]
#[command(name = "swatter-gateway")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: GatewaySettings,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the gateway (the default).
    Serve,
    /// Print the settings as the README's Markdown table.
    ConfigReference,
}

/// Everything the gateway reads.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewaySettings {
    #[command(flatten)]
    pub config: GatewayConfig,
    /// Proxies in front of the gateway that append to `X-Forwarded-For`; the client address is
    /// the entry the outermost one added (the n-th from the right; entries left of it are the
    /// client's own and ignored). `0` (the default): the header is ignored and the TCP peer is
    /// the client.
    #[arg(long, env = "SWATTER_TRUSTED_PROXY_HOPS")]
    trusted_proxy_hops: Option<usize>,
    /// Older form of the above: `true` means one hop when `SWATTER_TRUSTED_PROXY_HOPS` is unset.
    #[arg(long, env = "SWATTER_TRUST_FORWARDED_FOR", default_value = "false", value_parser = config::flag, action = ArgAction::Set)]
    trust_forwarded_for: bool,
    #[command(flatten)]
    pub telemetry: TelemetrySettings,
}

impl GatewaySettings {
    /// The configuration these settings make.
    pub fn into_config(self) -> GatewayConfig {
        GatewayConfig {
            trusted_proxy_hops: self
                .trusted_proxy_hops
                .unwrap_or(usize::from(self.trust_forwarded_for)),
            ..self.config
        }
    }
}

/// Everything the gateway needs to start.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayConfig {
    /// Listen address (REST).
    #[arg(
        long = "gateway-addr",
        env = "SWATTER_GATEWAY_ADDR",
        default_value = "127.0.0.1:8080"
    )]
    pub addr: SocketAddr,
    /// Identity's gRPC endpoint.
    #[arg(
        long,
        env = "SWATTER_IDENTITY_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub identity_url: UpstreamUrl,
    /// Issues' gRPC endpoint.
    #[arg(
        long,
        env = "SWATTER_ISSUES_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub issues_url: UpstreamUrl,
    /// Reporting's gRPC endpoint.
    #[arg(
        long,
        env = "SWATTER_REPORTING_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub reporting_url: UpstreamUrl,
    /// Webhooks' gRPC endpoint.
    #[arg(
        long,
        env = "SWATTER_WEBHOOKS_URL",
        default_value = "http://127.0.0.1:50054"
    )]
    pub webhooks_url: UpstreamUrl,
    /// `iss` of access tokens (identity writes it, the others check it).
    #[arg(long, env = "SWATTER_JWT_ISSUER", default_value = "swatter")]
    pub jwt_issuer: String,
    /// `aud` of access tokens.
    #[arg(long, env = "SWATTER_JWT_AUDIENCE", default_value = "swatter")]
    pub jwt_audience: String,
    /// `SWATTER_TRUSTED_PROXY_HOPS` (or `SWATTER_TRUST_FORWARDED_FOR`).
    #[arg(skip)]
    pub trusted_proxy_hops: usize,
    /// Per-request deadline, in seconds; past it the answer is 504.
    #[arg(long = "request-timeout-secs", env = "SWATTER_REQUEST_TIMEOUT_SECS", default_value = "30", value_parser = config::positive_seconds)]
    pub request_timeout: Duration,
    /// Where `GET /metrics` (Prometheus text format) listens; `off`: no endpoint.
    #[arg(long, env = "SWATTER_METRICS_ADDR", default_value = "127.0.0.1:9100", value_parser = metrics::metrics_addr)]
    pub metrics_addr: std::option::Option<SocketAddr>,
}

impl GatewayConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        Ok(config::from_env::<GatewaySettings>(env)?.into_config())
    }
}

/// The `http://` or `https://` address of a gRPC service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl(Uri);

impl UpstreamUrl {
    pub fn uri(&self) -> &Uri {
        &self.0
    }
}

impl FromStr for UpstreamUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let url = config::http_url(raw)?;
        Ok(UpstreamUrl(
            url.parse().map_err(|e| format!("not a URL: {e}"))?,
        ))
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_these_settings() {
        config::assert_readme_lists::<Cli>(include_str!("../../README.md"));
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = GatewayConfig::from_env(&Env::from_pairs(&[])).unwrap();
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.identity_url.to_string(), "http://127.0.0.1:50051/");
        assert_eq!(config.issues_url.to_string(), "http://127.0.0.1:50052/");
        assert_eq!(config.reporting_url.to_string(), "http://127.0.0.1:50053/");
        assert_eq!(config.webhooks_url.to_string(), "http://127.0.0.1:50054/");
        assert_eq!(config.jwt_issuer, "swatter");
        assert_eq!(config.jwt_audience, "swatter");
        assert_eq!(config.trusted_proxy_hops, 0);
        assert_eq!(config.request_timeout, Duration::from_secs(30));
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9100)))
        );
    }

    #[test]
    fn each_malformed_value_names_its_variable() {
        for (name, value) in [
            ("SWATTER_GATEWAY_ADDR", "localhost"),
            ("SWATTER_IDENTITY_URL", "127.0.0.1:50051"),
            ("SWATTER_IDENTITY_URL", "ftp://identity:50051"),
            ("SWATTER_ISSUES_URL", "issues:50052"),
            ("SWATTER_REPORTING_URL", "reporting"),
            ("SWATTER_WEBHOOKS_URL", "webhooks:50054"),
            ("SWATTER_TRUSTED_PROXY_HOPS", "-1"),
            ("SWATTER_TRUSTED_PROXY_HOPS", "one"),
            ("SWATTER_TRUST_FORWARDED_FOR", "perhaps"),
            ("SWATTER_REQUEST_TIMEOUT_SECS", "0"),
            ("SWATTER_REQUEST_TIMEOUT_SECS", "-1"),
            ("SWATTER_METRICS_ADDR", "localhost"),
            ("SWATTER_METRICS_ADDR", "9100"),
        ] {
            let err = GatewayConfig::from_env(&Env::from_pairs(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn set_values_are_used() {
        let config = GatewayConfig::from_env(&Env::from_pairs(&[
            ("SWATTER_GATEWAY_ADDR", "0.0.0.0:9000"),
            ("SWATTER_IDENTITY_URL", "https://identity.internal:443"),
            ("SWATTER_ISSUES_URL", "http://issues.internal:50052"),
            ("SWATTER_REPORTING_URL", "http://reporting.internal:50053"),
            ("SWATTER_WEBHOOKS_URL", "http://webhooks.internal:50054"),
            ("SWATTER_TRUSTED_PROXY_HOPS", "2"),
            ("SWATTER_REQUEST_TIMEOUT_SECS", "5"),
            ("SWATTER_METRICS_ADDR", "off"),
        ]))
        .unwrap();
        assert_eq!(config.addr.port(), 9000);
        assert_eq!(config.identity_url.uri().host(), Some("identity.internal"));
        assert_eq!(config.issues_url.uri().host(), Some("issues.internal"));
        assert_eq!(
            config.reporting_url.uri().host(),
            Some("reporting.internal")
        );
        assert_eq!(config.webhooks_url.uri().host(), Some("webhooks.internal"));
        assert_eq!(config.trusted_proxy_hops, 2);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.metrics_addr, None);
    }

    #[test]
    fn trusting_forwarded_for_is_one_hop_unless_the_hops_are_given() {
        let hops = |pairs: &[(&str, &str)]| {
            GatewayConfig::from_env(&Env::from_pairs(pairs))
                .unwrap()
                .trusted_proxy_hops
        };
        assert_eq!(hops(&[("SWATTER_TRUST_FORWARDED_FOR", "true")]), 1);
        assert_eq!(hops(&[("SWATTER_TRUST_FORWARDED_FOR", "false")]), 0);
        assert_eq!(
            hops(&[
                ("SWATTER_TRUST_FORWARDED_FOR", "true"),
                ("SWATTER_TRUSTED_PROXY_HOPS", "3")
            ]),
            3
        );
    }
}
