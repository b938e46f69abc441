//! The errors of the reporting service: the shared ones ([`swatter_common::rpc::Error`]) and
//! none of its own.

use swatter_common::rpc;
use tonic::Status;

/// Reporting has no errors beyond the shared ones.
#[derive(Debug, thiserror::Error)]
pub enum ReportingOnly {}

impl rpc::Service for ReportingOnly {
    const NAME: &'static str = "reporting";

    fn status(self) -> Status {
        match self {}
    }
}

pub type ReportingError = rpc::Error<ReportingOnly>;

pub type Result<T, E = ReportingError> = std::result::Result<T, E>;
