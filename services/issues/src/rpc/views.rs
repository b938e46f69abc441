//! Saved issue queries, per user and project.

use swatter_proto::issues::v1 as pb;
use tonic::{Request, Status};

use super::Issues;
use crate::error::{IssuesError, Result};

pub(super) async fn create_saved_view(
    _issues: &Issues,
    _request: Request<pb::CreateSavedViewRequest>,
) -> Result<pb::SavedView> {
    Err(IssuesError::Status(Status::unimplemented(
        "create_saved_view is not built yet",
    )))
}

pub(super) async fn list_saved_views(
    _issues: &Issues,
    _request: Request<pb::ListSavedViewsRequest>,
) -> Result<pb::ListSavedViewsResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "list_saved_views is not built yet",
    )))
}

pub(super) async fn delete_saved_view(
    _issues: &Issues,
    _request: Request<pb::DeleteSavedViewRequest>,
) -> Result<()> {
    Err(IssuesError::Status(Status::unimplemented(
        "delete_saved_view is not built yet",
    )))
}
