//! Attachments of issues and comments: presigned uploads and their confirmation, the one-step
//! small upload, listing, downloads and deletion, and a project's usage (docs/api.md,
//! "Attachments"). Rules are in `domain::attachments`, queries in `store::attachments`, the
//! object store and the sweeper in `crate::attachments`.

use swatter_proto::issues::v1 as pb;
use tonic::Request;

use super::Issues;
use crate::error::Result;

pub(super) async fn create_upload(
    issues: &Issues,
    request: Request<pb::CreateUploadRequest>,
) -> Result<pb::Upload> {
    let _ = (issues, request);
    todo!("attachments helper: create_upload")
}

pub(super) async fn confirm_upload(
    issues: &Issues,
    request: Request<pb::ConfirmUploadRequest>,
) -> Result<pb::Attachment> {
    let _ = (issues, request);
    todo!("attachments helper: confirm_upload")
}

pub(super) async fn upload_attachment(
    issues: &Issues,
    request: Request<pb::UploadAttachmentRequest>,
) -> Result<pb::Attachment> {
    let _ = (issues, request);
    todo!("attachments helper: upload_attachment")
}

pub(super) async fn list_attachments(
    issues: &Issues,
    request: Request<pb::ListAttachmentsRequest>,
) -> Result<pb::ListAttachmentsResponse> {
    let _ = (issues, request);
    todo!("attachments helper: list_attachments")
}

pub(super) async fn get_attachment(
    issues: &Issues,
    request: Request<pb::GetAttachmentRequest>,
) -> Result<pb::Attachment> {
    let _ = (issues, request);
    todo!("attachments helper: get_attachment")
}

pub(super) async fn get_attachment_download(
    issues: &Issues,
    request: Request<pb::GetAttachmentDownloadRequest>,
) -> Result<pb::AttachmentDownload> {
    let _ = (issues, request);
    todo!("attachments helper: get_attachment_download")
}

pub(super) async fn delete_attachment(
    issues: &Issues,
    request: Request<pb::DeleteAttachmentRequest>,
) -> Result<()> {
    let _ = (issues, request);
    todo!("attachments helper: delete_attachment")
}

pub(super) async fn get_attachment_usage(
    issues: &Issues,
    request: Request<pb::GetAttachmentUsageRequest>,
) -> Result<pb::AttachmentUsage> {
    let _ = (issues, request);
    todo!("attachments helper: get_attachment_usage")
}
