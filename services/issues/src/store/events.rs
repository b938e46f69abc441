//! The history of issues.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder};
use uuid::Uuid;

use crate::domain::Change;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub actor_id: Uuid,
    pub kind: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Records `changes` of an issue made by `actor_id` at `at`.
pub async fn insert_events(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    actor_id: Uuid,
    changes: &[Change],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO issue_events (id, issue_id, actor_id, kind, field, old_value, new_value, created_at) ",
    );
    q.push_values(changes, |mut row, change| {
        row.push_bind(Uuid::now_v7())
            .push_bind(issue_id)
            .push_bind(actor_id)
            .push_bind(change.kind)
            .push_bind(change.field)
            .push_bind(change.old.clone())
            .push_bind(change.new.clone())
            .push_bind(at);
    });
    q.build().execute(db).await?;
    Ok(())
}

/// Events of an issue, oldest first, after `(created_at, id)`.
pub async fn list_events(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, actor_id, kind, field, old_value, new_value, created_at FROM issue_events
         WHERE issue_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id
         LIMIT $4",
    )
    .bind(issue_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}
