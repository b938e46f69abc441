//! swatter issues service: projects, members and roles, issues, comments and history (docs/api.md).
//!
//! `domain` holds the rules (no I/O), `store` the queries, `rpc` the gRPC handlers, `startup`
//! wires them together.

pub mod attachments;
pub mod config;
pub mod domain;
pub mod error;
pub mod feed;
pub mod inbox;
pub mod rpc;
pub mod startup;
pub mod store;
pub mod thumbnail;

/// Migrations of the `swatter_issues` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/issues");
