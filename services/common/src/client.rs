//! The channel the gateway and the services call other services through: a tonic [`Channel`]
//! that records every call as a client span and sends that span's trace context in the call's
//! metadata, so the callee's server span joins the caller's trace.

use std::task::{Context, Poll};

use futures::future::BoxFuture;
use tonic::{body::Body, transport::Channel};
use tower::Service;
use tracing::{Instrument, Span};

use crate::propagation::{self, HeaderInjector};

/// A [`Channel`] whose calls are traced.
#[derive(Debug, Clone)]
pub struct TracedChannel(Channel);

impl TracedChannel {
    pub fn new(channel: Channel) -> Self {
        TracedChannel(channel)
    }
}

/// `/package.Service/Method` as (`package.Service`, `Method`).
pub(crate) fn rpc_parts(path: &str) -> (&str, &str) {
    path.trim_start_matches('/')
        .split_once('/')
        .unwrap_or((path, ""))
}

/// Health checks (probes, readiness) are frequent and uninteresting: they are traced at debug
/// level only, which the OpenTelemetry layer does not record.
pub(crate) fn is_health_check(path: &str) -> bool {
    path.starts_with("/grpc.health.v1.Health/")
}

/// The span of one call, named `package.Service/Method` as OpenTelemetry's RPC conventions ask.
fn client_span(path: &str) -> Span {
    let (service, method) = rpc_parts(path);
    if is_health_check(path) {
        return tracing::debug_span!("grpc.client", rpc.service = %service, rpc.method = %method);
    }
    tracing::info_span!(
        "grpc.client",
        otel.name = %path.trim_start_matches('/'),
        otel.kind = "client",
        otel.status_code = tracing::field::Empty,
        rpc.system = "grpc",
        rpc.service = %service,
        rpc.method = %method,
        rpc.grpc.status_code = tracing::field::Empty,
    )
}

impl Service<http::Request<Body>> for TracedChannel {
    type Response = http::Response<Body>;
    type Error = tonic::transport::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let span = client_span(request.uri().path());
        propagation::inject(&span, &mut HeaderInjector(request.headers_mut()));
        let call = self.0.call(request);
        let recorded = span.clone();
        Box::pin(
            async move {
                let result = call.await;
                // A failed unary call answers with its status in the headers
                // ("trailers-only"); a streamed one reports it at the end, unrecorded here.
                match &result {
                    Ok(response) => {
                        if let Some(code) = response
                            .headers()
                            .get("grpc-status")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| v.parse::<i32>().ok())
                        {
                            recorded.record("rpc.grpc.status_code", code);
                            if code != 0 {
                                recorded.record("otel.status_code", "ERROR");
                            }
                        }
                    }
                    Err(_) => {
                        recorded.record("otel.status_code", "ERROR");
                    }
                }
                result
            }
            .instrument(span),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_paths_split_into_service_and_method() {
        assert_eq!(
            rpc_parts("/swatter.issues.v1.IssuesService/GetProject"),
            ("swatter.issues.v1.IssuesService", "GetProject")
        );
        assert_eq!(rpc_parts("/odd"), ("/odd", ""));
        assert!(is_health_check("/grpc.health.v1.Health/Check"));
        assert!(!is_health_check(
            "/swatter.issues.v1.IssuesService/GetProject"
        ));
    }
}
