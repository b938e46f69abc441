//! The object store of attachments (bytes under `attachments/{id}`, thumbnails under
//! `thumbnails/{id}.png`), and the sweeper: unconfirmed uploads past their time are deleted
//! with their objects, and the objects of deleted attachments (`attachment_object_deletions`,
//! filled by the database in the deleting transaction) are deleted from the store.

use std::{sync::Arc, time::Duration};

use chrono::Utc;
use sqlx::PgPool;
use swatter_common::objects::{ObjectError, ObjectStore, ObjectStoreConfig};
use tokio::{sync::Semaphore, task::JoinHandle};

use crate::{config::AttachmentSettings, store};

/// Rows or objects handled per statement of a sweep.
const SWEEP_BATCH: i64 = 500;

/// The store and the limits, shared by the handlers and the sweeper.
pub struct Attachments {
    pub objects: ObjectStore,
    pub settings: AttachmentSettings,
    /// One thumbnail is made at a time: decoding is CPU- and memory-bound (the deployment
    /// gives the service room for one decode).
    pub thumbnail_slot: Semaphore,
}

impl Attachments {
    /// The store `settings` name; the access and secret keys are required.
    pub fn new(settings: AttachmentSettings) -> anyhow::Result<Self> {
        let required = |value: &Option<String>, name: &str| {
            value.clone().ok_or_else(|| {
                anyhow::anyhow!("{name} is required (the object store of attachments)")
            })
        };
        let objects = ObjectStore::new(ObjectStoreConfig {
            endpoint: settings.s3_endpoint.clone(),
            public_endpoint: settings
                .s3_public_endpoint
                .clone()
                .unwrap_or_else(|| settings.s3_endpoint.clone()),
            region: settings.s3_region.clone(),
            bucket: settings.bucket.clone(),
            access_key: required(&settings.s3_access_key, "SWATTER_S3_ACCESS_KEY")?,
            secret_key: required(&settings.s3_secret_key, "SWATTER_S3_SECRET_KEY")?,
            timeout: Duration::from_secs(10),
        });
        Ok(Attachments {
            objects,
            settings,
            thumbnail_slot: Semaphore::new(1),
        })
    }

    /// Starts the sweeper: it makes the bucket (retrying while the store is down, without
    /// holding up the service), then sweeps every `sweep_interval` until dropped.
    pub fn start_sweeper(self: &Arc<Self>, db: PgPool) -> Sweeper {
        let attachments = self.clone();
        Sweeper(tokio::spawn(async move {
            let mut tick = tokio::time::interval(attachments.settings.sweep_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut bucket_ready = false;
            let mut store_down_logged = false;
            loop {
                tick.tick().await;
                if !bucket_ready {
                    match attachments.objects.ensure_bucket().await {
                        Ok(()) => bucket_ready = true,
                        Err(error) if !store_down_logged => {
                            tracing::warn!(error = %error, "cannot make the attachments bucket yet; retrying");
                            store_down_logged = true;
                        }
                        Err(error) => tracing::debug!(error = %error, "attachments bucket"),
                    }
                }
                if let Err(error) = attachments.sweep(&db).await {
                    tracing::warn!(error = format!("{error:#}"), "attachment sweep failed");
                }
            }
        }))
    }

    /// One sweep: pending uploads past their time go (the database queues their objects),
    /// then queued objects are deleted from the store. A key is forgotten once the store
    /// deleted it and no presigned upload URL can still write it again (`enqueued_at` plus the
    /// URL's life; thumbnails have no upload URL). A store that is down ends the sweep early:
    /// the keys stay queued for the next one.
    pub async fn sweep(&self, db: &PgPool) -> anyhow::Result<SweepReport> {
        let mut report = SweepReport::default();
        loop {
            let swept = store::sweep_expired_uploads(db, SWEEP_BATCH).await?;
            report.uploads_expired += swept;
            if swept < SWEEP_BATCH as u64 {
                break;
            }
        }
        let url_life = chrono::Duration::from_std(self.settings.upload_url_ttl)?;
        let now = Utc::now();
        for queued in store::queued_objects(db, SWEEP_BATCH).await? {
            match self.objects.delete(&queued.object_key).await {
                Ok(()) => {
                    report.objects_deleted += 1;
                    let rewritable = queued.object_key.starts_with("attachments/")
                        && queued.enqueued_at + url_life > now;
                    if !rewritable {
                        store::forget_queued_object(db, &queued.object_key).await?;
                    }
                }
                Err(ObjectError::Unavailable(why)) => {
                    tracing::debug!(why, "object store down; deletions wait for the next sweep");
                    break;
                }
                Err(error) => {
                    tracing::warn!(error = %error, key = %queued.object_key, "cannot delete an attachment object");
                }
            }
        }
        if report.uploads_expired > 0 {
            tracing::info!(count = report.uploads_expired, "unconfirmed uploads swept");
        }
        Ok(report)
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SweepReport {
    pub uploads_expired: u64,
    pub objects_deleted: u64,
}

/// The running sweeper; it stops when dropped.
pub struct Sweeper(JoinHandle<()>);

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}
