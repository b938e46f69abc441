//! Milestones: a project's milestones with the counts of their issues by status, and the
//! detachment of a deleted milestone's issues.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder, Transaction};
use uuid::Uuid;

use super::{IssueRow, issues::SELECT_ISSUES};
use crate::domain::{Change, MilestoneState, Progress};

/// A milestone with its project's key and how far its issues are.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MilestoneRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub title: String,
    pub description: String,
    pub due_on: Option<NaiveDate>,
    pub state: MilestoneState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub open: i64,
    pub in_progress: i64,
    pub resolved: i64,
    pub closed: i64,
}

impl MilestoneRow {
    pub fn progress(&self) -> Progress {
        Progress {
            open: self.open,
            in_progress: self.in_progress,
            resolved: self.resolved,
            closed: self.closed,
        }
    }
}

/// Milestones with their project and their issues counted by status (from
/// `issues_milestone_idx`).
const SELECT_MILESTONES: &str = "SELECT ms.id, ms.project_id, p.key AS project_key, ms.title, \
     ms.description, ms.due_on, ms.state, ms.created_at, ms.updated_at, ms.closed_at, \
     c.open, c.in_progress, c.resolved, c.closed \
     FROM milestones ms JOIN projects p ON p.id = ms.project_id \
     CROSS JOIN LATERAL ( \
         SELECT count(*) FILTER (WHERE i.status = 'open') AS open, \
                count(*) FILTER (WHERE i.status = 'in_progress') AS in_progress, \
                count(*) FILTER (WHERE i.status = 'resolved') AS resolved, \
                count(*) FILTER (WHERE i.status = 'closed') AS closed \
         FROM issues i WHERE i.milestone_id = ms.id) c";

/// A new milestone (open).
pub struct NewMilestone<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub due_on: Option<NaiveDate>,
}

pub async fn insert_milestone(
    db: impl PgExecutor<'_>,
    milestone: &NewMilestone<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO milestones (id, project_id, title, description, due_on)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(milestone.id)
    .bind(milestone.project_id)
    .bind(milestone.title)
    .bind(milestone.description)
    .bind(milestone.due_on)
    .execute(db)
    .await?;
    Ok(())
}

/// The milestone `id` with its progress.
pub async fn milestone_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<MilestoneRow>> {
    sqlx::query_as(&format!("{SELECT_MILESTONES} WHERE ms.id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// What a writer needs of a locked milestone.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LockedMilestone {
    pub project_id: Uuid,
    pub title: String,
    pub description: String,
    pub due_on: Option<NaiveDate>,
    pub state: MilestoneState,
    pub closed_at: Option<DateTime<Utc>>,
}

/// How a writer locks a milestone.
#[derive(Debug, Clone, Copy)]
pub enum MilestoneLock {
    /// An edit: issues may still be attached meanwhile (their foreign key check takes
    /// `FOR KEY SHARE`, which this lock lets through).
    Edit,
    /// A deletion: attaching an issue waits for it and then finds the milestone gone.
    Delete,
}

/// The milestone `id`, locked for `lock` until the transaction ends.
pub async fn lock_milestone(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    lock: MilestoneLock,
) -> sqlx::Result<Option<LockedMilestone>> {
    let clause = match lock {
        MilestoneLock::Edit => "FOR NO KEY UPDATE",
        MilestoneLock::Delete => "FOR UPDATE",
    };
    sqlx::query_as(&format!(
        "SELECT project_id, title, description, due_on, state, closed_at
         FROM milestones WHERE id = $1 {clause}"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await
}

/// The project of the milestone `id`, if there is one.
pub async fn milestone_project(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<Option<Uuid>> {
    sqlx::query_scalar("SELECT project_id FROM milestones WHERE id = $1")
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Stores a milestone's new values (already merged).
pub async fn update_milestone(
    db: impl PgExecutor<'_>,
    id: Uuid,
    milestone: &LockedMilestone,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE milestones SET title = $2, description = $3, due_on = $4, state = $5,
                closed_at = $6, updated_at = $7
         WHERE id = $1",
    )
    .bind(id)
    .bind(&milestone.title)
    .bind(&milestone.description)
    .bind(milestone.due_on)
    .bind(milestone.state)
    .bind(milestone.closed_at)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_milestone(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    super::delete_by_id(db, "milestones", id).await
}

/// Where a page of milestones starts: after this due date (none sorts last), title and id.
pub type MilestoneCursor = (Option<NaiveDate>, String, Uuid);

/// A page of the project's milestones (of `state`, or all), by due date (none last), title, id.
pub async fn list_milestones(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    state: Option<MilestoneState>,
    after: Option<&MilestoneCursor>,
    limit: i64,
) -> sqlx::Result<Vec<MilestoneRow>> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(SELECT_MILESTONES);
    q.push(" WHERE ms.project_id = ").push_bind(project_id);
    if let Some(state) = state {
        q.push(" AND ms.state = ").push_bind(state);
    }
    match after {
        None => {}
        Some((Some(due_on), title, id)) => {
            q.push(" AND (ms.due_on IS NULL OR (ms.due_on, ms.title, ms.id) > (")
                .push_bind(*due_on)
                .push(", ")
                .push_bind(title.clone())
                .push(", ")
                .push_bind(*id)
                .push("))");
        }
        Some((None, title, id)) => {
            q.push(" AND ms.due_on IS NULL AND (ms.title, ms.id) > (")
                .push_bind(title.clone())
                .push(", ")
                .push_bind(*id)
                .push(")");
        }
    }
    q.push(" ORDER BY ms.due_on ASC NULLS LAST, ms.title, ms.id LIMIT ")
        .push_bind(limit);
    q.build_query_as().fetch_all(db).await
}

/// Detaches every issue of the milestone `id` (bumping their version), records a `milestone`
/// history entry on each for `actor`, and returns them as `actor` sees them, by number.
pub async fn detach_milestone_issues(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    actor: Uuid,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<IssueRow>> {
    let detached: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE issues SET milestone_id = NULL, updated_at = $2, version = version + 1
         WHERE milestone_id = $1 RETURNING id",
    )
    .bind(id)
    .bind(now)
    .fetch_all(&mut **tx)
    .await?;
    if detached.is_empty() {
        return Ok(Vec::new());
    }
    let change = Change::milestone_detached(id);
    for chunk in detached.chunks(1000) {
        let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
            "INSERT INTO issue_events (id, issue_id, actor_id, kind, field, old_value, new_value, created_at) ",
        );
        q.push_values(chunk, |mut row, issue_id| {
            row.push_bind(Uuid::now_v7())
                .push_bind(*issue_id)
                .push_bind(actor)
                .push_bind(change.kind)
                .push_bind(change.field)
                .push_bind(change.old.clone())
                .push_bind(change.new.clone())
                .push_bind(now);
        });
        q.build().execute(&mut **tx).await?;
    }
    sqlx::query_as(&format!(
        "{SELECT_ISSUES}
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE i.id = ANY($1) ORDER BY i.number"
    ))
    .bind(&detached)
    .bind(actor)
    .fetch_all(&mut **tx)
    .await
}
