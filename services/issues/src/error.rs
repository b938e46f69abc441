//! The one error type of the issues service, mapped to `tonic::Status` in one place.

use swatter_common::status::{self, Violation};
use tonic::{Code, Status};

#[derive(Debug, thiserror::Error)]
pub enum IssuesError {
    #[error("invalid request")]
    Invalid(Vec<Violation>),
    /// Unknown, or not visible to the caller: the two are never told apart.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{message}")]
    Conflict {
        field: &'static str,
        message: &'static str,
    },
    /// A rule of the domain stops the change (409), e.g. removing the last owner.
    #[error("{0}")]
    FailedPrecondition(&'static str),
    /// `If-Match` names another version (412).
    #[error("etag mismatch")]
    EtagMismatch,
    #[error("a dependency is unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// A status from the shared layers or another service, passed through unchanged.
    #[error(transparent)]
    Status(#[from] Status),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl IssuesError {
    pub fn invalid(violation: Violation) -> Self {
        IssuesError::Invalid(vec![violation])
    }
}

impl From<sqlx::Error> for IssuesError {
    fn from(error: sqlx::Error) -> Self {
        if error
            .as_database_error()
            .is_some_and(|db| db.constraint() == Some("projects_key_key"))
        {
            return IssuesError::Conflict {
                field: "key",
                message: "a project with this key already exists",
            };
        }
        // A row deleted between the visibility check and the write (an issue deleted while a
        // comment is added to it, a project deleted while an issue is filed) is gone: 404.
        if let Some(what) = error
            .as_database_error()
            .and_then(|db| db.constraint())
            .and_then(vanished_parent)
        {
            return IssuesError::NotFound(what);
        }
        if swatter_common::db::is_unavailable(&error) {
            IssuesError::Unavailable(error.into())
        } else {
            IssuesError::Internal(error.into())
        }
    }
}

/// What a foreign key violation of `constraint` says has vanished.
fn vanished_parent(constraint: &str) -> Option<&'static str> {
    match constraint {
        "comments_issue_id_fkey" | "issue_events_issue_id_fkey" => Some("issue"),
        "issues_project_id_fkey" | "members_project_id_fkey" => Some("project"),
        _ => None,
    }
}

impl From<IssuesError> for Status {
    fn from(error: IssuesError) -> Self {
        match error {
            IssuesError::Invalid(violations) => status::invalid_argument(&violations),
            IssuesError::NotFound(what) => Status::not_found(format!("{what} not found")),
            IssuesError::Forbidden(message) => Status::permission_denied(message),
            IssuesError::Conflict { field, message } => status::with_violations(
                Code::AlreadyExists,
                message,
                &[Violation::new(field, message)],
            ),
            IssuesError::FailedPrecondition(message) => Status::failed_precondition(message),
            IssuesError::EtagMismatch => status::etag_mismatch(),
            IssuesError::Unavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "dependency unavailable");
                Status::unavailable("the issues service is temporarily unavailable")
            }
            IssuesError::Status(status) => status,
            IssuesError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error");
                Status::internal("internal error")
            }
        }
    }
}

/// Result of issues operations.
pub type Result<T, E = IssuesError> = std::result::Result<T, E>;
