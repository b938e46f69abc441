//! Projects.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::Role;

/// A row of `projects`, with the caller's role when asked for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub my_role: Option<Role>,
}

const PROJECT_COLUMNS: &str =
    "p.id, p.key, p.name, p.description, p.created_at, p.updated_at, m.role AS my_role";

pub async fn insert_project(
    db: impl PgExecutor<'_>,
    id: Uuid,
    key: &str,
    name: &str,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO projects (id, key, name, description) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(key)
        .bind(name)
        .bind(description)
        .execute(db)
        .await?;
    Ok(())
}

/// The project with this key and the role of `user_id` in it, the row locked by `lock` (SQL
/// after the query: empty, or a `FOR …` clause).
async fn project_where_key(
    db: impl PgExecutor<'_>,
    key: &str,
    user_id: Uuid,
    lock: &str,
) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE p.key = $1 {lock}"
    ))
    .bind(key)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The project with this key and the caller's role in it (`None` when not a member).
pub async fn project_by_key(
    db: impl PgExecutor<'_>,
    key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<ProjectRow>> {
    project_where_key(db, key, user_id, "").await
}

/// Like [`project_by_key`], locking the project row until the transaction ends: serialises the
/// project's membership changes and edits. `FOR NO KEY UPDATE`, so that issue writes (whose
/// foreign keys take `FOR KEY SHARE` on it) are not blocked. The returned `my_role` is not
/// authoritative: read it with [`super::lock_role`] after this lock is held.
pub async fn lock_project_by_key(
    tx: &mut Transaction<'_, Postgres>,
    key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<ProjectRow>> {
    project_where_key(&mut **tx, key, user_id, "FOR NO KEY UPDATE OF p").await
}

/// Locks the project row `FOR UPDATE` (before deleting it): waits for the writers that hold it
/// `FOR KEY SHARE` (issues and comments being written) and keeps new ones out.
pub async fn lock_project_for_delete(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("SELECT 1 FROM projects WHERE id = $1 FOR UPDATE")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Projects ordered by key after `after_key`; only those `caller` belongs to if `member_only`.
pub async fn list_projects(
    db: impl PgExecutor<'_>,
    caller: Uuid,
    member_only: bool,
    only_keys: Option<&[String]>,
    after_key: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ProjectRow>> {
    let join = if member_only { "JOIN" } else { "LEFT JOIN" };
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p
         {join} members m ON m.project_id = p.id AND m.user_id = $1
         WHERE ($2::text IS NULL OR p.key > $2) AND ($4::text[] IS NULL OR p.key = ANY($4))
         ORDER BY p.key
         LIMIT $3"
    ))
    .bind(caller)
    .bind(after_key)
    .bind(limit)
    .bind(only_keys)
    .fetch_all(db)
    .await
}

/// The ids of the projects among `keys` that `caller` may see (is a member of, unless
/// `member_only` is false).
pub async fn project_ids_by_keys(
    db: impl PgExecutor<'_>,
    caller: Uuid,
    member_only: bool,
    keys: &[String],
) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT p.id FROM projects p
         WHERE p.key = ANY($2)
           AND (NOT $3 OR EXISTS (SELECT 1 FROM members m WHERE m.project_id = p.id AND m.user_id = $1))",
    )
    .bind(caller)
    .bind(keys)
    .bind(member_only)
    .fetch_all(db)
    .await
}

pub async fn update_project(
    db: impl PgExecutor<'_>,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the project; issues, comments, history and members go with it (cascade).
pub async fn delete_project(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    super::delete_by_id(db, "projects", id).await
}
