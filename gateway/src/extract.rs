//! Extractors that turn a request into handler inputs. Every failure is a problem+json answer,
//! never one of axum's plain-text rejections:
//!
//! - bodies: [`ApiJson`] (JSON only) and [`JsonOrForm`] (the OAuth2 token endpoint): 415 for
//!   another or no content type, 413 over the body limit, 400 for bytes that are not JSON at all,
//!   422 naming the field for JSON of the wrong shape, types or unknown fields;
//! - [`ApiQuery`] (422 naming the parameter) and [`ApiPath`] (404 for segments it cannot read,
//!   such as a UUID that is not one);
//! - the request headers of docs/api.md the services act on: [`IdempotencyKey`] and [`IfMatch`];
//! - credentials: [`Authenticated`], [`MaybeAuthenticated`] and [`Anonymous`], each giving the
//!   [`Forwarded`] metadata that the gRPC calls of the request carry;
//! - [`ClientAddress`], which identity's login and sign-up limits count by.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use bytes::Bytes;
use http::{HeaderMap, header, request::Parts};
use serde::de::DeserializeOwned;
use serde_json::error::Category;
use swatter_common::{
    auth::{Principal, VerifyError, bearer_token},
    input::{self, Lines},
    server::{CLIENT_ADDRESS_HEADER, REQUEST_ID_HEADER},
};
use tonic::metadata::AsciiMetadataValue;
use utoipa::{
    IntoParams,
    openapi::{
        ObjectBuilder, Required, Type,
        path::{Parameter, ParameterBuilder, ParameterIn},
    },
};

use crate::{
    error::{ApiError, FieldError, ProblemKind},
    middleware::RequestId,
    state::AppState,
};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The body formats the gateway reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyFormat {
    Json,
    Form,
}

fn body_format(headers: &HeaderMap) -> Option<BodyFormat> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let essence = value.split(';').next()?.trim().to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Some(BodyFormat::Json)
    } else if essence == "application/x-www-form-urlencoded" {
        Some(BodyFormat::Form)
    } else {
        None
    }
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| {
            if rejection.status() == http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    ProblemKind::PayloadTooLarge,
                    format!("the request body may be at most {MAX_BODY_BYTES} bytes"),
                )
            } else {
                ApiError::malformed_body("the request body could not be read")
            }
        })
}

/// A JSON request body (`application/json` or `application/*+json`).
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if body_format(request.headers()) != Some(BodyFormat::Json) {
            return Err(ApiError::new(
                ProblemKind::UnsupportedMediaType,
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        let bytes = body_bytes(request, state).await?;
        decode_json(&bytes).map(ApiJson)
    }
}

/// A JSON body that may be left out: no body at all, or `null`, reads as `T::default()` (an
/// action such as a secret rotation, whose options all have defaults). A body that is there is
/// read as [`ApiJson`] reads it.
#[derive(Debug, Clone)]
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Default,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let format = body_format(request.headers());
        let typed = request.headers().contains_key(header::CONTENT_TYPE);
        let bytes = body_bytes(request, state).await?;
        if bytes.is_empty() && (!typed || format == Some(BodyFormat::Json)) {
            return Ok(OptionalJson(T::default()));
        }
        if format != Some(BodyFormat::Json) {
            return Err(ApiError::new(
                ProblemKind::UnsupportedMediaType,
                "the body must be JSON, sent with Content-Type: application/json",
            ));
        }
        // `null` is "no options" too: the OpenAPI description of an optional body allows it.
        if bytes.trim_ascii() == b"null" {
            return Ok(OptionalJson(T::default()));
        }
        decode_json(&bytes).map(OptionalJson)
    }
}

/// A body sent either as a URL-encoded form or as JSON with the same fields.
#[derive(Debug, Clone)]
pub struct JsonOrForm<T>(pub T);

impl<S, T> FromRequest<S> for JsonOrForm<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let Some(format) = body_format(request.headers()) else {
            return Err(ApiError::new(
                ProblemKind::UnsupportedMediaType,
                "the body must be application/x-www-form-urlencoded or application/json",
            ));
        };
        let bytes = body_bytes(request, state).await?;
        match format {
            BodyFormat::Json => decode_json(&bytes),
            BodyFormat::Form => decode_form(&bytes),
        }
        .map(JsonOrForm)
    }
}

/// Query-string parameters. Unknown parameters are ignored (caches and proxies add their own).
/// A parameter whose bytes are not UTF-8 or that holds a control character is refused (422
/// naming it) before anything reads it.
#[derive(Debug, Clone)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        check_query(query.as_bytes())?;
        decode_form(query.as_bytes()).map(ApiQuery)
    }
}

/// Refuses a query string with a parameter that is not UTF-8 or holds a control character,
/// naming the parameter. (`form_urlencoded` would read bytes that are not UTF-8 as U+FFFD.)
fn check_query(query: &[u8]) -> Result<(), ApiError> {
    let decode = |raw: &[u8]| {
        let spaced: Vec<u8> = raw
            .iter()
            .map(|&b| if b == b'+' { b' ' } else { b })
            .collect();
        percent_encoding::percent_decode(&spaced)
            .decode_utf8()
            .map(|text| text.into_owned())
    };
    for pair in query.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
        let mut parts = pair.splitn(2, |&b| b == b'=');
        let raw_name = parts.next().unwrap_or_default();
        let name = decode(raw_name);
        let value = decode(parts.next().unwrap_or_default());
        let problem = match (&name, &value) {
            (Err(_), _) | (_, Err(_)) => "must be UTF-8 text",
            (Ok(name), Ok(value))
                if name
                    .chars()
                    .chain(value.chars())
                    .any(|c| input::is_forbidden(c, Lines::One)) =>
            {
                "must not contain control characters"
            }
            _ => continue,
        };
        // The problem names the parameter readably, without the characters it is refused for.
        let field: String = String::from_utf8_lossy(
            &percent_encoding::percent_decode(raw_name).collect::<Vec<_>>(),
        )
        .chars()
        .filter(|c| !c.is_control())
        .collect();
        return Err(ApiError::invalid_field(field, problem));
    }
    Ok(())
}

/// Path parameters. A segment that cannot be read names nothing, so it is 404 rather than 400.
#[derive(Debug, Clone)]
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| ApiPath(value))
            .map_err(|_| ApiError::not_found("nothing exists at this address"))
    }
}

/// The `Idempotency-Key` header of a create operation (docs/api.md), passed to the service as the
/// request's `request_id`; empty when the client sent none. The key rule is the services' one
/// ([`input::idempotency_key`]), applied here too so that a bad key is refused before any
/// service is called; a key that is not text at all only the gateway sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(pub String);

/// Name of the header, as problems name it.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(IDEMPOTENCY_KEY_HEADER) else {
            return Ok(IdempotencyKey(String::new()));
        };
        let key = value.to_str().map_err(|_| {
            ApiError::invalid_field(IDEMPOTENCY_KEY_HEADER, "must be printable ASCII")
        })?;
        let key = input::idempotency_key(key)
            .map_err(|v| ApiError::invalid_field(IDEMPOTENCY_KEY_HEADER, v.message))?;
        Ok(IdempotencyKey(key.to_owned()))
    }
}

/// How the header is described in the OpenAPI description: the key rule above as a schema
/// (hyper strips the whitespace around a header value, so what reaches the rule is already
/// trimmed).
impl IntoParams for IdempotencyKey {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let schema = ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(input::MAX_IDEMPOTENCY_KEY_LEN))
            .pattern(Some("^[!-~]([ -~]*[!-~])?$"))
            .examples(["3f2c6a4e-create-login-bug"]);
        vec![
            ParameterBuilder::new()
                .name(IDEMPOTENCY_KEY_HEADER)
                .parameter_in(ParameterIn::Header)
                .required(Required::False)
                .description(Some(
                    "1–200 printable ASCII characters. Sending the same key and body again \
                     answers the first response again and creates nothing; the same key with \
                     another body is 422",
                ))
                .schema(Some(schema))
                .build(),
        ]
    }
}

/// The `If-Match` header of a conditional write (docs/api.md), passed to the service, which
/// compares it with the current entity tag (412 when they differ); empty when absent. `*` matches
/// any existing resource, so it asks for no comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfMatch(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IfMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let tag = parts
            .headers
            .get(header::IF_MATCH)
            .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
            .filter(|tag| tag != "*")
            .unwrap_or_default();
        Ok(IfMatch(tag))
    }
}

/// The `If-None-Match` header of a conditional read (docs/api.md): the entity tags the client
/// already holds. `None` when absent; `*` matches any existing resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfNoneMatch(Option<String>);

impl IfNoneMatch {
    /// Whether the client already holds `etag`: `*`, or one of its comma-separated tags equals it
    /// by the weak comparison RFC 9110 prescribes for this header (a `W/` prefix is ignored).
    pub fn matches(&self, etag: &str) -> bool {
        let Some(header) = &self.0 else {
            return false;
        };
        let opaque = |tag: &str| tag.trim().trim_start_matches("W/").to_owned();
        let current = opaque(etag);
        header.trim() == "*" || header.split(',').any(|tag| opaque(tag) == current)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // A value that is not even text holds no tag of ours: it matches nothing.
        let header = parts.headers.get(header::IF_NONE_MATCH);
        Ok(IfNoneMatch(
            header.and_then(|v| v.to_str().ok()).map(str::to_owned),
        ))
    }
}

/// Decodes a JSON object, telling malformed bytes (400) from a body of the wrong shape (422).
/// Other JSON values are refused up front, as serde would otherwise read a struct from an array.
pub fn decode_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let is_object = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'{');
    if !is_object {
        return match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            Ok(_) => Err(ApiError::invalid_field("body", "must be a JSON object")),
            Err(error) => Err(ApiError::malformed_body(format!(
                "the body is not valid JSON: {error}"
            ))),
        };
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        match inner.classify() {
            Category::Data => {
                ApiError::validation(vec![field_error(&path, &without_position(&inner))])
            }
            Category::Syntax | Category::Eof | Category::Io => {
                ApiError::malformed_body(format!("the body is not valid JSON: {inner}"))
            }
        }
    })?;
    deserializer
        .end()
        .map_err(|e| ApiError::malformed_body(format!("the body is not valid JSON: {e}")))?;
    Ok(value)
}

/// Decodes a JSON value already read (by [`ApiJson`]) into `T`, naming the field that does not
/// fit, as [`decode_json`] does.
pub fn decode_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        ApiError::validation(vec![field_error(&path, &without_position(&inner))])
    })
}

/// Decodes `application/x-www-form-urlencoded` data (a body or a query string).
pub fn decode_form<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(bytes));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        ApiError::validation(vec![field_error(&path, &error.into_inner().to_string())])
    })
}

/// serde_json appends " at line L column C"; the field path says more to a client.
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(end) => text[..end].to_owned(),
        None => text,
    }
}

/// Names the field of a serde error. serde reports a missing or repeated field at the level of
/// the enclosing object, with the name only in the message, so the name is appended from there;
/// the path of an unknown field already ends with its name.
fn field_error(path: &str, message: &str) -> FieldError {
    let path = if path == "." { "" } else { path };
    let backticked = |prefix: &str| {
        message
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name.to_owned())
    };
    let (field, message) = if let Some(name) = backticked("missing field `") {
        let field = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        (field, "is required".to_owned())
    } else if let Some(name) = backticked("unknown field `") {
        let field = if path.is_empty() {
            name
        } else {
            path.to_owned()
        };
        (field, "is not a known field".to_owned())
    } else if let Some(name) = backticked("duplicate field `") {
        let field = if path.is_empty() {
            name
        } else {
            format!("{path}.{name}")
        };
        (field, "is given more than once".to_owned())
    } else if path.is_empty() {
        ("body".to_owned(), message.to_owned())
    } else {
        (path.to_owned(), message.to_owned())
    };
    FieldError { field, message }
}

/// What the gRPC calls made for a request carry: its request id, when the caller was
/// authenticated the original `authorization` value (the services verify it again), and where
/// the handler asks for it the client's address (identity throttles logins and sign-ups by it).
#[derive(Debug, Clone)]
pub struct Forwarded {
    request_id: RequestId,
    authorization: Option<AsciiMetadataValue>,
    client: Option<IpAddr>,
}

impl Forwarded {
    fn new(parts: &Parts, authorization: Option<AsciiMetadataValue>) -> Self {
        let request_id = parts
            .extensions
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::generate);
        Forwarded {
            request_id,
            authorization,
            client: None,
        }
    }

    /// The same, also naming the client's address to the service.
    pub fn with_client(self, ClientAddress(client): ClientAddress) -> Self {
        Forwarded {
            client: Some(client),
            ..self
        }
    }

    /// A gRPC request carrying `message` and this request's metadata.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        let mut request = tonic::Request::new(message);
        let metadata = request.metadata_mut();
        if let Ok(id) = AsciiMetadataValue::try_from(self.request_id.as_str()) {
            metadata.insert(REQUEST_ID_HEADER, id);
        }
        if let Some(authorization) = &self.authorization {
            metadata.insert("authorization", authorization.clone());
        }
        if let Some(client) = self.client
            && let Ok(value) = AsciiMetadataValue::try_from(client.to_string())
        {
            metadata.insert(CLIENT_ADDRESS_HEADER, value);
        }
        request
    }
}

/// A caller whose credentials are not looked at (public operations).
#[derive(Debug, Clone)]
pub struct Anonymous(pub Forwarded);

impl<S: Send + Sync> FromRequestParts<S> for Anonymous {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Anonymous(Forwarded::new(parts, None)))
    }
}

/// A caller with a verified bearer access token; 401 without one.
#[derive(Debug, Clone)]
pub struct Authenticated {
    pub principal: Principal,
    pub forwarded: Forwarded,
}

impl Authenticated {
    /// A gRPC request carrying `message` and the caller's credentials.
    pub fn request<T>(&self, message: T) -> tonic::Request<T> {
        self.forwarded.request(message)
    }
}

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match verify_bearer(parts, state).await? {
            Some((principal, authorization)) => Ok(Authenticated {
                principal,
                forwarded: Forwarded::new(parts, Some(authorization)),
            }),
            None => Err(ApiError::new(
                ProblemKind::Unauthenticated,
                "this operation needs a bearer access token",
            )),
        }
    }
}

impl Authenticated {
    /// A caller authenticated by an access token that came some other way than the
    /// `Authorization` header (the operator dashboard's session cookie); 401 if it is not good.
    pub async fn from_token(
        parts: &Parts,
        state: &AppState,
        token: &str,
    ) -> Result<Self, ApiError> {
        let (principal, authorization) = verify_token(state, token).await?;
        Ok(Authenticated {
            principal,
            forwarded: Forwarded::new(parts, Some(authorization)),
        })
    }
}

/// A caller who may present a token (it must then be valid) or none.
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Forwarded);

impl FromRequestParts<AppState> for MaybeAuthenticated {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let authorization = verify_bearer(parts, state).await?.map(|(_, value)| value);
        Ok(MaybeAuthenticated(Forwarded::new(parts, authorization)))
    }
}

/// The principal and the `authorization` value to forward, or `None` without the header.
async fn verify_bearer(
    parts: &Parts,
    state: &AppState,
) -> Result<Option<(Principal, AsciiMetadataValue)>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let token = value.to_str().ok().and_then(bearer_token).ok_or_else(|| {
        ApiError::new(
            ProblemKind::InvalidToken,
            "the Authorization header must be `Bearer <access token>`",
        )
    })?;
    verify_token(state, token).await.map(Some)
}

/// The principal of access token `token` and the `authorization` value to forward with it.
async fn verify_token(
    state: &AppState,
    token: &str,
) -> Result<(Principal, AsciiMetadataValue), ApiError> {
    let invalid = |detail: &str| ApiError::new(ProblemKind::InvalidToken, detail);
    let principal = state
        .verifier
        .authenticate(token)
        .await
        .map_err(|error| match error {
            VerifyError::KeysUnavailable | VerifyError::SessionUnconfirmed => {
                ApiError::unavailable()
            }
            VerifyError::Expired => invalid("the access token is expired"),
            VerifyError::Invalid => invalid("the access token is invalid"),
            VerifyError::SessionEnded => invalid("the session has ended; log in again"),
            VerifyError::TokenExpired
            | VerifyError::TokenRevoked
            | VerifyError::AccountDisabled => ApiError::token_refused(error),
        })?;
    let forwarded = AsciiMetadataValue::try_from(format!("Bearer {token}"))
        .map_err(|_| invalid("the access token is invalid"))?;
    Ok((principal, forwarded))
}

/// The address of the client: the TCP peer or, behind `trusted_proxy_hops` proxies, the
/// `X-Forwarded-For` entry that the outermost of them added (see [`forwarded_client`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = forwarded_client(&parts.headers, state.trusted_proxy_hops);
        Ok(ClientAddress(
            forwarded
                .or(peer)
                .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED))
                .to_canonical(),
        ))
    }
}

/// The client as seen by `hops` trusted proxies in front of the gateway, each of which appends
/// the address of its own peer to `X-Forwarded-For`: the `hops`-th entry from the right. Entries
/// further left were written by the client and prove nothing. With fewer entries than hops (a
/// shorter path), the left-most one, which a trusted proxy still added. `None` with no hops, no
/// header, or an entry that is not an address (the TCP peer is used then).
pub fn forwarded_client(headers: &HeaderMap, hops: usize) -> Option<IpAddr> {
    if hops == 0 {
        return None;
    }
    // Several header lines make one list, in order (RFC 9110 §5.3).
    let mut entries = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        entries.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    let entry = *entries.get(entries.len().saturating_sub(hops))?;
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|addr| addr.ip()))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        age: Option<u8>,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        flag: bool,
    }

    fn json_error(raw: &str) -> ApiError {
        decode_json::<Body>(raw.as_bytes()).unwrap_err()
    }

    #[test]
    fn json_that_is_not_json_is_malformed() {
        for raw in ["", "{", "{\"name\": }", "{\"name\":\"a\"} trailing", "nul"] {
            assert_eq!(json_error(raw).kind(), ProblemKind::MalformedBody, "{raw}");
        }
    }

    #[test]
    fn json_of_the_wrong_shape_names_the_field() {
        let cases = [
            (r#"{"age": 3}"#, "name", "is required"),
            (
                r#"{"name": "a", "extra": 1}"#,
                "extra",
                "is not a known field",
            ),
            (
                r#"{"name": 5}"#,
                "name",
                "invalid type: integer `5`, expected a string",
            ),
            (r#"{"name": "a", "age": 300}"#, "age", ""),
            (r#"{"name": "a", "inner": {}}"#, "inner.flag", "is required"),
            (
                r#"{"name": "a", "inner": {"flag": true, "x": 1}}"#,
                "inner.x",
                "is not a known field",
            ),
            (r#"["alice", 3, {}]"#, "body", "must be a JSON object"),
            (r#""a string""#, "body", "must be a JSON object"),
        ];
        for (raw, field, message) in cases {
            let error = json_error(raw);
            assert_eq!(error.kind(), ProblemKind::Validation, "{raw}");
            assert_eq!(error.errors()[0].field, field, "{raw}");
            assert!(
                error.errors()[0].message.starts_with(message),
                "{raw}: {:?}",
                error.errors()
            );
        }
    }

    #[test]
    fn forms_decode_and_name_bad_fields() {
        #[derive(Debug, Deserialize, PartialEq)]
        #[serde(deny_unknown_fields)]
        struct Form {
            a: String,
            n: Option<u32>,
        }
        assert_eq!(
            decode_form::<Form>(b"a=x%20y&n=4").unwrap(),
            Form {
                a: "x y".into(),
                n: Some(4)
            }
        );
        let error = decode_form::<Form>(b"a=x&n=many").unwrap_err();
        assert_eq!(error.errors()[0].field, "n");
        let error = decode_form::<Form>(b"n=1").unwrap_err();
        assert_eq!(error.errors()[0].field, "a");
        let error = decode_form::<Form>(b"a=1&b=2").unwrap_err();
        assert_eq!(error.errors()[0].field, "b");
        let error = decode_form::<Form>(b"a=1&n=2&n=3").unwrap_err();
        assert_eq!(error.errors()[0].field, "n");
        assert_eq!(error.errors()[0].message, "is given more than once");
    }

    #[test]
    fn query_parameters_with_control_characters_are_refused_by_name() {
        assert!(check_query(b"q=plain+words%20too&label=ui&x=%C3%A9&&flag").is_ok());
        for (query, field, message) in [
            (&b"q=a%00b"[..], "q", "must not contain control characters"),
            (b"label=%00", "label", "must not contain control characters"),
            (
                b"q=ok&sort=a%0Ab",
                "sort",
                "must not contain control characters",
            ),
            (b"q=%09", "q", "must not contain control characters"),
            (b"na%00me=x", "name", "must not contain control characters"),
            (b"q=%FF%FE", "q", "must be UTF-8 text"),
            (b"q=%ED%A0%80", "q", "must be UTF-8 text"),
        ] {
            let error = check_query(query).unwrap_err();
            assert_eq!(error.kind(), ProblemKind::Validation);
            assert_eq!(error.errors()[0].field, field);
            assert_eq!(error.errors()[0].message, message);
        }
    }

    #[test]
    fn content_types_are_recognised_with_parameters_and_suffixes() {
        let format = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            body_format(&headers)
        };
        assert_eq!(format("application/json"), Some(BodyFormat::Json));
        assert_eq!(
            format("Application/JSON; charset=utf-8"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            format("application/merge-patch+json"),
            Some(BodyFormat::Json)
        );
        assert_eq!(
            format("application/x-www-form-urlencoded"),
            Some(BodyFormat::Form)
        );
        assert_eq!(format("text/plain"), None);
        assert_eq!(format("application/jsonp"), None);
        assert_eq!(body_format(&HeaderMap::new()), None);
    }

    #[test]
    fn grpc_calls_carry_the_request_id_and_the_verified_authorization() {
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts
            .extensions
            .insert(RequestId::from_client(&HeaderValue::from_static("req-7")).unwrap());
        let authorization = AsciiMetadataValue::from_static("Bearer abc.def.ghi");

        let authenticated = Forwarded::new(&parts, Some(authorization)).request(());
        let anonymous = Forwarded::new(&parts, None).request(());

        assert_eq!(
            authenticated.metadata().get(REQUEST_ID_HEADER).unwrap(),
            "req-7"
        );
        assert_eq!(
            authenticated.metadata().get("authorization").unwrap(),
            "Bearer abc.def.ghi"
        );
        assert_eq!(
            anonymous.metadata().get(REQUEST_ID_HEADER).unwrap(),
            "req-7"
        );
        assert!(anonymous.metadata().get("authorization").is_none());
    }

    async fn header_extract<T: FromRequestParts<()>>(
        name: &'static str,
        value: Option<HeaderValue>,
    ) -> Result<T, T::Rejection> {
        let mut request = http::Request::new(());
        if let Some(value) = value {
            request.headers_mut().insert(name, value);
        }
        let (mut parts, ()) = request.into_parts();
        T::from_request_parts(&mut parts, &()).await
    }

    #[tokio::test]
    async fn an_idempotency_key_is_optional_but_must_be_printable_and_not_blank() {
        let absent = header_extract::<IdempotencyKey>("idempotency-key", None).await;
        let given = header_extract::<IdempotencyKey>(
            "idempotency-key",
            Some(HeaderValue::from_static(" key-1 ")),
        )
        .await;
        let blank = header_extract::<IdempotencyKey>(
            "idempotency-key",
            Some(HeaderValue::from_static("  ")),
        )
        .await;
        let binary = header_extract::<IdempotencyKey>(
            "idempotency-key",
            Some(HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()),
        )
        .await;
        let tab = header_extract::<IdempotencyKey>(
            "idempotency-key",
            Some(HeaderValue::from_static("key\tone")),
        )
        .await;
        let long = header_extract::<IdempotencyKey>(
            "idempotency-key",
            Some(HeaderValue::from_str(&"k".repeat(201)).unwrap()),
        )
        .await;

        assert_eq!(absent.unwrap(), IdempotencyKey(String::new()));
        assert_eq!(given.unwrap(), IdempotencyKey("key-1".into()));
        for refused in [blank, binary, tab, long] {
            let error = refused.unwrap_err();
            assert_eq!(error.kind(), ProblemKind::Validation);
            assert_eq!(error.errors()[0].field, "Idempotency-Key");
        }
    }

    #[tokio::test]
    async fn if_none_match_matches_a_listed_tag_weakly_or_a_star() {
        let matches = |value: &'static str| async move {
            header_extract::<IfNoneMatch>("if-none-match", Some(HeaderValue::from_static(value)))
                .await
                .unwrap()
                .matches("\"0193-2\"")
        };
        assert!(matches("\"0193-2\"").await);
        assert!(matches("\"0193-1\", W/\"0193-2\"").await);
        assert!(matches("*").await);
        assert!(!matches("\"0193-1\"").await);
        assert!(!matches("0193-2").await);
        let absent = header_extract::<IfNoneMatch>("if-none-match", None).await;
        assert!(!absent.unwrap().matches("\"0193-2\""));
    }

    #[tokio::test]
    async fn if_match_is_passed_on_and_a_star_asks_for_no_comparison() {
        let tag = |value: Option<&'static str>| {
            header_extract::<IfMatch>("if-match", value.map(HeaderValue::from_static))
        };

        assert_eq!(tag(None).await.unwrap(), IfMatch(String::new()));
        assert_eq!(tag(Some("*")).await.unwrap(), IfMatch(String::new()));
        assert_eq!(
            tag(Some("\"0193-2\"")).await.unwrap(),
            IfMatch("\"0193-2\"".into())
        );
    }

    #[test]
    fn the_client_is_the_entry_the_outermost_trusted_proxy_added() {
        let forwarded = |lines: &[&'static str], hops: usize| {
            let mut headers = HeaderMap::new();
            for line in lines {
                headers.append("x-forwarded-for", HeaderValue::from_static(line));
            }
            forwarded_client(&headers, hops).map(|ip| ip.to_string())
        };
        let client = |ip: &str| Some(ip.to_owned());
        // The client wrote the left-most entry itself; one proxy appended what it saw.
        let spoofed = "198.51.100.66, 203.0.113.9";
        assert_eq!(forwarded(&[spoofed], 1), client("203.0.113.9"));
        assert_eq!(forwarded(&[spoofed], 0), None);
        // Two proxies: the outer one added the client, the inner one the outer proxy.
        let two = "198.51.100.66, 203.0.113.9, 10.0.0.1";
        assert_eq!(forwarded(&[two], 2), client("203.0.113.9"));
        assert_eq!(forwarded(&[two], 1), client("10.0.0.1"));
        assert_eq!(
            forwarded(&["198.51.100.66, 203.0.113.9", "10.0.0.1"], 2),
            client("203.0.113.9")
        );
        // A shorter path than configured: the left-most entry, which a proxy added.
        assert_eq!(forwarded(&["203.0.113.9"], 2), client("203.0.113.9"));
        assert_eq!(forwarded(&["[2001:db8::1]:4711"], 1), client("2001:db8::1"));
        assert_eq!(forwarded(&["203.0.113.9, not-an-ip"], 1), None);
        assert_eq!(forwarded(&[], 1), None);
    }
}
