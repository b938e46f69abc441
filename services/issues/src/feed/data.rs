//! The `data` of each event: the resource shaped exactly as the REST API shows it (docs/api.md),
//! so that a feed item, an SSE message, a RabbitMQ message and a webhook body agree with what
//! `GET` answers. Built from the same protobuf messages the gateway turns into its JSON.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use swatter_proto::issues::v1 as pb;

use crate::rpc::convert::{priority_from_pb, resolution_from_pb, role_from_pb, status_from_pb};

/// RFC 3339 in UTC with as many fractional digits as needed, as the gateway writes timestamps.
fn time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or(Value::Null, |at| {
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
}

/// A project (without `my_role`: an event is the same for every reader).
pub fn project(project: &pb::Project) -> Value {
    json!({
        "id": project.id,
        "key": project.key,
        "name": project.name,
        "description": project.description,
        "created_at": time(project.created_at.as_ref()),
        "updated_at": time(project.updated_at.as_ref()),
    })
}

/// A member of a project.
pub fn member(member: &pb::Member) -> Value {
    json!({
        "user_id": member.user_id,
        "username": member.username,
        "role": role_from_pb(member.role).map(|role| role.as_str()),
        "added_at": time(member.added_at.as_ref()),
    })
}

/// A milestone, as `GET /v1/milestones/{id}` shows it (with its progress at the time).
pub fn milestone(milestone: &pb::Milestone) -> Value {
    let progress = milestone.progress.unwrap_or_default();
    json!({
        "id": milestone.id,
        "project_key": milestone.project_key,
        "title": milestone.title,
        "description": milestone.description,
        "due_on": milestone.due_on.as_deref().filter(|d| !d.is_empty()),
        "state": match pb::MilestoneState::try_from(milestone.state) {
            Ok(pb::MilestoneState::Closed) => "closed",
            _ => "open",
        },
        "created_at": time(milestone.created_at.as_ref()),
        "updated_at": time(milestone.updated_at.as_ref()),
        "closed_at": time(milestone.closed_at.as_ref()),
        "progress": {
            "open": progress.open,
            "in_progress": progress.in_progress,
            "resolved": progress.resolved,
            "closed": progress.closed,
            "total": progress.total,
            "percent_done": progress.percent_done,
        },
    })
}

/// An issue, as `GET /v1/issues/{key}` shows it, without what is worked out from its relations
/// for each reader (parent, sub-issues, blocked, duplicate of: another project's issue may be
/// hidden from some readers of this project's feed).
pub fn issue(issue: &pb::Issue) -> Value {
    json!({
        "id": issue.id,
        "key": issue.key,
        "project_key": issue.project_key,
        "number": issue.number,
        "title": issue.title,
        "description": issue.description,
        "status": status_from_pb(issue.status).ok().flatten().map(|s| s.as_str()),
        "priority": priority_from_pb(issue.priority).ok().flatten().map(|p| p.as_str()),
        "labels": issue.labels,
        "author_id": issue.author_id,
        "assignee_id": issue.assignee_id.as_deref().filter(|id| !id.is_empty()),
        "created_at": time(issue.created_at.as_ref()),
        "updated_at": time(issue.updated_at.as_ref()),
        "closed_at": time(issue.closed_at.as_ref()),
        "version": issue.version,
        "resolution": resolution_from_pb(issue.resolution).ok().flatten().map(|r| r.as_str()),
        "due_on": issue.due_on.as_deref().filter(|d| !d.is_empty()),
        "estimate": issue.estimate,
        "milestone_id": issue.milestone_id.as_deref().filter(|id| !id.is_empty()),
        "attachment_count": issue.attachment_count,
    })
}

/// A comment.
pub fn comment(comment: &pb::Comment) -> Value {
    json!({
        "id": comment.id,
        "issue_key": comment.issue_key,
        "author_id": comment.author_id,
        "body": comment.body,
        "created_at": time(comment.created_at.as_ref()),
        "updated_at": time(comment.updated_at.as_ref()),
    })
}

/// The tombstone of a deleted project or issue: its id and key.
pub fn deleted_with_key(id: &str, key: &str) -> Value {
    json!({"id": id, "key": key})
}

/// The tombstone of a removed member: the user's id (as `id` and `user_id`).
pub fn removed_member(user_id: &str) -> Value {
    json!({"id": user_id, "user_id": user_id})
}

/// The tombstone of a deleted comment: its id and its issue's key.
pub fn deleted_comment(id: &str, issue_key: &str) -> Value {
    json!({"id": id, "issue_key": issue_key})
}

/// An attachment, as `GET /v1/attachments/{id}` shows it, without its thumbnail's URL (a
/// presigned URL expires; readers ask for their own).
pub fn attachment(attachment: &pb::Attachment) -> Value {
    let thumbnail = attachment.thumbnail.clone().unwrap_or_default();
    json!({
        "id": attachment.id,
        "issue_key": attachment.issue_key,
        "comment_id": Some(attachment.comment_id.as_str()).filter(|id| !id.is_empty()),
        "file_name": attachment.file_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
        "state": match pb::AttachmentState::try_from(attachment.state) {
            Ok(pb::AttachmentState::Pending) => "pending",
            _ => "ready",
        },
        "uploaded_by": attachment.uploaded_by,
        "created_at": time(attachment.created_at.as_ref()),
        "confirmed_at": time(attachment.confirmed_at.as_ref()),
        "thumbnail": {
            "state": match pb::ThumbnailState::try_from(thumbnail.state) {
                Ok(pb::ThumbnailState::Ready) => "ready",
                Ok(pb::ThumbnailState::Refused) => "refused",
                _ => "none",
            },
            "width": (thumbnail.width > 0).then_some(thumbnail.width),
            "height": (thumbnail.height > 0).then_some(thumbnail.height),
        },
    })
}

/// The tombstone of a deleted attachment: its id, its issue's key and its comment's id.
pub fn removed_attachment(id: &str, issue_key: &str, comment_id: Option<&str>) -> Value {
    json!({"id": id, "issue_key": issue_key, "comment_id": comment_id})
}
