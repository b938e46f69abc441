//! The sequencer: gives committed changes their project's next cursors, one transaction at a
//! time across every replica (an advisory lock), and copies them to the outbox. Numbering after
//! commit rather than in the writer's transaction keeps writers free of any shared lock (a
//! per-project counter locked until commit cut one project's new issues from ~2,700 to ~540 a
//! second), while the cursors stay gap-free and in the order readers can see
//! them: each number is given once, by one transaction, after the numbers before it.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use super::CHANNEL;
use crate::store;

/// Changes numbered per transaction.
const BATCH: i64 = 1000;
/// How often the sequencer looks without being woken (the safety net).
const SWEEP: Duration = Duration::from_secs(1);

/// Numbers pending changes (of `project_id` only, when given) until none is left, and wakes
/// the readers of the feeds that grew.
pub async fn sequence(db: &PgPool, project_id: Option<Uuid>) -> sqlx::Result<()> {
    loop {
        let mut tx = db.begin().await?;
        store::lock_sequencer(&mut tx).await?;
        let projects = store::sequence_changes(&mut tx, project_id, BATCH).await?;
        if projects.is_empty() {
            return Ok(());
        }
        store::notify_projects(&mut *tx, CHANNEL, &projects).await?;
        tx.commit().await?;
    }
}

/// Numbers the project's pending changes, if it has any: a reader sees its own writes.
pub async fn catch_up(db: &PgPool, project_id: Uuid) -> sqlx::Result<()> {
    if store::has_unsequenced_changes(db, project_id).await? {
        sequence(db, Some(project_id)).await?;
    }
    Ok(())
}

/// Sequences when woken and at least every [`SWEEP`], until aborted.
pub async fn run(db: PgPool, woken: Arc<Notify>) {
    loop {
        if let Err(error) = sequence(&db, None).await {
            tracing::warn!(error = %error, "sequencing the change feed failed; will try again");
        }
        tokio::select! {
            () = woken.notified() => {}
            () = tokio::time::sleep(SWEEP) => {}
        }
    }
}
