//! What wraps every request: its `X-Request-ID`, its span (continuing the client's W3C trace),
//! one log line, the deadline, a last line of defence against panics, and the security headers
//! of every answer.
//!
//! The request id is kept in a task-local for the duration of the request so that every problem
//! body rendered while answering it (by handlers, extractors, fallbacks or the deadline) can name
//! it without threading it through each call.

use std::{any::Any, fmt, time::Duration};

use axum::{
    extract::{MatchedPath, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use http::{HeaderValue, Method, header};
use swatter_common::{
    propagation::{self, HeaderExtractor},
    server::REQUEST_ID_HEADER,
};
use tokio::time::Instant;
use tracing::{Instrument, Span};
use uuid::Uuid;

use crate::error::ApiError;

/// Longest client-supplied request id that is echoed rather than replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

tokio::task_local! {
    static REQUEST_ID: RequestId;
}

/// The id that correlates a request across the gateway, the services and their logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    /// The client's id when it is sane (1–128 visible ASCII characters), else `None`.
    pub fn from_client(value: &HeaderValue) -> Option<Self> {
        let bytes = value.as_bytes();
        let sane = (1..=MAX_REQUEST_ID_LEN).contains(&bytes.len())
            && bytes.iter().all(|b| b.is_ascii_graphic());
        sane.then(|| RequestId(String::from_utf8_lossy(bytes).into_owned()))
    }

    /// A fresh random id.
    pub fn generate() -> Self {
        RequestId(Uuid::new_v4().to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The id of the request being answered on this task, if any.
pub fn current_request_id() -> Option<RequestId> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Assigns the request id (echoed or generated), puts it in the request's extensions, the
/// response's headers and the span of everything logged while answering, and logs one line when
/// the answer is ready.
pub async fn request_context(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(RequestId::from_client)
        .unwrap_or_else(RequestId::generate);
    request.extensions_mut().insert(id.clone());
    let method = request.method().clone();
    let route = match request.extensions().get::<MatchedPath>() {
        Some(path) => path.as_str().to_owned(),
        None => request.uri().path().to_owned(),
    };

    let span = request_span(&method, &route, &id, &request);
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(request))
        .instrument(span.clone())
        .await;

    // The id is sane visible ASCII or a UUID, so it is always a valid header value.
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    if response.status().is_server_error() {
        span.record("otel.status_code", "ERROR");
    }
    let latency_ms = started.elapsed().as_micros() as f64 / 1000.0;
    if response.status().is_server_error() {
        tracing::warn!(%method, %route, status, latency_ms, request_id = %id, "request");
    } else {
        tracing::info!(%method, %route, status, latency_ms, request_id = %id, "request");
    }
    response
}

/// The span of a request, named `{method} {route}` as OpenTelemetry's HTTP conventions ask,
/// continuing the client's trace when it sent a `traceparent`. Probes are at debug level, out of
/// traces.
fn request_span(method: &Method, route: &str, id: &RequestId, request: &Request) -> Span {
    if matches!(route, "/healthz" | "/readyz") {
        return tracing::debug_span!("request", request_id = %id);
    }
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        otel.name = %format!("{method} {route}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        http.request.method = %method,
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    propagation::continue_trace(&span, &HeaderExtractor(request.headers()));
    span
}

/// Answers 504 when a request takes longer than the configured timeout. Dropping the handler
/// cancels its gRPC calls, so the services stop working on it too.
pub async fn deadline(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout().into_response(),
    }
}

/// The Content-Security-Policy of every API answer (JSON, problems, PDFs, event streams): such an
/// answer is data, never a page, so it may load nothing, run nothing and be framed by no one.
pub const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// The Content-Security-Policy of Swagger UI (`/docs`): its scripts, styles and images come from
/// this origin only (it sets inline `style` attributes and uses `data:` images in its CSS), it
/// calls this origin's API ("Try it out"), and no other site may frame it.
pub const DOCS_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; font-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; \
    base-uri 'none'; form-action 'self'";

/// Adds the security headers to every answer, whoever produced it (handlers, extractors,
/// fallbacks, the deadline, the panic catcher): `X-Content-Type-Options: nosniff`, a
/// `Content-Security-Policy` (the Swagger UI one under `/docs`, [`API_CSP`] elsewhere),
/// `X-Frame-Options: DENY` for browsers without `frame-ancestors`, and
/// `Referrer-Policy: no-referrer`. Values a handler set itself are kept.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let docs = request.uri().path() == "/docs" || request.uri().path().starts_with("/docs/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let csp = if docs { DOCS_CSP } else { API_CSP };
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, csp),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers
            .entry(name)
            .or_insert(HeaderValue::from_static(value));
    }
    response
}

/// The answer when a handler panics: a 500 problem that says nothing about the panic.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    tracing::error!(panic = %message, "a request handler panicked");
    ApiError::internal().into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_client_request_ids_are_kept_and_others_refused() {
        let keep = HeaderValue::from_static("abc-123_XYZ:/.~");
        assert_eq!(
            RequestId::from_client(&keep).unwrap().as_str(),
            "abc-123_XYZ:/.~"
        );
        let longest = HeaderValue::from_str(&"a".repeat(128)).unwrap();
        assert!(RequestId::from_client(&longest).is_some());
        for bad in [
            HeaderValue::from_str(&"a".repeat(129)).unwrap(),
            HeaderValue::from_static(""),
            HeaderValue::from_static("has space"),
            HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap(),
            HeaderValue::from_bytes(b"tab\there").unwrap(),
        ] {
            assert!(RequestId::from_client(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn generated_ids_are_uuids() {
        assert!(Uuid::parse_str(RequestId::generate().as_str()).is_ok());
    }
}
