//! Access-token verification shared by every service.
//!
//! Identity signs access tokens with an Ed25519 key (EdDSA) and publishes the public half as a JWK
//! set. Everyone else holds only those public keys: [`TokenVerifier`] fetches them at start and again
//! when a token names an unknown `kid` (key rotation), at most once per [`REFRESH_COOLDOWN`].
//! [`AuthLayer`] runs in front of every gRPC service: a request without `authorization` passes
//! through anonymous, one with a valid bearer token carries a [`Principal`] in its extensions, and
//! one with a bad token is refused with `UNAUTHENTICATED` before any handler runs.

use std::{
    collections::HashMap,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use futures::future::BoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use swatter_proto::identity::v1::{
    GetJwksRequest, Jwk, identity_service_client::IdentityServiceClient,
};
use tokio::sync::{Mutex, RwLock};
use tonic::Status;
use uuid::Uuid;

use crate::client::TracedChannel;

/// `typ` of a token that stands for a user (directly or delegated to a service).
pub const TYP_ACCESS: &str = "access";
/// `typ` of a token that stands for a service itself.
pub const TYP_SERVICE: &str = "service";
/// Shortest time between two JWKS fetches triggered by unknown key ids.
pub const REFRESH_COOLDOWN: Duration = Duration::from_secs(5);
/// Shortest time before trying again after a fetch failed (identity down): short, so a service
/// that started before identity recovers quickly, but not zero, so it does not hammer identity.
pub const RETRY_AFTER_FAILED_FETCH: Duration = Duration::from_secs(1);

/// The claims of a swatter access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    /// User id, or `service:<client_id>` for service tokens.
    pub sub: String,
    /// Username, or the client id for service tokens.
    pub username: String,
    #[serde(default)]
    pub admin: bool,
    pub typ: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    /// The service acting on the user's behalf (delegated tokens only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<Actor>,
}

/// RFC 8693 `act` claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Actor {
    pub sub: String,
}

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(UserPrincipal),
    Service { client_id: String },
}

/// A user, calling directly or through a service acting on their behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPrincipal {
    pub id: Uuid,
    pub username: String,
    pub admin: bool,
    /// The service client acting for the user, for delegated tokens.
    pub acting_service: Option<String>,
}

impl Principal {
    fn from_claims(claims: Claims) -> Result<Self, VerifyError> {
        match claims.typ.as_str() {
            TYP_ACCESS => Ok(Principal::User(UserPrincipal {
                id: claims.sub.parse().map_err(|_| VerifyError::Invalid)?,
                username: claims.username,
                admin: claims.admin,
                acting_service: claims.act.map(|a| a.sub),
            })),
            TYP_SERVICE => Ok(Principal::Service {
                client_id: claims
                    .sub
                    .strip_prefix("service:")
                    .ok_or(VerifyError::Invalid)?
                    .to_owned(),
            }),
            _ => Err(VerifyError::Invalid),
        }
    }
}

/// The authenticated caller of a request, or `UNAUTHENTICATED`.
pub fn principal<T>(request: &tonic::Request<T>) -> Result<&Principal, Status> {
    request
        .extensions()
        .get::<Principal>()
        .ok_or_else(|| Status::unauthenticated("a bearer access token is required"))
}

/// The calling user, or `UNAUTHENTICATED` (no token) / `PERMISSION_DENIED` (a service token).
pub fn user<T>(request: &tonic::Request<T>) -> Result<&UserPrincipal, Status> {
    match principal(request)? {
        Principal::User(user) => Ok(user),
        Principal::Service { .. } => Err(Status::permission_denied(
            "this operation needs a user token, not a service token",
        )),
    }
}

/// Why a token was refused. Deliberately coarse: callers learn only that the token is not good.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the access token is expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the signing keys could not be fetched")]
    KeysUnavailable,
}

/// Where public keys come from.
#[async_trait]
pub trait JwksSource: Send + Sync {
    async fn fetch(&self) -> anyhow::Result<Vec<Jwk>>;
}

/// A fixed key set (identity verifies its own tokens this way).
pub struct StaticJwks(pub Vec<Jwk>);

#[async_trait]
impl JwksSource for StaticJwks {
    async fn fetch(&self) -> anyhow::Result<Vec<Jwk>> {
        Ok(self.0.clone())
    }
}

/// Identity's `GetJwks` RPC.
pub struct GrpcJwks(pub IdentityServiceClient<TracedChannel>);

#[async_trait]
impl JwksSource for GrpcJwks {
    async fn fetch(&self) -> anyhow::Result<Vec<Jwk>> {
        Ok(self
            .0
            .clone()
            .get_jwks(GetJwksRequest {})
            .await?
            .into_inner()
            .keys)
    }
}

/// Verifies access tokens against public keys fetched from a [`JwksSource`].
pub struct TokenVerifier {
    source: Box<dyn JwksSource>,
    keys: RwLock<HashMap<String, DecodingKey>>,
    /// When keys were last fetched, and whether that worked.
    last_fetch: Mutex<Option<(Instant, bool)>>,
    validation: Validation,
    /// Tokens already verified, with their expiry: a client sends the same token with every
    /// request, and an Ed25519 verification costs far more than a lookup.
    verified: std::sync::RwLock<HashMap<String, (Principal, i64)>>,
}

/// Most verified tokens remembered at once.
pub const VERIFIED_CACHE_SIZE: usize = 10_000;

impl TokenVerifier {
    /// A verifier for tokens of `issuer` meant for `audience`. Keys are fetched lazily; call
    /// [`TokenVerifier::refresh`] at start to fetch them eagerly.
    pub fn new(issuer: &str, audience: &str, source: impl JwksSource + 'static) -> Self {
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 30;
        TokenVerifier {
            source: Box::new(source),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            validation,
            verified: std::sync::RwLock::new(HashMap::new()),
        }
    }

    /// Fetches the key set now, replacing the keys held.
    pub async fn refresh(&self) -> anyhow::Result<usize> {
        let mut last = self.last_fetch.lock().await;
        let result = self.fetch_into_cache().await;
        *last = Some((Instant::now(), result.is_ok()));
        result
    }

    async fn fetch_into_cache(&self) -> anyhow::Result<usize> {
        let jwks = self.source.fetch().await?;
        let mut keys = HashMap::new();
        for jwk in jwks {
            if jwk.kty == "OKP" && jwk.crv == "Ed25519" {
                keys.insert(jwk.kid.clone(), DecodingKey::from_ed_components(&jwk.x)?);
            }
        }
        let count = keys.len();
        *self.keys.write().await = keys;
        Ok(count)
    }

    /// Refreshes when the cooldown has passed; returns whether a fetch happened.
    async fn refresh_for_unknown_kid(&self) -> bool {
        let mut last = self.last_fetch.lock().await;
        let cooling_down = last.is_some_and(|(at, ok)| {
            let cooldown = if ok {
                REFRESH_COOLDOWN
            } else {
                RETRY_AFTER_FAILED_FETCH
            };
            at.elapsed() < cooldown
        });
        if cooling_down {
            return false;
        }
        let fetched = match self.fetch_into_cache().await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(error = %error, "could not fetch signing keys");
                false
            }
        };
        *last = Some((Instant::now(), fetched));
        fetched
    }

    async fn key(&self, kid: &str) -> Option<DecodingKey> {
        self.keys.read().await.get(kid).cloned()
    }

    /// Checks signature, algorithm, issuer, audience, expiry and token type.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(VerifyError::Invalid);
        }
        let kid = header.kid.ok_or(VerifyError::Invalid)?;
        let key = match self.key(&kid).await {
            Some(key) => key,
            None => {
                let had_keys = !self.keys.read().await.is_empty();
                if !self.refresh_for_unknown_kid().await && !had_keys {
                    return Err(VerifyError::KeysUnavailable);
                }
                self.key(&kid).await.ok_or(VerifyError::Invalid)?
            }
        };
        let data = jsonwebtoken::decode::<Claims>(token, &key, &self.validation).map_err(|e| {
            match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => VerifyError::Expired,
                _ => VerifyError::Invalid,
            }
        })?;
        if data.claims.typ != TYP_ACCESS && data.claims.typ != TYP_SERVICE {
            return Err(VerifyError::Invalid);
        }
        Ok(data.claims)
    }

    /// Verifies and turns the claims into a [`Principal`].
    ///
    /// A token verified before is answered from memory until it expires (the exact string: any
    /// change to it is a different key and gets the full verification).
    pub async fn authenticate(&self, token: &str) -> Result<Principal, VerifyError> {
        let now = chrono_now();
        if let Some((principal, exp)) = self.cached(token)
            && exp > now
        {
            return Ok(principal);
        }
        let claims = self.verify(token).await?;
        let exp = claims.exp;
        let principal = Principal::from_claims(claims)?;
        self.remember(token, &principal, exp, now);
        Ok(principal)
    }

    fn cached(&self, token: &str) -> Option<(Principal, i64)> {
        self.verified.read().ok()?.get(token).cloned()
    }

    fn remember(&self, token: &str, principal: &Principal, exp: i64, now: i64) {
        let Ok(mut verified) = self.verified.write() else {
            return;
        };
        if verified.len() >= VERIFIED_CACHE_SIZE {
            verified.retain(|_, (_, exp)| *exp > now);
            if verified.len() >= VERIFIED_CACHE_SIZE {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), (principal.clone(), exp));
    }
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The bearer token of an `authorization` value, if it is one.
pub fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Tower layer that authenticates gRPC callers; see the module docs.
#[derive(Clone)]
pub struct AuthLayer {
    verifier: Arc<TokenVerifier>,
}

impl AuthLayer {
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        AuthLayer { verifier }
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            verifier: self.verifier.clone(),
        }
    }
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    verifier: Arc<TokenVerifier>,
}

impl<S, B> tower::Service<http::Request<B>> for AuthService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready is the one that must be called.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        Box::pin(async move {
            request.extensions_mut().remove::<Principal>();
            if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
                let token = value.to_str().ok().and_then(bearer_token);
                let outcome = match token {
                    Some(token) => verifier.authenticate(token).await,
                    None => Err(VerifyError::Invalid),
                };
                match outcome {
                    Ok(principal) => {
                        request.extensions_mut().insert(principal);
                    }
                    Err(VerifyError::KeysUnavailable) => {
                        return Ok(
                            Status::unavailable("signing keys are not available yet").into_http()
                        );
                    }
                    Err(error) => {
                        return Ok(Status::unauthenticated(error.to_string()).into_http());
                    }
                }
            }
            inner.call(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_recognised_case_insensitively() {
        assert_eq!(bearer_token("Bearer abc"), Some("abc"));
        assert_eq!(bearer_token("bearer  abc "), Some("abc"));
        assert_eq!(bearer_token("Basic abc"), None);
        assert_eq!(bearer_token("Bearer "), None);
        assert_eq!(bearer_token("Bearer"), None);
    }

    #[test]
    fn claims_of_unknown_type_make_no_principal() {
        let claims = Claims {
            sub: Uuid::nil().to_string(),
            username: "u".into(),
            admin: false,
            typ: "refresh".into(),
            iss: "i".into(),
            aud: "a".into(),
            iat: 0,
            exp: 0,
            jti: "j".into(),
            act: None,
        };
        assert_eq!(Principal::from_claims(claims), Err(VerifyError::Invalid));
    }
}
