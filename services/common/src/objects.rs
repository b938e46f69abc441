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
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

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

/// Longest life of a presigned URL SigV4 allows (seven days).
const MAX_PRESIGN_SECS: u64 = 7 * 24 * 3600;

/// The SHA-256 of an empty payload (a signed GET, HEAD or DELETE).
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

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
        let path = format!("/{}", uri_encode(&self.config.bucket, false));
        let response = self.send(reqwest::Method::HEAD, &path, None, None).await?;
        if response.status().is_success() {
            return Ok(());
        }
        let response = self.send(reqwest::Method::PUT, &path, None, None).await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let error = refusal("create bucket", response).await;
        match &error {
            ObjectError::Refused { code, .. }
                if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" =>
            {
                Ok(())
            }
            _ => Err(error),
        }
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
        let headers = vec![
            ("Content-Length".to_owned(), content_length.to_string()),
            ("Content-Type".to_owned(), content_type.to_owned()),
        ];
        self.presign("PUT", key, ttl, &[], headers, Utc::now())
    }

    /// A GET of `key` valid for `ttl`, naming the public endpoint, with `overrides` signed in.
    pub fn presign_get(
        &self,
        key: &str,
        ttl: Duration,
        overrides: &GetOverrides,
    ) -> PresignedRequest {
        let mut query = Vec::new();
        if let Some(disposition) = &overrides.content_disposition {
            query.push(("response-content-disposition", disposition.as_str()));
        }
        if let Some(content_type) = &overrides.content_type {
            query.push(("response-content-type", content_type.as_str()));
        }
        self.presign("GET", key, ttl, &query, Vec::new(), Utc::now())
    }

    /// The object's size and type; `None` if there is no such object.
    pub async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        let response = self
            .send(reqwest::Method::HEAD, &self.object_path(key), None, None)
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(refusal("head", response).await);
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned)
        };
        let size = header("content-length")
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| {
                ObjectError::Unavailable("the store's HEAD answer has no Content-Length".into())
            })?;
        Ok(Some(ObjectInfo {
            size,
            content_type: header("content-type"),
        }))
    }

    /// The object's content as a stream of chunks; `None` if there is no such object. Nothing
    /// is buffered beyond one chunk.
    pub async fn get(&self, key: &str) -> Result<Option<ObjectBody>, ObjectError> {
        let response = self
            .send(reqwest::Method::GET, &self.object_path(key), None, None)
            .await?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(refusal("get", response).await);
        }
        Ok(Some(ObjectBody { response }))
    }

    /// Stores `content` at `key` (overwriting), with its type; signed with the payload's SHA-256.
    pub async fn put(
        &self,
        key: &str,
        content: bytes::Bytes,
        content_type: &str,
    ) -> Result<(), ObjectError> {
        let response = self
            .send(
                reqwest::Method::PUT,
                &self.object_path(key),
                Some(content_type),
                Some(content),
            )
            .await?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(refusal("put", response).await)
        }
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), ObjectError> {
        let response = self
            .send(reqwest::Method::DELETE, &self.object_path(key), None, None)
            .await?;
        let status = response.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(refusal("delete", response).await)
        }
    }

    fn object_path(&self, key: &str) -> String {
        format!(
            "/{}/{}",
            uri_encode(&self.config.bucket, false),
            uri_encode(key, true)
        )
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            access_key: &self.config.access_key,
            secret_key: &self.config.secret_key,
            region: &self.config.region,
        }
    }

    /// A presigned request for `key` at `now` (its query signed, `headers` signed too).
    fn presign(
        &self,
        method: &'static str,
        key: &str,
        ttl: Duration,
        extra_query: &[(&str, &str)],
        headers: Vec<(String, String)>,
        now: DateTime<Utc>,
    ) -> PresignedRequest {
        let ttl_secs = ttl.as_secs().clamp(1, MAX_PRESIGN_SECS);
        let (scheme_host, host) = split_endpoint(&self.config.public_endpoint);
        let path = self.object_path(key);
        let query = presigned_query(
            &self.credentials(),
            method,
            &host,
            &path,
            extra_query,
            &headers,
            now,
            ttl_secs,
        );
        PresignedRequest {
            method,
            url: format!("{scheme_host}{path}?{query}"),
            headers,
            expires_at: now + chrono::Duration::seconds(ttl_secs as i64),
        }
    }

    /// Sends a request signed in its `Authorization` header. A store that cannot be reached,
    /// times out or answers 5xx is `Unavailable`.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: Option<bytes::Bytes>,
    ) -> Result<reqwest::Response, ObjectError> {
        let (scheme_host, host) = split_endpoint(&self.config.endpoint);
        let payload_hash = match &body {
            Some(body) => hex::encode(Sha256::digest(body)),
            None => EMPTY_SHA256.to_owned(),
        };
        let now = Utc::now();
        let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
        let mut headers = vec![
            ("host".to_owned(), host),
            ("x-amz-content-sha256".to_owned(), payload_hash.clone()),
            ("x-amz-date".to_owned(), amz_date.clone()),
        ];
        if let Some(content_type) = content_type {
            headers.push(("content-type".to_owned(), content_type.to_owned()));
        }
        headers.sort();
        let authorization = authorization_header(
            &self.credentials(),
            method.as_str(),
            path,
            &headers,
            &payload_hash,
            now,
        );
        let mut request = self
            .http
            .request(method, format!("{scheme_host}{path}"))
            .header("authorization", authorization)
            .header("x-amz-content-sha256", payload_hash)
            .header("x-amz-date", amz_date);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|error| ObjectError::Unavailable(error.without_url().to_string()))?;
        if response.status().is_server_error() {
            return Err(ObjectError::Unavailable(format!(
                "HTTP {}",
                response.status().as_u16()
            )));
        }
        Ok(response)
    }
}

/// The store's refusal: its status and the S3 error code of its XML body.
async fn refusal(operation: &'static str, response: reqwest::Response) -> ObjectError {
    let status = response.status().as_u16();
    let body = response.text().await.unwrap_or_default();
    let code = body
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.to_owned())
        .unwrap_or_default();
    ObjectError::Refused {
        operation,
        status,
        code,
    }
}

/// `(scheme://host[:port] without a trailing slash, host[:port])` of an endpoint.
fn split_endpoint(endpoint: &str) -> (String, String) {
    let trimmed = endpoint.trim_end_matches('/').to_owned();
    let host = trimmed
        .split_once("://")
        .map(|(_, rest)| rest)
        .unwrap_or(&trimmed);
    let host = host.split('/').next().unwrap_or(host).to_owned();
    (trimmed, host)
}

struct Credentials<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
}

impl Credentials<'_> {
    fn scope(&self, now: DateTime<Utc>) -> String {
        format!("{}/{}/s3/aws4_request", now.format("%Y%m%d"), self.region)
    }

    /// The signature of `canonical_request` made at `now`.
    fn sign(&self, canonical_request: &str, now: DateTime<Utc>) -> String {
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{}\n{}",
            now.format("%Y%m%dT%H%M%SZ"),
            self.scope(now),
            hex::encode(Sha256::digest(canonical_request.as_bytes()))
        );
        let date = now.format("%Y%m%d").to_string();
        let key = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        let key = hmac(&key, self.region.as_bytes());
        let key = hmac(&key, b"s3");
        let key = hmac(&key, b"aws4_request");
        hex::encode(hmac(&key, string_to_sign.as_bytes()))
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The query string of a presigned request (`X-Amz-*` and `extra_query`, with its signature).
#[allow(clippy::too_many_arguments)]
fn presigned_query(
    credentials: &Credentials<'_>,
    method: &str,
    host: &str,
    path: &str,
    extra_query: &[(&str, &str)],
    headers: &[(String, String)],
    now: DateTime<Utc>,
    ttl_secs: u64,
) -> String {
    let mut signed: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_owned()))
        .chain(std::iter::once(("host".to_owned(), host.to_owned())))
        .collect();
    signed.sort();
    let signed_names = signed
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let credential = format!("{}/{}", credentials.access_key, credentials.scope(now));
    let mut query: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("X-Amz-Credential".into(), credential),
        (
            "X-Amz-Date".into(),
            now.format("%Y%m%dT%H%M%SZ").to_string(),
        ),
        ("X-Amz-Expires".into(), ttl_secs.to_string()),
        ("X-Amz-SignedHeaders".into(), signed_names.clone()),
    ];
    query.extend(
        extra_query
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned())),
    );
    let mut encoded: Vec<(String, String)> = query
        .iter()
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    encoded.sort();
    let canonical_query = join_query(&encoded);
    let canonical_headers: String = signed
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    let canonical_request = format!(
        "{method}\n{path}\n{canonical_query}\n{canonical_headers}\n{signed_names}\nUNSIGNED-PAYLOAD"
    );
    let signature = credentials.sign(&canonical_request, now);
    format!("{canonical_query}&X-Amz-Signature={signature}")
}

/// The `Authorization` header of a request whose (lower-case, sorted) `headers` are all signed.
fn authorization_header(
    credentials: &Credentials<'_>,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    payload_hash: &str,
    now: DateTime<Utc>,
) -> String {
    let signed_names = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{}\n", value.trim()))
        .collect();
    let canonical_request =
        format!("{method}\n{path}\n\n{canonical_headers}\n{signed_names}\n{payload_hash}");
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed_names}, Signature={}",
        credentials.access_key,
        credentials.scope(now),
        credentials.sign(&canonical_request, now)
    )
}

fn join_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Everything but the unreserved characters of RFC 3986.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// SigV4's URI encoding; `/` is kept in a path (`keep_slash`) and encoded elsewhere.
fn uri_encode(value: &str, keep_slash: bool) -> String {
    if keep_slash {
        value
            .split('/')
            .map(|segment| utf8_percent_encode(segment, NOT_UNRESERVED).to_string())
            .collect::<Vec<_>>()
            .join("/")
    } else {
        utf8_percent_encode(value, NOT_UNRESERVED).to_string()
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// The example credentials of AWS's SigV4 documentation for S3.
    fn example() -> Credentials<'static> {
        Credentials {
            access_key: "AKIAIOSFODNN7EXAMPLE",
            secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            region: "us-east-1",
        }
    }

    fn may_24_2013() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2013, 5, 24, 0, 0, 0).unwrap()
    }

    fn store(endpoint: &str, public_endpoint: &str) -> ObjectStore {
        ObjectStore::new(ObjectStoreConfig {
            endpoint: endpoint.into(),
            public_endpoint: public_endpoint.into(),
            region: "us-east-1".into(),
            bucket: "files".into(),
            access_key: "key".into(),
            secret_key: "secret".into(),
            timeout: Duration::from_secs(1),
        })
    }

    #[test]
    fn a_presigned_get_matches_the_aws_documentation_example() {
        let query = presigned_query(
            &example(),
            "GET",
            "examplebucket.s3.amazonaws.com",
            "/test.txt",
            &[],
            &[],
            may_24_2013(),
            86400,
        );
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn a_header_signed_get_matches_the_aws_documentation_example() {
        let headers = [
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]
        .map(|(name, value)| (name.to_owned(), value.to_owned()));
        let authorization = authorization_header(
            &example(),
            "GET",
            "/test.txt",
            &headers,
            EMPTY_SHA256,
            may_24_2013(),
        );
        assert_eq!(
            authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, \
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, \
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn a_presigned_put_signs_its_length_and_type_and_names_the_public_endpoint() {
        let store = store("http://objects:9000", "https://files.example.org/");
        let put = store.presign_put(
            "attachments/a b+c",
            1234,
            "image/png",
            Duration::from_secs(300),
        );
        assert_eq!(put.method, "PUT");
        assert!(
            put.url
                .starts_with("https://files.example.org/files/attachments/a%20b%2Bc?"),
            "{}",
            put.url
        );
        assert!(
            put.url
                .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost")
        );
        assert!(put.url.contains("X-Amz-Expires=300"));
        assert_eq!(
            put.headers,
            vec![
                ("Content-Length".to_owned(), "1234".to_owned()),
                ("Content-Type".to_owned(), "image/png".to_owned()),
            ]
        );
        let life = put.expires_at - Utc::now();
        assert!(life <= chrono::Duration::seconds(300) && life > chrono::Duration::seconds(290));
    }

    #[test]
    fn a_presigned_get_carries_its_overrides_encoded() {
        let store = store("http://127.0.0.1:9000", "http://127.0.0.1:9000");
        let get = store.presign_get(
            "attachments/x",
            Duration::from_secs(60),
            &GetOverrides {
                content_type: Some("text/plain; charset=utf-8".into()),
                content_disposition: Some("attachment; filename=\"a.html\"".into()),
            },
        );
        assert!(get.headers.is_empty());
        assert!(
            get.url
                .starts_with("http://127.0.0.1:9000/files/attachments/x?")
        );
        assert!(
            get.url
                .contains("response-content-disposition=attachment%3B%20filename%3D%22a.html%22")
        );
        assert!(
            get.url
                .contains("response-content-type=text%2Fplain%3B%20charset%3Dutf-8")
        );
    }

    #[test]
    fn a_presigned_url_lives_at_most_seven_days() {
        let store = store("http://127.0.0.1:9000", "http://127.0.0.1:9000");
        let get = store.presign_get(
            "k",
            Duration::from_secs(30 * 24 * 3600),
            &GetOverrides::default(),
        );
        assert!(get.url.contains("X-Amz-Expires=604800"));
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters_and_path_slashes() {
        assert_eq!(uri_encode("a/b c~d_e.f-g", true), "a/b%20c~d_e.f-g");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(uri_encode("é*", false), "%C3%A9%2A");
    }

    #[test]
    fn endpoints_split_into_base_and_host() {
        assert_eq!(
            split_endpoint("http://127.0.0.1:9900/"),
            (
                "http://127.0.0.1:9900".to_owned(),
                "127.0.0.1:9900".to_owned()
            )
        );
        assert_eq!(
            split_endpoint("https://s3.example.org"),
            (
                "https://s3.example.org".to_owned(),
                "s3.example.org".to_owned()
            )
        );
    }
}
