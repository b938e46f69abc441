//! The reporting service: its pipeline over gRPC against the real identity, issues, PostgreSQL,
//! RabbitMQ and s3s-fs, the docs/grpc.md guide run as written, and the rendered PDFs as a reader
//! sees them.

mod dashboard;
mod exports;
mod grpcurl_guide;
mod job_events;
mod pipeline;
mod render;
#[path = "../render_fixtures/mod.rs"]
mod render_fixtures;
mod schedules;
mod support;
mod topology;
