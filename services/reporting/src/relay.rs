//! The outbox relay: publishes due outbox rows with publisher confirms, then marks them sent.
//! Woken at once by `NOTIFY swatter_outbox`, at the next delayed row's due time, and at least
//! every sweep interval as a safety net. Rows are locked with `SKIP LOCKED`, so several relays
//! (one per replica) never publish a row twice at the same time; a crash between publishing and
//! marking re-publishes it later, which the workers' fenced claim makes harmless.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;

use swatter_common::broker::EventPublisher;

use crate::{
    broker::{JobMessage, Publisher},
    job_events, store,
};

/// Rows published per transaction.
const BATCH: i64 = 100;

/// Publishes every due row; returns how many.
pub async fn publish_due(db: &PgPool, publisher: &Publisher) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let rows = store::lock_due_outbox(&mut tx, BATCH).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let mut sent = Vec::with_capacity(rows.len());
        for row in &rows {
            let message = JobMessage {
                job_id: row.job_id,
                attempt: row.attempt,
            };
            if let Err(error) = publisher
                .publish(row.destination, &message, &row.trace_context.0)
                .await
            {
                // Keep what was confirmed; the rest stays in the outbox for the next round.
                store::mark_outbox_sent(&mut *tx, &sent).await?;
                tx.commit().await?;
                return Err(error.context("publish to the broker"));
            }
            sent.push(row.id);
        }
        store::mark_outbox_sent(&mut *tx, &sent).await?;
        tx.commit().await?;
        total += sent.len();
    }
}

/// Runs the relay until `shutdown` turns true: job messages to the work queue, and job state
/// changes to the events exchange (`events`).
pub async fn run(
    db: PgPool,
    publisher: Arc<Publisher>,
    events: Arc<EventPublisher>,
    sweep: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = None;
    let mut backoff = Duration::from_millis(100);
    while !*shutdown.borrow() {
        if listener.is_none() {
            listener = swatter_common::db::listen(&db, "swatter_outbox").await;
        }
        let mut wait = sweep;
        if let Err(error) = job_events::publish_all(&db, &events).await {
            tracing::warn!(error = format!("{error:#}"), "job events: will try again");
            wait = wait.min(backoff);
        }
        match publish_due(&db, &publisher).await {
            Ok(count) => {
                if count > 0 {
                    tracing::debug!(count, "outbox published");
                }
                backoff = Duration::from_millis(100);
                if let Ok(Some(next)) = store::next_outbox_due(&db).await {
                    let until = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                    wait = wait.min(until.max(Duration::from_millis(5)));
                }
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "outbox relay: will try again");
                wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
        let notified = async {
            match listener.as_mut() {
                Some(l) => l.recv().await.map(|_| ()),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            result = notified => if result.is_err() { listener = None; },
            _ = tokio::time::sleep(wait) => {},
            _ = shutdown.changed() => {},
        }
    }
}
