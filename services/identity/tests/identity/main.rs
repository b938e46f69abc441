//! The identity service over gRPC, in-process with a fresh database per test.

mod metrics;
mod sessions;
mod support;
mod throttling;
mod tokens;
mod users;
