//! The issues service's settings, read from the environment (see the README's configuration table).

use std::{net::SocketAddr, time::Duration};

use swatter_common::{
    auth,
    config::{ConfigError, Env, Source},
    metrics,
};

#[derive(Clone)]
pub struct IssuesConfig {
    /// `SWATTER_ISSUES_ADDR`, default `127.0.0.1:50052`.
    pub addr: SocketAddr,
    /// `SWATTER_ISSUES_DATABASE_URL`.
    pub database_url: String,
    /// `SWATTER_DATABASE_MAX_CONNECTIONS`, default 10.
    pub database_max_connections: u32,
    /// `SWATTER_MIGRATE`, default true.
    pub run_migrations: bool,
    /// `SWATTER_IDENTITY_URL`, default `http://127.0.0.1:50051`.
    pub identity_url: String,
    /// `SWATTER_JWT_ISSUER` / `SWATTER_JWT_AUDIENCE`, default `swatter`.
    pub issuer: String,
    pub audience: String,
    /// `SWATTER_SESSION_CHECK_SECS`, default 10: how often a token's session is asked again.
    pub session_check_interval: Duration,
    /// `SWATTER_METRICS_ADDR`: where `GET /metrics` listens, default `127.0.0.1:9102`; `off`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
}

impl IssuesConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        let identity_url: String =
            env.or("SWATTER_IDENTITY_URL", "http://127.0.0.1:50051".to_owned())?;
        if !(identity_url.starts_with("http://") || identity_url.starts_with("https://")) {
            return Err(ConfigError::malformed(
                "SWATTER_IDENTITY_URL",
                &identity_url,
                "expected an http:// or https:// URL",
            ));
        }
        Ok(IssuesConfig {
            addr: env.or(
                "SWATTER_ISSUES_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 50052)),
            )?,
            database_url: env.or(
                "SWATTER_ISSUES_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/swatter_issues".to_owned(),
            )?,
            database_max_connections: env.or("SWATTER_DATABASE_MAX_CONNECTIONS", 10)?,
            run_migrations: env.flag("SWATTER_MIGRATE", true)?,
            identity_url,
            issuer: env.or("SWATTER_JWT_ISSUER", "swatter".to_owned())?,
            audience: env.or("SWATTER_JWT_AUDIENCE", "swatter".to_owned())?,
            session_check_interval: auth::session_check_interval(env)?,
            metrics_addr: metrics::metrics_addr(env, SocketAddr::from(([127, 0, 0, 1], 9102)))?,
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

    #[test]
    fn the_metrics_address_defaults_can_be_turned_off_and_is_named_when_malformed() {
        let config = IssuesConfig::from_env(&env(&[])).unwrap();
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9102)))
        );
        let off = IssuesConfig::from_env(&env(&[("SWATTER_METRICS_ADDR", "off")])).unwrap();
        assert_eq!(off.metrics_addr, None);
        let err = IssuesConfig::from_env(&env(&[("SWATTER_METRICS_ADDR", "metrics:x")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("SWATTER_METRICS_ADDR"), "{err}");
    }
}
