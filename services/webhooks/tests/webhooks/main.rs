//! Integration tests of the webhooks service against real PostgreSQL, RabbitMQ and an HTTP
//! receiver.

mod delivery;
mod endpoints;
mod faults;
mod figures;
mod safety;
mod support;
