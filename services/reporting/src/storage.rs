//! The object store (any S3-compatible endpoint): uploads, downloads and presigned URLs.
//!
//! Two clients: one for the endpoint the services reach (inside the cluster), one for the
//! endpoint clients reach, which presigned URLs must name (the signature covers the host).

use std::time::{Duration, SystemTime};

use aws_sdk_s3::{
    Client,
    config::{BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig},
    presigning::PresigningConfig,
    primitives::ByteStream,
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

/// The object key of a job's report: one job, one object.
pub fn artifact_key(job_id: uuid::Uuid) -> String {
    format!("reports/{job_id}.pdf")
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
