//! Structured logging: `SWATTER_LOG_FORMAT=json|pretty` (default `pretty`), filter from `RUST_LOG`
//! (default `info`).

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{ConfigError, Env, Source};

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

/// Reads `SWATTER_LOG_FORMAT`.
pub fn log_format<S: Source>(env: &Env<S>) -> Result<LogFormat, ConfigError> {
    env.or("SWATTER_LOG_FORMAT", LogFormat::Pretty)
}

/// Installs the global subscriber. Call once, at the top of `main`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match format {
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true),
            )
            .init(),
        LogFormat::Pretty => registry.with(fmt::layer().compact()).init(),
    }
}
