//! Identity's settings, read from the environment (see the README's configuration table).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    str::FromStr,
    time::Duration,
};

use ipnet::IpNet;

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
    /// Limits on password guessing and sign-ups, and whose word on the client address counts.
    pub throttle: ThrottleConfig,
}

const DEFAULT_LOGIN_FAILURE_WINDOW: Duration = Duration::from_secs(900);
const DEFAULT_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT: NonZeroU32 = NonZeroU32::new(10).unwrap();
const DEFAULT_LOGIN_FAILURES_PER_CLIENT: NonZeroU32 = NonZeroU32::new(100).unwrap();
const DEFAULT_LOGIN_FAILURES_PER_USERNAME: NonZeroU32 = NonZeroU32::new(50).unwrap();
const DEFAULT_LOGIN_SLOWDOWN_MAX_MS: u64 = 8000;
const DEFAULT_TRUSTED_PROXIES: &str = "127.0.0.0/8,::1/128";
const DEFAULT_SIGNUP_RATE_PER_CLIENT: u32 = 10;

/// How identity throttles password guessing and sign-up floods (see `throttle`). Every budget
/// refills evenly over its window: 10 per 900 s gives one back every 90 s.
#[derive(Debug, Clone)]
pub struct ThrottleConfig {
    /// `SWATTER_TRUSTED_PROXIES`: peers whose `x-swatter-client-ip` metadata names the client,
    /// default loopback only; any other caller is itself the client.
    pub trusted_proxies: TrustedProxies,
    /// `SWATTER_LOGIN_FAILURE_WINDOW_SECS`: the time over which the failure budgets refill,
    /// default 900.
    pub login_failure_window: Duration,
    /// `SWATTER_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT`: failed logins of one username from one
    /// client address before that pair is refused, default 10. A success clears the pair.
    pub failures_per_username_and_client: NonZeroU32,
    /// `SWATTER_LOGIN_FAILURES_PER_CLIENT`: failed logins from one client address (any username)
    /// before it is refused, default 100.
    pub failures_per_client: NonZeroU32,
    /// `SWATTER_LOGIN_FAILURES_PER_USERNAME`: failed logins of one username from all addresses
    /// before its answers slow down, default 50. Never refused: that would lock the owner out.
    pub failures_per_username: NonZeroU32,
    /// `SWATTER_LOGIN_SLOWDOWN_MAX_MS`: longest wait added to a login of a username over its
    /// budget, default 8000. The wait starts at 100 ms and doubles with each failure over it.
    pub max_login_slowdown: Duration,
    /// `SWATTER_SIGNUP_RATE_PER_CLIENT`: sign-ups per client address per hour, default 10;
    /// 0: no limit. Admins creating users are not counted.
    pub signups_per_client_per_hour: u32,
}

impl Default for ThrottleConfig {
    fn default() -> Self {
        ThrottleConfig {
            trusted_proxies: TrustedProxies::loopback(),
            login_failure_window: DEFAULT_LOGIN_FAILURE_WINDOW,
            failures_per_username_and_client: DEFAULT_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT,
            failures_per_client: DEFAULT_LOGIN_FAILURES_PER_CLIENT,
            failures_per_username: DEFAULT_LOGIN_FAILURES_PER_USERNAME,
            max_login_slowdown: Duration::from_millis(DEFAULT_LOGIN_SLOWDOWN_MAX_MS),
            signups_per_client_per_hour: DEFAULT_SIGNUP_RATE_PER_CLIENT,
        }
    }
}

impl ThrottleConfig {
    fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        let login_failure_window = env.seconds(
            "SWATTER_LOGIN_FAILURE_WINDOW_SECS",
            DEFAULT_LOGIN_FAILURE_WINDOW,
        )?;
        if login_failure_window.is_zero() {
            return Err(ConfigError::malformed(
                "SWATTER_LOGIN_FAILURE_WINDOW_SECS",
                "0",
                "must be at least 1 second",
            ));
        }
        Ok(ThrottleConfig {
            trusted_proxies: env.or("SWATTER_TRUSTED_PROXIES", TrustedProxies::loopback())?,
            login_failure_window,
            failures_per_username_and_client: env.or(
                "SWATTER_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT",
                DEFAULT_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT,
            )?,
            failures_per_client: env.or(
                "SWATTER_LOGIN_FAILURES_PER_CLIENT",
                DEFAULT_LOGIN_FAILURES_PER_CLIENT,
            )?,
            failures_per_username: env.or(
                "SWATTER_LOGIN_FAILURES_PER_USERNAME",
                DEFAULT_LOGIN_FAILURES_PER_USERNAME,
            )?,
            max_login_slowdown: Duration::from_millis(env.or(
                "SWATTER_LOGIN_SLOWDOWN_MAX_MS",
                DEFAULT_LOGIN_SLOWDOWN_MAX_MS,
            )?),
            signups_per_client_per_hour: env.or(
                "SWATTER_SIGNUP_RATE_PER_CLIENT",
                DEFAULT_SIGNUP_RATE_PER_CLIENT,
            )?,
        })
    }
}

/// The networks of the proxies (the gateway) allowed to say which client they serve: a comma
/// separated list of CIDR blocks or single addresses; empty trusts nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// `127.0.0.0/8` and `::1`: a gateway on the same host.
    pub fn loopback() -> Self {
        DEFAULT_TRUSTED_PROXIES
            .parse()
            .expect("the default trusted proxies parse")
    }

    /// Whether `peer` is one of them (an IPv4-mapped IPv6 address counts as its IPv4 address).
    pub fn contains(&self, peer: IpAddr) -> bool {
        let peer = peer.to_canonical();
        self.0.iter().any(|net| net.contains(&peer))
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| format!("{item:?} is neither a CIDR block nor an IP address"))
            })
            .collect::<Result<_, _>>()
            .map(TrustedProxies)
    }
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
            throttle: ThrottleConfig::from_env(env)?,
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

    #[test]
    fn throttle_limits_default_parse_and_name_bad_values() {
        let pem = ("SWATTER_JWT_PRIVATE_KEY", "pem");
        let defaults = IdentityConfig::from_env(&env(&[pem])).unwrap().throttle;
        assert!(
            defaults
                .trusted_proxies
                .contains("127.0.0.1".parse().unwrap())
        );
        assert!(defaults.trusted_proxies.contains("::1".parse().unwrap()));
        assert!(
            defaults
                .trusted_proxies
                .contains("::ffff:127.0.0.2".parse().unwrap())
        );
        assert!(
            !defaults
                .trusted_proxies
                .contains("10.0.0.1".parse().unwrap())
        );
        assert_eq!(defaults.failures_per_username_and_client.get(), 10);
        assert_eq!(defaults.signups_per_client_per_hour, 10);

        let set = IdentityConfig::from_env(&env(&[
            pem,
            (
                "SWATTER_TRUSTED_PROXIES",
                " 10.0.0.0/8, 192.0.2.7 ,fd00::/8",
            ),
            ("SWATTER_LOGIN_SLOWDOWN_MAX_MS", "250"),
            ("SWATTER_SIGNUP_RATE_PER_CLIENT", "0"),
        ]))
        .unwrap()
        .throttle;
        for trusted in ["10.200.0.1", "192.0.2.7", "fd12::1"] {
            assert!(
                set.trusted_proxies.contains(trusted.parse().unwrap()),
                "{trusted}"
            );
        }
        assert!(!set.trusted_proxies.contains("192.0.2.8".parse().unwrap()));
        assert!(!set.trusted_proxies.contains("127.0.0.1".parse().unwrap()));
        assert_eq!(set.max_login_slowdown, Duration::from_millis(250));
        assert_eq!(set.signups_per_client_per_hour, 0);
        let nobody: TrustedProxies = "".parse().unwrap();
        assert!(!nobody.contains("127.0.0.1".parse().unwrap()));

        for (name, value) in [
            ("SWATTER_TRUSTED_PROXIES", "10.0.0.0/33"),
            ("SWATTER_TRUSTED_PROXIES", "gateway"),
            ("SWATTER_LOGIN_FAILURE_WINDOW_SECS", "0"),
            ("SWATTER_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT", "0"),
            ("SWATTER_LOGIN_FAILURES_PER_CLIENT", "many"),
            ("SWATTER_LOGIN_FAILURES_PER_USERNAME", "-1"),
            ("SWATTER_LOGIN_SLOWDOWN_MAX_MS", "1s"),
            ("SWATTER_SIGNUP_RATE_PER_CLIENT", "ten"),
        ] {
            let err = IdentityConfig::from_env(&env(&[pem, (name, value)]))
                .err()
                .unwrap();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
