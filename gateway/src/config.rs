//! The gateway's settings, read from the environment. A malformed value stops start with a
//! message naming the variable.

use std::{fmt, net::SocketAddr, str::FromStr, time::Duration};

use http::Uri;
use swatter_common::{
    config::{ConfigError, Env, Source},
    metrics,
};

/// Everything the gateway needs to start.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// `SWATTER_GATEWAY_ADDR`, default `127.0.0.1:8080`.
    pub addr: SocketAddr,
    /// `SWATTER_IDENTITY_URL`, default `http://127.0.0.1:50051`.
    pub identity_url: UpstreamUrl,
    /// `SWATTER_ISSUES_URL`, default `http://127.0.0.1:50052`.
    pub issues_url: UpstreamUrl,
    /// `SWATTER_REPORTING_URL`, default `http://127.0.0.1:50053`.
    pub reporting_url: UpstreamUrl,
    /// `SWATTER_JWT_ISSUER`, default `swatter`.
    pub jwt_issuer: String,
    /// `SWATTER_JWT_AUDIENCE`, default `swatter`.
    pub jwt_audience: String,
    /// `SWATTER_TRUSTED_PROXY_HOPS`: how many proxies in front of the gateway append to
    /// `X-Forwarded-For`; the client is the entry the outermost of them added (the `n`-th from the
    /// right). Default 0: the header is ignored and the TCP peer is the client.
    /// `SWATTER_TRUST_FORWARDED_FOR=true` (the older setting) means 1 when this one is unset.
    pub trusted_proxy_hops: usize,
    /// `SWATTER_REQUEST_TIMEOUT_SECS`: longest a request may take, default 30.
    pub request_timeout: Duration,
    /// `SWATTER_METRICS_ADDR`: where `GET /metrics` listens, default `127.0.0.1:9100`; `off`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
}

impl GatewayConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        let request_timeout =
            env.seconds("SWATTER_REQUEST_TIMEOUT_SECS", Duration::from_secs(30))?;
        if request_timeout.is_zero() {
            return Err(ConfigError::malformed(
                "SWATTER_REQUEST_TIMEOUT_SECS",
                "0",
                "must be at least 1 second",
            ));
        }
        let trust_forwarded_for = env.flag("SWATTER_TRUST_FORWARDED_FOR", false)?;
        let trusted_proxy_hops = env.or(
            "SWATTER_TRUSTED_PROXY_HOPS",
            usize::from(trust_forwarded_for),
        )?;
        Ok(GatewayConfig {
            addr: env.or(
                "SWATTER_GATEWAY_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
            )?,
            identity_url: env.or(
                "SWATTER_IDENTITY_URL",
                UpstreamUrl::from_static("http://127.0.0.1:50051"),
            )?,
            issues_url: env.or(
                "SWATTER_ISSUES_URL",
                UpstreamUrl::from_static("http://127.0.0.1:50052"),
            )?,
            reporting_url: env.or(
                "SWATTER_REPORTING_URL",
                UpstreamUrl::from_static("http://127.0.0.1:50053"),
            )?,
            jwt_issuer: env.or("SWATTER_JWT_ISSUER", "swatter".to_owned())?,
            jwt_audience: env.or("SWATTER_JWT_AUDIENCE", "swatter".to_owned())?,
            trusted_proxy_hops,
            request_timeout,
            metrics_addr: metrics::metrics_addr(env, SocketAddr::from(([127, 0, 0, 1], 9100)))?,
        })
    }
}

/// The `http://` or `https://` address of a gRPC service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl(Uri);

impl UpstreamUrl {
    fn from_static(url: &'static str) -> Self {
        UpstreamUrl(Uri::from_static(url))
    }

    pub fn uri(&self) -> &Uri {
        &self.0
    }
}

impl FromStr for UpstreamUrl {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let uri: Uri = raw.parse().map_err(|e| format!("not a URL: {e}"))?;
        match uri.scheme_str() {
            Some("http" | "https") if uri.authority().is_some() => Ok(UpstreamUrl(uri)),
            _ => Err("expected http://host:port or https://host:port".to_owned()),
        }
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
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let config = GatewayConfig::from_env(&env(&[])).unwrap();
        assert_eq!(config.addr, SocketAddr::from(([127, 0, 0, 1], 8080)));
        assert_eq!(config.identity_url.to_string(), "http://127.0.0.1:50051/");
        assert_eq!(config.issues_url.to_string(), "http://127.0.0.1:50052/");
        assert_eq!(config.reporting_url.to_string(), "http://127.0.0.1:50053/");
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
            ("SWATTER_TRUSTED_PROXY_HOPS", "-1"),
            ("SWATTER_TRUSTED_PROXY_HOPS", "one"),
            ("SWATTER_TRUST_FORWARDED_FOR", "perhaps"),
            ("SWATTER_REQUEST_TIMEOUT_SECS", "0"),
            ("SWATTER_REQUEST_TIMEOUT_SECS", "-1"),
            ("SWATTER_METRICS_ADDR", "localhost"),
            ("SWATTER_METRICS_ADDR", "9100"),
        ] {
            let err = GatewayConfig::from_env(&env(&[(name, value)])).unwrap_err();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }

    #[test]
    fn set_values_are_used() {
        let config = GatewayConfig::from_env(&env(&[
            ("SWATTER_GATEWAY_ADDR", "0.0.0.0:9000"),
            ("SWATTER_IDENTITY_URL", "https://identity.internal:443"),
            ("SWATTER_ISSUES_URL", "http://issues.internal:50052"),
            ("SWATTER_REPORTING_URL", "http://reporting.internal:50053"),
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
        assert_eq!(config.trusted_proxy_hops, 2);
        assert_eq!(config.request_timeout, Duration::from_secs(5));
        assert_eq!(config.metrics_addr, None);
    }

    #[test]
    fn trusting_forwarded_for_is_one_hop_unless_the_hops_are_given() {
        let hops = |pairs: &[(&str, &str)]| {
            GatewayConfig::from_env(&env(pairs))
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
