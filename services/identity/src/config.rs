//! Identity's settings, read from the environment (see the README's configuration table).

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use swatter_common::{
    config::{ConfigError, Env, Source},
    metrics,
};

/// Everything the identity service needs to start.
#[derive(Clone)]
pub struct IdentityConfig {
    /// `SWATTER_IDENTITY_ADDR`, default `127.0.0.1:50051`.
    pub addr: SocketAddr,
    /// `SWATTER_IDENTITY_DATABASE_URL`.
    pub database_url: String,
    /// `SWATTER_DATABASE_MAX_CONNECTIONS`, default 10.
    pub database_max_connections: u32,
    /// `SWATTER_MIGRATE`: run migrations at start, default true.
    pub run_migrations: bool,
    /// PEM of the Ed25519 signing key: `SWATTER_JWT_PRIVATE_KEY` or the file `SWATTER_JWT_PRIVATE_KEY_FILE`.
    pub signing_key_pem: String,
    /// `SWATTER_JWT_ISSUER`, default `swatter`.
    pub issuer: String,
    /// `SWATTER_JWT_AUDIENCE`, default `swatter`.
    pub audience: String,
    /// `SWATTER_ACCESS_TOKEN_TTL_SECS`, default 900.
    pub access_token_ttl: Duration,
    /// `SWATTER_REFRESH_TOKEN_TTL_SECS`, default 30 days.
    pub refresh_token_ttl: Duration,
    /// `SWATTER_SIGNUP_ENABLED`, default true.
    pub signup_enabled: bool,
    /// `SWATTER_ADMIN_USERNAME` / `SWATTER_ADMIN_PASSWORD` / `SWATTER_ADMIN_EMAIL`.
    pub bootstrap_admin: Option<BootstrapAdmin>,
    /// `SWATTER_SERVICE_CLIENTS`: `id=secret` pairs, comma separated, secrets of at least
    /// [`MIN_SERVICE_SECRET_LEN`] characters.
    pub service_clients: HashMap<String, String>,
    /// `SWATTER_PASSWORD_HASH_CONCURRENCY`, default half the cores (at least 1).
    pub password_hash_concurrency: usize,
    /// `SWATTER_METRICS_ADDR`: where `GET /metrics` listens, default `127.0.0.1:9101`; `off`: nowhere.
    pub metrics_addr: Option<SocketAddr>,
}

/// The first admin, created at start if missing.
#[derive(Clone)]
pub struct BootstrapAdmin {
    pub username: String,
    pub password: String,
    pub email: String,
}

impl IdentityConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        let signing_key_pem = match (
            env.raw("SWATTER_JWT_PRIVATE_KEY"),
            env.raw("SWATTER_JWT_PRIVATE_KEY_FILE"),
        ) {
            (Some(pem), _) => pem,
            (None, Some(path)) => std::fs::read_to_string(&path)
                .map_err(|e| ConfigError::malformed("SWATTER_JWT_PRIVATE_KEY_FILE", &path, e))?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "SWATTER_JWT_PRIVATE_KEY_FILE (or SWATTER_JWT_PRIVATE_KEY)".into(),
                });
            }
        };
        let bootstrap_admin = match (
            env.raw("SWATTER_ADMIN_USERNAME"),
            env.raw("SWATTER_ADMIN_PASSWORD"),
        ) {
            (Some(username), Some(password)) => Some(BootstrapAdmin {
                email: env
                    .raw("SWATTER_ADMIN_EMAIL")
                    .unwrap_or_else(|| format!("{username}@swatter.local")),
                username,
                password,
            }),
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::Missing {
                    name: "SWATTER_ADMIN_PASSWORD (SWATTER_ADMIN_USERNAME is set)".into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError::Missing {
                    name: "SWATTER_ADMIN_USERNAME (SWATTER_ADMIN_PASSWORD is set)".into(),
                });
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(IdentityConfig {
            addr: env.or(
                "SWATTER_IDENTITY_ADDR",
                SocketAddr::from(([127, 0, 0, 1], 50051)),
            )?,
            database_url: env.or(
                "SWATTER_IDENTITY_DATABASE_URL",
                "postgres://postgres@127.0.0.1:5432/swatter_identity".to_owned(),
            )?,
            database_max_connections: env.or("SWATTER_DATABASE_MAX_CONNECTIONS", 10)?,
            run_migrations: env.flag("SWATTER_MIGRATE", true)?,
            signing_key_pem,
            issuer: env.or("SWATTER_JWT_ISSUER", "swatter".to_owned())?,
            audience: env.or("SWATTER_JWT_AUDIENCE", "swatter".to_owned())?,
            access_token_ttl: env.seconds(
                "SWATTER_ACCESS_TOKEN_TTL_SECS",
                Duration::from_secs(15 * 60),
            )?,
            refresh_token_ttl: env.seconds(
                "SWATTER_REFRESH_TOKEN_TTL_SECS",
                Duration::from_secs(30 * 24 * 3600),
            )?,
            signup_enabled: env.flag("SWATTER_SIGNUP_ENABLED", true)?,
            bootstrap_admin,
            service_clients: parse_service_clients(env.raw("SWATTER_SERVICE_CLIENTS"))?,
            password_hash_concurrency: env
                .or("SWATTER_PASSWORD_HASH_CONCURRENCY", (cores / 2).max(1))?,
            metrics_addr: metrics::metrics_addr(env, SocketAddr::from(([127, 0, 0, 1], 9101)))?,
        })
    }
}

/// Shortest service client secret accepted: a guessable secret would hand out tokens for any
/// user to whoever reaches identity's gRPC port.
pub const MIN_SERVICE_SECRET_LEN: usize = 32;

fn parse_service_clients(raw: Option<String>) -> Result<HashMap<String, String>, ConfigError> {
    let Some(raw) = raw else {
        return Ok(HashMap::new());
    };
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.trim().split_once('=') {
            Some((id, secret))
                if !id.is_empty() && secret.chars().count() >= MIN_SERVICE_SECRET_LEN =>
            {
                Ok((id.to_owned(), secret.to_owned()))
            }
            _ => Err(ConfigError::malformed(
                "SWATTER_SERVICE_CLIENTS",
                "<hidden>",
                "expected id=secret pairs separated by commas, secrets of 32 characters or more",
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    #[test]
    fn the_signing_key_is_required_and_named() {
        let err = IdentityConfig::from_env(&env(&[])).err().unwrap();
        assert!(
            err.to_string().contains("SWATTER_JWT_PRIVATE_KEY_FILE"),
            "{err}"
        );
    }

    #[test]
    fn an_admin_username_without_password_stops_start() {
        let err = IdentityConfig::from_env(&env(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            ("SWATTER_ADMIN_USERNAME", "admin"),
        ]))
        .err()
        .unwrap();
        assert!(err.to_string().contains("SWATTER_ADMIN_PASSWORD"), "{err}");
    }

    #[test]
    fn service_clients_are_parsed_and_weak_secrets_refused() {
        let config = IdentityConfig::from_env(&env(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            (
                "SWATTER_SERVICE_CLIENTS",
                "reporting=0123456789abcdef0123456789abcdef, other=abcdefghijklmnopqrstuvwxyz-+0123",
            ),
        ]))
        .unwrap();
        assert_eq!(
            config.service_clients["reporting"],
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(
            config.service_clients["other"],
            "abcdefghijklmnopqrstuvwxyz-+0123"
        );
        let err = IdentityConfig::from_env(&env(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            // 31 characters: one short.
            (
                "SWATTER_SERVICE_CLIENTS",
                "reporting=0123456789abcdef0123456789abcde",
            ),
        ]))
        .err()
        .unwrap();
        assert!(err.to_string().contains("32 characters"), "{err}");
        assert!(!err.to_string().contains("0123456789"), "{err}");
    }

    #[test]
    fn a_malformed_address_is_named() {
        let err = IdentityConfig::from_env(&env(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            ("SWATTER_IDENTITY_ADDR", "localhost"),
        ]))
        .err()
        .unwrap();
        assert!(err.to_string().contains("SWATTER_IDENTITY_ADDR"), "{err}");
    }

    #[test]
    fn the_metrics_address_defaults_can_be_turned_off_and_is_named_when_malformed() {
        let pem = ("SWATTER_JWT_PRIVATE_KEY", "pem");
        let config = IdentityConfig::from_env(&env(&[pem])).unwrap();
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9101)))
        );
        let off = IdentityConfig::from_env(&env(&[pem, ("SWATTER_METRICS_ADDR", "off")])).unwrap();
        assert_eq!(off.metrics_addr, None);
        let err = IdentityConfig::from_env(&env(&[pem, ("SWATTER_METRICS_ADDR", "9101")]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("SWATTER_METRICS_ADDR"), "{err}");
    }
}
