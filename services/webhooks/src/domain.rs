//! The rules of webhooks: what an endpoint URL and its event types may be, the signing secret and
//! the Standard Webhooks signature, the retry schedule, and which network addresses the service
//! refuses to call.

use std::{fmt, net::IpAddr, str::FromStr, time::Duration};

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use ipnet::IpNet;
use rand::Rng;
use sha2::Sha256;
use swatter_common::{events, input, status::Violation};

/// Longest endpoint URL accepted.
pub const MAX_URL_LEN: usize = 2000;
/// Longest endpoint description accepted.
pub const MAX_DESCRIPTION_LEN: usize = 200;
/// Most event types one endpoint may list.
pub const MAX_EVENT_TYPES: usize = 50;
/// Longest rotation overlap: the previous secret signs at most this long.
pub const MAX_OVERLAP: Duration = Duration::from_secs(7 * 24 * 3600);
/// Overlap when the request names none.
pub const DEFAULT_OVERLAP: Duration = Duration::from_secs(24 * 3600);
/// Bytes of a response body kept in the delivery log (and read at all).
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;
/// The event type of a test ping.
pub const PING: &str = "webhook.ping";
/// The event type this context publishes when it disables an endpoint.
pub const ENDPOINT_DISABLED: &str = "webhook.endpoint_disabled";

/// An endpoint URL that passed every registration rule: `http(s)`, a host, no user info or
/// fragment, at most [`MAX_URL_LEN`] characters, and no literal address the policy refuses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointUrl(url::Url);

impl EndpointUrl {
    /// Parses `raw` as the value of field `field`, refusing literal addresses `policy` refuses.
    pub fn parse(field: &str, raw: &str, policy: &AddressPolicy) -> Result<Self, Violation> {
        let bad = |message: &str| Violation::new(field, message);
        if raw.trim().is_empty() {
            return Err(bad("is required"));
        }
        if raw.chars().count() > MAX_URL_LEN {
            return Err(bad(&format!("must be at most {MAX_URL_LEN} characters")));
        }
        let url = url::Url::parse(raw).map_err(|e| bad(&format!("is not a URL ({e})")))?;
        if !matches!(url.scheme(), "https" | "http") {
            return Err(bad("must start with https:// or http://"));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(bad("must not hold a user name or password"));
        }
        if url.fragment().is_some() {
            return Err(bad("must not have a fragment (#...)"));
        }
        let Some(host) = url.host() else {
            return Err(bad("must name a host"));
        };
        let literal = match host {
            url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            url::Host::Domain(_) => None,
        };
        if let Some(ip) = literal
            && let Err(reason) = policy.check(ip)
        {
            return Err(bad(&format!(
                "points to {reason}, which webhooks may not call"
            )));
        }
        Ok(EndpointUrl(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The event types of an endpoint: known types, each once, sorted; empty means every type.
pub fn parse_event_types(field: &str, raw: &[String]) -> Result<Vec<String>, Violation> {
    if raw.len() > MAX_EVENT_TYPES {
        return Err(Violation::new(
            field,
            format!("may list at most {MAX_EVENT_TYPES} event types"),
        ));
    }
    let unknown: Vec<&str> = raw
        .iter()
        .map(String::as_str)
        .filter(|name| !events::is_event_type(name))
        .collect();
    if !unknown.is_empty() {
        return Err(Violation::new(
            field,
            format!(
                "has unknown event types: {} (see ListEventTypes)",
                unknown.join(", ")
            ),
        ));
    }
    let mut types = raw.to_vec();
    types.sort();
    types.dedup();
    Ok(types)
}

/// An endpoint description: one line of at most [`MAX_DESCRIPTION_LEN`] characters.
pub fn parse_description(field: &str, raw: &str) -> Result<String, Violation> {
    input::check_text(field, raw, MAX_DESCRIPTION_LEN, input::Lines::One)?;
    Ok(raw.trim().to_owned())
}

/// Whether an endpoint subscribed to `types` receives events of type `event_type`.
pub fn subscribes(types: &[String], event_type: &str) -> bool {
    event_type != PING && (types.is_empty() || types.iter().any(|t| t == event_type))
}

/// A new signing secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::thread_rng().r#gen();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// The HMAC key of a secret: the base64-decoded part after `whsec_`.
fn secret_key(secret: &str) -> Vec<u8> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    STANDARD
        .decode(encoded)
        .unwrap_or_else(|_| encoded.as_bytes().to_vec())
}

/// One `v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>` signature.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(&secret_key(secret)).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per secret that signs now (the current one, and
/// during a rotation overlap the previous one too), space-separated.
pub fn signature_header(secrets: &[&str], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The delays between attempts: the first attempt is immediate, attempt `n + 1` follows attempt
/// `n` after the `n`-th delay (± 20 % jitter); once every delay is used, the delivery has failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule(pub Vec<Duration>);

impl RetrySchedule {
    /// Standard Webhooks' schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (about 27.5 hours).
    pub fn standard() -> Self {
        "5s,5m,30m,2h,5h,10h,10h".parse().expect("a valid schedule")
    }

    /// Attempts in all, the first included.
    pub fn attempts(&self) -> i32 {
        self.0.len() as i32 + 1
    }

    /// When to try again after attempt `attempt` (1-based) failed at `now`; `None` once the
    /// schedule is used up.
    pub fn next_attempt(&self, attempt: i32, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let delay = *self.0.get(usize::try_from(attempt).ok()?.checked_sub(1)?)?;
        let jitter = rand::thread_rng().gen_range(0.8..=1.2);
        let delay = delay.mul_f64(jitter);
        Some(now + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX))
    }
}

impl FromStr for RetrySchedule {
    type Err = String;

    /// A comma-separated list of delays, each a number with a unit: `ms`, `s`, `m`, `h`.
    fn from_str(raw: &str) -> Result<Self, String> {
        let delays = raw
            .split(',')
            .map(|part| parse_delay(part.trim()))
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("needs at least one delay".to_owned());
        }
        Ok(RetrySchedule(delays))
    }
}

impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|d| format!("{}ms", d.as_millis()))
            .collect();
        f.write_str(&parts.join(","))
    }
}

fn parse_delay(raw: &str) -> Result<Duration, String> {
    let split = raw
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("{raw:?} has no unit (ms, s, m, h)"))?;
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{raw:?} is not a number with a unit"))?;
    let unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(format!("{raw:?}: the unit must be ms, s, m or h")),
    };
    Ok(unit * u32::try_from(number).map_err(|_| format!("{raw:?} is too long"))?)
}

/// Which addresses deliveries may reach: every public address, and of the refused ranges only
/// what configuration allows (`SWATTER_WEBHOOK_ALLOW_NETWORKS`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AddressPolicy {
    pub allowed: Vec<IpNet>,
}

/// Ranges a webhook may not reach unless allowed, with what they are.
const REFUSED: &[(&str, &str)] = &[
    ("0.0.0.0/8", "an unspecified address"),
    ("10.0.0.0/8", "a private network"),
    ("100.64.0.0/10", "a carrier-grade NAT network"),
    ("127.0.0.0/8", "the loopback network"),
    ("169.254.0.0/16", "a link-local network (cloud metadata)"),
    ("172.16.0.0/12", "a private network"),
    ("192.0.0.0/24", "an IETF protocol network"),
    ("192.168.0.0/16", "a private network"),
    ("198.18.0.0/15", "a benchmarking network"),
    ("224.0.0.0/4", "a multicast network"),
    ("240.0.0.0/4", "a reserved network"),
    ("::/128", "an unspecified address"),
    ("::1/128", "the loopback address"),
    ("::ffff:0:0/96", "an IPv4-mapped address"),
    ("64:ff9b::/96", "a NAT64 address"),
    ("fc00::/7", "a unique local network"),
    ("fe80::/10", "a link-local network"),
    ("ff00::/8", "a multicast network"),
];

impl AddressPolicy {
    /// `Ok` when a delivery may connect to `ip`; otherwise what the address is.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        // An IPv4 address written as IPv6 is judged as the IPv4 address it is.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            IpAddr::V4(_) => ip,
        };
        if self.allowed.iter().any(|net| net.contains(&ip)) {
            return Ok(());
        }
        for (range, what) in REFUSED {
            let net: IpNet = range.parse().expect("a valid range");
            if net.contains(&ip) {
                return Err(what);
            }
        }
        Ok(())
    }
}

impl FromStr for AddressPolicy {
    type Err = String;

    /// A comma-separated list of networks (`127.0.0.1/32,10.0.0.0/8`); a bare address is a /32
    /// (or /128). Empty: none.
    fn from_str(raw: &str) -> Result<Self, String> {
        let allowed = raw
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{part:?} is not a network such as 127.0.0.1/32"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AddressPolicy { allowed })
    }
}

/// A delivery's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its turn, or for the endpoint to be active.
    Pending,
    /// Failed at least once; tried again at its next attempt time.
    Retrying,
    Succeeded,
    /// Every attempt of the schedule failed.
    Failed,
}

impl DeliveryState {
    pub const ALL: [DeliveryState; 4] = [
        DeliveryState::Pending,
        DeliveryState::Retrying,
        DeliveryState::Succeeded,
        DeliveryState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Retrying => "retrying",
            DeliveryState::Succeeded => "succeeded",
            DeliveryState::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allow(raw: &str) -> AddressPolicy {
        raw.parse().unwrap()
    }

    #[test]
    fn urls_follow_the_registration_rules() {
        let policy = AddressPolicy::default();
        let field = |raw: &str| EndpointUrl::parse("url", raw, &policy);
        assert!(field("https://hooks.example.com/in?x=1").is_ok());
        assert!(field("http://hooks.example.com:8080/").is_ok());
        for bad in [
            "",
            "ftp://example.com/",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "not a url",
            "https://127.0.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[fd00:ec2::254]/",
            "http://[::ffff:10.0.0.1]/",
            "http://10.1.2.3/",
        ] {
            let violation = field(bad).unwrap_err();
            assert_eq!(violation.field, "url", "{bad}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(field(&long).unwrap_err().message.contains("2000"));
        assert!(EndpointUrl::parse("url", "http://127.0.0.1:9/", &allow("127.0.0.1/32")).is_ok());
    }

    #[test]
    fn refused_ranges_are_refused_unless_allowed() {
        let none = AddressPolicy::default();
        for refused in [
            "127.0.0.1",
            "10.0.0.1",
            "172.16.5.4",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(none.check(refused.parse().unwrap()).is_err(), "{refused}");
        }
        for public in ["93.184.216.34", "8.8.8.8", "2606:4700::1111"] {
            assert!(none.check(public.parse().unwrap()).is_ok(), "{public}");
        }
        let loopback = allow("127.0.0.1/32");
        assert!(loopback.check("127.0.0.1".parse().unwrap()).is_ok());
        assert!(loopback.check("127.0.0.2".parse().unwrap()).is_err());
        assert!(allow("10.0.0.5").check("10.0.0.5".parse().unwrap()).is_ok());
        assert!("10.0.0.0/33".parse::<AddressPolicy>().is_err());
    }

    #[test]
    fn event_types_are_known_deduplicated_and_sorted() {
        let types = |raw: &[&str]| {
            parse_event_types(
                "event_types",
                &raw.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            types(&["issue.updated", "issue.created", "issue.updated"]).unwrap(),
            ["issue.created", "issue.updated"]
        );
        assert!(types(&[]).unwrap().is_empty());
        let violation = types(&["issue.created", "issue.*"]).unwrap_err();
        assert!(violation.message.contains("issue.*"));
        assert!(subscribes(&[], "issue.created"));
        assert!(!subscribes(&[], PING));
        assert!(!subscribes(&["issue.created".into()], "issue.deleted"));
    }

    #[test]
    fn the_signature_is_the_standard_webhooks_one() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        let both = signature_header(&[secret, &new_secret()], "id", 1, "{}");
        assert_eq!(both.split(' ').count(), 2);
    }

    #[test]
    fn secrets_are_32_random_bytes_in_the_standard_form() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(secret_key(&secret).len(), 32);
        assert_ne!(secret, new_secret());
    }

    #[test]
    fn the_schedule_is_read_with_units_and_jittered() {
        let schedule: RetrySchedule = "100ms, 2s,5m,1h".parse().unwrap();
        assert_eq!(
            schedule.0,
            [
                Duration::from_millis(100),
                Duration::from_secs(2),
                Duration::from_secs(300),
                Duration::from_secs(3600)
            ]
        );
        assert_eq!(schedule.attempts(), 5);
        let now = Utc::now();
        let next = schedule.next_attempt(2, now).unwrap();
        let delay = (next - now).num_milliseconds();
        assert!((1600..=2400).contains(&delay), "{delay}");
        assert_eq!(schedule.next_attempt(5, now), None);
        for bad in ["", "5", "5d", "x5s", "5s,,"] {
            assert!(bad.parse::<RetrySchedule>().is_err(), "{bad}");
        }
        let total: Duration = RetrySchedule::standard().0.iter().sum();
        assert!(total > Duration::from_secs(24 * 3600));
    }
}
