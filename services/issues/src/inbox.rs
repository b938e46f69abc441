//! Retention of the notification inbox: read notifications go [`READ_KEPT_DAYS`] after they were
//! read, every notification [`KEPT_DAYS`] after it was made; in batches, at start and then every
//! [`PERIOD`] (docs/api.md, "Watching and notifications").

use std::time::Duration;

use chrono::Utc;
use sqlx::PgPool;

use crate::store;

/// Days a read notification is kept after it was read.
pub const READ_KEPT_DAYS: i64 = 30;
/// Days any notification is kept.
pub const KEPT_DAYS: i64 = 90;
/// Time between two prunings.
const PERIOD: Duration = Duration::from_secs(3600);
/// Notifications deleted per statement.
const BATCH: i64 = 10_000;

/// Deletes every notification past its retention; returns how many.
pub async fn prune(db: &PgPool) -> sqlx::Result<u64> {
    let now = Utc::now();
    let read_before = now - chrono::Duration::days(READ_KEPT_DAYS);
    let created_before = now - chrono::Duration::days(KEPT_DAYS);
    let mut total = 0;
    loop {
        let deleted = store::prune_notifications(db, read_before, created_before, BATCH).await?;
        total += deleted;
        if deleted < BATCH as u64 {
            return Ok(total);
        }
    }
}

/// Prunes now and every [`PERIOD`].
pub async fn run(db: PgPool) {
    let mut tick = tokio::time::interval(PERIOD);
    loop {
        tick.tick().await;
        match prune(&db).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "old notifications pruned"),
            Err(error) => tracing::warn!(error = %error, "pruning notifications failed"),
        }
    }
}
