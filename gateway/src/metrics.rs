//! HTTP request metrics: `swatter_http_requests_total{method,route,status}` and
//! `swatter_http_request_duration_seconds{method,route}`, labelled with the route template
//! (`/v1/issues/{issue_key}`), never the raw path, so that the number of series stays bounded;
//! requests that match no route are labelled `unmatched`. The duration runs to the response
//! head: a streamed body (a PDF, job events) is not included.
//!
//! The gateway's `GET /metrics` is served on its own listener (`SWATTER_METRICS_ADDR`), not on
//! the public API.

use axum::{
    extract::{MatchedPath, Request},
    middleware::Next,
    response::Response,
};
use http::Method;
use tokio::time::Instant;

/// Counts and times every request.
pub async fn track(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let response = next.run(request).await;
    metrics::histogram!(
        "swatter_http_request_duration_seconds",
        "method" => method,
        "route" => route.clone(),
    )
    .record(started.elapsed().as_secs_f64());
    metrics::counter!(
        "swatter_http_requests_total",
        "method" => method,
        "route" => route,
        "status" => response.status().as_str().to_owned(),
    )
    .increment(1);
    response
}

/// The standard methods by name; anything else (a client may send any token) as `other`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
