//! Identity's settings: each variable's name, default and help are declared once, below; the
//! README's table is generated from them (`swatter-identity config-reference`).

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use clap::ArgAction;
use ipnet::IpNet;

use swatter_common::{
    bootstrap::ServiceSettings,
    config::{self, ConfigError, Env, MIN_SECRET_LEN, Source},
    metrics,
};

swatter_common::database_settings!(
    IdentityDatabase,
    env = "SWATTER_IDENTITY_DATABASE_URL",
    long = "identity-database-url",
    default = "postgres://postgres@127.0.0.1:5432/swatter_identity"
);

/// `swatter-identity`: users, sessions and tokens over gRPC.
#[derive(clap::Parser)]
#[command(name = "swatter-identity")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: IdentitySettings,
}

#[derive(clap::Subcommand)]
pub enum Command {
    /// Run the service (the default).
    Serve,
    /// Write a new Ed25519 signing key to FILE (created, mode 0600).
    Keygen { file: PathBuf },
    /// Apply the migrations and exit.
    Migrate,
    /// Print the settings as the README's Markdown table.
    ConfigReference,
}

/// Everything identity reads: its own settings and those every service reads.
#[derive(Clone, clap::Args)]
pub struct IdentitySettings {
    #[command(flatten)]
    pub config: IdentityConfig,
    /// The PKCS#8 PEM Ed25519 signing key inline (wins over the file).
    #[arg(long, env = "SWATTER_JWT_PRIVATE_KEY", hide_env_values = true)]
    jwt_private_key: Option<String>,
    /// File of the PKCS#8 PEM Ed25519 signing key, required unless it is inline;
    /// `swatter-identity keygen FILE` makes one.
    #[arg(long, env = "SWATTER_JWT_PRIVATE_KEY_FILE")]
    jwt_private_key_file: Option<PathBuf>,
    /// Ed25519 keys that the JWK set publishes and whose tokens verify but that never sign (the
    /// previous signing key through a rotation, docs/deploy.md): files, or folders whose `*.pem`
    /// files count, comma-separated. Each a PKCS#8 private or SPKI public key PEM; the signing
    /// key may be among them.
    #[arg(long, env = "SWATTER_JWT_VERIFY_KEY_PATHS", value_delimiter = ',')]
    jwt_verify_key_paths: Vec<PathBuf>,
    /// First admin, created at start if missing (with the password: both or neither).
    #[arg(long, env = "SWATTER_ADMIN_USERNAME", hide_env_values = true)]
    admin_username: Option<String>,
    /// Its password.
    #[arg(long, env = "SWATTER_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<String>,
    /// Its email; default `<username>@swatter.local`.
    #[arg(long, env = "SWATTER_ADMIN_EMAIL")]
    admin_email: Option<String>,
    #[command(flatten)]
    pub service: ServiceSettings,
}

/// Everything the identity service needs to start.
#[derive(Clone, clap::Args)]
pub struct IdentityConfig {
    /// Listen address (gRPC).
    #[arg(
        long = "identity-addr",
        env = "SWATTER_IDENTITY_ADDR",
        default_value = "127.0.0.1:50051"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub database: IdentityDatabase,
    /// PEM of the Ed25519 signing key (`SWATTER_JWT_PRIVATE_KEY` or `SWATTER_JWT_PRIVATE_KEY_FILE`).
    #[arg(skip)]
    pub signing_key_pem: String,
    /// PEMs of the verification-only keys (`SWATTER_JWT_VERIFY_KEY_PATHS`).
    #[arg(skip)]
    pub verify_key_pems: Vec<String>,
    /// `iss` of access tokens (identity writes it, the others check it).
    #[arg(long, env = "SWATTER_JWT_ISSUER", default_value = "swatter")]
    pub issuer: String,
    /// `aud` of access tokens.
    #[arg(long, env = "SWATTER_JWT_AUDIENCE", default_value = "swatter")]
    pub audience: String,
    /// Access token lifetime, in seconds.
    #[arg(long, env = "SWATTER_ACCESS_TOKEN_TTL_SECS", default_value = "900", value_parser = config::seconds)]
    pub access_token_ttl: Duration,
    /// Refresh token lifetime, in seconds (30 days; renewed at each rotation).
    #[arg(long, env = "SWATTER_REFRESH_TOKEN_TTL_SECS", default_value = "2592000", value_parser = config::seconds)]
    pub refresh_token_ttl: Duration,
    /// `false`: only admins create users.
    #[arg(long, env = "SWATTER_SIGNUP_ENABLED", default_value = "true", value_parser = config::flag, action = ArgAction::Set)]
    pub signup_enabled: bool,
    /// `true`: users may create personal access tokens that never expire; otherwise every token
    /// expires within a year.
    #[arg(long = "pat-allow-no-expiry", env = "SWATTER_PAT_ALLOW_NO_EXPIRY", default_value = "false", value_parser = config::flag, action = ArgAction::Set)]
    pub pat_allow_no_expiry: bool,
    /// The first admin (`SWATTER_ADMIN_USERNAME`, `SWATTER_ADMIN_PASSWORD`, `SWATTER_ADMIN_EMAIL`).
    #[arg(skip)]
    pub bootstrap_admin: Option<BootstrapAdmin>,
    /// Service credentials, `id=secret,…` (secrets of at least 32 characters; identity refuses to
    /// start otherwise).
    #[arg(long, env = "SWATTER_SERVICE_CLIENTS", default_value = "", value_parser = parse_service_clients, hide_env_values = true)]
    pub service_clients: HashMap<String, String>,
    /// Argon2 runs at once, separately for login checks and for hashing new passwords (a flood of
    /// one cannot starve the other); default half the cores, at least 1.
    #[arg(long, env = "SWATTER_PASSWORD_HASH_CONCURRENCY", default_value_t = half_the_cores(), hide_default_value = true)]
    pub password_hash_concurrency: usize,
    /// Where `GET /metrics` (Prometheus text format) listens; `off`: no endpoint.
    #[arg(long, env = "SWATTER_METRICS_ADDR", default_value = "127.0.0.1:9101", value_parser = metrics::metrics_addr)]
    pub metrics_addr: std::option::Option<SocketAddr>,
    #[command(flatten)]
    pub throttle: ThrottleConfig,
}

fn half_the_cores() -> usize {
    (std::thread::available_parallelism().map_or(1, |n| n.get()) / 2).max(1)
}

/// How identity throttles password guessing and sign-up floods (see `throttle`). Every budget
/// refills evenly over its window: 10 per 900 s gives one back every 90 s.
#[derive(Debug, Clone, clap::Args)]
pub struct ThrottleConfig {
    /// CIDR blocks (or addresses) of the callers whose `x-swatter-client-ip` metadata names the
    /// client (the gateway); everyone else is the client itself. In Kubernetes set it to the pod
    /// network (`k8s/base/config.env`).
    #[arg(
        long,
        env = "SWATTER_TRUSTED_PROXIES",
        default_value = "127.0.0.0/8,::1/128"
    )]
    pub trusted_proxies: TrustedProxies,
    /// Seconds over which the login failure budgets below refill (evenly).
    #[arg(long, env = "SWATTER_LOGIN_FAILURE_WINDOW_SECS", default_value = "900", value_parser = config::positive_seconds)]
    pub login_failure_window: Duration,
    /// Failed logins of one username from one client address before that pair gets 429 /
    /// `RESOURCE_EXHAUSTED` with a retry delay; a successful login clears it.
    #[arg(
        long = "login-failures-per-username-and-client",
        env = "SWATTER_LOGIN_FAILURES_PER_USERNAME_AND_CLIENT",
        default_value = "10"
    )]
    pub failures_per_username_and_client: NonZeroU32,
    /// Failed logins from one client address, any username, before it is refused the same way
    /// (IPv6: per /64).
    #[arg(
        long = "login-failures-per-client",
        env = "SWATTER_LOGIN_FAILURES_PER_CLIENT",
        default_value = "100"
    )]
    pub failures_per_client: NonZeroU32,
    /// Failed logins of one username from all addresses before its logins slow down (never
    /// refused, so nobody can lock the owner out).
    #[arg(
        long = "login-failures-per-username",
        env = "SWATTER_LOGIN_FAILURES_PER_USERNAME",
        default_value = "50"
    )]
    pub failures_per_username: NonZeroU32,
    /// Longest wait, in milliseconds, added to a login of a username over its budget (100 ms,
    /// doubling with each failure over it).
    #[arg(long = "login-slowdown-max-ms", env = "SWATTER_LOGIN_SLOWDOWN_MAX_MS", default_value = "8000", value_parser = config::millis)]
    pub max_login_slowdown: Duration,
    /// Sign-ups per client address per hour (429 beyond; admins creating users are not counted);
    /// `0`: no limit.
    #[arg(
        long = "signup-rate-per-client",
        env = "SWATTER_SIGNUP_RATE_PER_CLIENT",
        default_value = "10"
    )]
    pub signups_per_client_per_hour: u32,
}

impl Default for ThrottleConfig {
    /// The declared defaults.
    fn default() -> Self {
        config::from_env(&Env::from_pairs(&[])).expect("the default throttle settings parse")
    }
}

/// The networks of the proxies (the gateway) allowed to say which client they serve: a comma
/// separated list of CIDR blocks or single addresses; empty trusts nobody.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
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

impl IdentitySettings {
    /// The configuration these settings make, or why they make none.
    pub fn into_config(self) -> Result<IdentityConfig, ConfigError> {
        let signing_key_pem = match (self.jwt_private_key, self.jwt_private_key_file) {
            (Some(pem), _) => pem,
            (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
                ConfigError::malformed("SWATTER_JWT_PRIVATE_KEY_FILE", &path.to_string_lossy(), e)
            })?,
            (None, None) => {
                return Err(ConfigError::Missing {
                    name: "SWATTER_JWT_PRIVATE_KEY_FILE (or SWATTER_JWT_PRIVATE_KEY)".into(),
                });
            }
        };
        let verify_key_pems = self
            .jwt_verify_key_paths
            .iter()
            .filter(|path| !path.as_os_str().is_empty())
            .map(|path| {
                read_key_files(path).map_err(|e| {
                    ConfigError::malformed(
                        "SWATTER_JWT_VERIFY_KEY_PATHS",
                        &path.to_string_lossy(),
                        e,
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?
            .concat();
        let bootstrap_admin = match (self.admin_username, self.admin_password) {
            (Some(username), Some(password)) => Some(BootstrapAdmin {
                email: self
                    .admin_email
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
        Ok(IdentityConfig {
            signing_key_pem,
            verify_key_pems,
            bootstrap_admin,
            ..self.config
        })
    }
}

impl IdentityConfig {
    pub fn from_env<S: Source>(env: &Env<S>) -> Result<Self, ConfigError> {
        config::from_env::<IdentitySettings>(env)?.into_config()
    }
}

/// The PEM of a key file, or of each `*.pem` file in a folder, by name (hidden entries, such as
/// the `..data` of a mounted Kubernetes Secret, are skipped).
fn read_key_files(path: &Path) -> std::io::Result<Vec<String>> {
    if !path.is_dir() {
        return Ok(vec![std::fs::read_to_string(path)?]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let name = entry?.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".pem") && !name.starts_with('.') {
            files.push(path.join(name.as_ref()));
        }
    }
    files.sort();
    files.iter().map(std::fs::read_to_string).collect()
}

fn parse_service_clients(raw: &str) -> Result<HashMap<String, String>, String> {
    raw.split(',')
        .filter(|pair| !pair.trim().is_empty())
        .map(|pair| match pair.trim().split_once('=') {
            Some((id, secret)) if !id.is_empty() && config::secret(secret).is_ok() => {
                Ok((id.to_owned(), secret.to_owned()))
            }
            _ => Err(format!(
                "expected id=secret pairs separated by commas, secrets of {MIN_SECRET_LEN} characters or more"
            )),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_lists_these_settings() {
        config::assert_readme_lists::<Cli>(include_str!("../../../README.md"));
    }

    #[test]
    fn the_signing_key_is_required_and_named() {
        let err = IdentityConfig::from_env(&Env::from_pairs(&[]))
            .err()
            .unwrap();
        assert!(
            err.to_string().contains("SWATTER_JWT_PRIVATE_KEY_FILE"),
            "{err}"
        );
    }

    #[test]
    fn verification_keys_are_read_from_files_and_folders_and_a_missing_one_is_named() {
        let folder = std::env::temp_dir().join(format!("swatter-keys-{}", std::process::id()));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join("b.pem"), "pem b").unwrap();
        std::fs::write(folder.join("a.pem"), "pem a").unwrap();
        std::fs::write(folder.join("notes.txt"), "not a key").unwrap();
        std::fs::write(folder.join(".hidden.pem"), "hidden").unwrap();
        let single = std::env::temp_dir().join(format!("swatter-key-{}.pem", std::process::id()));
        std::fs::write(&single, "pem single").unwrap();
        let paths = format!("{},{}", single.display(), folder.display());

        let config = IdentityConfig::from_env(&Env::from_pairs(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            ("SWATTER_JWT_VERIFY_KEY_PATHS", &paths),
        ]))
        .unwrap();
        let missing = IdentityConfig::from_env(&Env::from_pairs(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            ("SWATTER_JWT_VERIFY_KEY_PATHS", "/nonexistent/previous.pem"),
        ]))
        .err()
        .unwrap();
        std::fs::remove_dir_all(&folder).unwrap();
        std::fs::remove_file(&single).unwrap();

        assert_eq!(config.verify_key_pems, ["pem single", "pem a", "pem b"]);
        assert!(
            missing.to_string().contains("SWATTER_JWT_VERIFY_KEY_PATHS"),
            "{missing}"
        );
        let none =
            IdentityConfig::from_env(&Env::from_pairs(&[("SWATTER_JWT_PRIVATE_KEY", "pem")]));
        assert!(none.unwrap().verify_key_pems.is_empty());
    }

    #[test]
    fn an_admin_username_without_password_stops_start() {
        let err = IdentityConfig::from_env(&Env::from_pairs(&[
            ("SWATTER_JWT_PRIVATE_KEY", "pem"),
            ("SWATTER_ADMIN_USERNAME", "admin"),
        ]))
        .err()
        .unwrap();
        assert!(err.to_string().contains("SWATTER_ADMIN_PASSWORD"), "{err}");
    }

    #[test]
    fn service_clients_are_parsed_and_weak_secrets_refused() {
        let config = IdentityConfig::from_env(&Env::from_pairs(&[
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
        let err = IdentityConfig::from_env(&Env::from_pairs(&[
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
        let err = IdentityConfig::from_env(&Env::from_pairs(&[
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
        let config = IdentityConfig::from_env(&Env::from_pairs(&[pem])).unwrap();
        assert_eq!(
            config.metrics_addr,
            Some(SocketAddr::from(([127, 0, 0, 1], 9101)))
        );
        let off =
            IdentityConfig::from_env(&Env::from_pairs(&[pem, ("SWATTER_METRICS_ADDR", "off")]))
                .unwrap();
        assert_eq!(off.metrics_addr, None);
        let err =
            IdentityConfig::from_env(&Env::from_pairs(&[pem, ("SWATTER_METRICS_ADDR", "9101")]))
                .err()
                .unwrap();
        assert!(err.to_string().contains("SWATTER_METRICS_ADDR"), "{err}");
    }

    #[test]
    fn throttle_limits_default_parse_and_name_bad_values() {
        let pem = ("SWATTER_JWT_PRIVATE_KEY", "pem");
        let defaults = IdentityConfig::from_env(&Env::from_pairs(&[pem]))
            .unwrap()
            .throttle;
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

        let set = IdentityConfig::from_env(&Env::from_pairs(&[
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
            let err = IdentityConfig::from_env(&Env::from_pairs(&[pem, (name, value)]))
                .err()
                .unwrap();
            assert!(err.to_string().contains(name), "{name}={value}: {err}");
        }
    }
}
