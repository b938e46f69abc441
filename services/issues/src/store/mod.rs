//! The issues context's storage: one function per query against `swatter_issues`, one module
//! per aggregate. Rows decode straight into domain values: a stored value the domain does not
//! know fails to decode (an internal error), never turns into a plausible default.

mod comments;
mod events;
mod issues;
mod members;
mod projects;

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub use comments::*;
pub use events::*;
pub use issues::*;
pub use members::*;
pub use projects::*;

/// Deletes the row `id` of `table` (what belongs to it goes by cascade).
async fn delete_by_id(db: impl PgExecutor<'_>, table: &str, id: Uuid) -> sqlx::Result<()> {
    sqlx::query(&format!("DELETE FROM {table} WHERE id = $1"))
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the database answers (readiness).
pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}
