//! End-to-end tests of the gateway against the real identity and issues services and PostgreSQL.

mod comments;
mod helpers;
mod issues;
mod operations;
mod projects;
mod request_bodies;
mod sign_up;
mod tokens;
mod users;
