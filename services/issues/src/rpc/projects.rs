//! Handlers for projects.

use sqlx::{Postgres, Transaction};
use swatter_common::{
    pagination,
    rpc::{
        UpdateMask, Violations,
        idempotency::{self, Begin},
        update_mask::Fields,
    },
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Issues, authorize_locked, caller, check, convert, within_token};

const OWNERS_ONLY: &str = "only the project's owners may do this";

/// What `UpdateProject`'s `update_mask` may name.
const PROJECT_FIELDS: Fields = Fields {
    updatable: &["name", "description"],
    fixed: &["id", "key", "created_at", "updated_at", "my_role"],
};
use crate::{
    domain::{Action, Description, ProjectKey, ProjectName, Role, authorize},
    error::{IssuesError, Result},
    feed::data,
    store,
};

pub(super) async fn create_project(
    issues: &Issues,
    request: Request<pb::CreateProjectRequest>,
) -> Result<pb::Project> {
    let me = caller(&request)?;
    if me.project_limit().is_some() {
        return Err(IssuesError::Forbidden(
            "a personal access token limited to some projects cannot create projects",
        ));
    }
    let mut req = request.into_inner();
    let mut violations = Violations::default();
    let key = violations.check(ProjectKey::parse(&req.key));
    let name = violations.check(ProjectName::parse("name", &req.name));
    let description = violations.check(Description::parse(
        "description",
        req.description.as_deref().unwrap_or(""),
    ));
    violations.finish()?;
    let (Some(key), Some(name), Some(description)) = (key, name, description) else {
        unreachable!("violations were reported above");
    };
    let request_id = std::mem::take(&mut req.request_id);
    let (mut tx, claim) =
        match idempotency::begin(&issues.db, me.id, "create_project", &request_id, &req).await? {
            Begin::Replay(project) => return Ok(project),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    let id = Uuid::now_v7();
    store::insert_project(
        &mut *tx,
        id,
        key.as_str(),
        name.as_str(),
        description.as_str(),
    )
    .await?;
    let owner = store::upsert_member(&mut *tx, id, me.id, &me.username, Role::Owner).await?;
    let row = store::project_by_key(&mut *tx, key.as_str(), me.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("created project not found"))?;
    let project = convert::project(row);
    store::append_change(&mut tx, id, "project.created", &data::project(&project)).await?;
    store::append_change(
        &mut tx,
        id,
        "member.added",
        &data::member(&convert::member(owner)),
    )
    .await?;
    claim.complete(&mut tx, &project).await?;
    tx.commit().await?;
    issues.feed.changed(id);
    tracing::info!(project = %key, owner = %me.id, "project created");
    Ok(project)
}

pub(super) async fn list_projects(
    issues: &Issues,
    request: Request<pb::ListProjectsRequest>,
) -> Result<pb::ListProjectsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let (limit, after) = pagination::page::<String>(req.page_size, &req.page_token)
        .and_then(|(limit, key)| {
            let key = key.map(|key| ProjectKey::parse(&key).map_err(|_| pagination::bad_token()));
            Ok((limit, key.transpose()?))
        })
        .map_err(IssuesError::invalid)?;
    let mut rows = store::list_projects(
        &issues.db,
        me.id,
        !me.admin,
        me.project_limit(),
        after.as_ref().map(ProjectKey::as_str),
        limit + 1,
    )
    .await?;
    let next_page_token = pagination::next_token(&mut rows, limit, |p| p.key.clone());
    Ok(pb::ListProjectsResponse {
        projects: rows.into_iter().map(convert::project).collect(),
        next_page_token,
    })
}

pub(super) async fn get_project(
    issues: &Issues,
    request: Request<pb::GetProjectRequest>,
) -> Result<pb::Project> {
    let me = caller(&request)?;
    let project = visible_project(issues, &request.get_ref().key, &me).await?;
    Ok(convert::project(project))
}

pub(super) async fn update_project(
    issues: &Issues,
    request: Request<pb::UpdateProjectRequest>,
) -> Result<pb::Project> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let mut violations = Violations::default();
    let mask = violations
        .check(UpdateMask::parse(req.update_mask.as_ref(), PROJECT_FIELDS))
        .unwrap_or(UpdateMask::Populated);
    let name = mask.value("name", req.name);
    let name = name.and_then(|n| violations.check(ProjectName::parse("name", &n)));
    let description = mask.value("description", req.description);
    let description =
        description.and_then(|d| violations.check(Description::parse("description", &d)));
    violations.finish()?;
    let mut tx = issues.db.begin().await?;
    let project =
        locked_project(&mut tx, &req.key, &me, Action::ManageProject, OWNERS_ONLY).await?;
    store::update_project(
        &mut *tx,
        project.id,
        name.as_ref().map(ProjectName::as_str),
        description.as_ref().map(Description::as_str),
    )
    .await?;
    let row = store::project_by_key(&mut *tx, &project.key, me.id)
        .await?
        .ok_or(IssuesError::NotFound("project"))?;
    let updated = convert::project(row);
    store::append_change(
        &mut tx,
        project.id,
        "project.updated",
        &data::project(&updated),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(project.id);
    Ok(updated)
}

pub(super) async fn delete_project(
    issues: &Issues,
    request: Request<pb::DeleteProjectRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let mut tx = issues.db.begin().await?;
    let project = locked_project(
        &mut tx,
        &request.get_ref().key,
        &me,
        Action::ManageProject,
        OWNERS_ONLY,
    )
    .await?;
    // One sequencer at a time, this deletion included; then wait for the project's writers
    // (they hold it `FOR KEY SHARE`) and number what they wrote, so that their events leave
    // through the outbox before the project's feed goes, and `project.deleted` comes last.
    store::lock_sequencer(&mut tx).await?;
    store::lock_project_for_delete(&mut tx, project.id).await?;
    store::sequence_changes(&mut tx, Some(project.id), i64::MAX).await?;
    store::append_project_deleted(
        &mut tx,
        project.id,
        &project.key,
        &data::deleted_with_key(&project.id.to_string(), &project.key),
    )
    .await?;
    store::delete_project(&mut *tx, project.id).await?;
    tx.commit().await?;
    issues.feed.changed(project.id);
    tracing::info!(project = %project.key, by = %me.id, "project deleted with its issues");
    Ok(())
}

/// A project key from a request that names an existing project: malformed keys name nothing.
pub(super) fn key_or_not_found(raw: &str) -> Result<ProjectKey> {
    ProjectKey::parse(raw).map_err(|_: Violation| IssuesError::NotFound("project"))
}

/// Loads a project the caller may see.
pub(super) async fn visible_project(
    issues: &Issues,
    key: &str,
    me: &swatter_common::auth::UserPrincipal,
) -> Result<store::ProjectRow> {
    // Whoever may not see a project is told it does not exist: never forbidden.
    project_with_access(issues, key, me, Action::View, "").await
}

/// Loads a project for a member-level action, for the other handler modules.
pub(super) async fn project_with_access(
    issues: &Issues,
    key: &str,
    me: &swatter_common::auth::UserPrincipal,
    action: Action,
    forbidden: &'static str,
) -> Result<store::ProjectRow> {
    let key = key_or_not_found(key)?;
    within_token(me, key.as_str(), "project")?;
    let project = store::project_by_key(&issues.db, key.as_str(), me.id)
        .await?
        .ok_or(IssuesError::NotFound("project"))?;
    check(
        authorize(project.my_role, me.admin, action),
        "project",
        forbidden,
    )?;
    Ok(project)
}

/// The project locked against concurrent membership changes and edits
/// ([`store::lock_project_by_key`]), with the caller's right to `action` checked under the lock of
/// their own membership ([`authorize_locked`]).
pub(super) async fn locked_project(
    tx: &mut Transaction<'_, Postgres>,
    raw_key: &str,
    me: &swatter_common::auth::UserPrincipal,
    action: Action,
    forbidden: &'static str,
) -> Result<store::ProjectRow> {
    let key = key_or_not_found(raw_key)?;
    within_token(me, key.as_str(), "project")?;
    let project = store::lock_project_by_key(tx, key.as_str(), me.id)
        .await?
        .ok_or(IssuesError::NotFound("project"))?;
    authorize_locked(tx, key.as_str(), me, action, "project", forbidden).await?;
    Ok(project)
}
