//! Prometheus metrics: one recorder per process, a `GET /metrics` endpoint on its own listener
//! (`SWATTER_METRICS_ADDR`, or `off`), and the gRPC server's request metrics.
//!
//! The recorder is global and installed once (the first endpoint bound installs it), so several
//! services started in one test process share it; their series differ by the `service` label.
//! Code records with the `metrics` macros; while no endpoint is bound they record into nothing.
//! The names are listed in the README's "Metrics" section. Each scrape also carries the standard
//! `process_*` metrics of the process ([`process`]).

mod process;

use std::{
    collections::HashSet,
    net::SocketAddr,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
    time::{Duration, Instant},
};

use axum::{Router, extract::State, http::header, response::IntoResponse, routing::get};
use futures::future::BoxFuture;
use http_body::{Body, Frame, SizeHint};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use tokio::net::TcpListener;

/// The setting that names the metrics listener.
pub const METRICS_ADDR: &str = "SWATTER_METRICS_ADDR";

/// Histogram buckets (seconds) of every `*_seconds` histogram: from a fast RPC to a long render.
pub const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

/// How long a scrape waits for its collector (database and broker queries) before rendering the
/// last values.
pub const COLLECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A `SWATTER_METRICS_ADDR` value: `host:port` to listen on, `off` for no endpoint.
pub fn metrics_addr(raw: &str) -> Result<Option<SocketAddr>, String> {
    if raw.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|e| format!("expected host:port or off ({e})"))
}

/// The process's recorder, installed on first use, with upkeep on a thread of its own (so it
/// outlives any one Tokio runtime, as in tests).
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("another metrics recorder is installed; /metrics will be empty");
        }
        describe();
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(Duration::from_secs(5));
                    upkeep.run_upkeep();
                }
            });
        handle
    })
}

/// A recorder as the process's is made (tests render one of their own with
/// `metrics::with_local_recorder` to see what a fresh process shows).
pub fn recorder() -> PrometheusRecorder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), DURATION_BUCKETS)
        .expect("the buckets are not empty")
        .build_recorder()
}

/// Describes the metrics of the gRPC servers and the gateway (their `# HELP` lines). The process's
/// recorder runs it when it is installed; a test runs it against a recorder of its own.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_histogram};
    describe_counter!(
        "swatter_grpc_requests_total",
        Unit::Count,
        "gRPC calls served, by service, method and status code"
    );
    describe_histogram!(
        "swatter_grpc_request_duration_seconds",
        Unit::Seconds,
        "Time from a gRPC call's arrival to its status (for streams: to the stream's end)"
    );
    describe_counter!(
        "swatter_http_requests_total",
        Unit::Count,
        "HTTP requests answered by the gateway, by method, route template and status"
    );
    describe_histogram!(
        "swatter_http_request_duration_seconds",
        Unit::Seconds,
        "Time from an HTTP request's arrival to its response head"
    );
}

/// Work done right before each scrape (e.g. reading gauges from the database).
pub type Collector = Arc<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>;

/// A bound metrics listener, not yet serving.
pub struct Endpoint {
    listener: TcpListener,
    addr: SocketAddr,
    collector: Option<Collector>,
}

impl Endpoint {
    /// Binds `addr` (port 0 picks one) and installs the recorder; `None` (metrics off) binds
    /// nothing.
    pub async fn bind(addr: Option<SocketAddr>) -> anyhow::Result<Option<Endpoint>> {
        let Some(addr) = addr else {
            return Ok(None);
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot listen on {addr} ({METRICS_ADDR}): {e}"))?;
        let addr = listener.local_addr()?;
        handle();
        Ok(Some(Endpoint {
            listener,
            addr,
            collector: None,
        }))
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `collector` before each scrape (bounded by [`COLLECT_TIMEOUT`]).
    pub fn with_collector(mut self, collector: Collector) -> Self {
        self.collector = Some(collector);
        self
    }

    /// Serves `GET /metrics` on a background task until the returned guard is dropped.
    pub fn spawn(self) -> Serving {
        tracing::info!(addr = %self.addr, "metrics endpoint listening");
        let router = Router::new()
            .route("/metrics", get(render_metrics))
            .with_state(self.collector);
        let listener = self.listener;
        Serving(tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, router).await {
                tracing::warn!(error = %error, "the metrics endpoint stopped");
            }
        }))
    }
}

/// Starts serving `endpoint`, if any; keep the guard for as long as the service runs.
pub fn serve(endpoint: Option<Endpoint>) -> Option<Serving> {
    endpoint.map(Endpoint::spawn)
}

/// The serving endpoint; dropping it stops it.
pub struct Serving(tokio::task::JoinHandle<()>);

impl Drop for Serving {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn render_metrics(State(collector): State<Option<Collector>>) -> impl IntoResponse {
    if let Some(collect) = collector
        && tokio::time::timeout(COLLECT_TIMEOUT, collect())
            .await
            .is_err()
    {
        tracing::warn!("collecting metrics took too long; serving the last values");
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        render(),
    )
}

/// What `GET /metrics` answers: the recorder's series, then the process metrics.
fn render() -> String {
    let mut text = handle().render();
    text.push_str(&process::render());
    text
}

/// The canonical name of a gRPC status code (`OK`, `NOT_FOUND`, …).
pub fn grpc_code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "UNKNOWN",
    }
}

/// Counts gRPC calls and times them: `swatter_grpc_requests_total{service,method,code}` and
/// `swatter_grpc_request_duration_seconds{service,method}`.
///
/// The code comes from `grpc-status` in the response head (how tonic answers errors) or else in
/// the trailers, so a call is recorded when its status is known: for a stream, when it ends. A
/// stream the client abandons counts as `CANCELLED`. Paths of no served method (answered
/// `UNIMPLEMENTED`) are labelled `unknown` so that junk requests cannot create series.
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcMetricsLayer;

impl<S> tower::Layer<S> for GrpcMetricsLayer {
    type Service = GrpcMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcMetrics { inner }
    }
}

/// The service of [`GrpcMetricsLayer`].
#[derive(Debug, Clone)]
pub struct GrpcMetrics<S> {
    inner: S,
}

impl<S, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for GrpcMetrics<S>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ResBody: Body + Send + 'static,
{
    type Response = http::Response<MetricsBody<ResBody>>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        let call = Call {
            path: request.uri().path().to_owned(),
            started: Instant::now(),
        };
        let response = self.inner.call(request);
        Box::pin(async move {
            match response.await {
                Ok(response) => {
                    let head_status = response
                        .headers()
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok());
                    let (parts, body) = response.into_parts();
                    let pending = match head_status {
                        Some(code) => {
                            call.record(code);
                            None
                        }
                        None => Some(call),
                    };
                    Ok(http::Response::from_parts(
                        parts,
                        MetricsBody {
                            inner: Box::pin(body),
                            pending,
                        },
                    ))
                }
                Err(error) => {
                    call.record(2);
                    Err(error)
                }
            }
        })
    }
}

/// A call whose status is not known yet.
struct Call {
    path: String,
    started: Instant,
}

impl Call {
    fn record(&self, code: i32) {
        let (service, method) = match self.path.trim_start_matches('/').split_once('/') {
            Some((service, method)) if known_methods().contains(self.path.as_str()) => {
                (service.to_owned(), method.to_owned())
            }
            _ => ("unknown".to_owned(), "unknown".to_owned()),
        };
        metrics::histogram!(
            "swatter_grpc_request_duration_seconds",
            "service" => service.clone(),
            "method" => method.clone(),
        )
        .record(self.started.elapsed().as_secs_f64());
        metrics::counter!(
            "swatter_grpc_requests_total",
            "service" => service,
            "method" => method,
            "code" => grpc_code_name(code),
        )
        .increment(1);
    }
}

/// Every method path (`/package.Service/Method`) of swatter's services, health and reflection:
/// the only paths that get labels of their own.
fn known_methods() -> &'static HashSet<String> {
    static KNOWN: OnceLock<HashSet<String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = HashSet::new();
        for encoded in [
            swatter_proto::FILE_DESCRIPTOR_SET,
            tonic_health::pb::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
            tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
        ] {
            let Ok(set) = <prost_types::FileDescriptorSet as prost::Message>::decode(encoded)
            else {
                continue;
            };
            for file in set.file {
                let package = file.package();
                for service in &file.service {
                    for method in &service.method {
                        known.insert(format!("/{package}.{}/{}", service.name(), method.name()));
                    }
                }
            }
        }
        known
    })
}

/// A response body that records its call's status when the trailers pass (or the body ends or
/// is dropped without them).
pub struct MetricsBody<B> {
    inner: Pin<Box<B>>,
    pending: Option<Call>,
}

impl<B: Body> Body for MetricsBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if self.pending.is_some() {
            let code = match &polled {
                Poll::Ready(Some(Ok(frame))) => frame.trailers_ref().map(|trailers| {
                    trailers
                        .get("grpc-status")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i32>().ok())
                        .unwrap_or(2)
                }),
                Poll::Ready(Some(Err(_))) => Some(2),
                Poll::Ready(None) => Some(2),
                Poll::Pending => None,
            };
            if let Some(code) = code
                && let Some(call) = self.pending.take()
            {
                call.record(code);
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for MetricsBody<B> {
    fn drop(&mut self) {
        if let Some(call) = self.pending.take() {
            call.record(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_metrics_address_turns_off_and_refuses_anything_else() {
        assert_eq!(metrics_addr("OFF").unwrap(), None);
        assert_eq!(
            metrics_addr("0.0.0.0:9200").unwrap(),
            Some(SocketAddr::from(([0, 0, 0, 0], 9200)))
        );
        let err = metrics_addr("localhost").unwrap_err();
        assert!(err.contains("expected host:port or off"), "{err}");
    }

    #[test]
    fn status_codes_have_their_canonical_names() {
        assert_eq!(grpc_code_name(0), "OK");
        assert_eq!(grpc_code_name(5), "NOT_FOUND");
        assert_eq!(grpc_code_name(16), "UNAUTHENTICATED");
        assert_eq!(grpc_code_name(99), "UNKNOWN");
    }

    #[test]
    fn only_served_methods_are_known_paths() {
        let known = known_methods();
        assert!(known.contains("/grpc.health.v1.Health/Check"));
        assert!(known.contains("/swatter.issues.v1.IssuesService/ListIssues"));
        assert!(!known.contains("/swatter.issues.v1.IssuesService/Nonsense"));
    }
}
