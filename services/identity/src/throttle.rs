//! Throttling of password guessing and sign-up floods, kept in identity's database so that every
//! replica, and every caller (the gateway or a direct gRPC client), meets the same counters.
//!
//! Each budget is a GCRA bucket (`throttle_buckets`): `capacity` events at once, refilling evenly
//! over `window`. A login attempt is counted as a failure *before* the password is checked, so
//! concurrent guesses cannot slip past the limit, and given back when the password was right:
//!
//! - per (username, client address): refused with a retry delay once spent; a success clears it;
//! - per client address, whatever the username: refused once spent;
//! - per username, from every address: never refused (that would let anyone lock the owner out),
//!   but each failure over the budget makes the next answers for that username slower, up to a cap.
//!
//! Sign-ups count per client address (admins creating users are not counted). The client address
//! is the TCP peer, or what a trusted proxy (the gateway) says in [`CLIENT_ADDRESS_HEADER`].

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    time::Duration,
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use swatter_common::server::CLIENT_ADDRESS_HEADER;
use tonic::Request;

use crate::{
    config::{ThrottleConfig, TrustedProxies},
    error::{IdentityError, Result},
    store,
};

/// How often buckets that have fully refilled are deleted.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(60);
/// The first wait added to a login of a username over its budget; it doubles with each failure.
const FIRST_SLOWDOWN: Duration = Duration::from_millis(100);
/// How many sign-ups per hour `SWATTER_SIGNUP_RATE_PER_CLIENT` counts.
const SIGNUP_WINDOW: Duration = Duration::from_secs(3600);

const USERNAME_AND_CLIENT: &str = "login:username+client";
const CLIENT: &str = "login:client";
const USERNAME: &str = "login:username";
const SIGNUP_CLIENT: &str = "signup:client";

/// The address of the client a request comes from: what a trusted proxy says, else the peer.
/// A request without a peer address (not over TCP) counts as `0.0.0.0`.
pub fn client_address<T>(request: &Request<T>, trusted: &TrustedProxies) -> IpAddr {
    let peer = request.remote_addr().map(|addr| addr.ip().to_canonical());
    let forwarded = || {
        request
            .metadata()
            .get(CLIENT_ADDRESS_HEADER)?
            .to_str()
            .ok()?
            .trim()
            .parse::<IpAddr>()
            .ok()
            .map(|ip| ip.to_canonical())
    };
    match peer {
        Some(peer) if trusted.contains(peer) => forwarded().unwrap_or(peer),
        Some(peer) => peer,
        None => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
    }
}

/// IPv4 addresses count one by one; an IPv6 client usually holds a whole /64, so it counts as one.
fn client_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", Ipv6Addr::from(prefix))
        }
    }
}

/// Usernames are keyed by a digest: no length or character limit, and guesses (or passwords typed
/// into the username field) are not stored.
fn username_key(username: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(username.as_bytes()))
}

/// A budget of `capacity` events refilling evenly over `window`.
#[derive(Debug, Clone, Copy)]
struct Budget {
    capacity: u32,
    window: Duration,
}

impl Budget {
    /// Seconds each event takes from the budget.
    fn interval(self) -> f64 {
        self.window.as_secs_f64() / f64::from(self.capacity)
    }

    /// Seconds a full budget spans, plus a millisecond for PostgreSQL rounding intervals to
    /// microseconds (7 events of 900/7 s each must fit in 900 s).
    fn window(self) -> f64 {
        self.window.as_secs_f64() + 0.001
    }
}

/// A counted login attempt: what to give back if the password turns out right, and how long to
/// wait before checking it.
#[derive(Debug)]
pub struct LoginAttempt {
    username_and_client: String,
    client: String,
    username: String,
    /// The wait owed because the username is over its budget.
    pub slowdown: Duration,
}

/// The throttle: its limits and the database holding the counters.
pub struct Throttle {
    db: PgPool,
    config: ThrottleConfig,
}

impl Throttle {
    pub fn new(db: PgPool, config: ThrottleConfig) -> Self {
        Throttle { db, config }
    }

    /// Whose word on the client address counts.
    pub fn trusted_proxies(&self) -> &TrustedProxies {
        &self.config.trusted_proxies
    }

    fn budget(&self, capacity: std::num::NonZeroU32) -> Budget {
        Budget {
            capacity: capacity.get(),
            window: self.config.login_failure_window,
        }
    }

    /// Counts a password attempt for `username` (already normalised) from `client` as a failure,
    /// or refuses it (`ResourceExhausted`) when the pair's or the client's budget is spent.
    pub async fn begin_login(&self, username: &str, client: IpAddr) -> Result<LoginAttempt> {
        let username = username_key(username);
        let client = client_key(client);
        let attempt = LoginAttempt {
            username_and_client: format!("{username}@{client}"),
            client,
            username,
            slowdown: Duration::ZERO,
        };
        let pair = self.budget(self.config.failures_per_username_and_client);
        let per_client = self.budget(self.config.failures_per_client);
        let mut tx = self.db.begin().await?;
        for (scope, key, budget, message) in [
            (
                USERNAME_AND_CLIENT,
                &attempt.username_and_client,
                pair,
                "too many failed logins for this username from this address; try again later",
            ),
            (
                CLIENT,
                &attempt.client,
                per_client,
                "too many failed logins from this address; try again later",
            ),
        ] {
            let refused =
                store::take_from_bucket(&mut tx, scope, key, budget.interval(), budget.window())
                    .await?;
            if let Some(retry_after) = refused {
                tx.rollback().await?;
                return Err(IdentityError::ResourceExhausted {
                    message: message.into(),
                    retry_after: Duration::from_secs_f64(retry_after.max(0.001)),
                });
            }
        }
        let per_username = self.budget(self.config.failures_per_username);
        let max_slowdown = self.config.max_login_slowdown;
        let ahead = store::add_to_bucket(
            &mut *tx,
            USERNAME,
            &attempt.username,
            per_username.interval(),
            per_username.window()
                + per_username.interval() * f64::from(slowdown_steps(max_slowdown)),
        )
        .await?;
        tx.commit().await?;
        let over_budget = ((ahead - per_username.window()) / per_username.interval()).ceil();
        Ok(LoginAttempt {
            slowdown: slowdown(over_budget.max(0.0) as u32, max_slowdown),
            ..attempt
        })
    }

    /// The password was right: clears the pair's failures and gives back what the attempt took
    /// from the client's and the username's budgets.
    pub async fn login_succeeded(&self, attempt: &LoginAttempt) -> Result<()> {
        let mut tx = self.db.begin().await?;
        store::clear_bucket(&mut *tx, USERNAME_AND_CLIENT, &attempt.username_and_client).await?;
        store::give_back_to_bucket(
            &mut *tx,
            CLIENT,
            &attempt.client,
            self.budget(self.config.failures_per_client).interval(),
        )
        .await?;
        store::give_back_to_bucket(
            &mut *tx,
            USERNAME,
            &attempt.username,
            self.budget(self.config.failures_per_username).interval(),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Counts a sign-up from `client`, or refuses it (`ResourceExhausted`) past the hourly budget.
    pub async fn sign_up(&self, client: IpAddr) -> Result<()> {
        let Some(capacity) = std::num::NonZeroU32::new(self.config.signups_per_client_per_hour)
        else {
            return Ok(());
        };
        let budget = Budget {
            capacity: capacity.get(),
            window: SIGNUP_WINDOW,
        };
        let mut conn = self.db.acquire().await?;
        let refused = store::take_from_bucket(
            &mut conn,
            SIGNUP_CLIENT,
            &client_key(client),
            budget.interval(),
            budget.window(),
        )
        .await?;
        match refused {
            None => Ok(()),
            Some(retry_after) => Err(IdentityError::ResourceExhausted {
                message: "too many sign-ups from this address; try again later".into(),
                retry_after: Duration::from_secs_f64(retry_after.max(0.001)),
            }),
        }
    }
}

/// The wait for the `over_budget`-th failure over a username's budget (0: none), at most `max`.
fn slowdown(over_budget: u32, max: Duration) -> Duration {
    if over_budget == 0 {
        return Duration::ZERO;
    }
    FIRST_SLOWDOWN
        .saturating_mul(1u32 << (over_budget - 1).min(30))
        .min(max)
}

/// How many failures over the budget reach the longest wait `max`; the bucket keeps no more debt
/// than that, so it drains soon after an attack stops.
fn slowdown_steps(max: Duration) -> u32 {
    (1..=31)
        .find(|&step| slowdown(step, max) >= max)
        .unwrap_or(31)
}

/// Deletes fully refilled buckets every [`SWEEP_INTERVAL`] (each replica does; it is idempotent).
pub async fn sweep_periodically(db: PgPool) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    loop {
        ticks.tick().await;
        match store::delete_refilled_buckets(&db).await {
            Ok(deleted) => tracing::debug!(deleted, "swept refilled throttle buckets"),
            Err(error) => tracing::warn!(error = %error, "could not sweep throttle buckets"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slowdown_doubles_from_the_first_failure_over_budget_up_to_the_cap() {
        let max = Duration::from_millis(1000);
        let waits: Vec<u128> = (0..7).map(|n| slowdown(n, max).as_millis()).collect();
        assert_eq!(waits, [0, 100, 200, 400, 800, 1000, 1000]);
        assert_eq!(slowdown_steps(max), 5);
        assert_eq!(slowdown(u32::MAX, max), max);
        assert_eq!(
            slowdown(1, Duration::from_millis(30)),
            Duration::from_millis(30)
        );
    }

    #[test]
    fn ipv6_clients_count_per_slash_64_and_mapped_ipv4_is_ipv4() {
        let key = |ip: &str| client_key(ip.parse().unwrap());
        assert_eq!(key("2001:db8::1"), key("2001:db8::ffff:2"));
        assert_ne!(key("2001:db8::1"), key("2001:db8:0:1::1"));
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_ne!(key("192.0.2.7"), key("192.0.2.8"));
    }

    #[test]
    fn usernames_are_keyed_by_digest() {
        let key = username_key("alice\0\u{1F600}");
        assert_eq!(key.len(), 43);
        assert!(!key.contains('\0'));
        assert_ne!(key, username_key("alice"));
    }

    fn request_from(peer: &str, forwarded: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        request
            .extensions_mut()
            .insert(tonic::transport::server::TcpConnectInfo {
                local_addr: None,
                remote_addr: Some(peer.parse().unwrap()),
            });
        if let Some(value) = forwarded {
            request
                .metadata_mut()
                .insert(CLIENT_ADDRESS_HEADER, value.parse().unwrap());
        }
        request
    }

    #[test]
    fn only_trusted_peers_may_name_the_client() {
        let trusted: TrustedProxies = "10.0.0.0/8, ::1".parse().unwrap();
        let client = |peer, forwarded| client_address(&request_from(peer, forwarded), &trusted);
        assert_eq!(
            client("10.1.2.3:5000", Some("203.0.113.9")),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("[::1]:5000", Some("2001:db8::5")),
            "2001:db8::5".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("192.0.2.1:5000", Some("203.0.113.9")),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("10.1.2.3:5000", Some("not an address")),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client("10.1.2.3:5000", None),
            "10.1.2.3".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            client_address(&Request::new(()), &trusted),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }
}
