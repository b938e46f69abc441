//! Retention: changes older than `SWATTER_CHANGES_RETENTION_DAYS` leave the feed, in batches,
//! once at start and then every [`PERIOD`]. A client whose cursor falls before what was pruned
//! is told so (`CURSOR_EXPIRED`, REST 410) instead of silently skipping changes.

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use crate::store;

/// Time between two prunings.
const PERIOD: Duration = Duration::from_secs(3600);
/// Changes deleted per statement.
const BATCH: i64 = 10_000;

/// Deletes every change older than `retention`; returns how many.
pub async fn prune(db: &PgPool, retention: chrono::Duration) -> sqlx::Result<u64> {
    let before = Utc::now() - retention;
    let mut total = 0;
    loop {
        let deleted = store::prune_changes(db, before, BATCH).await?;
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prunes now and every [`PERIOD`].
pub async fn run(db: PgPool, retention: chrono::Duration) {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        match prune(&db, retention).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "old changes pruned from the feed"),
            Err(error) => tracing::warn!(error = %error, "pruning the change feed failed"),
        }
    }
}
