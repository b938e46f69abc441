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
    /// A bulk edit touches issues the caller may not change this way (403 naming each).
    #[error("the bulk edit changes issues you may not change")]
    BulkForbidden(Vec<status::Violation>),
    /// A bulk edit's expected versions that moved (412 naming each issue).
    #[error("issues changed since they were read")]
    BulkVersionsMoved(Vec<status::Violation>),
    /// A relation that would close a cycle of `blocks` or of parents: the keys around it.
    #[error("relation cycle")]
    RelationCycle(Vec<String>),
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
            "milestones_project_title_key" => Some(IssuesError::Conflict {
                field: "title",
                message: "a milestone with this title already exists in the project",
            }),
            // A milestone deleted while an issue was being attached to it.
            "issues_milestone_id_fkey" => Some(IssuesError::invalid(
                swatter_common::status::Violation::new(
                    "milestone_id",
                    "must be a milestone of the issue's project",
                ),
            )),
            // Watching (or being mentioned in) an issue deleted meanwhile.
            "issue_watchers_issue_id_fkey" | "notifications_issue_id_fkey" => {
                Some(IssuesError::NotFound("issue"))
            }
            // An issue deleted while a relation to it is added.
            "issue_relations_source_id_fkey"
            | "issue_relations_target_id_fkey"
            | "issues_parent_id_fkey" => Some(IssuesError::NotFound("issue")),
            "issues_project_id_fkey"
            | "milestones_project_id_fkey"
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
            IssuesOnly::BulkForbidden(refused) => status::permission_denied_for(
                "your role does not allow this change to some of these issues",
                &refused,
            ),
            IssuesOnly::BulkVersionsMoved(moved) => status::etag_mismatch_of(
                "some issues changed since they were read (expected versions)",
                &moved,
            ),
            IssuesOnly::RelationCycle(keys) => status::relation_cycle(&keys),
        }
    }
}

pub type IssuesError = rpc::Error<IssuesOnly>;

/// Result of issues operations.
pub type Result<T, E = IssuesError> = std::result::Result<T, E>;
