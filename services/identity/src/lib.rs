//! swatter identity service: users, passwords, tokens and signing keys (docs/api.md).
//!
//! `domain` holds the rules, `store` the queries, `rpc` the gRPC handlers, `tokens` and
//! `passwords` the cryptography, `sessions` whether a token still counts, `throttle` the limits on
//! password guessing and sign-ups, `startup` wires it all together.

pub mod config;
pub mod domain;
pub mod error;
pub mod passwords;
pub mod rpc;
pub mod sessions;
pub mod startup;
pub mod store;
pub mod throttle;
pub mod tokens;

/// Migrations of the `swatter_identity` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/identity");
