//! The object store of attachments (bytes under `attachments/{id}`, thumbnails under
//! `attachments/{id}/thumbnail.png`), and the sweeper: unconfirmed uploads past their time are
//! deleted with their objects, and the objects of deleted attachments
//! (`attachment_object_deletions`, filled by the database in the deleting transaction) are
//! deleted from the store.

use swatter_common::objects::{ObjectStore, ObjectStoreConfig};

use crate::config::AttachmentSettings;

/// The store and the limits, shared by the handlers and the sweeper.
pub struct Attachments {
    pub objects: ObjectStore,
    pub settings: AttachmentSettings,
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
            timeout: std::time::Duration::from_secs(10),
        });
        Ok(Attachments { objects, settings })
    }
}
