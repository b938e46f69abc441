//! Bulk edits of up to 500 issues of a project: all or nothing, with a dry run.

use swatter_proto::issues::v1 as pb;
use tonic::{Request, Status};

use super::Issues;
use crate::error::{IssuesError, Result};

pub(super) async fn bulk_update_issues(
    _issues: &Issues,
    _request: Request<pb::BulkUpdateIssuesRequest>,
) -> Result<pb::BulkUpdateIssuesResponse> {
    Err(IssuesError::Status(Status::unimplemented(
        "bulk_update_issues is not built yet",
    )))
}
