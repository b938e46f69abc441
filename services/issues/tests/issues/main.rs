//! The issues service over gRPC, with identity, in-process with fresh databases per test.

mod attachments;
mod bulk;
mod changes_feed;
mod exports;
mod issues;
mod milestones;
mod notifications;
mod permissions;
mod relations;
mod search;
mod support;
mod update_masks;
