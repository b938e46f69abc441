//! A small client of an S3-compatible object store: AWS Signature Version 4 by hand (HMAC-SHA256,
//! no SDK), presigned URLs, and the few object operations a service keeping files needs.
//!
//! Why not the AWS SDK: it is half of a cold build, and a service that only presigns, reads,
//! writes and deletes single objects needs none of the rest. Reporting keeps the SDK (it came
//! first); this is for issues' attachments.
//!
//! Two endpoints: `endpoint` is where the service reaches the store; `public_endpoint` is what
//! presigned URLs name (the signature covers the host), reachable by clients.
//!
//! Requests are path-style (`{endpoint}/{bucket}/{key}`), signed with `UNSIGNED-PAYLOAD` except
//! where noted. Every call has a timeout; a store that cannot be reached, times out or answers
//! 5xx is [`ObjectError::Unavailable`] (callers map it to UNAVAILABLE and keep their state so the
//! operation can be retried).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Where the store is and how to sign for it.
#[derive(Clone, Debug)]
pub struct ObjectStoreConfig {
    /// `http(s)://host[:port]` the service reaches.
    pub endpoint: String,
    /// `http(s)://host[:port]` clients reach; presigned URLs name it.
    pub public_endpoint: String,
    pub region: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    /// Timeout of one request (connect, send, answer head).
    pub timeout: Duration,
}

/// A request a client makes itself, signed in its query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignedRequest {
    /// `PUT` or `GET`.
    pub method: &'static str,
    pub url: String,
    /// Headers the client must send exactly so (they are signed): `Content-Length` and
    /// `Content-Type` of a presigned PUT. Empty for a GET.
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// Response header overrides of a presigned GET (`response-content-type`,
/// `response-content-disposition`), signed with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GetOverrides {
    pub content_type: Option<String>,
    pub content_disposition: Option<String>,
}

/// What a HEAD tells of an object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    pub content_type: Option<String>,
}

/// Why an operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Not reachable, timed out, or a 5xx: try again later.
    #[error("the object store is unavailable: {0}")]
    Unavailable(String),
    /// The store refused the request (4xx other than a missing object): a bug or a
    /// misconfiguration (credentials, bucket).
    #[error("the object store refused {operation}: HTTP {status} {code}")]
    Refused {
        operation: &'static str,
        status: u16,
        /// The S3 error code (`AccessDenied`, `SignatureDoesNotMatch`…), if the body had one.
        code: String,
    },
}

/// A client of one bucket.
#[derive(Clone)]
pub struct ObjectStore {
    config: ObjectStoreConfig,
    http: reqwest::Client,
}

impl ObjectStore {
    pub fn new(config: ObjectStoreConfig) -> Self {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .build()
            .expect("an HTTP client without TLS settings builds");
        ObjectStore { config, http }
    }

    pub fn bucket(&self) -> &str {
        &self.config.bucket
    }

    /// Creates the bucket unless it exists (another replica creating it meanwhile is fine).
    pub async fn ensure_bucket(&self) -> Result<(), ObjectError> {
        todo!("objects helper: ensure_bucket")
    }

    /// A PUT of exactly `content_length` bytes of type `content_type` to `key`, valid for `ttl`,
    /// naming the public endpoint. `host`, `content-length` and `content-type` are signed: the
    /// store refuses another length or type.
    pub fn presign_put(
        &self,
        key: &str,
        content_length: u64,
        content_type: &str,
        ttl: Duration,
    ) -> PresignedRequest {
        let _ = (key, content_length, content_type, ttl, &self.http);
        todo!("objects helper: presign_put")
    }

    /// A GET of `key` valid for `ttl`, naming the public endpoint, with `overrides` signed in.
    pub fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        overrides: &GetOverrides,
    ) -> PresignedRequest {
        let _ = (key, ttl, overrides);
        todo!("objects helper: presign_get")
    }

    /// The object's size and type; `None` if there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        let _ = key;
        todo!("objects helper: head")
    }

    /// The object's content as a stream of chunks; `None` if there is no such object. Nothing
    /// is buffered beyond one chunk.
    pub async fn get(&self, key: &str) -> Result<Option<ObjectBody>, ObjectError> {
        let _ = key;
        todo!("objects helper: get")
    }

    /// Stores `content` at `key` (overwriting), with its type; signed with the payload's SHA-256.
    pub async fn put(
        &self,
        key: &str,
        content: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), ObjectError> {
        let _ = (key, content, content_type);
        todo!("objects helper: put")
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let _ = key;
        todo!("objects helper: delete")
    }
}

/// An object's content being read.
pub struct ObjectBody {
    response: reqwest::Response,
}

impl ObjectBody {
    /// The next chunk; `None` at the end. A connection lost midway is `Unavailable`.
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ObjectError> {
        self.response
            .chunk()
            .await
            .map_err(|error| ObjectError::Unavailable(error.to_string()))
    }
}
