//! The outbox relay: publishes the events of committed changes to the events exchange and
//! deletes them from the outbox once the broker confirmed them. At least once: a crash or a
//! lost connection between the confirm and the delete publishes them again (same `id`), and
//! nothing is deleted that was not confirmed, so a broker restart loses nothing. Rows are
//! locked `SKIP LOCKED`, so replicas share the work without publishing a row at the same time.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use swatter_common::{broker::EventPublisher, events::Envelope};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::metrics;
use crate::store::{self, OutboxRow};

/// Rows published per transaction.
const BATCH: i64 = 500;

/// The envelope of an outbox row.
pub fn envelope(row: OutboxRow) -> Envelope {
    Envelope {
        id: format!("evt_{}", row.id),
        event_type: row.event_type,
        timestamp: row.occurred_at,
        project_key: Some(row.project_key),
        cursor: Some(row.cursor),
        data: row.data.0,
    }
}

/// Publishes everything in the outbox; returns how many events.
pub async fn publish_all(db: &PgPool, publisher: &EventPublisher) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let rows = store::lock_outbox(&mut tx, BATCH).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
        let envelopes: Vec<Envelope> = rows.into_iter().map(envelope).collect();
        publisher.publish_all(&envelopes).await?;
        store::delete_outbox(&mut *tx, &seqs).await?;
        tx.commit().await?;
        metrics::published(seqs.len());
        total += seqs.len();
    }
}

/// Publishes when a feed grows, and at least every second (the safety net), until aborted.
pub async fn run(db: PgPool, publisher: Arc<EventPublisher>, mut wake: broadcast::Receiver<Uuid>) {
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = publish_all(&db, &publisher).await;
        if let Ok(waiting) = store::outbox_pending(&db).await {
            metrics::pending(waiting);
        }
        let wait = match result {
            Ok(count) => {
                if count > 0 {
                    tracing::debug!(count, "change events published");
                }
                backoff = Duration::from_millis(100);
                Duration::from_secs(1)
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "event relay: will try again");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                wait
            }
        };
        tokio::select! {
            result = wake.recv() => {
                if matches!(result, Err(broadcast::error::RecvError::Closed)) {
                    return;
                }
                // A broker error waits out its backoff even when woken.
                if backoff > Duration::from_millis(100) {
                    tokio::time::sleep(backoff / 2).await;
                }
            }
            () = tokio::time::sleep(wait) => {}
        }
    }
}
