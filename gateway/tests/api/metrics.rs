//! The gateway's Prometheus endpoint: request counts and latency by route template and status.

use reqwest::StatusCode;
use swatter_testkit::metrics as scrape;

use crate::helpers::TestApp;

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status_on_the_metrics_endpoint() {
    let app = TestApp::spawn().await;
    let metrics_addr = app.metrics_addr.expect("metrics are on");
    scrape::assert_operator_ready(
        &scrape::text(metrics_addr).await,
        "gateway",
        &[
            "swatter_http_requests_total",
            "swatter_http_request_duration_seconds",
        ],
    );
    let user = app.user("metered").await;
    let own_path = format!("/v1/users/{}", user.id);

    assert_eq!(app.get("/healthz").await.status(), StatusCode::OK);
    assert_eq!(
        app.get_as(&user.access_token, &own_path).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/users/me").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/no/such/route/4711").await.status(),
        StatusCode::NOT_FOUND
    );

    let text = scrape::text(metrics_addr).await;
    scrape::assert_operator_ready(&text, "gateway", &[]);
    let count = |route: &str, status: &str| {
        scrape::value(
            &text,
            "swatter_http_requests_total",
            &[("method", "GET"), ("route", route), ("status", status)],
        )
        .unwrap_or(0.0)
    };
    assert!(count("/healthz", "200") >= 1.0, "{text}");
    assert!(count("/v1/users/{id}", "200") >= 1.0, "{text}");
    assert!(count("/v1/users/me", "401") >= 1.0, "{text}");
    assert!(count("unmatched", "404") >= 1.0, "{text}");
    // Only the series (name and labels) count: a sample value may well hold the digits 4711.
    let raw_path_series = text
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' ').map(|(series, _value)| series))
        .find(|series| series.contains(&user.id) || series.contains("4711"));
    assert_eq!(
        raw_path_series, None,
        "raw paths must not become labels:\n{text}"
    );
    assert!(
        scrape::value(
            &text,
            "swatter_http_request_duration_seconds_count",
            &[("method", "GET"), ("route", "/healthz")],
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    assert!(
        text.contains("swatter_http_request_duration_seconds_bucket{"),
        "latency is a histogram:\n{text}"
    );
    // The services behind it count their RPCs in the same process.
    assert!(
        scrape::value(
            &text,
            "swatter_grpc_requests_total",
            &[
                ("service", "swatter.identity.v1.IdentityService"),
                ("method", "GetUser"),
                ("code", "OK"),
            ],
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );

    for op in ["hash", "verify"] {
        assert!(
            scrape::value(
                &text,
                "swatter_password_hash_duration_seconds_count",
                &[("op", op)]
            )
            .unwrap_or(0.0)
                >= 1.0,
            "{text}"
        );
    }

    // Metrics are not part of the public API.
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
}
