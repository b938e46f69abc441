//! Milestones of a project: create, list by due date, read with progress, update, delete (detaching their issues).

use chrono::{NaiveDate, Utc};
use swatter_common::{
    auth::UserPrincipal,
    pagination,
    rpc::{
        UpdateMask, Violations,
        idempotency::{self, Begin},
        timestamp,
        update_mask::Fields,
    },
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{
    Issues, authorize_locked, caller, check, convert,
    projects::{project_with_access, visible_project},
    within_token,
};
use crate::{
    domain::{Action, Description, IssueTitle, MilestoneState, Progress, authorize, calendar_date},
    error::{IssuesError, Result},
    feed::data,
    store::{self, MilestoneCursor, MilestoneLock, MilestoneRow, NewMilestone},
};

const MAINTAINERS_UP: &str = "only maintainers and owners manage milestones";

/// What `UpdateMilestone`'s `update_mask` may name.
const MILESTONE_FIELDS: Fields = Fields {
    updatable: &["title", "description", "due_on", "state"],
    fixed: &[
        "id",
        "project_key",
        "created_at",
        "updated_at",
        "closed_at",
        "progress",
    ],
};

fn state_to_pb(state: MilestoneState) -> pb::MilestoneState {
    match state {
        MilestoneState::Open => pb::MilestoneState::Open,
        MilestoneState::Closed => pb::MilestoneState::Closed,
    }
}

/// `Ok(None)` for unspecified; a violation of `state` for numbers outside the enum.
fn state_from_pb(raw: i32) -> std::result::Result<Option<MilestoneState>, Violation> {
    match pb::MilestoneState::try_from(raw) {
        Ok(pb::MilestoneState::Unspecified) => Ok(None),
        Ok(pb::MilestoneState::Open) => Ok(Some(MilestoneState::Open)),
        Ok(pb::MilestoneState::Closed) => Ok(Some(MilestoneState::Closed)),
        Err(_) => Err(Violation::new("state", "must be open or closed")),
    }
}

fn progress_to_pb(progress: Progress) -> pb::MilestoneProgress {
    let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    pb::MilestoneProgress {
        open: count(progress.open),
        in_progress: count(progress.in_progress),
        resolved: count(progress.resolved),
        closed: count(progress.closed),
        total: count(progress.total()),
        percent_done: count(progress.percent_done()),
    }
}

/// A milestone row as the API shows it.
pub(super) fn milestone_to_pb(row: MilestoneRow) -> pb::Milestone {
    let progress = progress_to_pb(row.progress());
    pb::Milestone {
        id: row.id.to_string(),
        project_key: row.project_key,
        title: row.title,
        description: row.description,
        due_on: row.due_on.map(|d| d.to_string()),
        state: state_to_pb(row.state) as i32,
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        closed_at: row.closed_at.map(timestamp),
        progress: Some(progress),
    }
}

/// A due date as a request gives it: absent leaves it, empty clears it (`Some(None)`).
fn due_on_field(raw: Option<String>, v: &mut Violations) -> Option<Option<NaiveDate>> {
    match raw.as_deref() {
        None => None,
        Some("") => Some(None),
        Some(raw) => v.check(calendar_date("due_on", raw)).map(Some),
    }
}

/// A milestone id from a request: one that is not a UUID names no milestone.
fn milestone_id(raw: &str) -> Result<Uuid> {
    raw.parse().map_err(|_| IssuesError::NotFound("milestone"))
}

/// A milestone the caller may see (through their membership and their token's projects).
async fn visible_milestone(
    issues: &Issues,
    raw_id: &str,
    me: &UserPrincipal,
) -> Result<MilestoneRow> {
    let id = milestone_id(raw_id)?;
    let row = store::milestone_by_id(&issues.db, id)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))?;
    within_token(me, &row.project_key, "milestone")?;
    let role = store::member(&issues.db, row.project_id, me.id)
        .await?
        .map(|m| m.role);
    check(authorize(role, me.admin, Action::View), "milestone", "")?;
    Ok(row)
}

/// Re-reads a milestone inside the writer's transaction.
async fn reread(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, id: Uuid) -> Result<MilestoneRow> {
    store::milestone_by_id(&mut **tx, id)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))
}

pub(super) async fn create_milestone(
    issues: &Issues,
    request: Request<pb::CreateMilestoneRequest>,
) -> Result<pb::Milestone> {
    let me = caller(&request)?;
    let mut req = request.into_inner();
    let mut v = Violations::default();
    let title = v.check(IssueTitle::parse("title", &req.title));
    let description = v.check(Description::parse(
        "description",
        req.description.as_deref().unwrap_or(""),
    ));
    let due_on = due_on_field(req.due_on.clone(), &mut v).flatten();
    v.finish()?;
    let (Some(title), Some(description)) = (title, description) else {
        unreachable!("violations were reported above");
    };
    // Early answer (and a replay needs the right too); the check that counts is under lock.
    let project = project_with_access(
        issues,
        &req.project_key,
        &me,
        Action::ManageMilestones,
        MAINTAINERS_UP,
    )
    .await?;
    let request_id = std::mem::take(&mut req.request_id);
    let (mut tx, claim) =
        match idempotency::begin(&issues.db, me.id, "create_milestone", &request_id, &req).await? {
            Begin::Replay(milestone) => return Ok(milestone),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    authorize_locked(
        &mut tx,
        &project.key,
        &me,
        Action::ManageMilestones,
        "project",
        MAINTAINERS_UP,
    )
    .await?;
    let id = Uuid::now_v7();
    store::insert_milestone(
        &mut *tx,
        &NewMilestone {
            id,
            project_id: project.id,
            title: title.as_str(),
            description: description.as_str(),
            due_on,
        },
    )
    .await?;
    let milestone = milestone_to_pb(reread(&mut tx, id).await?);
    store::append_change(
        &mut tx,
        project.id,
        "milestone.created",
        &data::milestone(&milestone),
    )
    .await?;
    claim.complete(&mut tx, &milestone).await?;
    tx.commit().await?;
    issues.feed.changed(project.id);
    Ok(milestone)
}

pub(super) async fn list_milestones(
    issues: &Issues,
    request: Request<pb::ListMilestonesRequest>,
) -> Result<pb::ListMilestonesResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let mut v = Violations::default();
    let state = v.check(state_from_pb(req.state)).flatten();
    let page = v.check(
        pagination::page::<(Option<String>, String, Uuid)>(req.page_size, &req.page_token)
            .and_then(|(limit, after)| {
                let after = after
                    .map(|(due_on, title, id)| {
                        let due_on = due_on
                            .map(|d| calendar_date("page_token", &d))
                            .transpose()
                            .map_err(|_| pagination::bad_token())?;
                        Ok::<MilestoneCursor, Violation>((due_on, title, id))
                    })
                    .transpose()?;
                Ok((limit, after))
            }),
    );
    v.finish()?;
    let Some((limit, after)) = page else {
        unreachable!("violations were reported above");
    };
    let project = visible_project(issues, &req.project_key, &me).await?;
    let mut rows =
        store::list_milestones(&issues.db, project.id, state, after.as_ref(), limit + 1).await?;
    let next_page_token = pagination::next_token(&mut rows, limit, |m| {
        (m.due_on.map(|d| d.to_string()), m.title.clone(), m.id)
    });
    Ok(pb::ListMilestonesResponse {
        milestones: rows.into_iter().map(milestone_to_pb).collect(),
        next_page_token,
    })
}

pub(super) async fn get_milestone(
    issues: &Issues,
    request: Request<pb::GetMilestoneRequest>,
) -> Result<pb::Milestone> {
    let me = caller(&request)?;
    Ok(milestone_to_pb(
        visible_milestone(issues, &request.get_ref().id, &me).await?,
    ))
}

pub(super) async fn update_milestone(
    issues: &Issues,
    request: Request<pb::UpdateMilestoneRequest>,
) -> Result<pb::Milestone> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let id = milestone_id(&req.id)?;
    let mut v = Violations::default();
    let mask = v
        .check(UpdateMask::parse(
            req.update_mask.as_ref(),
            MILESTONE_FIELDS,
        ))
        .unwrap_or(UpdateMask::Populated);
    let title = mask
        .value("title", req.title)
        .and_then(|t| v.check(IssueTitle::parse("title", &t)));
    let description = mask
        .value("description", req.description)
        .and_then(|d| v.check(Description::parse("description", &d)));
    let due_on = due_on_field(mask.value("due_on", req.due_on), &mut v);
    let state =
        mask.value("state", (req.state != 0).then_some(req.state))
            .and_then(|raw| {
                v.check(state_from_pb(raw).and_then(|s| {
                    s.ok_or_else(|| Violation::new("state", "must be open or closed"))
                }))
            });
    v.finish()?;

    let existing = store::milestone_by_id(&issues.db, id)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))?;
    let mut tx = issues.db.begin().await?;
    authorize_locked(
        &mut tx,
        &existing.project_key,
        &me,
        Action::ManageMilestones,
        "milestone",
        MAINTAINERS_UP,
    )
    .await?;
    let current = store::lock_milestone(&mut tx, id, MilestoneLock::Edit)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))?;
    let now = Utc::now();
    let new_state = state.unwrap_or(current.state);
    let updated = store::LockedMilestone {
        project_id: current.project_id,
        title: title.map_or_else(|| current.title.clone(), |t| t.as_str().to_owned()),
        description: description
            .map_or_else(|| current.description.clone(), |d| d.as_str().to_owned()),
        due_on: due_on.unwrap_or(current.due_on),
        state: new_state,
        closed_at: current
            .state
            .closed_at_after(new_state, current.closed_at, now),
    };
    let unchanged = updated.title == current.title
        && updated.description == current.description
        && updated.due_on == current.due_on
        && updated.state == current.state;
    if unchanged {
        return Ok(milestone_to_pb(reread(&mut tx, id).await?));
    }
    store::update_milestone(&mut *tx, id, &updated, now).await?;
    let milestone = milestone_to_pb(reread(&mut tx, id).await?);
    store::append_change(
        &mut tx,
        current.project_id,
        "milestone.updated",
        &data::milestone(&milestone),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(current.project_id);
    Ok(milestone)
}

pub(super) async fn delete_milestone(
    issues: &Issues,
    request: Request<pb::DeleteMilestoneRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let id = milestone_id(&request.get_ref().id)?;
    let existing = store::milestone_by_id(&issues.db, id)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))?;
    let mut tx = issues.db.begin().await?;
    authorize_locked(
        &mut tx,
        &existing.project_key,
        &me,
        Action::ManageMilestones,
        "milestone",
        MAINTAINERS_UP,
    )
    .await?;
    // Locked before its issues: an issue being attached meanwhile waits for this deletion
    // and then finds the milestone gone, so every issue it had is detached with history.
    let current = store::lock_milestone(&mut tx, id, MilestoneLock::Delete)
        .await?
        .ok_or(IssuesError::NotFound("milestone"))?;
    let milestone = milestone_to_pb(reread(&mut tx, id).await?);
    let now = Utc::now();
    let detached = store::detach_milestone_issues(&mut tx, id, me.id, now).await?;
    let count = detached.len();
    for row in detached {
        let issue = convert::issue(row);
        store::append_change(
            &mut tx,
            current.project_id,
            "issue.updated",
            &data::issue(&issue),
        )
        .await?;
    }
    store::append_change(
        &mut tx,
        current.project_id,
        "milestone.deleted",
        &data::milestone(&milestone),
    )
    .await?;
    store::delete_milestone(&mut *tx, id).await?;
    tx.commit().await?;
    issues.feed.changed(current.project_id);
    tracing::info!(milestone = %id, detached = count, by = %me.id, "milestone deleted");
    Ok(())
}
