//! The identity service over gRPC, in-process with a fresh database per test.

mod sessions;
mod support;
mod throttling;
mod tokens;
mod users;
