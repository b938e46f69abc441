//! Job change notifications (`NOTIFY swatter_jobs, <id>` from a trigger) fanned out to
//! `WatchJob` streams in this process, so watchers need no polling.

use std::time::Duration;

use sqlx::{PgPool, postgres::PgListener};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Subscribe to learn which jobs changed.
#[derive(Clone)]
pub struct JobEvents {
    sender: broadcast::Sender<Uuid>,
}

impl JobEvents {
    /// Starts listening on `db` (reconnecting as needed).
    pub fn start(db: PgPool) -> Self {
        let (sender, _) = broadcast::channel(1024);
        let events = JobEvents {
            sender: sender.clone(),
        };
        tokio::spawn(async move {
            loop {
                match listen(&db, &sender).await {
                    Ok(()) => return,
                    Err(error) => {
                        tracing::warn!(error = %error, "job notifications interrupted; reconnecting")
                    }
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
        events
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Uuid> {
        self.sender.subscribe()
    }
}

async fn listen(db: &PgPool, sender: &broadcast::Sender<Uuid>) -> sqlx::Result<()> {
    let mut listener = PgListener::connect_with(db).await?;
    listener.listen("swatter_jobs").await?;
    loop {
        let notification = listener.recv().await?;
        if let Ok(id) = notification.payload().parse() {
            // Nobody listening is fine.
            let _ = sender.send(id);
        }
    }
}
