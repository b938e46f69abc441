//! W3C trace context (`traceparent`, `tracestate`) across process boundaries: in and out of
//! HTTP headers and gRPC metadata, and the string maps stored with outbox messages and sent as
//! AMQP headers. One trace then covers a request from the gateway through the services and the
//! queue to the report worker.
//!
//! When no OpenTelemetry layer is installed (tracing export is off), spans carry no context:
//! nothing is injected, and extracted contexts are ignored.

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapPropagator},
    trace::TraceContextExt,
};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Writes the context of `span` into `carrier`.
pub fn inject(span: &Span, carrier: &mut dyn Injector) {
    TraceContextPropagator::new().inject_context(&span.context(), carrier);
}

/// The context `carrier` holds (empty when it holds none, or a malformed one).
pub fn extract(carrier: &dyn Extractor) -> Context {
    TraceContextPropagator::new().extract(carrier)
}

/// Makes `span` continue the trace `carrier` names, if it names one; otherwise `span` keeps its
/// local parent (or starts a trace). Call before `span` is first entered.
pub fn continue_trace(span: &Span, carrier: &dyn Extractor) {
    let context = extract(carrier);
    if context.span().span_context().is_valid() {
        // Fails only when no OpenTelemetry layer records the span: nothing to continue then.
        let _ = span.set_parent(context);
    }
}

/// The context of the current span as text headers, for a message sent later (the outbox).
pub fn current_trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    inject(&Span::current(), &mut headers);
    headers
}

/// Writes trace context into HTTP headers (and gRPC metadata, through `MetadataMap::as_mut`).
pub struct HeaderInjector<'a>(pub &'a mut HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// Reads trace context from HTTP headers (and gRPC metadata, through `MetadataMap::as_ref`).
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(HeaderName::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceFlags, TraceId, TraceState, TracerProvider as _,
    };
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::prelude::*;

    use super::*;

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn remote_context() -> Context {
        Context::new().with_remote_span_context(SpanContext::new(
            TraceId::from_hex("4bf92f3577b34da6a3ce929d0e0e4736").unwrap(),
            SpanId::from_hex("00f067aa0ba902b7").unwrap(),
            TraceFlags::SAMPLED,
            true,
            "vendor=value".parse::<TraceState>().unwrap(),
        ))
    }

    fn span_context_of(context: &Context) -> SpanContext {
        context.span().span_context().clone()
    }

    #[test]
    fn a_context_survives_a_string_map() {
        let mut map = HashMap::new();
        TraceContextPropagator::new().inject_context(&remote_context(), &mut map);
        assert_eq!(map["traceparent"], TRACEPARENT);
        assert_eq!(map["tracestate"], "vendor=value");

        let back = span_context_of(&extract(&map));
        assert_eq!(back, span_context_of(&remote_context()));
    }

    #[test]
    fn a_context_survives_grpc_metadata() {
        let mut metadata = tonic::metadata::MetadataMap::new();
        TraceContextPropagator::new()
            .inject_context(&remote_context(), &mut HeaderInjector(metadata.as_mut()));
        assert_eq!(metadata.get("traceparent").unwrap(), TRACEPARENT);

        // What the server sees is the metadata as HTTP/2 headers.
        let headers = metadata.into_headers();
        let back = span_context_of(&extract(&HeaderExtractor(&headers)));
        assert_eq!(back, span_context_of(&remote_context()));
    }

    #[test]
    fn missing_or_malformed_headers_yield_no_context() {
        let mut headers = HeaderMap::new();
        assert!(!span_context_of(&extract(&HeaderExtractor(&headers))).is_valid());
        headers.insert("traceparent", HeaderValue::from_static("00-not-a-trace-01"));
        assert!(!span_context_of(&extract(&HeaderExtractor(&headers))).is_valid());
    }

    #[test]
    fn a_span_continues_the_incoming_trace_and_hands_on_its_own_context() {
        let provider = SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, || {
            let incoming = HashMap::from([("traceparent".to_owned(), TRACEPARENT.to_owned())]);
            let span = tracing::info_span!("server");
            continue_trace(&span, &incoming);
            let outgoing = span.in_scope(current_trace_headers);

            let parent = span_context_of(&remote_context());
            let child = span_context_of(&extract(&outgoing));
            assert_eq!(child.trace_id(), parent.trace_id());
            assert_ne!(child.span_id(), parent.span_id());
        });
    }

    #[test]
    fn without_an_opentelemetry_layer_nothing_is_injected() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("server");
            assert!(span.in_scope(current_trace_headers).is_empty());
        });
    }
}
