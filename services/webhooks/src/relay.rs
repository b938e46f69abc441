//! The housekeeping loops. The outbox relay publishes this context's committed events (`webhook.endpoint_disabled`) to
//! the events exchange, then marks them sent. Woken at once by `NOTIFY`, and every sweep
//! interval as a safety net. Rows are locked with `SKIP LOCKED`, so replicas never publish one
//! at the same time; a crash between publishing and marking publishes it again, which consumers
//! dedupe by the event id. The pruner keeps the delivery log to its retention.

use std::{sync::Arc, time::Duration};

use sqlx::PgPool;
use tokio::sync::watch;

use swatter_common::{broker::EventPublisher, events::Envelope};

use crate::store;

/// Messages published per transaction.
const BATCH: i64 = 100;

/// Publishes every unsent message; returns how many.
pub async fn publish_unsent(db: &PgPool, publisher: &EventPublisher) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let rows = store::lock_unsent_outbox(&mut tx, BATCH).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        // Written by this service from `Envelope`s, so they read back as such.
        let envelopes = rows
            .iter()
            .map(|row| serde_json::from_str::<Envelope>(&row.envelope))
            .collect::<Result<Vec<_>, _>>()?;
        publisher
            .publish_all(&envelopes)
            .await
            .map_err(|error| error.context("publish to the broker"))?;
        let sent: Vec<_> = rows.iter().map(|row| row.id).collect();
        store::mark_outbox_sent(&mut *tx, &sent).await?;
        tx.commit().await?;
        total += sent.len();
    }
}

/// Runs the relay until `shutdown` turns true.
pub async fn run(
    db: PgPool,
    publisher: Arc<EventPublisher>,
    sweep: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut listener = None;
    let mut backoff = Duration::from_millis(100);
    while !*shutdown.borrow() {
        if listener.is_none() {
            listener = swatter_common::db::listen(&db, store::OUTBOX_CHANNEL).await;
        }
        let wait = match publish_unsent(&db, &publisher).await {
            Ok(_) => {
                backoff = Duration::from_millis(100);
                sweep
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "outbox relay: will try again");
                let wait = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(5));
                wait
            }
        };
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

/// How often finished deliveries past the retention are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// Deletes the finished deliveries older than `retention` at start and every hour, until
/// `shutdown` turns true: the delivery log is kept for `retention`.
pub async fn prune(db: PgPool, retention: Duration, mut shutdown: watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        match store::prune_deliveries(&db, retention).await {
            Ok(0) => {}
            Ok(count) => tracing::info!(count, "old deliveries deleted from the log"),
            Err(error) => tracing::warn!(error = %error, "cannot prune the delivery log"),
        }
        tokio::select! {
            _ = tokio::time::sleep(PRUNE_EVERY) => {},
            _ = shutdown.changed() => {},
        }
    }
}
