//! The issues context's storage: one function per query against `swatter_issues`, one module
//! per aggregate. Rows decode straight into domain values: a stored value the domain does not
//! know fails to decode (an internal error), never turns into a plausible default.

mod attachments;
mod bulk;
mod changes;
mod comments;
mod events;
mod issues;
mod members;
mod milestones;
mod notifications;
mod projects;
mod query;
mod relations;
mod views;

use sqlx::{PgExecutor, PgPool};
use uuid::Uuid;

pub use attachments::*;
pub use bulk::*;
pub use changes::*;
pub use comments::*;
pub use events::*;
pub use issues::*;
pub use members::*;
pub use milestones::*;
pub use notifications::*;
pub use projects::*;
pub use query::*;
pub use relations::*;
pub use views::*;

/// Server settings of every connection of the service's pool.
///
/// `plan_cache_mode = force_generic_plan`: each statement is planned once per connection, from its
/// shape, and that plan is reused. PostgreSQL's default re-plans a statement with each call's
/// values for as long as such custom plans look cheaper than the generic one, which for the list
/// query (one arm per project and status, see [`list_issues_query`]) is always: planning was 40 %
/// of PostgreSQL's time per list page. No query of this service needs a value-specific plan:
/// there is no `LIKE` on a parameter, and lists are written so that the ordered index scans are
/// the plan whatever the values or the statistics (`query_plans` tests both kinds of plan).
pub const SESSION_SETTINGS: &[(&str, &str)] = &[("plan_cache_mode", "force_generic_plan")];

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
