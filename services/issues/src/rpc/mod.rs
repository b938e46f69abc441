//! The gRPC layer: one handler per RPC. Each parses its request, loads what it acts on together
//! with the caller's role, asks `domain` whether the caller may, and calls storage. The trait impl
//! below only forwards.

mod attachments;
mod bulk;
mod changes;
mod comments;
pub(crate) mod convert;
mod issues;
mod members;
mod milestones;
mod notifications;
mod projects;
mod relations;
mod views;

use std::{pin::Pin, sync::Arc};

use futures::Stream;
use sqlx::{PgPool, Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal,
    client::TracedChannel,
    rpc::{RpcResult, caller, respond},
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::{self as pb, issues_service_server::IssuesService},
};
use tonic::{Request, Status};

use crate::{
    domain::{Access, Action, Role, authorize},
    error::{IssuesError, Result},
    store,
};

pub use convert::etag;

/// What a token held by a service on a user's behalf may call here: the reads a report needs.
pub const DELEGATED_METHODS: &[&str] = &[
    "/swatter.issues.v1.IssuesService/GetProject",
    "/swatter.issues.v1.IssuesService/ListProjects",
    "/swatter.issues.v1.IssuesService/ExportProjectIssues",
    "/swatter.issues.v1.IssuesService/ExportIssues",
    "/swatter.issues.v1.IssuesService/ListMilestones",
];

/// The methods here that change nothing: a personal access token with only the `read` scope may
/// call them; every other method needs `write`.
pub const READ_METHODS: &[&str] = &[
    "/swatter.issues.v1.IssuesService/ListProjects",
    "/swatter.issues.v1.IssuesService/GetProject",
    "/swatter.issues.v1.IssuesService/ListMembers",
    "/swatter.issues.v1.IssuesService/ListIssues",
    "/swatter.issues.v1.IssuesService/GetIssue",
    "/swatter.issues.v1.IssuesService/ListIssueEvents",
    "/swatter.issues.v1.IssuesService/ListComments",
    "/swatter.issues.v1.IssuesService/ExportProjectIssues",
    "/swatter.issues.v1.IssuesService/ExportIssues",
    "/swatter.issues.v1.IssuesService/ListChanges",
    "/swatter.issues.v1.IssuesService/WatchChanges",
    "/swatter.issues.v1.IssuesService/ListRelations",
    "/swatter.issues.v1.IssuesService/ListMilestones",
    "/swatter.issues.v1.IssuesService/GetMilestone",
    "/swatter.issues.v1.IssuesService/ListWatchers",
    "/swatter.issues.v1.IssuesService/ListNotifications",
    "/swatter.issues.v1.IssuesService/ListSavedViews",
    "/swatter.issues.v1.IssuesService/ListAttachments",
    "/swatter.issues.v1.IssuesService/GetAttachment",
    "/swatter.issues.v1.IssuesService/GetAttachmentDownload",
    "/swatter.issues.v1.IssuesService/GetAttachmentUsage",
];

/// Shared state of the issues handlers.
pub struct Issues {
    pub db: PgPool,
    pub identity: IdentityServiceClient<TracedChannel>,
    pub feed: Arc<crate::feed::ChangeFeed>,
    /// The object store of attachments and their limits.
    pub attachments: Arc<crate::attachments::Attachments>,
}

/// The tonic service.
#[derive(Clone)]
pub struct IssuesRpc(pub Arc<Issues>);

/// Turns a verdict into the error a client sees: hidden things are not found.
fn check(access: Access, hidden: &'static str, forbidden: &'static str) -> Result<()> {
    match access {
        Access::Allowed => Ok(()),
        Access::Hidden => Err(IssuesError::NotFound(hidden)),
        Access::Forbidden => Err(IssuesError::Forbidden(forbidden)),
    }
}

/// `NOT_FOUND` (named `hidden`) for a project the caller's personal access token is not limited
/// to: to such a token, the project does not exist.
fn within_token(me: &UserPrincipal, project_key: &str, hidden: &'static str) -> Result<()> {
    if me.may_access_project(project_key) {
        Ok(())
    } else {
        Err(IssuesError::NotFound(hidden))
    }
}

/// The caller's role in the project `project_key`, read inside `tx` with their membership row
/// locked until `tx` ends ([`store::lock_role`]). Writes decide with this role, never with one read
/// before their transaction: a concurrent demotion or removal either waits for the write or is
/// seen by it.
async fn locked_role(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    me: &UserPrincipal,
) -> Result<Option<Role>> {
    Ok(store::lock_role(tx, project_key, me.id).await?)
}

/// [`locked_role`] and the verdict on `action` (see [`check`]).
async fn authorize_locked(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    me: &UserPrincipal,
    action: Action,
    hidden: &'static str,
    forbidden: &'static str,
) -> Result<Option<Role>> {
    within_token(me, project_key, hidden)?;
    let role = locked_role(tx, project_key, me).await?;
    check(authorize(role, me.admin, action), hidden, forbidden)?;
    Ok(role)
}

type IssueStream = Pin<Box<dyn Stream<Item = std::result::Result<pb::Issue, Status>> + Send>>;

#[tonic::async_trait]
impl IssuesService for IssuesRpc {
    async fn create_project(&self, r: Request<pb::CreateProjectRequest>) -> RpcResult<pb::Project> {
        respond(projects::create_project(&self.0, r).await)
    }
    async fn list_projects(
        &self,
        r: Request<pb::ListProjectsRequest>,
    ) -> RpcResult<pb::ListProjectsResponse> {
        respond(projects::list_projects(&self.0, r).await)
    }
    async fn get_project(&self, r: Request<pb::GetProjectRequest>) -> RpcResult<pb::Project> {
        respond(projects::get_project(&self.0, r).await)
    }
    async fn update_project(&self, r: Request<pb::UpdateProjectRequest>) -> RpcResult<pb::Project> {
        respond(projects::update_project(&self.0, r).await)
    }
    async fn delete_project(&self, r: Request<pb::DeleteProjectRequest>) -> RpcResult<()> {
        respond(projects::delete_project(&self.0, r).await)
    }
    async fn list_members(
        &self,
        r: Request<pb::ListMembersRequest>,
    ) -> RpcResult<pb::ListMembersResponse> {
        respond(members::list_members(&self.0, r).await)
    }
    async fn set_member(&self, r: Request<pb::SetMemberRequest>) -> RpcResult<pb::Member> {
        respond(members::set_member(&self.0, r).await)
    }
    async fn remove_member(&self, r: Request<pb::RemoveMemberRequest>) -> RpcResult<()> {
        respond(members::remove_member(&self.0, r).await)
    }
    async fn create_issue(&self, r: Request<pb::CreateIssueRequest>) -> RpcResult<pb::Issue> {
        respond(issues::create_issue(&self.0, r).await)
    }
    async fn list_issues(
        &self,
        r: Request<pb::ListIssuesRequest>,
    ) -> RpcResult<pb::ListIssuesResponse> {
        respond(issues::list_issues(&self.0, r).await)
    }
    async fn get_issue(&self, r: Request<pb::GetIssueRequest>) -> RpcResult<pb::Issue> {
        respond(issues::get_issue(&self.0, r).await)
    }
    async fn update_issue(&self, r: Request<pb::UpdateIssueRequest>) -> RpcResult<pb::Issue> {
        respond(issues::update_issue(&self.0, r).await)
    }
    async fn delete_issue(&self, r: Request<pb::DeleteIssueRequest>) -> RpcResult<()> {
        respond(issues::delete_issue(&self.0, r).await)
    }
    async fn list_issue_events(
        &self,
        r: Request<pb::ListIssueEventsRequest>,
    ) -> RpcResult<pb::ListIssueEventsResponse> {
        respond(issues::list_issue_events(&self.0, r).await)
    }
    async fn create_comment(&self, r: Request<pb::CreateCommentRequest>) -> RpcResult<pb::Comment> {
        respond(comments::create_comment(&self.0, r).await)
    }
    async fn list_comments(
        &self,
        r: Request<pb::ListCommentsRequest>,
    ) -> RpcResult<pb::ListCommentsResponse> {
        respond(comments::list_comments(&self.0, r).await)
    }
    async fn update_comment(&self, r: Request<pb::UpdateCommentRequest>) -> RpcResult<pb::Comment> {
        respond(comments::update_comment(&self.0, r).await)
    }
    async fn delete_comment(&self, r: Request<pb::DeleteCommentRequest>) -> RpcResult<()> {
        respond(comments::delete_comment(&self.0, r).await)
    }

    type ExportProjectIssuesStream = IssueStream;

    async fn export_project_issues(
        &self,
        r: Request<pb::ExportProjectIssuesRequest>,
    ) -> RpcResult<Self::ExportProjectIssuesStream> {
        respond(issues::export_project_issues(&self.0, r).await)
    }

    type ExportIssuesStream = IssueStream;

    async fn export_issues(
        &self,
        r: Request<pb::ListIssuesRequest>,
    ) -> RpcResult<Self::ExportIssuesStream> {
        respond(issues::export_issues(&self.0, r).await)
    }

    async fn list_changes(
        &self,
        r: Request<pb::ListChangesRequest>,
    ) -> RpcResult<pb::ListChangesResponse> {
        respond(changes::list_changes(&self.0, r).await)
    }

    type WatchChangesStream = changes::ChangeStream;

    async fn watch_changes(
        &self,
        r: Request<pb::WatchChangesRequest>,
    ) -> RpcResult<Self::WatchChangesStream> {
        respond(changes::watch_changes(self.0.clone(), r).await)
    }

    async fn add_relation(&self, r: Request<pb::AddRelationRequest>) -> RpcResult<pb::Relation> {
        respond(relations::add_relation(&self.0, r).await)
    }
    async fn remove_relation(&self, r: Request<pb::RemoveRelationRequest>) -> RpcResult<()> {
        respond(relations::remove_relation(&self.0, r).await)
    }
    async fn list_relations(
        &self,
        r: Request<pb::ListRelationsRequest>,
    ) -> RpcResult<pb::ListRelationsResponse> {
        respond(relations::list_relations(&self.0, r).await)
    }
    async fn create_milestone(
        &self,
        r: Request<pb::CreateMilestoneRequest>,
    ) -> RpcResult<pb::Milestone> {
        respond(milestones::create_milestone(&self.0, r).await)
    }
    async fn list_milestones(
        &self,
        r: Request<pb::ListMilestonesRequest>,
    ) -> RpcResult<pb::ListMilestonesResponse> {
        respond(milestones::list_milestones(&self.0, r).await)
    }
    async fn get_milestone(&self, r: Request<pb::GetMilestoneRequest>) -> RpcResult<pb::Milestone> {
        respond(milestones::get_milestone(&self.0, r).await)
    }
    async fn update_milestone(
        &self,
        r: Request<pb::UpdateMilestoneRequest>,
    ) -> RpcResult<pb::Milestone> {
        respond(milestones::update_milestone(&self.0, r).await)
    }
    async fn delete_milestone(&self, r: Request<pb::DeleteMilestoneRequest>) -> RpcResult<()> {
        respond(milestones::delete_milestone(&self.0, r).await)
    }
    async fn watch_issue(&self, r: Request<pb::WatchIssueRequest>) -> RpcResult<pb::WatchState> {
        respond(notifications::watch_issue(&self.0, r).await)
    }
    async fn unwatch_issue(
        &self,
        r: Request<pb::UnwatchIssueRequest>,
    ) -> RpcResult<pb::WatchState> {
        respond(notifications::unwatch_issue(&self.0, r).await)
    }
    async fn list_watchers(
        &self,
        r: Request<pb::ListWatchersRequest>,
    ) -> RpcResult<pb::ListWatchersResponse> {
        respond(notifications::list_watchers(&self.0, r).await)
    }
    async fn list_notifications(
        &self,
        r: Request<pb::ListNotificationsRequest>,
    ) -> RpcResult<pb::ListNotificationsResponse> {
        respond(notifications::list_notifications(&self.0, r).await)
    }
    async fn mark_notification_read(
        &self,
        r: Request<pb::MarkNotificationReadRequest>,
    ) -> RpcResult<pb::Notification> {
        respond(notifications::mark_notification_read(&self.0, r).await)
    }
    async fn mark_all_notifications_read(
        &self,
        r: Request<pb::MarkAllNotificationsReadRequest>,
    ) -> RpcResult<pb::MarkAllNotificationsReadResponse> {
        respond(notifications::mark_all_notifications_read(&self.0, r).await)
    }
    async fn bulk_update_issues(
        &self,
        r: Request<pb::BulkUpdateIssuesRequest>,
    ) -> RpcResult<pb::BulkUpdateIssuesResponse> {
        respond(bulk::bulk_update_issues(&self.0, r).await)
    }
    async fn create_saved_view(
        &self,
        r: Request<pb::CreateSavedViewRequest>,
    ) -> RpcResult<pb::SavedView> {
        respond(views::create_saved_view(&self.0, r).await)
    }
    async fn list_saved_views(
        &self,
        r: Request<pb::ListSavedViewsRequest>,
    ) -> RpcResult<pb::ListSavedViewsResponse> {
        respond(views::list_saved_views(&self.0, r).await)
    }
    async fn delete_saved_view(&self, r: Request<pb::DeleteSavedViewRequest>) -> RpcResult<()> {
        respond(views::delete_saved_view(&self.0, r).await)
    }
    async fn create_upload(&self, r: Request<pb::CreateUploadRequest>) -> RpcResult<pb::Upload> {
        respond(attachments::create_upload(&self.0, r).await)
    }
    async fn confirm_upload(
        &self,
        r: Request<pb::ConfirmUploadRequest>,
    ) -> RpcResult<pb::Attachment> {
        respond(attachments::confirm_upload(&self.0, r).await)
    }
    async fn upload_attachment(
        &self,
        r: Request<pb::UploadAttachmentRequest>,
    ) -> RpcResult<pb::Attachment> {
        respond(attachments::upload_attachment(&self.0, r).await)
    }
    async fn list_attachments(
        &self,
        r: Request<pb::ListAttachmentsRequest>,
    ) -> RpcResult<pb::ListAttachmentsResponse> {
        respond(attachments::list_attachments(&self.0, r).await)
    }
    async fn get_attachment(
        &self,
        r: Request<pb::GetAttachmentRequest>,
    ) -> RpcResult<pb::Attachment> {
        respond(attachments::get_attachment(&self.0, r).await)
    }
    async fn get_attachment_download(
        &self,
        r: Request<pb::GetAttachmentDownloadRequest>,
    ) -> RpcResult<pb::AttachmentDownload> {
        respond(attachments::get_attachment_download(&self.0, r).await)
    }
    async fn delete_attachment(&self, r: Request<pb::DeleteAttachmentRequest>) -> RpcResult<()> {
        respond(attachments::delete_attachment(&self.0, r).await)
    }
    async fn get_attachment_usage(
        &self,
        r: Request<pb::GetAttachmentUsageRequest>,
    ) -> RpcResult<pb::AttachmentUsage> {
        respond(attachments::get_attachment_usage(&self.0, r).await)
    }
}
