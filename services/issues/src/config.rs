//! The issues service's settings, read from the environment (see the README's configuration table).

use std::net::SocketAddr;

use swatter_common::config::{ConfigError, Env, Source};

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
        })
    }
}
