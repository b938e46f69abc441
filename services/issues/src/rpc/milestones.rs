//! Milestones of a project: create, list by due date, read with progress, update, delete (detaching their issues).

use swatter_proto::issues::v1 as pb;
use tonic::{Request, Status};

use super::Issues;
use crate::error::{IssuesError, Result};

pub(super) async fn create_milestone(
    _issues: &Issues,
    _request: Request<pb::CreateMilestoneRequest>,
) -> Result<pb::Milestone> {
    Err(IssuesError::Status(Status::unimplemented(
        "create_milestone is not built yet",
    )))
}

pub(super) async fn list_milestones(
    _issues: &Issues,
    _request: Request<pb::ListMilestonesRequest>,
) -> Result<pb::ListMilestonesResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "list_milestones is not built yet",
    )))
}

pub(super) async fn get_milestone(
    _issues: &Issues,
    _request: Request<pb::GetMilestoneRequest>,
) -> Result<pb::Milestone> {
    Err(IssuesError::Status(Status::unimplemented(
        "get_milestone is not built yet",
    )))
}

pub(super) async fn update_milestone(
    _issues: &Issues,
    _request: Request<pb::UpdateMilestoneRequest>,
) -> Result<pb::Milestone> {
    Err(IssuesError::Status(Status::unimplemented(
        "update_milestone is not built yet",
    )))
}

pub(super) async fn delete_milestone(
    _issues: &Issues,
    _request: Request<pb::DeleteMilestoneRequest>,
) -> Result<()> {
    Err(IssuesError::Status(Status::unimplemented(
        "delete_milestone is not built yet",
    )))
}
