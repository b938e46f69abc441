//! Saved issue queries, per user and project: only their owner sees or deletes them.

use swatter_common::rpc::{caller, timestamp};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Issues, projects::visible_project, within_token};
use crate::{
    domain::views::{MAX_SAVED_VIEWS, ViewSpec},
    error::{IssuesError, Result},
    store::{self, NewSavedView, SavedViewRow},
};

fn view(row: SavedViewRow) -> pb::SavedView {
    pb::SavedView {
        id: row.id.to_string(),
        project_key: row.project_key,
        name: row.name,
        query: row.query,
        sort: row.sort,
        created_at: Some(timestamp(row.created_at)),
    }
}

/// Anyone who may see the project saves views of it (they are theirs alone).
pub(super) async fn create_saved_view(
    issues: &Issues,
    request: Request<pb::CreateSavedViewRequest>,
) -> Result<pb::SavedView> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let spec = ViewSpec::parse(&req.name, &req.query, &req.sort).map_err(IssuesError::Invalid)?;
    let project = visible_project(issues, &req.project_key, &me).await?;
    let mut tx = issues.db.begin().await?;
    store::lock_saved_views(&mut tx, me.id, project.id).await?;
    if store::count_saved_views(&mut *tx, me.id, project.id).await? >= MAX_SAVED_VIEWS {
        return Err(IssuesError::FailedPrecondition(
            format!(
                "at most {MAX_SAVED_VIEWS} saved views per project: delete one to save another"
            )
            .into(),
        ));
    }
    let row = store::insert_saved_view(
        &mut *tx,
        &NewSavedView {
            id: Uuid::now_v7(),
            project_id: project.id,
            user_id: me.id,
            name: &spec.name,
            query: &spec.query,
            sort: &spec.sort,
        },
    )
    .await?;
    tx.commit().await?;
    tracing::info!(view = %row.id, project = %project.key, by = %me.id, "saved view created");
    Ok(view(row))
}

/// The caller's own views of a project, by name.
pub(super) async fn list_saved_views(
    issues: &Issues,
    request: Request<pb::ListSavedViewsRequest>,
) -> Result<pb::ListSavedViewsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let project = visible_project(issues, &req.project_key, &me).await?;
    let rows = store::list_saved_views(&issues.db, me.id, project.id).await?;
    Ok(pb::ListSavedViewsResponse {
        views: rows.into_iter().map(view).collect(),
    })
}

/// Deletes one of the caller's views; anyone else's is not found.
pub(super) async fn delete_saved_view(
    issues: &Issues,
    request: Request<pb::DeleteSavedViewRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let id: Uuid = req
        .id
        .parse()
        .map_err(|_| IssuesError::NotFound("saved view"))?;
    let row = store::saved_view_of(&issues.db, id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("saved view"))?;
    within_token(&me, &row.project_key, "saved view")?;
    store::delete_saved_view(&issues.db, row.id).await?;
    tracing::info!(view = %row.id, by = %me.id, "saved view deleted");
    Ok(())
}
