//! Rate limits of the token endpoint, checked before identity is called so that a flood of
//! guesses never reaches the (deliberately slow) password hashing.
//!
//! Two GCRA limiters (governor): one per client address for every token request, one per
//! username for password grants. A quota of `n` per minute allows a burst of `n` and then one
//! request every `60/n` seconds.

use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    time::Duration,
};

use governor::{DefaultKeyedRateLimiter, Quota, clock::Clock};

/// Longest prefix of a username used as a key; real usernames are at most 32 characters.
const MAX_USERNAME_KEY_CHARS: usize = 64;

/// A refused attempt and how long until the next one would be let through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

/// The limiters of `POST /v1/auth/token`.
pub struct LoginRateLimiter {
    per_client: DefaultKeyedRateLimiter<IpAddr>,
    per_username: DefaultKeyedRateLimiter<String>,
}

impl LoginRateLimiter {
    /// Allows `per_client` token requests per client address and `per_username` password
    /// attempts per username, each per minute.
    pub fn new(per_client: NonZeroU32, per_username: NonZeroU32) -> Self {
        LoginRateLimiter {
            per_client: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_client)),
            per_username: DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_username)),
        }
    }

    /// Counts a token request from `client`.
    pub fn check_client(&self, client: IpAddr) -> Result<(), Limited> {
        check(&self.per_client, &client_key(client))
    }

    /// Counts a password attempt for `username`, compared the way identity looks it up
    /// (trimmed; usernames are lower case, so case does not make a new key).
    pub fn check_username(&self, username: &str) -> Result<(), Limited> {
        let key: String = username
            .trim()
            .chars()
            .take(MAX_USERNAME_KEY_CHARS)
            .flat_map(char::to_lowercase)
            .collect();
        check(&self.per_username, &key)
    }

    /// Forgets keys whose limits have fully replenished, so memory follows recent traffic only.
    pub fn forget_idle(&self) {
        self.per_client.retain_recent();
        self.per_client.shrink_to_fit();
        self.per_username.retain_recent();
        self.per_username.shrink_to_fit();
    }
}

fn check<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Limited>
where
    K: Clone + Eq + std::hash::Hash,
{
    limiter.check_key(key).map_err(|not_until| Limited {
        retry_after: not_until.wait_time_from(limiter.clock().now()),
    })
}

/// IPv4 addresses count one by one; IPv6 clients usually hold a whole /64, so it counts as one.
fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_client: u32, per_username: u32) -> LoginRateLimiter {
        LoginRateLimiter::new(
            NonZeroU32::new(per_client).unwrap(),
            NonZeroU32::new(per_username).unwrap(),
        )
    }

    #[test]
    fn a_username_is_refused_after_its_burst_with_a_wait() {
        let limiter = limiter(100, 2);
        assert!(limiter.check_username("alice").is_ok());
        assert!(limiter.check_username(" ALICE ").is_ok());
        let refused = limiter.check_username("alice").unwrap_err();
        assert!(refused.retry_after > Duration::from_secs(20), "{refused:?}");
        assert!(limiter.check_username("bob").is_ok());
    }

    #[test]
    fn clients_are_counted_separately() {
        let limiter = limiter(1, 100);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(limiter.check_client(a).is_ok());
        assert!(limiter.check_client(a).is_err());
        assert!(limiter.check_client(b).is_ok());
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client_and_mapped_ipv4_is_ipv4() {
        let limiter = limiter(1, 100);
        assert!(limiter.check_client("2001:db8::1".parse().unwrap()).is_ok());
        assert!(
            limiter
                .check_client("2001:db8::ffff:2".parse().unwrap())
                .is_err()
        );
        assert!(limiter.check_client("192.0.2.7".parse().unwrap()).is_ok());
        assert!(
            limiter
                .check_client("::ffff:192.0.2.7".parse().unwrap())
                .is_err()
        );
    }
}
