//! gRPC server bootstrap: every swatter service is served with authentication, request tracing,
//! `grpc.health.v1.Health`, reflection v1 and v1alpha, and graceful shutdown.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc, time::Duration};

use futures::future::BoxFuture;

use tokio::net::TcpListener;
use tonic::{
    body::Body,
    server::NamedService,
    transport::{Server, server::TcpIncoming},
};
use tonic_health::{ServingStatus, server::HealthReporter};
use tower::ServiceBuilder;
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::{
    auth::AuthLayer,
    client, metrics,
    propagation::{self, HeaderExtractor},
};

/// Header that correlates a request across the gateway and the services.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Metadata in which the gateway passes on the address of the client it serves. Identity believes
/// it only from peers in `SWATTER_TRUSTED_PROXIES`; for anyone else the TCP peer is the client.
pub const CLIENT_ADDRESS_HEADER: &str = "x-swatter-client-ip";

/// A service's listeners, bound when it is built (so tests on port 0 learn the addresses before
/// it runs): gRPC, unless the process serves no API, and `GET /metrics`, unless it is off.
pub struct Listeners {
    grpc: Option<TcpListener>,
    metrics: Option<metrics::Endpoint>,
}

impl Listeners {
    /// Binds `grpc` (`None`: no API in this process) and `metrics` (`None`: off).
    pub async fn bind(
        grpc: Option<SocketAddr>,
        metrics: Option<SocketAddr>,
    ) -> anyhow::Result<Self> {
        let grpc = match grpc {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let metrics = metrics::Endpoint::bind(metrics).await?;
        Ok(Listeners { grpc, metrics })
    }

    /// The same listeners, the metrics endpoint (if any) changed by `f`.
    pub fn map_metrics(self, f: impl FnOnce(metrics::Endpoint) -> metrics::Endpoint) -> Self {
        Listeners {
            metrics: self.metrics.map(f),
            ..self
        }
    }

    /// The address the gRPC server listens on.
    ///
    /// # Panics
    /// When the process serves no API.
    pub fn local_addr(&self) -> SocketAddr {
        self.grpc
            .as_ref()
            .and_then(|listener| listener.local_addr().ok())
            .expect("this process serves gRPC on a bound listener")
    }

    /// The address `GET /metrics` listens on, unless metrics are off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(metrics::Endpoint::local_addr)
    }

    /// Serves only metrics until `shutdown` resolves (a process that serves no API).
    pub async fn serve_metrics_until(self, shutdown: impl Future<Output = ()>) {
        let _metrics = metrics::serve(self.metrics);
        shutdown.await;
    }

    /// These listeners serving `service`, callers authenticated by `auth`, health following
    /// `readiness`; see [`BoundService::serve`].
    pub fn with_service<S>(
        self,
        service: S,
        auth: AuthLayer,
        readiness: ReadinessProbe,
    ) -> BoundService<S> {
        BoundService {
            listeners: self,
            service,
            auth,
            readiness,
        }
    }
}

/// A gRPC service built and bound, not yet running: its listeners, the service, the layer that
/// authenticates its callers and the probe its health follows.
pub struct BoundService<S> {
    listeners: Listeners,
    service: S,
    auth: AuthLayer,
    readiness: ReadinessProbe,
}

impl<S> BoundService<S>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    /// Binds gRPC on `addr` and metrics on `metrics` (`None`: off) for `service`.
    pub async fn bind(
        addr: SocketAddr,
        metrics: Option<SocketAddr>,
        service: S,
        auth: AuthLayer,
        readiness: ReadinessProbe,
    ) -> anyhow::Result<Self> {
        Ok(Listeners::bind(Some(addr), metrics)
            .await?
            .with_service(service, auth, readiness))
    }

    /// The address the gRPC server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.listeners.local_addr()
    }

    /// The address `GET /metrics` listens on, unless metrics are off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.listeners.metrics_addr()
    }

    /// Serves the service (plus health and reflection), callers authenticated by the auth layer,
    /// and metrics, until `shutdown` resolves, then lets in-flight requests finish. Health (`""` and
    /// the service's own name) follows `readiness`, probed every [`READINESS_INTERVAL`], and
    /// turns NOT_SERVING as soon as shutdown begins.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let BoundService {
            listeners,
            service,
            auth,
            readiness,
        } = self;
        let Some(listener) = listeners.grpc else {
            anyhow::bail!("no gRPC listener was bound for {}", S::NAME);
        };
        let _metrics = metrics::serve(listeners.metrics);
        tracing::info!(addr = %listener.local_addr()?, service = S::NAME, "listening");
        let (reporter, health) = tonic_health::server::health_reporter();
        let set = |reporter: HealthReporter, status: ServingStatus| async move {
            reporter.set_service_status("", status).await;
            reporter.set_service_status(S::NAME, status).await;
        };
        let initial = if readiness().await {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        set(reporter.clone(), initial).await;
        reporter
            .set_service_status(LIVENESS_SERVICE, ServingStatus::Serving)
            .await;
        let probe_reporter = reporter.clone();
        let prober = tokio::spawn(async move {
            let mut last = initial;
            loop {
                tokio::time::sleep(READINESS_INTERVAL).await;
                let now = if readiness().await {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                };
                if now != last {
                    tracing::warn!(service = S::NAME, status = ?now, "readiness changed");
                    set(probe_reporter.clone(), now).await;
                    last = now;
                }
            }
        });
        let shutdown_reporter = reporter.clone();
        let shutdown = async move {
            shutdown.await;
            prober.abort();
            set(shutdown_reporter, ServingStatus::NotServing).await;
        };

        // The descriptor set holds every swatter service; advertise only what this server serves.
        // `google.rpc` (status, error details) is there so that grpcurl and buf decode the
        // `BadRequest`, `ErrorInfo` and `RetryInfo` details of errors.
        let reflection = || {
            tonic_reflection::server::Builder::configure()
                .register_encoded_file_descriptor_set(swatter_proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(
                    tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
                )
                .with_service_name(S::NAME)
                .with_service_name("grpc.health.v1.Health")
                .with_service_name("grpc.reflection.v1.ServerReflection")
                .with_service_name("grpc.reflection.v1alpha.ServerReflection")
        };
        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;
        let layers = ServiceBuilder::new()
            .layer(crate::metrics::GrpcMetricsLayer)
            .layer(TraceLayer::new_for_grpc().make_span_with(request_span))
            .layer(auth)
            .into_inner();
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        Server::builder()
            .layer(layers)
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(service)
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await?;
        Ok(())
    }
}

/// The methods every service's `Application` (with a `Listeners` or [`BoundService`] field, named
/// `listeners` unless given, and a `run_until(shutdown)` method) offers: the addresses it is bound
/// to, and running until SIGTERM or SIGINT. `local_addr` panics in a process that serves no API.
#[macro_export]
macro_rules! listener_accessors {
    () => {
        $crate::listener_accessors!(listeners);
    };
    ($field:ident) => {
        /// The address the gRPC server listens on.
        pub fn local_addr(&self) -> std::net::SocketAddr {
            self.$field.local_addr()
        }

        /// The address `GET /metrics` listens on, unless metrics are off.
        pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
            self.$field.metrics_addr()
        }

        /// Serves until SIGTERM or SIGINT.
        pub async fn run_until_stopped(self) -> anyhow::Result<()> {
            self.run_until($crate::server::shutdown_signal()).await
        }
    };
}

/// Binds `addr` (port 0 picks a free port), naming the address in the error.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))
}

/// Resolves when the process receives SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutdown signal received; finishing in-flight requests");
}

/// The span of one call: named `package.Service/Method`, continuing the caller's trace when the
/// metadata carries one (health checks are at debug level, out of traces).
fn request_span(request: &http::Request<Body>) -> Span {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let path = request.uri().path();
    if client::is_health_check(path) {
        return tracing::debug_span!("grpc", method = %path, request_id = %request_id);
    }
    let (service, method) = client::rpc_parts(path);
    let span = tracing::info_span!(
        "grpc",
        method = %path,
        request_id = %request_id,
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
    );
    propagation::continue_trace(&span, &HeaderExtractor(request.headers()));
    span
}

/// Whether the service can do its work (database reachable, …), polled for gRPC health.
pub type ReadinessProbe = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// Health entry that is SERVING while the process answers at all, whatever its dependencies:
/// what a liveness probe should check (restarting a process does not bring a database back).
pub const LIVENESS_SERVICE: &str = "liveness";

/// How often readiness is probed.
pub const READINESS_INTERVAL: Duration = Duration::from_secs(5);

/// The address a listener is bound to, for logs and tests.
pub fn local_addr(listener: &TcpListener) -> anyhow::Result<SocketAddr> {
    Ok(listener.local_addr()?)
}
