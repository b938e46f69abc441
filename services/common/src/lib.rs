//! What every swatter service needs and nothing more: configuration from the environment,
//! logging, access-token verification, and a gRPC server with health, reflection and graceful
//! shutdown.

pub mod auth;
pub mod bootstrap;
#[cfg(feature = "broker")]
pub mod broker;
pub mod client;
pub mod config;
#[cfg(feature = "db")]
pub mod db;
pub mod events;
pub mod input;
pub mod metrics;
#[cfg(feature = "objects")]
pub mod objects;
pub mod pagination;
pub mod personal_token;
pub mod propagation;
pub mod rpc;
pub mod server;
pub mod status;
pub mod telemetry;
