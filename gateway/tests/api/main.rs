//! End-to-end tests of the gateway against the real identity service and PostgreSQL.

mod helpers;
mod operations;
mod request_bodies;
mod sign_up;
mod tokens;
mod users;
