//! Sending one delivery attempt: the signed Standard Webhooks request, under the outbound
//! safety rules. The host's addresses are resolved here and filtered by the address policy, and
//! the connection goes to one of the addresses that passed (so a name that resolves elsewhere a
//! moment later cannot slip past the check); a URL with a literal address is checked before
//! anything is sent. No proxy, no redirect (a 3xx is a failed attempt), a timeout on the whole
//! exchange, and at most [`RESPONSE_EXCERPT_BYTES`] of the response body read.

use std::{
    collections::BTreeMap,
    error::Error as StdError,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::Utc;
use reqwest::{
    dns::{Addrs, Name, Resolve, Resolving},
    redirect,
};

use crate::{
    domain::{AddressPolicy, RESPONSE_EXCERPT_BYTES, signature_header},
    store::{AttemptRecord, Claim},
};

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 2xx.
    Succeeded,
    /// The receiver answered something else (a redirect included).
    HttpError,
    /// No complete answer within the timeout.
    Timeout,
    /// The address is one webhooks may not call.
    Refused,
    /// No connection, or it broke.
    NetworkError,
}

impl Outcome {
    pub const ALL: [Outcome; 5] = [
        Outcome::Succeeded,
        Outcome::HttpError,
        Outcome::Timeout,
        Outcome::Refused,
        Outcome::NetworkError,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::HttpError => "http_error",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused_address",
            Outcome::NetworkError => "network_error",
        }
    }
}

/// A host whose every address the policy refuses.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {what}, which webhooks may not call")]
struct RefusedAddress {
    host: String,
    what: &'static str,
}

/// Resolves names with the system resolver and keeps only the addresses the policy allows.
struct GuardedResolver(Arc<AddressPolicy>);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = "no address";
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.check(addr.ip()) {
                    Ok(()) => true,
                    Err(what) => {
                        refusal = what;
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let error: Box<dyn StdError + Send + Sync> = Box::new(RefusedAddress {
                    host,
                    what: refusal,
                });
                return Err(error);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

/// What one attempt sent and got.
#[derive(Debug, Clone)]
pub struct Sent {
    pub outcome: Outcome,
    pub record: AttemptRecord,
}

/// The HTTP client of deliveries.
pub struct Sender {
    client: reqwest::Client,
    policy: Arc<AddressPolicy>,
    timeout: Duration,
}

impl Sender {
    pub fn new(timeout: Duration, policy: AddressPolicy) -> anyhow::Result<Self> {
        let policy = Arc::new(policy);
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(GuardedResolver(policy.clone())))
            .user_agent(concat!("swatter-webhooks/", env!("CARGO_PKG_VERSION")))
            .pool_idle_timeout(Duration::from_secs(30))
            .tcp_nodelay(true)
            .build()?;
        Ok(Sender {
            client,
            policy,
            timeout,
        })
    }

    /// The headers of an attempt of `claim` at `timestamp` (unix seconds), signed with every
    /// secret that signs now.
    pub fn headers(claim: &Claim, timestamp: i64) -> BTreeMap<String, String> {
        let now = Utc::now();
        let mut secrets = vec![claim.secret.as_str()];
        if let (Some(previous), Some(until)) =
            (&claim.previous_secret, claim.previous_secret_expires_at)
            && until > now
        {
            secrets.push(previous);
        }
        BTreeMap::from([
            ("content-type".to_owned(), "application/json".to_owned()),
            ("webhook-id".to_owned(), claim.event_id.clone()),
            ("webhook-timestamp".to_owned(), timestamp.to_string()),
            (
                "webhook-signature".to_owned(),
                signature_header(&secrets, &claim.event_id, timestamp, &claim.payload),
            ),
        ])
    }

    /// Sends one attempt of `claim`.
    pub async fn send(&self, claim: &Claim) -> Sent {
        let started_at = Utc::now();
        let started = Instant::now();
        let headers = Self::headers(claim, started_at.timestamp());
        let (outcome, status, excerpt, error) = self.exchange(claim, &headers).await;
        Sent {
            outcome,
            record: AttemptRecord {
                started_at,
                duration_ms: started.elapsed().as_millis() as i64,
                request_url: claim.url.clone(),
                request_headers: headers,
                response_status: status,
                response_body_excerpt: excerpt,
                error,
            },
        }
    }

    async fn exchange(
        &self,
        claim: &Claim,
        headers: &BTreeMap<String, String>,
    ) -> (Outcome, i32, String, String) {
        if let Some(what) = self.refused_literal(&claim.url) {
            return (
                Outcome::Refused,
                0,
                String::new(),
                format!("the URL's address is {what}, which webhooks may not call"),
            );
        }
        let mut request = self.client.post(&claim.url).body(claim.payload.clone());
        for (name, value) in headers {
            request = request.header(name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let (outcome, message) = self.classify(&error);
                return (outcome, 0, String::new(), message);
            }
        };
        let status = response.status();
        let mut body = Vec::new();
        let mut read_error = None;
        while body.len() < RESPONSE_EXCERPT_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(error) => {
                    read_error = Some(error);
                    break;
                }
            }
        }
        // The rest of a longer body is never read: the connection is dropped with it.
        drop(response);
        body.truncate(RESPONSE_EXCERPT_BYTES);
        let excerpt = String::from_utf8_lossy(&body).into_owned();
        let code = i32::from(status.as_u16());
        if let Some(error) = read_error
            && error.is_timeout()
        {
            let (_, message) = self.classify(&error);
            return (Outcome::Timeout, code, excerpt, message);
        }
        if status.is_success() {
            (Outcome::Succeeded, code, excerpt, String::new())
        } else if status.is_redirection() {
            (
                Outcome::HttpError,
                code,
                excerpt,
                "the receiver answered with a redirect; webhooks do not follow redirects".into(),
            )
        } else {
            (Outcome::HttpError, code, excerpt, String::new())
        }
    }

    /// What the URL's literal address is, if the policy refuses it.
    fn refused_literal(&self, raw: &str) -> Option<&'static str> {
        let url = url::Url::parse(raw).ok()?;
        let ip = match url.host()? {
            url::Host::Ipv4(ip) => IpAddr::V4(ip),
            url::Host::Ipv6(ip) => IpAddr::V6(ip),
            url::Host::Domain(_) => return None,
        };
        self.policy.check(ip).err()
    }

    fn classify(&self, error: &reqwest::Error) -> (Outcome, String) {
        let mut source: Option<&(dyn StdError + 'static)> = Some(error);
        while let Some(cause) = source {
            if let Some(refused) = cause.downcast_ref::<RefusedAddress>() {
                return (Outcome::Refused, refused.to_string());
            }
            source = cause.source();
        }
        if error.is_timeout() {
            return (
                Outcome::Timeout,
                format!("no answer within {} ms", self.timeout.as_millis()),
            );
        }
        let mut message = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            message = format!("{message}: {cause}");
            source = cause.source();
        }
        (Outcome::NetworkError, message)
    }
}
