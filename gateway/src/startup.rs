//! Building and running the gateway: channels to the services, the token verifier, the routes,
//! and the listener. Tests start it in-process on port 0 through the same code.

use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use swatter_common::{
    auth::{GrpcJwks, GrpcPersonalTokens, PERSONAL_TOKEN_CHECK_INTERVAL, TokenVerifier},
    metrics, server,
};
use swatter_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tokio::net::TcpListener;

use crate::{
    config::GatewayConfig,
    routes,
    state::{AppState, Upstream, Upstreams},
};

/// How long start-up waits for identity's signing keys before going on without them.
const KEY_FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// A built gateway, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    router: Router,
    metrics: Option<metrics::Endpoint>,
}

impl Application {
    /// Prepares lazily-connecting channels to the services, fetches the signing keys (warning
    /// and going on if identity is not up yet: they are fetched again when a token names an
    /// unknown key), and binds the listener.
    pub async fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let upstreams = Upstreams {
            identity: Upstream::connect_lazy("identity", &config.identity_url),
            issues: Upstream::connect_lazy("issues", &config.issues_url),
            reporting: Upstream::connect_lazy("reporting", &config.reporting_url),
            webhooks: Upstream::connect_lazy("webhooks", &config.webhooks_url),
        };
        let identity = IdentityServiceClient::new(upstreams.identity.channel.clone());
        // Personal access tokens are checked here too (every 2 s per token), so that a refused
        // one gets its 401 saying why before any service is asked.
        let verifier = Arc::new(
            TokenVerifier::new(
                &config.jwt_issuer,
                &config.jwt_audience,
                GrpcJwks(identity.clone()),
            )
            .with_personal_tokens(GrpcPersonalTokens(identity), PERSONAL_TOKEN_CHECK_INTERVAL),
        );
        match tokio::time::timeout(KEY_FETCH_TIMEOUT, verifier.refresh()).await {
            Ok(Ok(count)) => tracing::info!(count, "fetched the token signing keys"),
            Ok(Err(error)) => tracing::warn!(
                error = format!("{error:#}"),
                identity = %config.identity_url,
                "could not fetch the token signing keys yet; will retry when a token arrives"
            ),
            Err(_) => tracing::warn!(
                identity = %config.identity_url,
                "identity did not send the token signing keys in time; will retry when a token arrives"
            ),
        }
        let state = AppState {
            upstreams,
            verifier,
            trusted_proxy_hops: config.trusted_proxy_hops,
        };
        let router = routes::router(state, config.request_timeout);
        let listener = server::bind(config.addr).await?;
        let addr = server::local_addr(&listener)?;
        let metrics = metrics::Endpoint::bind(config.metrics_addr).await?;
        Ok(Application {
            listener,
            addr,
            router,
            metrics,
        })
    }

    /// The address the gateway listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The address `GET /metrics` listens on, unless metrics are off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(metrics::Endpoint::local_addr)
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.addr, "gateway listening");
        let _metrics = metrics::serve(self.metrics);
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await?;
        Ok(())
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(server::shutdown_signal()).await
    }
}
