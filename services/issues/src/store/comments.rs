//! Comments.

use chrono::{DateTime, Utc};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::domain::Role;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: Uuid,
    pub issue_id: Uuid,
    pub issue_key: String,
    pub project_id: Uuid,
    pub project_key: String,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub my_role: Option<Role>,
}

/// Comments with their issue and project, before the join of the caller's membership `m`.
const SELECT_COMMENTS: &str = "SELECT c.id, c.issue_id, p.key || '-' || i.number AS issue_key, \
     i.project_id, p.key AS project_key, c.author_id, c.body, c.created_at, c.updated_at, \
     m.role AS my_role FROM comments c \
     JOIN issues i ON i.id = c.issue_id JOIN projects p ON p.id = i.project_id";

pub async fn insert_comment(
    db: impl PgExecutor<'_>,
    id: Uuid,
    issue_id: Uuid,
    author_id: Uuid,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO comments (id, issue_id, author_id, body) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(issue_id)
        .bind(author_id)
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

/// A comment with its issue key and the caller's role in the project.
pub async fn comment_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
    caller: Uuid,
) -> sqlx::Result<Option<CommentRow>> {
    sqlx::query_as(&format!(
        "{SELECT_COMMENTS}
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE c.id = $1"
    ))
    .bind(id)
    .bind(caller)
    .fetch_optional(db)
    .await
}

/// Comments of an issue, oldest first, after `(created_at, id)`.
pub async fn list_comments(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as(&format!(
        "{SELECT_COMMENTS}
         LEFT JOIN members m ON false
         WHERE c.issue_id = $1 AND ($2::timestamptz IS NULL OR (c.created_at, c.id) > ($2, $3))
         ORDER BY c.created_at, c.id
         LIMIT $4"
    ))
    .bind(issue_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn update_comment(db: impl PgExecutor<'_>, id: Uuid, body: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET body = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_comment(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    super::delete_by_id(db, "comments", id).await
}
