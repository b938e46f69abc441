//! The change feed's moving parts around the `changes` table: numbering committed changes
//! ([`sequencer`]), waking the readers of a project's feed when it grows ([`ChangeFeed`]),
//! publishing the outbox to the broker ([`relay`]), pruning what is older than the retention
//! ([`retention`]), and the JSON of each event ([`data`]).
//!
//! Wake-ups travel through PostgreSQL: after a change commits, its handler calls
//! [`ChangeFeed::changed`]; one task per process batches those into
//! `pg_notify('swatter_changes_pending', project id)` (outside the writers' transactions, which
//! would otherwise all queue on the notification lock at commit). The sequencer numbers them and
//! sends `pg_notify('swatter_changes', project id)`; one `LISTEN` connection per process fans
//! what any replica notified out to that process's sequencer, streams and relay. A lost
//! notification only delays a reader until its next periodic read: readers always read the
//! table after their cursor.

pub mod data;
pub mod metrics;
pub mod relay;
pub mod retention;
pub mod sequencer;

use std::{collections::HashSet, sync::Arc, time::Duration};

use sqlx::{PgPool, postgres::PgListener};
use swatter_common::broker::EventPublisher;
use tokio::{
    sync::{Notify, broadcast, mpsc, watch},
    task::JoinHandle,
};
use uuid::Uuid;

use crate::{config::ChangeFeedSettings, store};

/// The channel of changes committed and not yet numbered (wakes the sequencer).
pub const PENDING_CHANNEL: &str = "swatter_changes_pending";
/// The channel of feeds that grew (wakes streams and the relay).
pub const CHANNEL: &str = "swatter_changes";
/// How often a reader reads its feed even without a notification.
pub const POLL: Duration = Duration::from_secs(2);
/// Wake-ups queued for the notifier; when full, the readers' periodic read covers the rest.
const PENDING_NOTIFICATIONS: usize = 4096;
/// Wake-ups buffered per subscriber; one that falls behind reads its feed anyway.
const WAKE_BUFFER: usize = 1024;

/// The process's handle on the change feed's background tasks.
pub struct ChangeFeed {
    settings: ChangeFeedSettings,
    pending: mpsc::Sender<Uuid>,
    wake: broadcast::Sender<Uuid>,
    tasks: Vec<JoinHandle<()>>,
    closing: watch::Sender<bool>,
}

impl ChangeFeed {
    /// Starts the notifier, the listener, the outbox relay and retention on `db`.
    pub fn start(db: PgPool, settings: ChangeFeedSettings) -> Self {
        let (pending, queued) = mpsc::channel(PENDING_NOTIFICATIONS);
        let (wake, _) = broadcast::channel(WAKE_BUFFER);
        let sequence = Arc::new(Notify::new());
        let publisher = Arc::new(EventPublisher::new(
            &settings.amqp_url,
            &settings.events_exchange,
            "swatter-issues",
        ));
        let tasks = vec![
            tokio::spawn(notify(db.clone(), queued)),
            tokio::spawn(listen(db.clone(), wake.clone(), sequence.clone())),
            tokio::spawn(sequencer::run(db.clone(), sequence)),
            tokio::spawn(relay::run(db.clone(), publisher, wake.subscribe())),
            tokio::spawn(retention::run(db.clone(), settings.retention())),
            tokio::spawn(crate::inbox::run(db)),
        ];
        ChangeFeed {
            settings,
            pending,
            wake,
            tasks,
            closing: watch::channel(false).0,
        }
    }

    /// Ends every live stream (each told to resume from its cursor, on another replica or after
    /// the restart), so that a graceful shutdown does not wait for clients that never leave.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    /// Turns true when the process stops serving streams.
    pub fn closing(&self) -> watch::Receiver<bool> {
        self.closing.subscribe()
    }

    pub fn settings(&self) -> &ChangeFeedSettings {
        &self.settings
    }

    /// Says that the feed of `project_id` grew (call after the commit).
    pub fn changed(&self, project_id: Uuid) {
        let _ = self.pending.try_send(project_id);
    }

    /// Project ids whose feed grew, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.wake.subscribe()
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Sends the queued wake-ups, each project once per batch.
async fn notify(db: PgPool, mut queued: mpsc::Receiver<Uuid>) {
    while let Some(first) = queued.recv().await {
        let mut projects = HashSet::from([first]);
        while let Ok(more) = queued.try_recv() {
            projects.insert(more);
        }
        let projects: Vec<Uuid> = projects.into_iter().collect();
        if let Err(error) = store::notify_projects(&db, PENDING_CHANNEL, &projects).await {
            tracing::warn!(error = %error, "cannot notify change feed readers; they will poll");
        }
    }
}

/// Listens for wake-ups of every replica, reconnecting as needed; after a reconnection (when
/// some may have been missed) the sequencer and every reader are woken.
async fn listen(db: PgPool, wake: broadcast::Sender<Uuid>, sequence: Arc<Notify>) {
    loop {
        match PgListener::connect_with(&db).await {
            Ok(mut listener) => match listener.listen_all([PENDING_CHANNEL, CHANNEL]).await {
                Ok(()) => {
                    sequence.notify_one();
                    let _ = wake.send(Uuid::nil());
                    loop {
                        match listener.recv().await {
                            Ok(notification) if notification.channel() == PENDING_CHANNEL => {
                                sequence.notify_one();
                            }
                            Ok(notification) => {
                                if let Ok(id) = notification.payload().parse() {
                                    let _ = wake.send(id);
                                }
                            }
                            Err(error) => {
                                tracing::warn!(error = %error, "change notifications interrupted");
                                break;
                            }
                        }
                    }
                }
                Err(error) => tracing::warn!(error = %error, "cannot LISTEN for changes"),
            },
            Err(error) => tracing::warn!(error = %error, "cannot LISTEN for changes"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
