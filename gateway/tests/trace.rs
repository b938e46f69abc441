//! Distributed tracing end to end: a report requested over HTTP with a client's `traceparent`
//! is one trace from the gateway through the gRPC calls, the outbox and RabbitMQ to the worker's
//! render and upload, all recorded by the real OpenTelemetry layer into an in-memory exporter.
//!
//! The tracing subscriber is global, so this binary holds a single test.

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

use std::{collections::HashMap, time::Duration};

use helpers::{ReportingMode, TestApp, wait_until_terminal};
use opentelemetry::trace::{SpanId, SpanKind, TraceId};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use swatter_common::telemetry;
use tracing_subscriber::prelude::*;

const CLIENT_TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN_ID: &str = "00f067aa0ba902b7";

/// The spans of one trace, by id.
struct Trace(HashMap<SpanId, SpanData>);

impl Trace {
    fn named(&self, name: &str, kind: SpanKind) -> &SpanData {
        let mut found = self
            .0
            .values()
            .filter(|s| s.name == name && s.span_kind == kind);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no {kind:?} span {name:?} in {}", self.names()));
        assert!(
            found.next().is_none(),
            "more than one {kind:?} span {name:?}"
        );
        span
    }

    fn of_kind(&self, kind: SpanKind) -> &SpanData {
        let mut found = self.0.values().filter(|s| s.span_kind == kind);
        let span = found
            .next()
            .unwrap_or_else(|| panic!("no {kind:?} span in {}", self.names()));
        assert!(found.next().is_none(), "more than one {kind:?} span");
        span
    }

    /// `span` and its ancestors, nearest first, as far as they are in the trace.
    fn lineage<'a>(&'a self, span: &'a SpanData) -> Vec<&'a SpanData> {
        let mut chain = vec![span];
        while let Some(parent) = self.0.get(&chain[chain.len() - 1].parent_span_id) {
            chain.push(parent);
        }
        chain
    }

    fn descends_from(&self, span: &SpanData, ancestor: &SpanData) -> bool {
        self.lineage(span)
            .iter()
            .any(|s| s.span_context.span_id() == ancestor.span_context.span_id())
    }

    fn names(&self) -> String {
        let mut names: Vec<String> = self
            .0
            .values()
            .map(|s| format!("{:?} {}", s.span_kind, s.name))
            .collect();
        names.sort();
        names.join(", ")
    }
}

/// The finished spans of the client's trace, once the consumer span (the outermost span of the
/// worker, closed last) has been exported.
async fn finished_trace(exporter: &InMemorySpanExporter, provider: &SdkTracerProvider) -> Trace {
    let trace_id = TraceId::from_hex(CLIENT_TRACE_ID).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        provider.force_flush().expect("flush the spans");
        let spans: HashMap<SpanId, SpanData> = exporter
            .get_finished_spans()
            .expect("read the exported spans")
            .into_iter()
            .filter(|s| s.span_context.trace_id() == trace_id)
            .map(|s| (s.span_context.span_id(), s))
            .collect();
        if spans.values().any(|s| s.span_kind == SpanKind::Consumer) {
            return Trace(spans);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker's spans did not arrive; the trace has: {}",
            Trace(spans).names()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_report_request_is_one_trace_from_the_gateway_through_the_queue_to_the_upload() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing_subscriber::registry()
        .with(telemetry::otel_layer(&provider))
        .init();

    let app = TestApp::spawn_with_reporting(ReportingMode::WithWorker).await;
    let alice = app.user("alice").await;
    app.create_project(&alice.access_token, "TRACE").await;
    app.create_issue(
        &alice.access_token,
        "TRACE",
        &json!({ "title": "Spans go missing" }),
    )
    .await;

    let response = app
        .authed(Method::POST, "/v1/reports", &alice.access_token)
        .header(
            "traceparent",
            format!("00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"),
        )
        .json(&json!({ "kind": "project", "project_key": "TRACE" }))
        .send()
        .await
        .expect("send request");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let job: Value = response.json().await.unwrap();
    let done = wait_until_terminal(&app, &alice.access_token, job["id"].as_str().unwrap()).await;
    assert_eq!(done["state"], "succeeded", "{done}");

    let trace = finished_trace(&exporter, &provider).await;

    // The gateway continues the client's trace.
    let http = trace.named("POST /v1/reports", SpanKind::Server);
    assert_eq!(
        http.parent_span_id,
        SpanId::from_hex(CLIENT_SPAN_ID).unwrap()
    );
    assert!(http.parent_span_is_remote);

    // From the upload back up: worker, queue hop, outbox, the reporting API, the gateway.
    let upload = trace.named("report.upload", SpanKind::Internal);
    let lineage: Vec<(SpanKind, &str)> = trace
        .lineage(upload)
        .iter()
        .map(|s| (s.span_kind.clone(), s.name.as_ref()))
        .collect();
    let create_report = "swatter.reporting.v1.ReportingService/CreateReport";
    assert_eq!(lineage.len(), 7, "{lineage:?}");
    assert_eq!(lineage[0], (SpanKind::Internal, "report.upload"));
    assert_eq!(lineage[1], (SpanKind::Internal, "report.job"));
    assert_eq!(lineage[2].0, SpanKind::Consumer);
    assert!(lineage[2].1.starts_with("process "), "{lineage:?}");
    assert_eq!(lineage[3].0, SpanKind::Producer);
    assert!(lineage[3].1.starts_with("publish "), "{lineage:?}");
    assert_eq!(lineage[4], (SpanKind::Server, create_report));
    assert_eq!(lineage[5], (SpanKind::Client, create_report));
    assert_eq!(lineage[6], (SpanKind::Server, "POST /v1/reports"));

    // The queue hop: the consumer's parent is the producer, which continues the API's span.
    let consumer = trace.of_kind(SpanKind::Consumer);
    let producer = trace.of_kind(SpanKind::Producer);
    let job_span = trace.named("report.job", SpanKind::Internal);
    assert_eq!(job_span.parent_span_id, consumer.span_context.span_id());
    assert_eq!(consumer.parent_span_id, producer.span_context.span_id());
    assert_eq!(
        producer.parent_span_id,
        trace
            .named(create_report, SpanKind::Server)
            .span_context
            .span_id()
    );

    // The worker's own steps, and its calls to the issues service, are in the job's trace.
    let render = trace.named("report.render", SpanKind::Internal);
    assert_eq!(render.parent_span_id, job_span.span_context.span_id());
    let fetch = trace.named("report.fetch", SpanKind::Internal);
    assert_eq!(fetch.parent_span_id, job_span.span_context.span_id());
    let export = "swatter.issues.v1.IssuesService/ExportProjectIssues";
    let export_client = trace.named(export, SpanKind::Client);
    let export_server = trace.named(export, SpanKind::Server);
    assert!(trace.descends_from(export_client, fetch));
    assert_eq!(
        export_server.parent_span_id,
        export_client.span_context.span_id()
    );

    // Nothing in the trace is cut off: every span's parent is in it, but the client's.
    for span in trace.0.values() {
        assert!(
            trace.0.contains_key(&span.parent_span_id)
                || span.span_context.span_id() == http.span_context.span_id(),
            "{:?} {} has no parent in the trace",
            span.span_kind,
            span.name
        );
    }

    app.cleanup_broker().await;
}
