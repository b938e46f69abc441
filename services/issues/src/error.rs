//! The errors of the issues service: the shared ones ([`swatter_common::rpc::Error`]), the
//! meaning of its named constraints, and its own.

use swatter_common::{rpc, status};
use tonic::Status;

/// Errors only the issues service has.
#[derive(Debug, thiserror::Error)]
pub enum IssuesOnly {
    /// `If-Match` names another version (412).
    #[error("etag mismatch")]
    EtagMismatch,
    /// A change-feed cursor before what retention pruned (REST 410).
    #[error("cursor {after} expired")]
    CursorExpired { after: i64, oldest_after: i64 },
}

impl rpc::Service for IssuesOnly {
    const NAME: &'static str = "issues";

    fn constraint(name: &str) -> Option<IssuesError> {
        match name {
            "projects_key_key" => Some(IssuesError::Conflict {
                field: "key",
                message: "a project with this key already exists",
            }),
            "saved_views_user_project_name_key" => Some(IssuesError::Conflict {
                field: "name",
                message: "you already have a saved view with this name in this project",
            }),
            "saved_views_project_id_fkey" => Some(IssuesError::NotFound("project")),
            // A row deleted between the visibility check and the write (an issue deleted while
            // a comment is added to it, a project deleted while an issue is filed) is gone: 404.
            "comments_issue_id_fkey" | "issue_events_issue_id_fkey" => {
                Some(IssuesError::NotFound("issue"))
            }
            "issues_project_id_fkey"
            | "members_project_id_fkey"
            | "changes_project_id_fkey"
            | "change_heads_project_id_fkey" => Some(IssuesError::NotFound("project")),
            _ => None,
        }
    }

    fn status(self) -> Status {
        match self {
            IssuesOnly::EtagMismatch => status::etag_mismatch(),
            IssuesOnly::CursorExpired {
                after,
                oldest_after,
            } => status::cursor_expired(after, oldest_after),
        }
    }
}

pub type IssuesError = rpc::Error<IssuesOnly>;

/// Result of issues operations.
pub type Result<T, E = IssuesError> = std::result::Result<T, E>;
