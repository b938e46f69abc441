//! Who may do what in a project (the roles table of docs/api.md). Admins may do everything;
//! non-members are not told the project exists.

use super::Role;

/// Something a caller wants to do in a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// See the project, its issues, comments and history; request a project report.
    View,
    CreateIssue,
    CreateComment,
    /// Editing a comment is its author's business only.
    EditComment {
        is_author: bool,
    },
    /// Authors delete their own comments; maintainers and owners delete any.
    DeleteComment {
        is_author: bool,
    },
    DeleteIssue,
    /// Attach a file to an issue or a comment: whoever may comment.
    Attach,
    /// The uploader deletes their own attachments; maintainers and owners delete any.
    DeleteAttachment {
        is_uploader: bool,
    },
    /// Read a project's attachment storage against its quota.
    ViewAttachmentUsage,
    /// Create, change and delete a project's milestones.
    ManageMilestones,
    /// Edit or delete the project, add or remove members, change roles.
    ManageProject,
}

/// What an issue update touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IssueChange {
    /// Title or description.
    pub text: bool,
    pub status: bool,
    /// Priority, assignee or labels.
    pub triage: bool,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Allowed,
    /// A member without the right role (403).
    Forbidden,
    /// Not a member: the project is not visible (404).
    Hidden,
}

fn verdict(allowed: bool) -> Access {
    if allowed {
        Access::Allowed
    } else {
        Access::Forbidden
    }
}

/// May a caller with `role` in the project (`None`: not a member) do `action`?
pub fn authorize(role: Option<Role>, admin: bool, action: Action) -> Access {
    if admin {
        return Access::Allowed;
    }
    let Some(role) = role else {
        return Access::Hidden;
    };
    verdict(match action {
        Action::View => true,
        Action::CreateIssue | Action::CreateComment | Action::Attach => role >= Role::Reporter,
        Action::EditComment { is_author } => is_author && role >= Role::Reporter,
        Action::DeleteComment { is_author: mine }
        | Action::DeleteAttachment { is_uploader: mine } => {
            role >= Role::Maintainer || (mine && role >= Role::Reporter)
        }
        Action::DeleteIssue | Action::ManageMilestones => role >= Role::Maintainer,
        Action::ManageProject | Action::ViewAttachmentUsage => role == Role::Owner,
    })
}

/// The roles whose members may take `action` (admins aside).
pub fn roles_allowed(action: Action) -> Vec<Role> {
    Role::ALL
        .iter()
        .copied()
        .filter(|role| authorize(Some(*role), false, action) == Access::Allowed)
        .collect()
}

/// May a caller change an issue this way? Reporters edit the text of issues they wrote and the
/// status of issues assigned to them; maintainers and owners change anything.
pub fn authorize_issue_change(
    role: Option<Role>,
    admin: bool,
    change: IssueChange,
    is_author: bool,
    is_assignee: bool,
) -> Access {
    if admin {
        return Access::Allowed;
    }
    let Some(role) = role else {
        return Access::Hidden;
    };
    if role >= Role::Maintainer {
        return Access::Allowed;
    }
    verdict(
        role >= Role::Reporter
            && (!change.text || is_author)
            && (!change.status || is_assignee)
            && !change.triage,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reporters_maintainers_and_owners_create_issues_and_only_owners_manage_projects() {
        assert_eq!(
            roles_allowed(Action::CreateIssue),
            [Role::Reporter, Role::Maintainer, Role::Owner]
        );
        assert_eq!(roles_allowed(Action::ManageProject), [Role::Owner]);
        assert_eq!(roles_allowed(Action::View), Role::ALL);
    }
    use Access::*;

    const ROLES: [Option<Role>; 5] = [
        None,
        Some(Role::Viewer),
        Some(Role::Reporter),
        Some(Role::Maintainer),
        Some(Role::Owner),
    ];

    /// docs/api.md's roles table: one row per action, columns non-member, viewer, reporter,
    /// maintainer, owner.
    #[test]
    fn the_permission_table_of_the_spec_holds() {
        let table: [(Action, [Access; 5]); 14] = [
            (Action::View, [Hidden, Allowed, Allowed, Allowed, Allowed]),
            (
                Action::CreateIssue,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::CreateComment,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::EditComment { is_author: true },
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::EditComment { is_author: false },
                [Hidden, Forbidden, Forbidden, Forbidden, Forbidden],
            ),
            (
                Action::DeleteComment { is_author: true },
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::DeleteComment { is_author: false },
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                Action::DeleteIssue,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                Action::Attach,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::DeleteAttachment { is_uploader: true },
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                Action::DeleteAttachment { is_uploader: false },
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                Action::ViewAttachmentUsage,
                [Hidden, Forbidden, Forbidden, Forbidden, Allowed],
            ),
            (
                Action::ManageMilestones,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                Action::ManageProject,
                [Hidden, Forbidden, Forbidden, Forbidden, Allowed],
            ),
        ];
        for (action, expected) in table {
            for (role, want) in ROLES.into_iter().zip(expected) {
                assert_eq!(
                    authorize(role, false, action),
                    want,
                    "{action:?} as {role:?}"
                );
                assert_eq!(
                    authorize(role, true, action),
                    Allowed,
                    "{action:?} as admin {role:?}"
                );
            }
        }
    }

    #[test]
    fn issue_changes_follow_authorship_and_assignment() {
        let text = IssueChange {
            text: true,
            ..Default::default()
        };
        let status = IssueChange {
            status: true,
            ..Default::default()
        };
        let triage = IssueChange {
            triage: true,
            ..Default::default()
        };
        // (change, is_author, is_assignee, [non-member, viewer, reporter, maintainer, owner])
        let table = [
            (
                text,
                true,
                false,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                text,
                false,
                true,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                status,
                false,
                true,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                status,
                true,
                false,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                triage,
                true,
                true,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
            (
                IssueChange {
                    text: true,
                    status: true,
                    triage: false,
                },
                true,
                true,
                [Hidden, Forbidden, Allowed, Allowed, Allowed],
            ),
            (
                IssueChange {
                    text: true,
                    status: true,
                    triage: false,
                },
                true,
                false,
                [Hidden, Forbidden, Forbidden, Allowed, Allowed],
            ),
        ];
        for (change, is_author, is_assignee, expected) in table {
            for (role, want) in ROLES.into_iter().zip(expected) {
                assert_eq!(
                    authorize_issue_change(role, false, change, is_author, is_assignee),
                    want,
                    "{change:?} author={is_author} assignee={is_assignee} as {role:?}"
                );
            }
            assert_eq!(
                authorize_issue_change(None, true, change, false, false),
                Allowed
            );
        }
    }
}
