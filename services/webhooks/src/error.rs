//! The errors of the webhooks service: the shared ones ([`swatter_common::rpc::Error`]) and
//! none of its own.

use swatter_common::rpc;
use tonic::Status;

/// Webhooks has no errors beyond the shared ones.
#[derive(Debug, thiserror::Error)]
pub enum WebhooksOnly {}

impl rpc::Service for WebhooksOnly {
    const NAME: &'static str = "webhooks";

    fn status(self) -> Status {
        match self {}
    }
}

pub type WebhooksError = rpc::Error<WebhooksOnly>;

pub type Result<T, E = WebhooksError> = std::result::Result<T, E>;
