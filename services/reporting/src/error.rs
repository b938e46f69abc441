//! The one error type of the reporting service, mapped to `tonic::Status` in one place.

use swatter_common::status::{self, Violation};
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum ReportingError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// Unknown, or not the caller's: never told apart.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// The job's state does not allow this (409), e.g. cancelling a finished job.
    #[error("{0}")]
    FailedPrecondition(String),
    /// A per-user limit is reached (429): try again after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        message: String,
        retry_after: std::time::Duration,
    },
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
    #[error(transparent)]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ReportingError {
    pub fn invalid(violation: Violation) -> Self {
        ReportingError::Invalid(vec![violation])
    }
}

impl From<sqlx::Error> for ReportingError {
    fn from(error: sqlx::Error) -> Self {
        if swatter_common::db::is_unavailable(&error) {
            ReportingError::Unavailable(error.into())
        } else {
            ReportingError::Internal(error.into())
        }
    }
}

impl From<ReportingError> for Status {
    fn from(error: ReportingError) -> Self {
        match error {
            ReportingError::Invalid(violations) => status::invalid_argument(&violations),
            ReportingError::NotFound(what) => Status::not_found(format!("{what} not found")),
            ReportingError::Forbidden(message) => Status::permission_denied(message),
            ReportingError::FailedPrecondition(message) => Status::failed_precondition(message),
            ReportingError::ResourceExhausted {
                message,
                retry_after,
            } => status::resource_exhausted(&message, retry_after),
            ReportingError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "dependency unavailable");
                Status::unavailable("the reporting service is temporarily unavailable")
            }
            ReportingError::Status(status) => status,
            ReportingError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

pub type Result<T, E = ReportingError> = std::result::Result<T, E>;
