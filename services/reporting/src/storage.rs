//! The object store (any S3-compatible endpoint): uploads (whole, or in parts for exports),
//! downloads and presigned URLs.
//!
//! Two clients: one for the endpoint the services reach (inside the cluster), one for the
//! endpoint clients reach, which presigned URLs must name (the signature covers the host).

use std::time::{Duration, SystemTime};

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig},
    presigning::PresigningConfig,
    primitives::ByteStream,
    types::{CompletedMultipartUpload, CompletedPart},
};
use chrono::{DateTime, Utc};

use crate::config::S3Config;

/// Where report PDFs live.
#[derive(Clone)]
pub struct Storage {
    client: Client,
    public: Client,
    bucket: String,
    presign_ttl: Duration,
}

fn client(config: &S3Config, endpoint: &str) -> Client {
    let credentials = Credentials::new(
        &config.access_key,
        &config.secret_key,
        None,
        None,
        "swatter",
    );
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .endpoint_url(endpoint)
        .credentials_provider(credentials)
        .force_path_style(true)
        // Fail fast: the job pipeline has its own retries with backoff.
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(3))
                .operation_timeout(Duration::from_secs(60))
                .build(),
        )
        .build();
    Client::from_conf(conf)
}

impl Storage {
    pub fn new(config: &S3Config) -> Self {
        Storage {
            client: client(config, &config.endpoint),
            public: client(config, &config.public_endpoint),
            bucket: config.bucket.clone(),
            presign_ttl: config.presign_ttl,
        }
    }

    /// Creates the bucket if it does not exist.
    pub async fn ensure_bucket(&self) -> anyhow::Result<()> {
        if self.bucket_exists().await {
            return Ok(());
        }
        match self
            .client
            .create_bucket()
            .bucket(&self.bucket)
            .send()
            .await
        {
            // Created meanwhile by another replica?
            Err(error) if !self.bucket_exists().await => {
                Err(s3_error("create bucket", &self.bucket)(error))
            }
            _ => Ok(()),
        }
    }

    async fn bucket_exists(&self) -> bool {
        let request = self.client.head_bucket().bucket(&self.bucket);
        request.send().await.is_ok()
    }

    /// Stores `bytes` at `key` (overwriting: retries of one job write the same object). Creates
    /// the bucket and tries once more if the first upload fails (the store may have been empty
    /// when the service started).
    pub async fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
        content_type: &str,
        sha256_hex: &str,
    ) -> anyhow::Result<()> {
        let upload = |bytes: Vec<u8>| {
            self.client
                .put_object()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .metadata("sha256", sha256_hex)
                .body(ByteStream::from(bytes))
                .send()
        };
        let first = match upload(bytes.clone()).await {
            Ok(_) => return Ok(()),
            Err(first) => s3_error("upload", key)(first),
        };
        if self.ensure_bucket().await.is_err() {
            return Err(first);
        }
        upload(bytes).await.map_err(s3_error("upload", key))?;
        Ok(())
    }

    /// Starts a multipart upload to `key`: nothing shows at `key` until
    /// [`MultipartUpload::complete`] (which replaces what was there: retries of one job write the
    /// same object), and [`MultipartUpload::abort`] drops the parts sent so far. Creates the
    /// bucket and tries once more if the first request fails, as [`Storage::put`] does.
    pub async fn start_multipart(
        &self,
        key: &str,
        content_type: &str,
    ) -> anyhow::Result<MultipartUpload> {
        let create = || {
            self.client
                .create_multipart_upload()
                .bucket(&self.bucket)
                .key(key)
                .content_type(content_type)
                .send()
        };
        let created = match create().await {
            Ok(created) => created,
            Err(first) => {
                let first = s3_error("start upload", key)(first);
                if self.ensure_bucket().await.is_err() {
                    return Err(first);
                }
                create().await.map_err(s3_error("start upload", key))?
            }
        };
        let upload_id = created
            .upload_id()
            .ok_or_else(|| anyhow::anyhow!("start upload {key}: the store gave no upload id"))?
            .to_owned();
        Ok(MultipartUpload {
            client: self.client.clone(),
            bucket: self.bucket.clone(),
            key: key.to_owned(),
            upload_id,
            parts: Vec::new(),
        })
    }

    /// A time-limited GET URL on the public endpoint, and when it expires.
    pub async fn presign(&self, key: &str) -> anyhow::Result<(String, DateTime<Utc>)> {
        let config = PresigningConfig::builder()
            .start_time(SystemTime::now())
            .expires_in(self.presign_ttl)
            .build()?;
        let request = self
            .public
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(s3_error("presign", key))?;
        let expires_at = Utc::now() + chrono::Duration::from_std(self.presign_ttl)?;
        Ok((request.uri().to_string(), expires_at))
    }

    /// The object's bytes as a stream.
    pub async fn get(&self, key: &str) -> anyhow::Result<ByteStream> {
        Ok(self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(s3_error("download", key))?
            .body)
    }

    /// Every key under `prefix` (tests and operations).
    pub async fn list(&self, prefix: &str) -> anyhow::Result<Vec<String>> {
        let output = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(prefix)
            .send()
            .await
            .map_err(s3_error("list", prefix))?;
        Ok(output
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect())
    }
}

/// An object being written part by part (S3 multipart upload). Every part but the last must
/// hold at least [`MIN_PART_SIZE`] bytes.
pub struct MultipartUpload {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    parts: Vec<CompletedPart>,
}

/// The smallest part S3 accepts, except for the last one.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;

impl MultipartUpload {
    /// Sends the next part.
    pub async fn upload_part(&mut self, bytes: bytes::Bytes) -> anyhow::Result<()> {
        let number = i32::try_from(self.parts.len() + 1)?;
        let sent = self
            .client
            .upload_part()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .part_number(number)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(s3_error("upload part", &self.key))?;
        self.parts.push(
            CompletedPart::builder()
                .part_number(number)
                .set_e_tag(sent.e_tag().map(str::to_owned))
                .build(),
        );
        Ok(())
    }

    /// Parts sent so far.
    pub fn parts(&self) -> usize {
        self.parts.len()
    }

    /// Joins the parts into the object; on failure the upload is aborted.
    pub async fn complete(self) -> anyhow::Result<()> {
        let completed = self
            .client
            .complete_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(self.parts.clone()))
                    .build(),
            )
            .send()
            .await
            .map_err(s3_error("complete upload", &self.key));
        if completed.is_err() {
            self.abort().await;
        }
        completed.map(|_| ())
    }

    /// Drops the parts sent so far. A store out of reach keeps them until its own clean-up
    /// (an `AbortIncompleteMultipartUpload` lifecycle rule); the object itself never appears.
    pub async fn abort(self) {
        let aborted = self
            .client
            .abort_multipart_upload()
            .bucket(&self.bucket)
            .key(&self.key)
            .upload_id(&self.upload_id)
            .send()
            .await;
        if let Err(error) = aborted {
            tracing::warn!(
                key = %self.key,
                error = %aws_sdk_s3::error::DisplayErrorContext(error),
                "cannot abort a multipart upload; the store's lifecycle rule will drop its parts"
            );
        }
    }
}

/// Turns an SDK error into one line naming the operation and the object, with the SDK's whole
/// context (the S3 error code and message), for the logs and the job's failure reason.
fn s3_error<'a, E: std::error::Error>(
    operation: &'static str,
    object: &'a str,
) -> impl FnOnce(E) -> anyhow::Error + 'a {
    move |error| {
        anyhow::anyhow!(
            "{operation} {object}: {}",
            aws_sdk_s3::error::DisplayErrorContext(error)
        )
    }
}
