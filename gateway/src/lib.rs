//! swatter gateway: the REST/JSON face of the services (docs/api.md), translating each request
//! into one gRPC call.
//!
//! `routes` holds the handlers, `extract` turns requests into their inputs, `error` turns every
//! failure (and every gRPC status) into a problem+json answer, `middleware` gives each request
//! its id, log line and deadline, `openapi` describes it all, and `startup` wires it together.

pub mod config;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
