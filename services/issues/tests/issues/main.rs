//! The issues service over gRPC, with identity, in-process with fresh databases per test.

mod changes_feed;
mod issues;
mod permissions;
mod search;
mod support;
mod update_masks;
