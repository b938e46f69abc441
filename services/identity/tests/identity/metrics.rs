//! The identity service's Prometheus endpoint, as an operator's tools see it.

use swatter_testkit::metrics as scrape;

use crate::support::TestApp;

/// What exists only once a call has been served or a password hashed.
const OBSERVED_PER_CALL: &[&str] = &[
    "swatter_grpc_requests_total",
    "swatter_grpc_request_duration_seconds",
    "swatter_password_hash_duration_seconds",
];

#[tokio::test]
async fn the_metrics_endpoint_passes_promtool_before_and_after_traffic_with_every_documented_metric()
 {
    let app = TestApp::spawn().await;
    let metrics_addr = app.metrics_addr.expect("metrics are on");
    scrape::assert_operator_ready(
        &scrape::text(metrics_addr).await,
        "identity",
        OBSERVED_PER_CALL,
    );

    let (_, tokens) = app.user("scraped").await;
    app.get_me(&tokens.access_token).await.unwrap();

    let text = scrape::text(metrics_addr).await;
    scrape::assert_operator_ready(&text, "identity", &[]);
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
}
