//! `/openapi.json` (the OpenAPI 3.1 description) and `/docs` (Swagger UI, from assets compiled
//! into the binary: nothing is fetched at build or run time).
//!
//! Both are fixed for the life of the process, so each file is prepared once: a strong `ETag`
//! from its content, and a gzip copy for clients that accept it (Swagger UI's script is 1.4 MB
//! as is, a quarter of that compressed). Answers carry `Vary: Accept-Encoding`, the `ETag` of
//! the representation sent, and `Cache-Control`; `If-None-Match` with a current tag is 304.

use std::{
    collections::HashMap,
    io::Write,
    sync::{Arc, LazyLock, Mutex},
};

use axum::{
    Router,
    body::Bytes,
    extract::Path,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Redirect, Response},
    routing::get,
};
use flate2::{Compression, write::GzEncoder};
use sha2::{Digest, Sha256};
use utoipa::openapi::OpenApi;
use utoipa_swagger_ui::Config;

use crate::{error::ApiError, extract::IfNoneMatch, state::AppState};

/// Where the description is served.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Swagger UI's own files (scripts, styles, images) change only with the gateway's version:
/// a day without asking again, then revalidated by `ETag`.
const STATIC_CACHE: &str = "public, max-age=86400";
/// The page, its initializer (which holds the configuration) and the description change with
/// the gateway's configuration or version: revalidated on every use (a 304 costs no body).
const REVALIDATE: &str = "no-cache";

/// Files smaller than this are sent as they are: gzip would save less than its own overhead.
const MIN_COMPRESSED_SIZE: usize = 1024;

// Authorizations stay in the page's memory (not `localStorage`): a token another script or a
// later user of the browser could read outlives the tab otherwise.
static SWAGGER_CONFIG: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    Arc::new(
        Config::new([OPENAPI_PATH])
            .persist_authorization(false)
            .try_it_out_enabled(true),
    )
});

/// Swagger UI's files, each prepared on first use.
static SWAGGER_FILES: LazyLock<Mutex<HashMap<String, Arc<Prepared>>>> =
    LazyLock::new(Default::default);

/// A file ready to be served: its bytes as they are and gzipped, with their entity tags.
#[derive(Debug)]
struct Prepared {
    content_type: HeaderValue,
    cache_control: &'static str,
    identity: Representation,
    gzip: Option<Representation>,
}

#[derive(Debug)]
struct Representation {
    etag: HeaderValue,
    bytes: Bytes,
}

impl Prepared {
    fn new(content_type: &str, cache_control: &'static str, bytes: Vec<u8>) -> Self {
        let digest = hex::encode(&Sha256::digest(&bytes)[..16]);
        let tag = |suffix: &str| {
            HeaderValue::from_str(&format!("\"{digest}{suffix}\""))
                .expect("a hex digest is a valid header value")
        };
        let gzip = (compressible(content_type) && bytes.len() >= MIN_COMPRESSED_SIZE)
            .then(|| gzip(&bytes))
            .map(|compressed| Representation {
                etag: tag("-gzip"),
                bytes: compressed.into(),
            });
        Prepared {
            content_type: HeaderValue::from_str(content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            cache_control,
            identity: Representation {
                etag: tag(""),
                bytes: bytes.into(),
            },
            gzip,
        }
    }

    /// The answer to a `GET` with these headers: the representation the client accepts, or 304
    /// when it already holds it.
    fn respond(&self, headers: &HeaderMap, if_none_match: &IfNoneMatch) -> Response {
        let gzip = self.gzip.as_ref().filter(|_| accepts_gzip(headers));
        let representation = gzip.unwrap_or(&self.identity);
        let mut response = if if_none_match.matches(representation.etag.to_str().unwrap_or("")) {
            StatusCode::NOT_MODIFIED.into_response()
        } else {
            let mut response = representation.bytes.clone().into_response();
            response
                .headers_mut()
                .insert(header::CONTENT_TYPE, self.content_type.clone());
            if gzip.is_some() {
                response
                    .headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            response
        };
        let headers = response.headers_mut();
        headers.insert(header::ETAG, representation.etag.clone());
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(self.cache_control),
        );
        if self.gzip.is_some() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        response
    }
}

/// Whether a content type is text that gzip shrinks (images and fonts are compressed already).
fn compressible(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    essence.starts_with("text/")
        || matches!(
            essence,
            "application/javascript" | "application/json" | "image/svg+xml"
        )
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder
        .write_all(bytes)
        .and_then(|()| encoder.finish())
        .expect("gzip into memory does not fail")
}

/// Whether `Accept-Encoding` allows gzip: listed (or `*`) with a non-zero weight.
fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let weight = parts
                .find_map(|param| param.strip_prefix("q=").or(param.strip_prefix("Q=")))
                .map_or(Some(1.0), |q| q.parse::<f32>().ok());
            (name.eq_ignore_ascii_case("gzip") || name == "*") && weight.is_some_and(|q| q > 0.0)
        })
}

/// The documentation routes, serving `document`.
pub fn router(document: OpenApi) -> Router<AppState> {
    let json = serde_json::to_vec(&document).expect("the OpenAPI document serialises");
    let description = Arc::new(Prepared::new("application/json", REVALIDATE, json));
    let openapi_json = move |headers: HeaderMap, if_none_match: IfNoneMatch| {
        let description = description.clone();
        async move { description.respond(&headers, &if_none_match) }
    };
    Router::new()
        .route(OPENAPI_PATH, get(openapi_json))
        // Swagger UI's page loads its assets by relative URLs, so it lives under `/docs/`.
        .route("/docs", get(|| async { Redirect::permanent("/docs/") }))
        .route("/docs/", get(swagger_index))
        .route("/docs/{*file}", get(swagger_file))
}

async fn swagger_index(headers: HeaderMap, if_none_match: IfNoneMatch) -> Response {
    swagger_asset("", &headers, &if_none_match)
}

async fn swagger_file(
    Path(file): Path<String>,
    headers: HeaderMap,
    if_none_match: IfNoneMatch,
) -> Response {
    swagger_asset(&file, &headers, &if_none_match)
}

fn swagger_asset(file: &str, headers: &HeaderMap, if_none_match: &IfNoneMatch) -> Response {
    match swagger_prepared(file) {
        Ok(Some(prepared)) => prepared.respond(headers, if_none_match),
        Ok(None) => ApiError::not_found("there is no such documentation file").into_response(),
        Err(error) => {
            tracing::error!(%error, file, "could not serve a Swagger UI file");
            ApiError::internal().into_response()
        }
    }
}

/// Swagger UI's `file` (the page for ""), prepared once and kept; `None` for a file it does not
/// have (those are not kept, so unknown names cannot fill the memory).
fn swagger_prepared(file: &str) -> Result<Option<Arc<Prepared>>, Box<dyn std::error::Error>> {
    let file = if file.is_empty() { "index.html" } else { file };
    let cached = SWAGGER_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(file)
        .cloned();
    if let Some(prepared) = cached {
        return Ok(Some(prepared));
    }
    let Some(asset) = utoipa_swagger_ui::serve(file, SWAGGER_CONFIG.clone())? else {
        return Ok(None);
    };
    let cache_control = if matches!(file, "index.html" | "swagger-initializer.js") {
        REVALIDATE
    } else {
        STATIC_CACHE
    };
    let prepared = Arc::new(Prepared::new(
        &asset.content_type,
        cache_control,
        asset.bytes.into_owned(),
    ));
    SWAGGER_FILES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(file.to_owned(), prepared.clone());
    Ok(Some(prepared))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        headers
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted_with_a_weight() {
        assert!(accepts_gzip(&accept("gzip")));
        assert!(accepts_gzip(&accept("br, gzip;q=0.5, deflate")));
        assert!(accepts_gzip(&accept("*")));
        assert!(!accepts_gzip(&accept("gzip;q=0")));
        assert!(!accepts_gzip(&accept("br, identity")));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn text_is_compressed_and_each_representation_has_its_own_tag() {
        let prepared = Prepared::new(
            "application/javascript",
            STATIC_CACHE,
            b"console.log(1);\n".repeat(200),
        );
        let gzip = prepared.gzip.as_ref().unwrap();
        assert!(gzip.bytes.len() < prepared.identity.bytes.len() / 10);
        assert_ne!(gzip.etag, prepared.identity.etag);
        let small = Prepared::new("text/css", STATIC_CACHE, b"a{}".to_vec());
        assert!(small.gzip.is_none());
        let image = Prepared::new("image/png", STATIC_CACHE, vec![7; 4096]);
        assert!(image.gzip.is_none());
    }
}
