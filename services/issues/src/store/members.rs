//! Project membership.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub username: String,
    pub role: Role,
    pub added_at: DateTime<Utc>,
}

const MEMBER_COLUMNS: &str = "user_id, username, role, added_at";

/// Where a page of members starts: after this username and user id.
pub type MemberCursor = (String, Uuid);

/// Up to `limit` members of the project by username (then user id), those after `after`.
pub async fn list_members(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    after: Option<&MemberCursor>,
    limit: i64,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members
         WHERE project_id = $1 AND ($2::text IS NULL OR (username, user_id) > ($2, $3))
         ORDER BY username, user_id
         LIMIT $4"
    ))
    .bind(project_id)
    .bind(after.map(|(username, _)| username.as_str()))
    .bind(after.map(|(_, user_id)| *user_id))
    .bind(limit)
    .fetch_all(db)
    .await
}

/// The membership of `user_id` in the project, the row locked by `lock` (empty, or `FOR …`).
async fn member_where(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
    lock: &str,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(&format!(
        "SELECT {MEMBER_COLUMNS} FROM members WHERE project_id = $1 AND user_id = $2 {lock}"
    ))
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    member_where(db, project_id, user_id, "").await
}

/// Like [`member`], locking the membership row `FOR UPDATE` before it is changed or removed, so
/// that writes holding it through [`lock_role`] finish first (or see the change).
pub async fn lock_member(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    member_where(&mut **tx, project_id, user_id, "FOR UPDATE").await
}

/// The role of `user_id` in the project `project_key` (`None`: not a member), locking their membership row
/// `FOR SHARE` (and the project row `FOR KEY SHARE`, taken first as every writer does) until the
/// transaction ends. A role change or removal of that member ([`lock_member`], `UPDATE`, `DELETE`)
/// conflicts with it: it waits for this transaction, or this read waits for it and sees its result.
pub async fn lock_role(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<Role>> {
    sqlx::query_scalar(
        "SELECT m.role FROM projects p
         JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE p.key = $1
         FOR KEY SHARE OF p FOR SHARE OF m",
    )
    .bind(project_key)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Adds a member or changes their role.
pub async fn upsert_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
    username: &str,
    role: Role,
) -> sqlx::Result<MemberRow> {
    sqlx::query_as(&format!(
        "INSERT INTO members (project_id, user_id, username, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project_id, user_id)
         DO UPDATE SET role = EXCLUDED.role, username = EXCLUDED.username
         RETURNING {MEMBER_COLUMNS}"
    ))
    .bind(project_id)
    .bind(user_id)
    .bind(username)
    .bind(role)
    .fetch_one(db)
    .await
}

pub async fn delete_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected()
            > 0,
    )
}

pub async fn count_owners(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM members WHERE project_id = $1 AND role = $2")
        .bind(project_id)
        .bind(Role::Owner)
        .fetch_one(db)
        .await
}
