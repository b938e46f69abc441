//! Rows and domain values to protobuf messages and back.

use swatter_common::rpc::timestamp;
use swatter_proto::issues::v1 as pb;

use crate::{
    domain::{IssueStatus, Priority, Resolution, Role},
    store::{CommentRow, EventRow, IssueRow, MemberRow, ProjectRow},
};

pub fn role_to_pb(role: Option<Role>) -> pb::Role {
    match role {
        None => pb::Role::Unspecified,
        Some(Role::Viewer) => pb::Role::Viewer,
        Some(Role::Reporter) => pb::Role::Reporter,
        Some(Role::Maintainer) => pb::Role::Maintainer,
        Some(Role::Owner) => pb::Role::Owner,
    }
}

/// `None` for unspecified or unknown numbers.
pub fn role_from_pb(raw: i32) -> Option<Role> {
    match pb::Role::try_from(raw).ok()? {
        pb::Role::Unspecified => None,
        pb::Role::Viewer => Some(Role::Viewer),
        pb::Role::Reporter => Some(Role::Reporter),
        pb::Role::Maintainer => Some(Role::Maintainer),
        pb::Role::Owner => Some(Role::Owner),
    }
}

pub fn status_to_pb(status: IssueStatus) -> pb::IssueStatus {
    match status {
        IssueStatus::Open => pb::IssueStatus::Open,
        IssueStatus::InProgress => pb::IssueStatus::InProgress,
        IssueStatus::Resolved => pb::IssueStatus::Resolved,
        IssueStatus::Closed => pb::IssueStatus::Closed,
    }
}

/// `Ok(None)` for unspecified; `Err` for numbers outside the enum.
pub fn status_from_pb(raw: i32) -> Result<Option<IssueStatus>, ()> {
    Ok(match pb::IssueStatus::try_from(raw).map_err(|_| ())? {
        pb::IssueStatus::Unspecified => None,
        pb::IssueStatus::Open => Some(IssueStatus::Open),
        pb::IssueStatus::InProgress => Some(IssueStatus::InProgress),
        pb::IssueStatus::Resolved => Some(IssueStatus::Resolved),
        pb::IssueStatus::Closed => Some(IssueStatus::Closed),
    })
}

pub fn resolution_to_pb(resolution: Option<Resolution>) -> pb::Resolution {
    match resolution {
        None => pb::Resolution::Unspecified,
        Some(Resolution::Fixed) => pb::Resolution::Fixed,
        Some(Resolution::WontFix) => pb::Resolution::WontFix,
        Some(Resolution::Duplicate) => pb::Resolution::Duplicate,
        Some(Resolution::CannotReproduce) => pb::Resolution::CannotReproduce,
    }
}

/// `Ok(None)` for unspecified; `Err` for numbers outside the enum.
pub fn resolution_from_pb(raw: i32) -> Result<Option<Resolution>, ()> {
    Ok(match pb::Resolution::try_from(raw).map_err(|_| ())? {
        pb::Resolution::Unspecified => None,
        pb::Resolution::Fixed => Some(Resolution::Fixed),
        pb::Resolution::WontFix => Some(Resolution::WontFix),
        pb::Resolution::Duplicate => Some(Resolution::Duplicate),
        pb::Resolution::CannotReproduce => Some(Resolution::CannotReproduce),
    })
}

pub fn priority_to_pb(priority: Priority) -> pb::Priority {
    match priority {
        Priority::Low => pb::Priority::Low,
        Priority::Medium => pb::Priority::Medium,
        Priority::High => pb::Priority::High,
        Priority::Urgent => pb::Priority::Urgent,
    }
}

/// `Ok(None)` for unspecified; `Err` for numbers outside the enum.
pub fn priority_from_pb(raw: i32) -> Result<Option<Priority>, ()> {
    Ok(match pb::Priority::try_from(raw).map_err(|_| ())? {
        pb::Priority::Unspecified => None,
        pb::Priority::Low => Some(Priority::Low),
        pb::Priority::Medium => Some(Priority::Medium),
        pb::Priority::High => Some(Priority::High),
        pb::Priority::Urgent => Some(Priority::Urgent),
    })
}

pub fn project(row: ProjectRow) -> pb::Project {
    pb::Project {
        id: row.id.to_string(),
        key: row.key,
        name: row.name,
        description: row.description,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        my_role: role_to_pb(row.my_role) as i32,
    }
}

pub fn member(row: MemberRow) -> pb::Member {
    pb::Member {
        user_id: row.user_id.to_string(),
        username: row.username,
        role: role_to_pb(Some(row.role)) as i32,
        added_at: Some(timestamp(row.added_at)),
    }
}

/// A strong entity tag for one version of one issue.
pub fn etag(row: &IssueRow) -> String {
    format!("\"{}-{}\"", row.id.simple(), row.version)
}

pub fn issue(row: IssueRow) -> pb::Issue {
    let etag = etag(&row);
    pb::Issue {
        id: row.id.to_string(),
        key: format!("{}-{}", row.project_key, row.number),
        project_key: row.project_key,
        number: row.number,
        title: row.fields.title,
        description: row.fields.description,
        status: status_to_pb(row.fields.status) as i32,
        priority: priority_to_pb(row.fields.priority) as i32,
        labels: row.fields.labels,
        author_id: row.author_id.to_string(),
        assignee_id: row.fields.assignee_id.map(|id| id.to_string()),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        closed_at: row.fields.closed_at.map(timestamp),
        version: row.version,
        etag,
        resolution: resolution_to_pb(row.fields.resolution) as i32,
        due_on: row.fields.due_on.map(|d| d.to_string()),
        estimate: row.fields.estimate,
        milestone_id: row.fields.milestone_id.map(|id| id.to_string()),
        // Filled in from the issue's relations where a handler reads them.
        parent_key: String::new(),
        parent_hidden: false,
        sub_issues_total: 0,
        sub_issues_done: 0,
        blocked: false,
        duplicate_of: String::new(),
        attachment_count: row.attachment_count,
    }
}

pub fn comment(row: CommentRow) -> pb::Comment {
    pb::Comment {
        id: row.id.to_string(),
        issue_key: row.issue_key,
        author_id: row.author_id.to_string(),
        body: row.body,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
    }
}

pub fn event(row: EventRow, issue_key: &str) -> pb::IssueEvent {
    pb::IssueEvent {
        id: row.id.to_string(),
        issue_key: issue_key.to_owned(),
        actor_id: row.actor_id.to_string(),
        kind: row.kind,
        field: row.field,
        old_value: row.old_value,
        new_value: row.new_value,
        created_at: Some(timestamp(row.created_at)),
    }
}
