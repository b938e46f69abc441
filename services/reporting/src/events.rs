//! Job changes pushed to `WatchJob` streams: the `jobs_notify` trigger sends
//! `NOTIFY swatter_jobs, <id>` on every change; one listener connection per process reads each
//! watched job once per notification and fans the row out to that job's streams. Streams never
//! query the database themselves; after the listener (re)connects, when notifications may have
//! been missed, every watched job is read again once.
//!
//! The operator dashboard subscribes to every change instead ([`JobEvents::any_change`]): a
//! signal without the row, on each notification and after each reconnection.
//!
//! Also the per-user bound on open streams ([`StreamSlots`]), counted per process.

use std::{
    collections::{HashMap, hash_map::Entry},
    sync::{Arc, Mutex},
    time::Duration,
};

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::store::{self, JobRow};

/// The channel the trigger notifies.
const CHANNEL: &str = "swatter_jobs";
/// Updates buffered per watched job; a stream that falls further behind skips to the newest.
const BUFFER: usize = 16;

type Watched = Arc<Mutex<HashMap<Uuid, broadcast::Sender<Arc<JobRow>>>>>;

/// The process's job change feed.
#[derive(Clone)]
pub struct JobEvents {
    watched: Watched,
    any: broadcast::Sender<()>,
}

/// The changes of one job, as they are committed, until dropped.
pub struct Subscription {
    id: Uuid,
    receiver: broadcast::Receiver<Arc<JobRow>>,
    watched: Watched,
}

impl JobEvents {
    /// Starts listening on `db` (reconnecting as needed).
    pub fn start(db: PgPool) -> Self {
        let events = JobEvents {
            watched: Watched::default(),
            any: broadcast::channel(BUFFER).0,
        };
        let (watched, any) = (events.watched.clone(), events.any.clone());
        tokio::spawn(async move {
            loop {
                match listen(&db, &watched, &any).await {
                    Ok(()) => tracing::warn!("job notifications interrupted; reconnecting"),
                    Err(error) => {
                        tracing::warn!(error = %error, "job notifications interrupted; reconnecting")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        events
    }

    /// A signal at every job change (of any job). A receiver that falls behind is told it
    /// lagged, which means the same: something changed.
    pub fn any_change(&self) -> broadcast::Receiver<()> {
        self.any.subscribe()
    }

    /// Subscribes to job `id`'s changes. Subscribe before reading the job, so that no change
    /// committed after the read is missed.
    pub fn subscribe(&self, id: Uuid) -> Subscription {
        let receiver = match lock(&self.watched).entry(id) {
            Entry::Occupied(sender) => sender.get().subscribe(),
            Entry::Vacant(slot) => slot.insert(broadcast::channel(BUFFER).0).subscribe(),
        };
        Subscription {
            id,
            receiver,
            watched: self.watched.clone(),
        }
    }
}

fn lock(
    watched: &Watched,
) -> std::sync::MutexGuard<'_, HashMap<Uuid, broadcast::Sender<Arc<JobRow>>>> {
    // The map stays consistent whatever a panicking holder did: every change is one call.
    watched
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Subscription {
    /// The job as of its next change; `None` once the feed has stopped.
    pub async fn next(&mut self) -> Option<Arc<JobRow>> {
        loop {
            match self.receiver.recv().await {
                Ok(row) => return Some(row),
                // Skipped rows were older than the ones still buffered.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut watched = lock(&self.watched);
        // This receiver is the last one: nobody watches the job any more.
        if watched
            .get(&self.id)
            .is_some_and(|sender| sender.receiver_count() <= 1)
        {
            watched.remove(&self.id);
        }
    }
}

/// Listens until the connection is lost (`Ok`) or fails.
async fn listen(db: &PgPool, watched: &Watched, any: &broadcast::Sender<()>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen(CHANNEL).await?;
    // Nobody listening is fine.
    let _ = any.send(());
    // Changes made while there was no listener were not heard: read every watched job once.
    let ids: Vec<Uuid> = lock(watched).keys().copied().collect();
    for id in ids {
        publish(db, watched, id).await?;
    }
    // `try_recv`, not `recv`: `recv` would reconnect silently, losing what was sent meanwhile.
    while let Some(notification) = listener.try_recv().await? {
        let _ = any.send(());
        if let Ok(id) = notification.payload().parse() {
            publish(db, watched, id).await?;
        }
    }
    Ok(())
}

/// Reads job `id` and hands it to its streams, if anyone watches it.
async fn publish(db: &PgPool, watched: &Watched, id: Uuid) -> sqlx::Result<()> {
    let Some(sender) = lock(watched).get(&id).cloned() else {
        return Ok(());
    };
    if let Some(row) = store::job_by_id(db, id).await? {
        // The last watcher may have left meanwhile; that is fine.
        let _ = sender.send(Arc::new(row));
    }
    Ok(())
}

/// Open job event streams per user in this process, bounded.
#[derive(Clone)]
pub struct StreamSlots {
    max_per_user: usize,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// One open stream of a user; its slot is free again when dropped.
pub struct StreamSlot {
    user: Uuid,
    open: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl StreamSlots {
    pub fn new(max_per_user: usize) -> Self {
        StreamSlots {
            max_per_user,
            open: Arc::default(),
        }
    }

    /// A slot for one more stream of `user`, unless they have all of theirs open.
    pub fn acquire(&self, user: Uuid) -> Option<StreamSlot> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user).or_default();
        if *count >= self.max_per_user {
            return None;
        }
        *count += 1;
        Some(StreamSlot {
            user,
            open: self.open.clone(),
        })
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Entry::Occupied(mut count) = open.entry(self.user) {
            *count.get_mut() -= 1;
            if *count.get() == 0 {
                count.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_at_most_the_limit_of_slots_and_a_dropped_one_is_free_again() {
        let slots = StreamSlots::new(2);
        let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let first = slots.acquire(alice).unwrap();
        let _second = slots.acquire(alice).unwrap();
        assert!(slots.acquire(alice).is_none());
        assert!(slots.acquire(bob).is_some(), "limits are per user");
        drop(first);
        assert!(slots.acquire(alice).is_some());
    }
}
