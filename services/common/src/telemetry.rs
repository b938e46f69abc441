//! Structured logging and distributed tracing.
//!
//! Logs: `SWATTER_LOG_FORMAT=json|pretty` (default `pretty`), filter from `RUST_LOG` (default
//! `info`).
//!
//! Traces: spans at info level and above are exported over OTLP/gRPC when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, under the
//! service name `OTEL_SERVICE_NAME` (default: the binary's name); the exporter reads the other
//! standard `OTEL_*` variables (headers, timeout, batching, sampler) itself. Trace context
//! travels as W3C `traceparent`/`tracestate` (see [`crate::propagation`]).

use opentelemetry::{global, trace::TracerProvider as _};
use opentelemetry_sdk::{Resource, propagation::TraceContextPropagator, trace::SdkTracerProvider};
use tracing_subscriber::{
    EnvFilter, Layer, Registry, filter::LevelFilter, fmt, prelude::*, registry::LookupSpan,
};

/// The log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = &'static str;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "pretty" => Ok(LogFormat::Pretty),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected json or pretty"),
        }
    }
}

/// Where spans go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TraceExport {
    /// Nowhere: no OpenTelemetry spans are made, and no trace context is sent on.
    Off,
    /// Over OTLP/gRPC to the endpoint in the standard variables, as `service_name`.
    Otlp { service_name: String },
}

/// What every binary reads for logs and traces. Only OTLP over gRPC (plain `http://`, as to a
/// local collector or Jaeger) is built in, so another protocol or an `https://` endpoint is
/// refused rather than silently ignored; the exporter reads the other `OTEL_*` variables itself.
#[derive(Debug, Clone, clap::Args)]
pub struct TelemetrySettings {
    /// Log filter (`tracing` directives, e.g. `info,swatter_reporting=debug`).
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    pub rust_log: String,
    /// `pretty` or `json`.
    #[arg(long, env = "SWATTER_LOG_FORMAT", default_value = "pretty")]
    pub log_format: LogFormat,
    /// OTLP/gRPC collector, `http://host:4317`; set it to export traces (see [Tracing](#tracing)).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_parser = otlp_endpoint)]
    pub otlp_endpoint: Option<String>,
    /// The same, for traces only (wins over the previous).
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", value_parser = otlp_endpoint)]
    pub otlp_traces_endpoint: Option<String>,
    /// Only `grpc` is built in; anything else stops the binary at start.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_PROTOCOL", default_value = "grpc", value_parser = grpc_only)]
    pub otlp_protocol: String,
    /// The same, for traces only.
    #[arg(long, env = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", default_value = "grpc", value_parser = grpc_only)]
    pub otlp_traces_protocol: String,
    /// `service.name` of the spans; default the binary's name.
    #[arg(long, env = "OTEL_SERVICE_NAME")]
    pub otel_service_name: Option<String>,
}

fn grpc_only(raw: &str) -> Result<String, String> {
    match raw {
        "grpc" => Ok(raw.to_owned()),
        _ => Err("only grpc is supported".to_owned()),
    }
}

fn otlp_endpoint(raw: &str) -> Result<String, String> {
    crate::config::url(raw, &["http"]).map_err(|_| {
        "expected http://host:port (OTLP over gRPC without TLS, e.g. http://localhost:4317)"
            .to_owned()
    })
}

impl TelemetrySettings {
    /// Where spans go; as `default_service_name` when `OTEL_SERVICE_NAME` is unset.
    pub fn trace_export(&self, default_service_name: &str) -> TraceExport {
        if self.otlp_endpoint.is_none() && self.otlp_traces_endpoint.is_none() {
            return TraceExport::Off;
        }
        let service_name = self
            .otel_service_name
            .clone()
            .unwrap_or_else(|| default_service_name.to_owned());
        TraceExport::Otlp { service_name }
    }
}

/// The layer that turns `tracing` spans into OpenTelemetry spans of `provider`. Only spans at
/// info level and above are recorded, whatever `RUST_LOG` says, so that a quieter log does not
/// cut traces apart.
pub fn otel_layer<S>(provider: &SdkTracerProvider) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
{
    tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("swatter"))
        .with_threads(false)
        .with_filter(LevelFilter::INFO)
}

/// Keeps the trace exporter alive; dropping it sends the spans not yet exported.
#[must_use = "dropping the guard stops trace export"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let Some(provider) = self.provider.take() else {
            return;
        };
        // The export thread needs the runtime's other threads to drive the gRPC connection, so
        // this thread must not keep the runtime busy while it waits.
        let shutdown = || provider.shutdown();
        let result = match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(shutdown)
            }
            _ => shutdown(),
        };
        if let Err(error) = result {
            eprintln!("could not export the last spans: {error}");
        }
    }
}

/// Installs the global subscriber (logs, and traces when `OTEL_EXPORTER_OTLP_ENDPOINT` is set)
/// and the W3C trace-context propagator. Call once, at the top of `main`, inside the Tokio
/// runtime, and keep the guard until the program ends.
pub fn init(service_name: &str, settings: &TelemetrySettings) -> anyhow::Result<TelemetryGuard> {
    let export = settings.trace_export(service_name);
    global::set_text_map_propagator(TraceContextPropagator::new());
    let provider = match export {
        TraceExport::Off => None,
        TraceExport::Otlp { service_name } => {
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .build()
                .map_err(|e| anyhow::anyhow!("cannot set up the OTLP trace exporter: {e}"))?;
            Some(
                SdkTracerProvider::builder()
                    .with_batch_exporter(exporter)
                    .with_resource(Resource::builder().with_service_name(service_name).build())
                    .build(),
            )
        }
    };

    let filter = EnvFilter::try_new(&settings.rust_log).unwrap_or_else(|_| EnvFilter::new("info"));
    let logs: Box<dyn Layer<Registry> + Send + Sync> = match settings.log_format {
        LogFormat::Json => fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .boxed(),
        LogFormat::Pretty => fmt::layer().compact().boxed(),
    };
    tracing_subscriber::registry()
        .with(logs.with_filter(filter))
        .with(provider.as_ref().map(otel_layer))
        .init();
    Ok(TelemetryGuard { provider })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{self, ConfigError, Env};

    fn trace_export(
        env: &Env<HashMap<String, String>>,
        default_service_name: &str,
    ) -> Result<TraceExport, ConfigError> {
        Ok(config::from_env::<TelemetrySettings>(env)?.trace_export(default_service_name))
    }

    #[test]
    fn traces_are_exported_only_when_an_endpoint_is_set() {
        assert_eq!(
            trace_export(&Env::from_pairs(&[]), "swatter-issues").unwrap(),
            TraceExport::Off
        );
        assert_eq!(
            trace_export(
                &Env::from_pairs(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://jaeger:4317")]),
                "swatter-issues"
            )
            .unwrap(),
            TraceExport::Otlp {
                service_name: "swatter-issues".into()
            }
        );
        assert_eq!(
            trace_export(
                &Env::from_pairs(&[
                    (
                        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                        "http://127.0.0.1:4317"
                    ),
                    ("OTEL_SERVICE_NAME", "issues-eu"),
                ]),
                "swatter-issues"
            )
            .unwrap(),
            TraceExport::Otlp {
                service_name: "issues-eu".into()
            }
        );
    }

    #[test]
    fn unusable_exporter_settings_name_the_variable() {
        for (name, value) in [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "jaeger:4317"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4317"),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not a url"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ] {
            let err =
                trace_export(&Env::from_pairs(&[(name, value)]), "swatter-gateway").unwrap_err();
            assert!(err.to_string().contains(name), "{err}");
        }
    }
}
