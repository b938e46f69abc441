//! swatter's webhooks service (docs/webhooks.md): project owners register HTTP endpoints, and
//! every change event of their project reaches them signed in the Standard Webhooks format, at
//! least once, in order per endpoint, retried for more than a day.
//!
//! `domain` holds the rules, `store` the queries, `rpc` the gRPC handlers, `broker` RabbitMQ
//! (the events consumer and publisher), `dispatcher` and `delivery` the sending, `relay` the
//! outbox of this context's own events.

pub mod broker;
pub mod config;
pub mod delivery;
pub mod dispatcher;
pub mod domain;
pub mod error;
pub mod metrics;
pub mod relay;
pub mod rpc;
pub mod startup;
pub mod store;

/// Migrations of the `swatter_webhooks` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/webhooks");
