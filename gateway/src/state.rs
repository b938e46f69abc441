//! What the handlers share: the gRPC channels to the services, the token verifier, and how to
//! find the client's address.
//!
//! Each service is one [`Upstream`] in [`Upstreams`]; adding one is a field, a line in
//! [`Upstreams::all`] (so readiness checks it) and a client accessor.

use std::{sync::Arc, time::Duration};

use swatter_common::{auth::TokenVerifier, client::TracedChannel};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_client::IssuesServiceClient,
    reporting::v1::reporting_service_client::ReportingServiceClient,
    webhooks::v1::webhooks_service_client::WebhooksServiceClient,
};
use tonic::transport::Endpoint;

use crate::config::UpstreamUrl;

/// How long to wait for a TCP connection to a service before answering 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// A gRPC service the gateway talks to.
#[derive(Clone)]
pub struct Upstream {
    pub name: &'static str,
    pub channel: TracedChannel,
}

impl Upstream {
    /// A channel that connects on first use (and reconnects after failures), so the gateway can
    /// start before the service does.
    pub fn connect_lazy(name: &'static str, url: &UpstreamUrl) -> Self {
        let channel = Endpoint::from(url.uri().clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_while_idle(true)
            .connect_lazy();
        Upstream {
            name,
            channel: TracedChannel::new(channel),
        }
    }
}

/// Every service the gateway talks to.
#[derive(Clone)]
pub struct Upstreams {
    pub identity: Upstream,
    pub issues: Upstream,
    pub reporting: Upstream,
    pub webhooks: Upstream,
}

impl Upstreams {
    /// All of them, for readiness.
    pub fn all(&self) -> Vec<&Upstream> {
        vec![
            &self.identity,
            &self.issues,
            &self.reporting,
            &self.webhooks,
        ]
    }
}

/// The state of the handlers.
#[derive(Clone)]
pub struct AppState {
    pub upstreams: Upstreams,
    pub verifier: Arc<TokenVerifier>,
    /// Proxies in front of the gateway that append to `X-Forwarded-For` (0: ignore it).
    pub trusted_proxy_hops: usize,
}

impl AppState {
    /// A client of the identity service.
    pub fn identity(&self) -> IdentityServiceClient<TracedChannel> {
        IdentityServiceClient::new(self.upstreams.identity.channel.clone())
    }

    /// A client of the issues service.
    pub fn issues(&self) -> IssuesServiceClient<TracedChannel> {
        IssuesServiceClient::new(self.upstreams.issues.channel.clone())
    }

    /// A client of the reporting service.
    pub fn reporting(&self) -> ReportingServiceClient<TracedChannel> {
        ReportingServiceClient::new(self.upstreams.reporting.channel.clone())
    }

    /// A client of the webhooks service.
    pub fn webhooks(&self) -> WebhooksServiceClient<TracedChannel> {
        WebhooksServiceClient::new(self.upstreams.webhooks.channel.clone())
    }
}
