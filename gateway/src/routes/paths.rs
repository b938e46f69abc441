//! The path parameters of the routes. Each names its segments for `ApiPath` (a segment that
//! cannot be read names nothing: 404) and describes them for the OpenAPI document.

use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::limits;

/// `{key}`: a project.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ProjectKey {
    /// The project's key
    #[param(schema_with = limits::project_key)]
    pub key: String,
}

/// `{key}/members/{user_id}`: a project's member.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MemberPath {
    /// The project's key
    #[param(schema_with = limits::project_key)]
    pub key: String,
    /// The user's id
    pub user_id: Uuid,
}

/// `{issue_key}`: an issue.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct IssueKey {
    /// `KEY-n`
    #[param(schema_with = limits::issue_key)]
    pub issue_key: String,
}

/// `{id}` of a user.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserId {
    /// The user's id
    pub id: Uuid,
}

/// `{id}` of a comment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CommentId {
    /// The comment's id
    pub id: Uuid,
}

/// `{id}` of an attachment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AttachmentId {
    /// The attachment's id
    pub id: Uuid,
}

/// `{id}` of a job.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct JobId {
    /// The job's id
    pub id: Uuid,
}

/// `{id}` of a scheduled report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ScheduleId {
    /// The schedule's id
    pub id: Uuid,
}

/// `{id}` of a webhook endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct WebhookId {
    /// The webhook endpoint's id
    pub id: Uuid,
}

/// `{id}/deliveries/{delivery_id}`: one delivery of a webhook endpoint.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct DeliveryPath {
    /// The webhook endpoint's id
    pub id: Uuid,
    /// The delivery's id
    pub delivery_id: Uuid,
}
