//! End-to-end tests of the gateway against the real identity, issues and reporting services,
//! PostgreSQL, RabbitMQ and s3s-fs.

mod admin;
mod attachments;
mod bulk;
mod changes;
mod comments;
mod documentation;
mod exports;
mod helpers;
mod hostile_input;
mod issues;
mod lifecycle;
mod metrics;
mod milestones;
mod notifications;
mod operations;
mod page_tokens;
mod personal_tokens;
mod projects;
mod relations;
mod reports;
mod request_bodies;
mod schedules;
mod search;
mod sessions;
mod sign_up;
mod tokens;
mod users;
mod webhooks;
