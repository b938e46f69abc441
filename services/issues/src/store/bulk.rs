//! Bulk edits: a few set-based statements for up to 500 issues (docs/api.md, "Bulk edits"),
//! never one round trip per issue.

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use uuid::Uuid;

use super::{IssueRow, issues::SELECT_ISSUES};
use crate::domain::{Change, IssueFields};

/// The issues numbered `numbers` of the project `project_id`, with the role of `caller`, locked
/// `FOR UPDATE` in id order (every bulk edit locks in the same order, so two never deadlock).
/// Numbers that name no issue are missing from the answer.
pub async fn lock_issues_by_numbers(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    numbers: &[i64],
    caller: Uuid,
) -> sqlx::Result<Vec<IssueRow>> {
    sqlx::query_as(&format!(
        "{SELECT_ISSUES}
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $3
         WHERE i.project_id = $1 AND i.number = ANY($2)
         ORDER BY i.id
         FOR UPDATE OF i"
    ))
    .bind(project_id)
    .bind(numbers)
    .bind(caller)
    .fetch_all(&mut **tx)
    .await
}

/// Whether the milestone `milestone_id` belongs to the project `project_id`; it is locked
/// `FOR KEY SHARE` until the transaction ends, so it cannot be deleted under the edit.
pub async fn lock_milestone_of_project(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    milestone_id: Uuid,
) -> sqlx::Result<bool> {
    Ok(sqlx::query_scalar::<_, i32>(
        "SELECT 1 FROM milestones WHERE id = $1 AND project_id = $2 FOR KEY SHARE",
    )
    .bind(milestone_id)
    .bind(project_id)
    .fetch_optional(&mut **tx)
    .await?
    .is_some())
}

/// Stores the new fields of the issues `updates` (id, fields after the edit) in one statement:
/// what a bulk edit may change, `updated_at = now` and the next version.
pub async fn bulk_update_issues(
    tx: &mut Transaction<'_, Postgres>,
    updates: &[(Uuid, &IssueFields)],
    now: DateTime<Utc>,
) -> sqlx::Result<u64> {
    let ids: Vec<Uuid> = updates.iter().map(|(id, _)| *id).collect();
    let statuses: Vec<&str> = updates.iter().map(|(_, f)| f.status.as_str()).collect();
    let priorities: Vec<i16> = updates.iter().map(|(_, f)| f.priority.rank()).collect();
    let labels: Vec<serde_json::Value> = updates
        .iter()
        .map(|(_, f)| serde_json::json!(f.labels))
        .collect();
    let assignees: Vec<Option<Uuid>> = updates.iter().map(|(_, f)| f.assignee_id).collect();
    let closed_at: Vec<Option<DateTime<Utc>>> = updates.iter().map(|(_, f)| f.closed_at).collect();
    let resolutions: Vec<Option<&str>> = updates
        .iter()
        .map(|(_, f)| f.resolution.map(|r| r.as_str()))
        .collect();
    let due_on: Vec<Option<chrono::NaiveDate>> = updates.iter().map(|(_, f)| f.due_on).collect();
    let milestones: Vec<Option<Uuid>> = updates.iter().map(|(_, f)| f.milestone_id).collect();
    let result = sqlx::query(
        "UPDATE issues i
         SET status = u.status, priority = u.priority,
             labels = ARRAY(SELECT jsonb_array_elements_text(u.labels)),
             assignee_id = u.assignee_id, closed_at = u.closed_at, resolution = u.resolution,
             due_on = u.due_on, milestone_id = u.milestone_id,
             updated_at = $10, version = i.version + 1
         FROM unnest($1::uuid[], $2::text[], $3::smallint[], $4::jsonb[], $5::uuid[],
                     $6::timestamptz[], $7::text[], $8::date[], $9::uuid[])
              AS u(id, status, priority, labels, assignee_id, closed_at, resolution, due_on,
                   milestone_id)
         WHERE i.id = u.id",
    )
    .bind(&ids)
    .bind(&statuses)
    .bind(&priorities)
    .bind(&labels)
    .bind(&assignees)
    .bind(&closed_at)
    .bind(&resolutions)
    .bind(&due_on)
    .bind(&milestones)
    .bind(now)
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected())
}

/// Records the history of every changed issue (`(issue id, its changes)`) made by `actor_id`
/// at `at`, in one statement.
pub async fn insert_bulk_events(
    tx: &mut Transaction<'_, Postgres>,
    actor_id: Uuid,
    changes: &[(Uuid, &[Change])],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    let all = || {
        changes
            .iter()
            .flat_map(|(id, c)| c.iter().map(|c| (*id, c)))
    };
    let ids: Vec<Uuid> = all().map(|_| Uuid::now_v7()).collect();
    let issue_ids: Vec<Uuid> = all().map(|(id, _)| id).collect();
    let kinds: Vec<&str> = all().map(|(_, c)| c.kind).collect();
    let fields: Vec<&str> = all().map(|(_, c)| c.field).collect();
    let old: Vec<Option<&str>> = all().map(|(_, c)| c.old.as_deref()).collect();
    let new: Vec<Option<&str>> = all().map(|(_, c)| c.new.as_deref()).collect();
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO issue_events (id, issue_id, actor_id, kind, field, old_value, new_value,
                                   created_at)
         SELECT e.id, e.issue_id, $7, e.kind, e.field, e.old_value, e.new_value, $8
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[])
              AS e(id, issue_id, kind, field, old_value, new_value)",
    )
    .bind(&ids)
    .bind(&issue_ids)
    .bind(&kinds)
    .bind(&fields)
    .bind(&old)
    .bind(&new)
    .bind(actor_id)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Appends one change of type `event_type` per item of `data` to the project's feed, in order,
/// in one statement (as [`super::append_change`] does for one).
pub async fn append_changes(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    event_type: &str,
    data: &[serde_json::Value],
) -> sqlx::Result<()> {
    if data.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = data.iter().map(|_| Uuid::now_v7()).collect();
    sqlx::query(
        "INSERT INTO changes (project_id, id, type, data, occurred_at)
         SELECT $1, c.id, $3, c.data, clock_timestamp()
         FROM unnest($2::uuid[], $4::jsonb[]) WITH ORDINALITY AS c(id, data, n)
         ORDER BY c.n",
    )
    .bind(project_id)
    .bind(&ids)
    .bind(event_type)
    .bind(data)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
