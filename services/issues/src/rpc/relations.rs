//! Relations between issues: add, remove, list; cycles refused; sub-issue progress and blocked state.

use swatter_proto::issues::v1 as pb;
use tonic::{Request, Status};

use super::Issues;
use crate::error::{IssuesError, Result};

pub(super) async fn add_relation(
    _issues: &Issues,
    _request: Request<pb::AddRelationRequest>,
) -> Result<pb::Relation> {
    Err(IssuesError::Status(Status::unimplemented(
        "add_relation is not built yet",
    )))
}

pub(super) async fn remove_relation(
    _issues: &Issues,
    _request: Request<pb::RemoveRelationRequest>,
) -> Result<()> {
    Err(IssuesError::Status(Status::unimplemented(
        "remove_relation is not built yet",
    )))
}

pub(super) async fn list_relations(
    _issues: &Issues,
    _request: Request<pb::ListRelationsRequest>,
) -> Result<pb::ListRelationsResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "list_relations is not built yet",
    )))
}
