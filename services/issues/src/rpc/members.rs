//! Handlers for project membership.

use swatter_common::{pagination, rpc::downstream, status::Violation};
use swatter_proto::{identity::v1::GetUserRequest, issues::v1 as pb};
use tonic::Request;
use uuid::Uuid;

use super::{
    Issues, caller, convert,
    projects::{locked_project, project_with_access, visible_project},
};
use crate::{
    domain::{Action, Role},
    error::{IssuesError, Result},
    feed::data,
    store,
};

const OWNERS_ONLY: &str = "only the project's owners may manage members";
const LAST_OWNER: &str = "a project needs at least one owner";

fn user_id(raw: &str) -> Result<Uuid> {
    raw.parse()
        .map_err(|_| IssuesError::invalid(Violation::new("user_id", "is not a UUID")))
}

pub(super) async fn list_members(
    issues: &Issues,
    request: Request<pb::ListMembersRequest>,
) -> Result<pb::ListMembersResponse> {
    let me = caller(&request)?;
    let req = request.get_ref();
    let (limit, after) = pagination::page::<store::MemberCursor>(req.page_size, &req.page_token)
        .map_err(IssuesError::invalid)?;
    let project = visible_project(issues, &req.project_key, &me).await?;
    let mut members =
        store::list_members(&issues.db, project.id, after.as_ref(), limit + 1).await?;
    let next_page_token =
        pagination::next_token(&mut members, limit, |m| (m.username.clone(), m.user_id));
    Ok(pb::ListMembersResponse {
        members: members.into_iter().map(convert::member).collect(),
        next_page_token,
    })
}

pub(super) async fn set_member(
    issues: &Issues,
    request: Request<pb::SetMemberRequest>,
) -> Result<pb::Member> {
    let me = caller(&request)?;
    let req = request.get_ref().clone();
    let role = convert::role_from_pb(req.role).ok_or_else(|| {
        IssuesError::invalid(Violation::new(
            "role",
            "must be owner, maintainer, reporter or viewer",
        ))
    })?;
    let user_id = user_id(&req.user_id)?;
    // Early answer before asking identity; the check that counts is the one under lock below.
    project_with_access(
        issues,
        &req.project_key,
        &me,
        Action::ManageProject,
        OWNERS_ONLY,
    )
    .await?;

    // The user must exist in identity; ask as the caller.
    let lookup = issues
        .identity
        .clone()
        .get_user(downstream::on_behalf_of(
            &request,
            GetUserRequest {
                id: user_id.to_string(),
            },
        ))
        .await;
    let user = lookup
        .map_err(|status| IssuesError::downstream("identity", "user", status))?
        .into_inner();

    let mut tx = issues.db.begin().await?;
    let project = locked_project(
        &mut tx,
        &req.project_key,
        &me,
        Action::ManageProject,
        OWNERS_ONLY,
    )
    .await?;
    let current = store::lock_member(&mut tx, project.id, user_id).await?;
    let demotes_an_owner =
        current.as_ref().is_some_and(|m| m.role == Role::Owner) && role != Role::Owner;
    if demotes_an_owner && store::count_owners(&mut *tx, project.id).await? <= 1 {
        return Err(IssuesError::FailedPrecondition(LAST_OWNER.into()));
    }
    let unchanged = current
        .as_ref()
        .is_some_and(|m| m.role == role && m.username == user.username);
    let event_type = if current.is_some() {
        "member.updated"
    } else {
        "member.added"
    };
    let member = convert::member(
        store::upsert_member(&mut *tx, project.id, user_id, &user.username, role).await?,
    );
    if !unchanged {
        store::append_change(&mut tx, project.id, event_type, &data::member(&member)).await?;
    }
    tx.commit().await?;
    issues.feed.changed(project.id);
    tracing::info!(project = %project.key, user_id = %user_id, role = %role, by = %me.id, "member set");
    Ok(member)
}

pub(super) async fn remove_member(
    issues: &Issues,
    request: Request<pb::RemoveMemberRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let user_id = user_id(&req.user_id)?;
    // Members may leave a project themselves; removing others is for owners.
    let action = if user_id == me.id {
        Action::View
    } else {
        Action::ManageProject
    };
    let mut tx = issues.db.begin().await?;
    let project = locked_project(&mut tx, &req.project_key, &me, action, OWNERS_ONLY).await?;
    let member = store::lock_member(&mut tx, project.id, user_id)
        .await?
        .ok_or(IssuesError::NotFound("member"))?;
    if member.role == Role::Owner && store::count_owners(&mut *tx, project.id).await? <= 1 {
        return Err(IssuesError::FailedPrecondition(LAST_OWNER.into()));
    }
    store::delete_member(&mut *tx, project.id, user_id).await?;
    store::append_change(
        &mut tx,
        project.id,
        "member.removed",
        &data::removed_member(&user_id.to_string()),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(project.id);
    tracing::info!(project = %project.key, user_id = %user_id, by = %me.id, "member removed");
    Ok(())
}
