//! The error every service's handlers answer with, mapped to `tonic::Status` in one place:
//! what all services share is here, and each service adds its name, the meaning of its named
//! database constraints and the errors only it has ([`Service`]).

use std::{borrow::Cow, time::Duration};

use tonic::{Code, Status};

use crate::status::{self, Violation};

/// What a service adds to [`Error`]: implemented by the enum of the errors only it has (an
/// empty enum when it has none).
pub trait Service: std::error::Error + Send + Sync + Sized + 'static {
    /// Named in `UNAVAILABLE` answers ("the issues service is temporarily unavailable").
    const NAME: &'static str;

    /// What a violation of the named constraint `name` of this service's database means to a
    /// client (a taken unique value, a parent deleted meanwhile); `None`: an internal error.
    fn constraint(_name: &str) -> Option<Error<Self>> {
        None
    }

    /// The status of one of this service's own errors.
    fn status(self) -> Status;
}

#[derive(Debug, thiserror::Error)]
pub enum Error<S: Service> {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// Unknown, or not visible to the caller: the two are never told apart.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    /// A unique value is taken (409 naming `field`).
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: &'static str,
    },
    /// A rule stops the change in the resource's current state (409), e.g. removing the last
    /// owner, cancelling a finished job.
    #[error("{0}")]
    FailedPrecondition(Cow<'static, str>),
    /// A limit is reached (429): try again after `retry_after`.
    #[error("{message}")]
    ResourceExhausted {
        message: Cow<'static, str>,
        retry_after: Duration,
    },
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A status from the shared layers or another service, passed through unchanged.
    #[error(transparent)]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
    #[error(transparent)]
    Own(S),
}

impl<S: Service> Error<S> {
    /// `INVALID_ARGUMENT` for one field.
    pub fn invalid(violation: Violation) -> Self {
        Error::Invalid(vec![violation])
    }
}

#[cfg(feature = "db")]
impl<S: Service> From<sqlx::Error> for Error<S> {
    fn from(error: sqlx::Error) -> Self {
        if let Some(error) = error
            .as_database_error()
            .and_then(|db| db.constraint())
            .and_then(S::constraint)
        {
            return error;
        }
        if crate::db::is_unavailable(&error) {
            Error::Unavailable(error.into())
        } else {
            Error::Internal(error.into())
        }
    }
}

impl<S: Service> From<Error<S>> for Status {
    fn from(error: Error<S>) -> Self {
        match error {
            Error::Invalid(violations) => status::invalid_argument(&violations),
            Error::Unauthenticated(message) => Status::unauthenticated(message),
            Error::NotFound(what) => Status::not_found(format!("{what} not found")),
            Error::Forbidden(message) => Status::permission_denied(message),
            Error::Conflict { field, message } => status::with_violations(
                Code::AlreadyExists,
                message,
                &[Violation::new(field, message)],
            ),
            Error::FailedPrecondition(message) => Status::failed_precondition(message),
            Error::ResourceExhausted {
                message,
                retry_after,
            } => status::resource_exhausted(&message, retry_after),
            Error::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "dependency unavailable");
                Status::unavailable(format!(
                    "the {} service is temporarily unavailable",
                    S::NAME
                ))
            }
            Error::Status(status) => status,
            Error::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal("internal error")
            }
            Error::Own(own) => own.status(),
        }
    }
}
