//! Saved views: a user's named queries of a project's issues.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// A saved view with its project's key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SavedViewRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub user_id: Uuid,
    pub name: String,
    pub query: String,
    pub sort: String,
    pub created_at: DateTime<Utc>,
}

pub struct NewSavedView<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub user_id: Uuid,
    pub name: &'a str,
    pub query: &'a str,
    pub sort: &'a str,
}

/// Serializes the creations of one user's views in one project until `tx` ends, so that the
/// count checked before an insert is still true at its commit.
pub async fn lock_saved_views(
    tx: &mut Transaction<'_, Postgres>,
    user_id: Uuid,
    project_id: Uuid,
) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1::text || $2::text, 14))")
        .bind(user_id)
        .bind(project_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// How many views `user_id` has saved in `project_id`.
pub async fn count_saved_views(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    project_id: Uuid,
) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM saved_views WHERE user_id = $1 AND project_id = $2")
        .bind(user_id)
        .bind(project_id)
        .fetch_one(db)
        .await
}

/// Stores a view (a name its user already uses in the project: `saved_views_user_project_name_key`).
pub async fn insert_saved_view(
    db: impl PgExecutor<'_>,
    view: &NewSavedView<'_>,
) -> sqlx::Result<SavedViewRow> {
    sqlx::query_as(
        "WITH v AS (
             INSERT INTO saved_views (id, project_id, user_id, name, query, sort)
             VALUES ($1, $2, $3, $4, $5, $6)
             RETURNING *
         )
         SELECT v.id, v.project_id, p.key AS project_key, v.user_id, v.name, v.query, v.sort,
                v.created_at
         FROM v JOIN projects p ON p.id = v.project_id",
    )
    .bind(view.id)
    .bind(view.project_id)
    .bind(view.user_id)
    .bind(view.name)
    .bind(view.query)
    .bind(view.sort)
    .fetch_one(db)
    .await
}

/// The views `user_id` saved in `project_id`, by name.
pub async fn list_saved_views(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    project_id: Uuid,
) -> sqlx::Result<Vec<SavedViewRow>> {
    sqlx::query_as(
        "SELECT v.id, v.project_id, p.key AS project_key, v.user_id, v.name, v.query, v.sort,
                v.created_at
         FROM saved_views v JOIN projects p ON p.id = v.project_id
         WHERE v.user_id = $1 AND v.project_id = $2
         ORDER BY v.name, v.id",
    )
    .bind(user_id)
    .bind(project_id)
    .fetch_all(db)
    .await
}

/// The view `id` if `user_id` saved it.
pub async fn saved_view_of(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<SavedViewRow>> {
    sqlx::query_as(
        "SELECT v.id, v.project_id, p.key AS project_key, v.user_id, v.name, v.query, v.sort,
                v.created_at
         FROM saved_views v JOIN projects p ON p.id = v.project_id
         WHERE v.id = $1 AND v.user_id = $2",
    )
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

pub async fn delete_saved_view(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    super::delete_by_id(db, "saved_views", id).await
}
