//! swatter's reporting service: report jobs (docs/api.md), from the request through the
//! transactional outbox and RabbitMQ to the worker that typesets the PDF with typst and stores it
//! in S3, or streams an export of issues (CSV or JSON) there.
//!
//! `domain` holds the rules, `store` the queries, `rpc` the gRPC handlers, `broker` RabbitMQ,
//! `storage` the object store, `relay`/`sweeper`/`worker` the pipeline, `dead_letters` the
//! dead-letter queue's consumer, `scheduler` the runs of scheduled reports, `render` the
//! typesetting, `export` the exports' encoding.

pub mod broker;
pub mod config;
pub mod dead_letters;
pub mod domain;
pub mod error;
pub mod events;
pub mod export;
pub mod fetch;
pub mod job_events;
pub mod metrics;
pub mod outcome;
pub mod relay;
pub mod render;
pub mod rpc;
pub mod scheduler;
pub mod startup;
pub mod storage;
pub mod store;
pub mod sweeper;
pub mod worker;

/// Migrations of the `swatter_reporting` database.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/reporting");
