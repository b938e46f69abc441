//! The one error type of the identity service, mapped to `tonic::Status` in one place.

use swatter_common::status::{self, Violation};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    #[error("{0}")]
    Unauthenticated(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: &'static str,
    },
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// Throttled (see `throttle`): try again after `retry_after`.
    #[error("{message}")]
    RateLimited {
        message: &'static str,
        retry_after: std::time::Duration,
    },
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A status from the shared layers (authentication), passed through unchanged.
    #[error(transparent)]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IdentityError {
    pub fn invalid(violation: Violation) -> Self {
        IdentityError::Invalid(vec![violation])
    }
}

impl From<sqlx::Error> for IdentityError {
    fn from(error: sqlx::Error) -> Self {
        if let Some(db) = error.as_database_error() {
            match db.constraint() {
                Some("users_username_key") => {
                    return IdentityError::Conflict {
                        field: "username",
                        message: "this username is taken",
                    };
                }
                Some("users_email_key") => {
                    return IdentityError::Conflict {
                        field: "email",
                        message: "this email address is already registered",
                    };
                }
                _ => {}
            }
        }
        if swatter_common::db::is_unavailable(&error) {
            IdentityError::Unavailable(error.into())
        } else {
            IdentityError::Internal(error.into())
        }
    }
}

impl From<IdentityError> for Status {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::Invalid(violations) => status::invalid_argument(&violations),
            IdentityError::Unauthenticated(message) => Status::unauthenticated(message),
            IdentityError::Forbidden(message) => Status::permission_denied(message),
            IdentityError::NotFound(what) => Status::not_found(format!("{what} not found")),
            IdentityError::Conflict { field, message } => status::with_violations(
                Code::AlreadyExists,
                message,
                &[Violation::new(field, message)],
            ),
            IdentityError::FailedPrecondition(message) => Status::failed_precondition(message),
            IdentityError::RateLimited {
                message,
                retry_after,
            } => status::resource_exhausted(message, retry_after),
            IdentityError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "dependency unavailable");
                Status::unavailable("the identity service is temporarily unavailable")
            }
            IdentityError::Status(status) => status,
            IdentityError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// Result of identity operations.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
