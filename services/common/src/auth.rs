//! Access-token verification shared by every service.
//!
//! Identity signs access tokens with an Ed25519 key (EdDSA) and publishes the public half as a JWK
//! set, with the previous key during a rotation. Everyone else holds only those public keys:
//! [`TokenVerifier`] fetches them at start, again when a token names an unknown `kid` (a new
//! signing key), at most once per [`REFRESH_COOLDOWN`], and again when the keys held are older
//! than [`KEYS_MAX_AGE`], so that a key removed from the set stops verifying.
//! [`AuthLayer`] runs in front of every gRPC service: a request without `authorization` passes
//! through anonymous, one with a valid bearer token carries a [`Principal`] in its extensions, and
//! one with a bad token is refused with `UNAUTHENTICATED` before any handler runs.
//!
//! A signature says who the user was when the token was issued, not who they are now. A verifier
//! built [`TokenVerifier::with_sessions`] asks identity about a user token when it first sees it
//! and again once its last answer is older than the check interval: a disabled user's tokens stop
//! working and a demoted admin loses admin rights within that interval (identity itself checks at
//! every request). While identity cannot be asked, the last answer holds for [`SESSION_GRACE`]
//! after it was given; then the request is refused with `UNAVAILABLE`.
//!
//! Tokens a service holds on a user's behalf (`act` claim) may only call the methods the server
//! lists in [`AuthLayer::new`]; anything else is `PERMISSION_DENIED`.

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
    CheckSessionRequest, GetJwksRequest, Jwk, identity_service_client::IdentityServiceClient,
};
use tokio::sync::{Mutex, RwLock};
use tonic::Status;
use tonic_types::{ErrorDetails, StatusExt};
use uuid::Uuid;

pub use crate::personal_token::{Scope, TokenLimits};
use crate::{client::TracedChannel, personal_token};

/// `typ` of a token that stands for a user (directly or delegated to a service).
pub const TYP_ACCESS: &str = "access";
/// `typ` of a token that stands for a service itself.
pub const TYP_SERVICE: &str = "service";
/// Shortest time between two JWKS fetches triggered by unknown key ids.
pub const REFRESH_COOLDOWN: Duration = Duration::from_secs(5);
/// How long fetched keys serve before the next verification fetches them again (as the
/// gateway's `Cache-Control` on the JWK set says). Bounds how long a key removed from identity's
/// set still verifies tokens here.
pub const KEYS_MAX_AGE: Duration = Duration::from_secs(300);
/// Shortest time before trying again after a fetch failed (identity down): short, so a service
/// that started before identity recovers quickly, but not zero, so it does not hammer identity.
pub const RETRY_AFTER_FAILED_FETCH: Duration = Duration::from_secs(1);
/// Seconds of clock difference tolerated on `exp` and `iat`.
pub const LEEWAY_SECS: i64 = 30;
/// How often a service asks identity again about a token it has seen (default of
/// `SWATTER_SESSION_CHECK_SECS`).
pub const SESSION_CHECK_INTERVAL: Duration = Duration::from_secs(10);
/// How long identity's last answer about a token holds while identity cannot be asked. With the
/// check interval it bounds how late a service notices a disabled user (SPEC: within 30 s).
pub const SESSION_GRACE: Duration = Duration::from_secs(25);

/// A `SWATTER_SESSION_CHECK_SECS` value: how often issues and reporting ask identity again
/// about a token they have seen, at most 25 s so that a disabled user is refused within 30 s.
pub fn session_check_interval(raw: &str) -> Result<Duration, String> {
    let every = crate::config::seconds(raw)?;
    if every > SESSION_GRACE {
        return Err(
            "must be at most 25 seconds (disabled users are refused within 30 s)".to_owned(),
        );
    }
    Ok(every)
}

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
    /// Whether the caller has admin rights now: an admin's password login, or an admin's
    /// personal access token with the `admin` scope.
    pub admin: bool,
    /// The service client acting for the user, for delegated tokens.
    pub acting_service: Option<String>,
    /// The limits of the personal access token the user called with; `None` for a password login
    /// (an access token from `/v1/auth/token`), which may do all the user may.
    pub token: Option<Arc<TokenLimits>>,
}

impl UserPrincipal {
    /// Whether a service holds this token on the user's behalf.
    pub fn is_delegated(&self) -> bool {
        self.acting_service.is_some()
    }

    /// Whether the caller used a personal access token (rather than a password login).
    pub fn is_personal_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether the caller's token lets them see the project `key` at all (their role in it is
    /// another question). Every service that shows a project's data asks this first; a project a
    /// token may not see is answered as one that does not exist, and is left out of every list.
    pub fn may_access_project(&self, key: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|limits| limits.may_access_project(key))
    }

    /// The only projects the caller's token may see, for lists to filter on; `None`: no limit.
    pub fn project_limit(&self) -> Option<&[String]> {
        self.token.as_ref()?.projects.as_deref()
    }

    /// `PERMISSION_DENIED` for a personal access token: what only a password login may do
    /// (managing tokens, changing the password or email), so that a limited token can never
    /// make itself an unlimited one.
    pub fn require_password_login(&self, what: &str) -> Result<(), Status> {
        if self.is_personal_token() {
            return Err(Status::permission_denied(format!(
                "{what} needs a password login, not a personal access token"
            )));
        }
        Ok(())
    }
}

impl Principal {
    fn from_claims(claims: Claims) -> Result<Self, VerifyError> {
        match claims.typ.as_str() {
            TYP_ACCESS => Ok(Principal::User(UserPrincipal {
                id: claims.sub.parse().map_err(|_| VerifyError::Invalid)?,
                username: claims.username,
                // A token held by a service on a user's behalf never carries admin power.
                admin: claims.admin && claims.act.is_none(),
                acting_service: claims.act.map(|a| a.sub),
                token: None,
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

/// Why a token was refused. Deliberately coarse for JWTs: callers learn only that the token is not
/// good. A personal access token's owner learns whether it expired or was revoked, so they know to
/// make a new one.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the access token is expired")]
    Expired,
    #[error("the access token is invalid")]
    Invalid,
    #[error("the signing keys could not be fetched")]
    KeysUnavailable,
    #[error("the session has ended (the account was disabled or changed); log in again")]
    SessionEnded,
    #[error("the session cannot be confirmed with identity right now")]
    SessionUnconfirmed,
    #[error("the personal access token has expired")]
    TokenExpired,
    #[error("the personal access token has been revoked")]
    TokenRevoked,
    #[error("the account this personal access token belongs to is disabled")]
    AccountDisabled,
}

/// `google.rpc.ErrorInfo` reasons of refused tokens, so that a client (and a service asking
/// identity) can tell them apart without reading messages.
const REFUSAL_REASONS: [(VerifyError, &str); 4] = [
    (VerifyError::TokenExpired, "TOKEN_EXPIRED"),
    (VerifyError::TokenRevoked, "TOKEN_REVOKED"),
    (VerifyError::AccountDisabled, "ACCOUNT_DISABLED"),
    (VerifyError::SessionEnded, "SESSION_ENDED"),
];

impl VerifyError {
    /// The gRPC answer to a request whose token was refused.
    pub fn status(&self) -> Status {
        match self {
            VerifyError::KeysUnavailable | VerifyError::SessionUnconfirmed => {
                Status::unavailable(self.to_string())
            }
            VerifyError::Expired | VerifyError::Invalid => {
                Status::unauthenticated(self.to_string())
            }
            VerifyError::SessionEnded
            | VerifyError::TokenExpired
            | VerifyError::TokenRevoked
            | VerifyError::AccountDisabled => {
                let reason = REFUSAL_REASONS
                    .iter()
                    .find(|(error, _)| error == self)
                    .map_or("INVALID_TOKEN", |(_, reason)| reason);
                Status::with_error_details(
                    tonic::Code::Unauthenticated,
                    self.to_string(),
                    ErrorDetails::with_error_info(
                        reason,
                        crate::status::ERROR_DOMAIN,
                        HashMap::<String, String>::new(),
                    ),
                )
            }
        }
    }

    /// The refusal an `UNAUTHENTICATED` status carries in its `ErrorInfo`, if it names one.
    pub fn from_status(status: &Status) -> Option<VerifyError> {
        if status.code() != tonic::Code::Unauthenticated {
            return None;
        }
        let info = status.get_details_error_info()?;
        REFUSAL_REASONS
            .into_iter()
            .find(|(_, reason)| *reason == info.reason)
            .map(|(error, _)| error)
    }
}

/// What identity says about a token's user now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Session {
    /// The account is enabled and the token was issued after the last change that ended its
    /// sessions; `admin` is the account's admin flag now (false for delegated tokens).
    Active { admin: bool },
    /// Disabled, deleted, or the token predates a change that ended its sessions.
    Ended,
}

/// Where the current state of a token's user comes from.
#[async_trait]
pub trait SessionSource: Send + Sync {
    /// The session of `user`, who presented the verified `token` issued at `issued_at`. An error
    /// means the question could not be answered (identity unreachable).
    async fn check(
        &self,
        token: &str,
        user: &UserPrincipal,
        issued_at: i64,
    ) -> anyhow::Result<Session>;
}

/// Identity's `CheckSession` RPC, asked with the token itself.
pub struct GrpcSessions(pub IdentityServiceClient<TracedChannel>);

#[async_trait]
impl SessionSource for GrpcSessions {
    async fn check(&self, token: &str, _: &UserPrincipal, _: i64) -> anyhow::Result<Session> {
        let mut request = tonic::Request::new(CheckSessionRequest {});
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        match self.0.clone().check_session(request).await {
            Ok(answer) => Ok(Session::Active {
                admin: answer.into_inner().admin,
            }),
            Err(status) if status.code() == tonic::Code::Unauthenticated => Ok(Session::Ended),
            Err(status) => Err(anyhow::anyhow!(
                "identity did not answer about the session: {status}"
            )),
        }
    }
}

/// What identity says about a personal access token now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenStatus {
    /// Good: its user, admin rights and limits as they are now; `expires_at` in seconds (`None`:
    /// never).
    Active {
        user: UserPrincipal,
        expires_at: Option<i64>,
    },
    /// Expired, revoked, its user disabled or deleted, or no such token ([`VerifyError`] says
    /// which).
    Refused(VerifyError),
}

/// Where the state of personal access tokens comes from.
#[async_trait]
pub trait PersonalTokenSource: Send + Sync {
    /// The state of `token` (well formed). An error means the question could not be answered.
    async fn introspect(&self, token: &str) -> anyhow::Result<TokenStatus>;
}

/// Identity's `CheckSession` RPC, asked with the personal access token itself: identity
/// authenticates it from its database and answers with the token's limits, or refuses it saying
/// why.
pub struct GrpcPersonalTokens(pub IdentityServiceClient<TracedChannel>);

#[async_trait]
impl PersonalTokenSource for GrpcPersonalTokens {
    async fn introspect(&self, token: &str) -> anyhow::Result<TokenStatus> {
        let mut request = tonic::Request::new(CheckSessionRequest {});
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
        let answer = match self.0.clone().check_session(request).await {
            Ok(answer) => answer.into_inner(),
            Err(status) if status.code() == tonic::Code::Unauthenticated => {
                return Ok(TokenStatus::Refused(
                    VerifyError::from_status(&status).unwrap_or(VerifyError::Invalid),
                ));
            }
            Err(status) => {
                return Err(anyhow::anyhow!(
                    "identity did not answer about a personal access token: {status}"
                ));
            }
        };
        let grant = answer.personal_token.ok_or_else(|| {
            anyhow::anyhow!("identity answered about a personal access token without its limits")
        })?;
        let scopes = grant
            .scopes
            .iter()
            .map(|raw| Scope::parse("scopes", raw).map_err(|v| anyhow::anyhow!(v.message)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let user = UserPrincipal {
            id: answer.user_id.parse()?,
            username: answer.username,
            admin: answer.admin,
            acting_service: None,
            token: Some(Arc::new(TokenLimits {
                token_id: grant.id.parse()?,
                scopes,
                projects: grant.projects.map(|p| p.keys.into()),
                expires_at: grant.expires_at.as_ref().map(|at| at.seconds),
            })),
        };
        Ok(TokenStatus::Active {
            user,
            expires_at: grant.expires_at.map(|at| at.seconds),
        })
    }
}

/// How often a service asks identity again about a personal access token it has seen: revoking
/// a token or disabling its user takes effect everywhere within this (SPEC: within 5 s).
pub const PERSONAL_TOKEN_CHECK_INTERVAL: Duration = Duration::from_secs(2);
/// How long identity's last answer about a personal access token holds while identity cannot be
/// asked: then its requests are refused (`UNAVAILABLE`), so a revocation is never missed by more
/// than 5 s.
pub const PERSONAL_TOKEN_GRACE: Duration = Duration::from_secs(5);

/// How a verifier checks personal access tokens.
struct PersonalTokenChecks {
    source: Box<dyn PersonalTokenSource>,
    every: Duration,
    grace: Duration,
}

/// How a verifier re-checks sessions.
struct SessionChecks {
    source: Box<dyn SessionSource>,
    every: Duration,
    grace: Duration,
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
    refresh_cooldown: Duration,
    keys_max_age: Duration,
    validation: Validation,
    /// Tokens already verified: a client sends the same token with every request, and an
    /// Ed25519 verification (or a question to identity) costs far more than a lookup.
    verified: std::sync::RwLock<HashMap<String, Verified>>,
    sessions: Option<SessionChecks>,
    /// Without it, personal access tokens are refused as invalid.
    personal_tokens: Option<PersonalTokenChecks>,
    /// Personal access tokens identity refused lately, and why: a script that goes on with a
    /// revoked token costs identity one question per check interval, not one per request.
    refused: std::sync::Mutex<HashMap<String, (Instant, VerifyError)>>,
}

/// A verified token, remembered.
#[derive(Clone)]
struct Verified {
    principal: Principal,
    exp: i64,
    iat: i64,
    /// When identity last confirmed the session (never, without session checks or before the
    /// first answer).
    confirmed_at: Option<Instant>,
    /// When to ask identity again.
    check_at: Instant,
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
        validation.leeway = LEEWAY_SECS as u64;
        TokenVerifier {
            source: Box::new(source),
            keys: RwLock::new(HashMap::new()),
            last_fetch: Mutex::new(None),
            refresh_cooldown: REFRESH_COOLDOWN,
            keys_max_age: KEYS_MAX_AGE,
            validation,
            verified: std::sync::RwLock::new(HashMap::new()),
            sessions: None,
            personal_tokens: None,
            refused: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Asks `source` about each user token when first seen and again once its last answer is
    /// older than `every` (zero: at every request); see the module docs.
    pub fn with_sessions(self, source: impl SessionSource + 'static, every: Duration) -> Self {
        self.with_session_grace(source, every, SESSION_GRACE)
    }

    /// [`TokenVerifier::with_sessions`] with another grace period (tests).
    pub fn with_session_grace(
        mut self,
        source: impl SessionSource + 'static,
        every: Duration,
        grace: Duration,
    ) -> Self {
        self.sessions = Some(SessionChecks {
            source: Box::new(source),
            every,
            grace,
        });
        self
    }

    /// Accepts personal access tokens, asking `source` about each when first seen and again once
    /// its last answer is older than `every` (zero: at every request). While `source` cannot
    /// answer, the last answer holds for [`PERSONAL_TOKEN_GRACE`].
    pub fn with_personal_tokens(
        self,
        source: impl PersonalTokenSource + 'static,
        every: Duration,
    ) -> Self {
        self.with_personal_token_grace(source, every, PERSONAL_TOKEN_GRACE.max(every))
    }

    /// [`TokenVerifier::with_personal_tokens`] with another grace period (tests).
    pub fn with_personal_token_grace(
        mut self,
        source: impl PersonalTokenSource + 'static,
        every: Duration,
        grace: Duration,
    ) -> Self {
        self.personal_tokens = Some(PersonalTokenChecks {
            source: Box::new(source),
            every,
            grace,
        });
        self
    }

    /// [`REFRESH_COOLDOWN`] and [`KEYS_MAX_AGE`] replaced (tests).
    pub fn with_key_refresh(mut self, cooldown: Duration, max_age: Duration) -> Self {
        self.refresh_cooldown = cooldown;
        self.keys_max_age = max_age;
        self
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
        let mut held = self.keys.write().await;
        let removed = held.keys().any(|kid| !keys.contains_key(kid));
        *held = keys;
        drop(held);
        // Tokens verified with a key that is gone must be verified again (and refused).
        if removed && let Ok(mut verified) = self.verified.write() {
            verified.clear();
        }
        Ok(count)
    }

    /// Fetches the keys again when those held are older than the maximum age (or the last
    /// fetch failed a while ago). A request that finds another one fetching goes on with the
    /// keys held rather than wait.
    async fn refresh_when_stale(&self) {
        let Ok(mut last) = self.last_fetch.try_lock() else {
            return;
        };
        let stale = last.is_some_and(|(at, ok)| {
            let max_age = if ok {
                self.keys_max_age
            } else {
                RETRY_AFTER_FAILED_FETCH
            };
            at.elapsed() >= max_age
        });
        if !stale {
            return;
        }
        let fetched = match self.fetch_into_cache().await {
            Ok(_) => true,
            Err(error) => {
                tracing::warn!(error = %error, "could not fetch signing keys again");
                false
            }
        };
        *last = Some((Instant::now(), fetched));
    }

    /// Refreshes when the cooldown has passed; returns whether a fetch happened.
    async fn refresh_for_unknown_kid(&self) -> bool {
        let mut last = self.last_fetch.lock().await;
        let cooling_down = last.is_some_and(|(at, ok)| {
            let cooldown = if ok {
                self.refresh_cooldown
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
        // A token from the future was not issued by a clock we trust.
        if data.claims.iat > chrono_now() + LEEWAY_SECS {
            return Err(VerifyError::Invalid);
        }
        Ok(data.claims)
    }

    /// Verifies and turns the claims into a [`Principal`], whose `admin` is identity's latest
    /// answer when sessions are checked.
    ///
    /// A token verified before is answered from memory until it expires (the exact string: any
    /// change to it is a different key and gets the full verification), as long as its session
    /// answer is fresh.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, VerifyError> {
        if personal_token::looks_personal(token) {
            return self.authenticate_personal(token).await;
        }
        self.refresh_when_stale().await;
        let now = chrono_now();
        let (entry, verified_now) = match self.cached(token) {
            Some(entry) if entry.exp > now => (entry, false),
            _ => {
                let claims = self.verify(token).await?;
                let entry = Verified {
                    exp: claims.exp,
                    iat: claims.iat,
                    principal: Principal::from_claims(claims)?,
                    confirmed_at: None,
                    check_at: Instant::now(),
                };
                (entry, true)
            }
        };
        let (Some(checks), Principal::User(user)) = (&self.sessions, &entry.principal) else {
            // Nothing to re-check: a token held already is answered without taking the write lock.
            let principal = entry.principal.clone();
            if verified_now {
                self.remember(token, entry, now);
            }
            return Ok(principal);
        };
        let fresh = entry
            .confirmed_at
            .is_some_and(|at| at.elapsed() < checks.grace);
        if fresh && Instant::now() < entry.check_at {
            return Ok(entry.principal);
        }
        // Claim the check, so that concurrent requests with this token use the answer held
        // (still fresh) instead of asking too.
        if fresh {
            self.update(token, |held| {
                held.check_at = Instant::now() + RETRY_AFTER_FAILED_FETCH;
            });
        }
        match checks.source.check(token, user, entry.iat).await {
            Ok(Session::Active { admin }) => {
                let mut entry = entry.clone();
                if let Principal::User(user) = &mut entry.principal {
                    user.admin = admin && !user.is_delegated();
                }
                entry.confirmed_at = Some(Instant::now());
                entry.check_at = Instant::now() + checks.every;
                let principal = entry.principal.clone();
                self.remember(token, entry, now);
                Ok(principal)
            }
            Ok(Session::Ended) => {
                self.forget(token);
                Err(VerifyError::SessionEnded)
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "could not check a session");
                if fresh {
                    Ok(entry.principal)
                } else {
                    Err(VerifyError::SessionUnconfirmed)
                }
            }
        }
    }

    /// A personal access token: refused at once when it is not well formed, answered from
    /// memory while identity's last answer is fresh, otherwise asked about.
    async fn authenticate_personal(&self, token: &str) -> Result<Principal, VerifyError> {
        let Some(checks) = &self.personal_tokens else {
            return Err(VerifyError::Invalid);
        };
        let now = chrono_now();
        let held = self.cached(token);
        // A refusal forgets the token, so only a token not held can have been refused lately:
        // a token in use costs one read lock here, not also the refusals' lock.
        if held.is_none() {
            if let Some(error) = self.refused_lately(token, checks.every) {
                return Err(error);
            }
            // Only a well-formed token is ever remembered: the checksum is checked once.
            if !personal_token::well_formed(token) {
                return Err(VerifyError::Invalid);
            }
        }
        if let Some(entry) = &held
            && entry.exp <= now
        {
            self.forget(token);
            return Err(VerifyError::TokenExpired);
        }
        let fresh = held.as_ref().filter(|entry| {
            entry
                .confirmed_at
                .is_some_and(|at| at.elapsed() < checks.grace)
        });
        if let Some(entry) = fresh {
            if Instant::now() < entry.check_at {
                return Ok(entry.principal.clone());
            }
            // Claim the check, so that concurrent requests use the answer held meanwhile.
            self.update(token, |held| {
                held.check_at = Instant::now() + RETRY_AFTER_FAILED_FETCH;
            });
        }
        match checks.source.introspect(token).await {
            Ok(TokenStatus::Active { user, expires_at }) => {
                let principal = Principal::User(user);
                let entry = Verified {
                    principal: principal.clone(),
                    exp: expires_at.unwrap_or(i64::MAX),
                    iat: now,
                    confirmed_at: Some(Instant::now()),
                    check_at: Instant::now() + checks.every,
                };
                self.remember(token, entry, now);
                Ok(principal)
            }
            Ok(TokenStatus::Refused(error)) => {
                self.forget(token);
                self.remember_refusal(token, error, checks.every);
                Err(error)
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not check a personal access token"
                );
                match fresh {
                    Some(entry) => Ok(entry.principal.clone()),
                    None => Err(VerifyError::SessionUnconfirmed),
                }
            }
        }
    }

    /// Why identity refused `token`, if it did less than `every` ago.
    fn refused_lately(&self, token: &str, every: Duration) -> Option<VerifyError> {
        let refused = self.refused.lock().ok()?;
        let (at, error) = refused.get(token)?;
        (at.elapsed() < every).then_some(*error)
    }

    fn remember_refusal(&self, token: &str, error: VerifyError, every: Duration) {
        if every.is_zero() {
            return;
        }
        let Ok(mut refused) = self.refused.lock() else {
            return;
        };
        if refused.len() >= VERIFIED_CACHE_SIZE {
            refused.retain(|_, (at, _)| at.elapsed() < every);
            if refused.len() >= VERIFIED_CACHE_SIZE {
                refused.clear();
            }
        }
        refused.insert(token.to_owned(), (Instant::now(), error));
    }

    fn cached(&self, token: &str) -> Option<Verified> {
        self.verified.read().ok()?.get(token).cloned()
    }

    fn update(&self, token: &str, change: impl FnOnce(&mut Verified)) {
        if let Ok(mut verified) = self.verified.write()
            && let Some(entry) = verified.get_mut(token)
        {
            change(entry);
        }
    }

    fn forget(&self, token: &str) {
        if let Ok(mut verified) = self.verified.write() {
            verified.remove(token);
        }
    }

    fn remember(&self, token: &str, entry: Verified, now: i64) {
        let Ok(mut verified) = self.verified.write() else {
            return;
        };
        if verified.len() >= VERIFIED_CACHE_SIZE && !verified.contains_key(token) {
            verified.retain(|_, held| held.exp > now);
            if verified.len() >= VERIFIED_CACHE_SIZE {
                verified.clear();
            }
        }
        verified.insert(token.to_owned(), entry);
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
    delegated_methods: &'static [&'static str],
    read_methods: &'static [&'static str],
}

impl AuthLayer {
    /// Authenticates with `verifier`; tokens held by a service on a user's behalf may call only
    /// `delegated_methods` (gRPC paths, `/package.Service/Method`). Until
    /// [`AuthLayer::with_read_methods`] says which methods only read, every method counts as a
    /// change (a personal access token needs `write` for it).
    pub fn new(verifier: Arc<TokenVerifier>, delegated_methods: &'static [&'static str]) -> Self {
        AuthLayer {
            verifier,
            delegated_methods,
            read_methods: &[],
        }
    }

    /// The methods of this server that change nothing: a personal access token with the `read`
    /// scope may call them; every other method needs `write`.
    pub fn with_read_methods(mut self, read_methods: &'static [&'static str]) -> Self {
        self.read_methods = read_methods;
        self
    }
}

impl<S> tower::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            layer: self.clone(),
        }
    }
}

/// Whether `principal` may call the method at `path` on a server that lets delegated tokens call
/// `delegated_methods` and whose `read_methods` change nothing. Health and reflection
/// (`/grpc.…`) only read.
pub fn may_call(
    principal: &Principal,
    path: &str,
    delegated_methods: &[&str],
    read_methods: &[&str],
) -> Result<(), Status> {
    let Principal::User(user) = principal else {
        return Ok(());
    };
    if user.is_delegated() && !delegated_methods.contains(&path) {
        return Err(Status::permission_denied(
            "a token held by a service on a user's behalf may only read what a report needs",
        ));
    }
    if let Some(limits) = &user.token {
        let reads = path.starts_with("/grpc.") || read_methods.contains(&path);
        let (allowed, missing) = if reads {
            (limits.may_read(), "read")
        } else {
            (limits.may_write(), "write")
        };
        if !allowed {
            return Err(Status::permission_denied(format!(
                "this personal access token lacks the `{missing}` scope this method needs"
            )));
        }
    }
    Ok(())
}

/// The service made by [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    layer: AuthLayer,
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
        let AuthLayer {
            verifier,
            delegated_methods,
            read_methods,
        } = self.layer.clone();
        Box::pin(async move {
            request.extensions_mut().remove::<Principal>();
            if let Some(value) = request.headers().get(http::header::AUTHORIZATION) {
                let token = value.to_str().ok().and_then(bearer_token);
                let outcome = match token {
                    Some(token) => verifier.authenticate(token).await,
                    None => Err(VerifyError::Invalid),
                };
                let principal = match outcome {
                    Ok(principal) => principal,
                    Err(error) => return Ok(error.status().into_http()),
                };
                let path = request.uri().path();
                if let Err(status) = may_call(&principal, path, delegated_methods, read_methods) {
                    return Ok(status.into_http());
                }
                request.extensions_mut().insert(principal);
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

    /// An Ed25519 key made for these tests only, and its public half.
    const TEST_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOXp0JjoKvHYUreFtKQa+EAUoDr8Dra1cQgGv9j/bBc7
-----END PRIVATE KEY-----
";
    const TEST_KEY_X: &str = "1xulpbU5oVtHuf_iaJV5RRbkVNQakQqDBq8EOFfRUvY";
    /// A second one, the next signing key of the rotation tests.
    const NEXT_KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIOC8ShODqa2lJEvGxfLpSF2OZc/XPi50DOGy0RBLtyOV
-----END PRIVATE KEY-----
";
    const NEXT_KEY_X: &str = "dTEAY9bV7JOUGMYj4QgJOtswzgpUCgn8LkjBQihlHz0";

    fn jwk(kid: &str, x: &str) -> Jwk {
        Jwk {
            kty: "OKP".into(),
            crv: "Ed25519".into(),
            x: x.into(),
            kid: kid.into(),
            alg: "EdDSA".into(),
            r#use: "sig".into(),
        }
    }

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(
            "swatter",
            "swatter",
            StaticJwks(vec![jwk("test", TEST_KEY_X)]),
        )
    }

    /// Claims of an admin's access token issued `issued_in` seconds from now.
    fn admin_claims(issued_in: i64) -> Claims {
        let now = chrono_now();
        Claims {
            sub: Uuid::new_v4().to_string(),
            username: "alice".into(),
            admin: true,
            typ: TYP_ACCESS.into(),
            iss: "swatter".into(),
            aud: "swatter".into(),
            iat: now + issued_in,
            exp: now + 600,
            jti: Uuid::new_v4().to_string(),
            act: None,
        }
    }

    fn sign(claims: &Claims) -> String {
        sign_with(TEST_KEY_PEM, "test", claims)
    }

    fn sign_with(pem: &str, kid: &str, claims: &Claims) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::EdDSA);
        header.kid = Some(kid.into());
        let key = jsonwebtoken::EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    /// The JWK set identity publishes, as the test changes it through a rotation.
    #[derive(Clone, Default)]
    struct Published(Arc<std::sync::Mutex<Vec<Jwk>>>);

    impl Published {
        fn set(&self, keys: Vec<Jwk>) {
            *self.0.lock().unwrap() = keys;
        }
    }

    #[async_trait]
    impl JwksSource for Published {
        async fn fetch(&self) -> anyhow::Result<Vec<Jwk>> {
            Ok(self.0.lock().unwrap().clone())
        }
    }

    #[tokio::test]
    async fn through_a_key_rotation_old_tokens_verify_until_they_expire_or_their_key_is_withdrawn()
    {
        let published = Published::default();
        published.set(vec![jwk("old", TEST_KEY_X)]);
        let verifier = TokenVerifier::new("swatter", "swatter", published.clone())
            .with_key_refresh(Duration::ZERO, Duration::from_millis(300));
        verifier.refresh().await.unwrap();
        let before = sign_with(TEST_KEY_PEM, "old", &admin_claims(0));
        let mut lapsed = admin_claims(-900);
        lapsed.exp = chrono_now() - LEEWAY_SECS - 60;
        let lapsed = sign_with(TEST_KEY_PEM, "old", &lapsed);
        assert!(verifier.authenticate(&before).await.is_ok());

        // Identity signs with the new key and publishes both: the new kid fetches them.
        published.set(vec![jwk("new", NEXT_KEY_X), jwk("old", TEST_KEY_X)]);
        let after = sign_with(NEXT_KEY_PEM, "new", &admin_claims(0));
        assert!(verifier.authenticate(&after).await.is_ok());
        assert!(verifier.authenticate(&before).await.is_ok());
        assert_eq!(
            verifier.authenticate(&lapsed).await,
            Err(VerifyError::Expired)
        );

        // The old key is withdrawn: once the keys held are stale, its tokens are refused, even
        // one verified (and remembered) before.
        published.set(vec![jwk("new", NEXT_KEY_X)]);
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            verifier.authenticate(&before).await,
            Err(VerifyError::Invalid)
        );
        assert!(verifier.authenticate(&after).await.is_ok());
    }

    #[tokio::test]
    async fn an_unknown_kid_fetches_the_keys_at_most_once_per_cooldown() {
        let published = Published::default();
        published.set(vec![jwk("old", TEST_KEY_X)]);
        let verifier = TokenVerifier::new("swatter", "swatter", published.clone())
            .with_key_refresh(Duration::from_millis(300), KEYS_MAX_AGE);
        verifier.refresh().await.unwrap();
        published.set(vec![jwk("new", NEXT_KEY_X), jwk("old", TEST_KEY_X)]);
        let after = sign_with(NEXT_KEY_PEM, "new", &admin_claims(0));

        let cooling_down = verifier.authenticate(&after).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        let cooled_down = verifier.authenticate(&after).await;

        assert_eq!(cooling_down, Err(VerifyError::Invalid));
        assert!(cooled_down.is_ok(), "{cooled_down:?}");
    }

    fn admin_of(principal: &Principal) -> bool {
        matches!(principal, Principal::User(user) if user.admin)
    }

    #[tokio::test]
    async fn a_token_issued_in_the_future_beyond_the_leeway_is_refused() {
        let verifier = verifier();

        let now = verifier.verify(&sign(&admin_claims(0))).await;
        let within_leeway = verifier.verify(&sign(&admin_claims(LEEWAY_SECS - 5))).await;
        let beyond = verifier
            .verify(&sign(&admin_claims(LEEWAY_SECS + 60)))
            .await;

        assert!(now.is_ok(), "{now:?}");
        assert!(within_leeway.is_ok(), "{within_leeway:?}");
        assert_eq!(beyond, Err(VerifyError::Invalid));
    }

    /// A session source whose answer the test sets (`None`: identity unreachable).
    #[derive(Clone, Default)]
    struct Scripted {
        answer: Arc<std::sync::Mutex<Option<Session>>>,
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl Scripted {
        fn answer(&self, answer: Option<Session>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn calls(&self) -> usize {
            self.calls.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl SessionSource for Scripted {
        async fn check(&self, _: &str, _: &UserPrincipal, _: i64) -> anyhow::Result<Session> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            (*self.answer.lock().unwrap()).ok_or_else(|| anyhow::anyhow!("unreachable"))
        }
    }

    #[tokio::test]
    async fn a_session_is_asked_once_per_interval_and_its_answer_decides_admin() {
        let source = Scripted::default();
        let verifier = verifier().with_sessions(source.clone(), Duration::from_millis(300));
        let token = sign(&admin_claims(0));

        // Demoted since the token was issued: identity's answer wins over the claim.
        source.answer(Some(Session::Active { admin: false }));
        let first = verifier.authenticate(&token).await.unwrap();
        let again = verifier.authenticate(&token).await.unwrap();
        assert!(!admin_of(&first) && !admin_of(&again));
        assert_eq!(source.calls(), 1, "one question per interval");

        // Disabled: the answer held until the interval is over, then refused.
        source.answer(Some(Session::Ended));
        assert!(verifier.authenticate(&token).await.is_ok());
        tokio::time::sleep(Duration::from_millis(350)).await;
        assert_eq!(
            verifier.authenticate(&token).await,
            Err(VerifyError::SessionEnded)
        );
        assert_eq!(
            verifier.authenticate(&token).await,
            Err(VerifyError::SessionEnded)
        );
    }

    #[tokio::test]
    async fn while_identity_is_unreachable_the_last_answer_holds_for_the_grace_period_only() {
        let source = Scripted::default();
        let verifier = verifier().with_session_grace(
            source.clone(),
            Duration::ZERO,
            Duration::from_millis(300),
        );
        let token = sign(&admin_claims(0));
        source.answer(Some(Session::Active { admin: true }));
        assert!(admin_of(&verifier.authenticate(&token).await.unwrap()));

        source.answer(None);
        let during_grace = verifier.authenticate(&token).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        let after_grace = verifier.authenticate(&token).await;
        let never_confirmed = verifier.authenticate(&sign(&admin_claims(0))).await;

        assert!(during_grace.is_ok_and(|p| admin_of(&p)));
        assert_eq!(after_grace, Err(VerifyError::SessionUnconfirmed));
        assert_eq!(never_confirmed, Err(VerifyError::SessionUnconfirmed));
        assert_eq!(
            VerifyError::SessionUnconfirmed.status().code(),
            tonic::Code::Unavailable
        );
        assert_eq!(
            VerifyError::SessionEnded.status().code(),
            tonic::Code::Unauthenticated
        );
    }

    #[tokio::test]
    async fn a_token_held_for_a_user_has_no_admin_power_and_calls_only_listed_methods() {
        let source = Scripted::default();
        source.answer(Some(Session::Active { admin: true }));
        let verifier = verifier().with_sessions(source, Duration::ZERO);
        let mut claims = admin_claims(0);
        claims.act = Some(Actor {
            sub: "reporting".into(),
        });

        let delegated = verifier.authenticate(&sign(&claims)).await.unwrap();
        let direct = verifier
            .authenticate(&sign(&admin_claims(0)))
            .await
            .unwrap();

        assert!(!admin_of(&delegated));
        let listed = ["/swatter.issues.v1.IssuesService/GetProject"];
        assert!(may_call(&delegated, listed[0], &listed, &[]).is_ok());
        let refused = may_call(
            &delegated,
            "/swatter.issues.v1.IssuesService/CreateProject",
            &listed,
            &[],
        );
        assert_eq!(refused.unwrap_err().code(), tonic::Code::PermissionDenied);
        assert!(
            may_call(
                &direct,
                "/swatter.issues.v1.IssuesService/CreateProject",
                &listed,
                &[]
            )
            .is_ok()
        );
    }

    /// A personal token source whose answer the test sets (`None`: identity unreachable).
    #[derive(Clone, Default)]
    struct ScriptedTokens {
        answer: Arc<std::sync::Mutex<Option<TokenStatus>>>,
        calls: Arc<std::sync::atomic::AtomicUsize>,
    }

    impl ScriptedTokens {
        fn answer(&self, answer: Option<TokenStatus>) {
            *self.answer.lock().unwrap() = answer;
        }
        fn calls(&self) -> usize {
            self.calls.load(std::sync::atomic::Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl PersonalTokenSource for ScriptedTokens {
        async fn introspect(&self, _: &str) -> anyhow::Result<TokenStatus> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.answer
                .lock()
                .unwrap()
                .clone()
                .ok_or_else(|| anyhow::anyhow!("unreachable"))
        }
    }

    fn token_user(scopes: Vec<Scope>, projects: Option<Vec<&str>>) -> UserPrincipal {
        UserPrincipal {
            id: Uuid::new_v4(),
            username: "alice".into(),
            admin: false,
            acting_service: None,
            token: Some(Arc::new(TokenLimits {
                token_id: Uuid::new_v4(),
                scopes,
                projects: projects.map(|p| p.into_iter().map(str::to_owned).collect()),
                expires_at: None,
            })),
        }
    }

    fn active(user: UserPrincipal) -> TokenStatus {
        TokenStatus::Active {
            user,
            expires_at: None,
        }
    }

    #[tokio::test]
    async fn a_personal_token_is_asked_about_once_per_interval_and_a_revocation_then_refuses_it() {
        let source = ScriptedTokens::default();
        let verifier = verifier().with_personal_tokens(source.clone(), Duration::from_millis(300));
        let token = personal_token::generate();
        source.answer(Some(active(token_user(vec![Scope::Read], None))));

        let first = verifier.authenticate(&token).await;
        let again = verifier.authenticate(&token).await;
        source.answer(Some(TokenStatus::Refused(VerifyError::TokenRevoked)));
        let within_interval = verifier.authenticate(&token).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        let after = verifier.authenticate(&token).await;

        let refused_again = verifier.authenticate(&token).await;

        assert!(first.is_ok() && again.is_ok() && within_interval.is_ok());
        assert_eq!(after, Err(VerifyError::TokenRevoked));
        assert_eq!(refused_again, Err(VerifyError::TokenRevoked));
        assert_eq!(
            source.calls(),
            2,
            "one question per interval, refusals included"
        );
        assert_eq!(
            VerifyError::from_status(&VerifyError::TokenRevoked.status()),
            Some(VerifyError::TokenRevoked)
        );
    }

    #[tokio::test]
    async fn a_mistyped_personal_token_is_refused_without_asking_and_none_is_taken_without_a_source()
     {
        let source = ScriptedTokens::default();
        let verifier = verifier().with_personal_tokens(source.clone(), Duration::ZERO);
        let mut typo = personal_token::generate();
        typo.pop();
        typo.push('!');

        assert_eq!(
            verifier.authenticate(&typo).await,
            Err(VerifyError::Invalid)
        );
        assert_eq!(source.calls(), 0);
        let without = self::verifier();
        assert_eq!(
            without.authenticate(&personal_token::generate()).await,
            Err(VerifyError::Invalid)
        );
    }

    #[tokio::test]
    async fn while_identity_is_unreachable_a_personal_tokens_last_answer_holds_for_the_grace_only()
    {
        let source = ScriptedTokens::default();
        let verifier = verifier().with_personal_token_grace(
            source.clone(),
            Duration::ZERO,
            Duration::from_millis(300),
        );
        let token = personal_token::generate();
        source.answer(Some(active(token_user(vec![Scope::Read], None))));
        assert!(verifier.authenticate(&token).await.is_ok());

        source.answer(None);
        let during_grace = verifier.authenticate(&token).await;
        tokio::time::sleep(Duration::from_millis(350)).await;
        let after_grace = verifier.authenticate(&token).await;

        assert!(during_grace.is_ok());
        assert_eq!(after_grace, Err(VerifyError::SessionUnconfirmed));
    }

    #[test]
    fn a_personal_token_calls_what_its_scopes_allow_and_health_and_reflection_always() {
        let reads = ["/swatter.issues.v1.IssuesService/GetIssue"];
        let write = "/swatter.issues.v1.IssuesService/CreateIssue";
        let reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
        let read_only = Principal::User(token_user(vec![Scope::Read], None));
        let writer = Principal::User(token_user(vec![Scope::Write], None));
        let admin_only = Principal::User(token_user(vec![Scope::Admin], None));

        let refused = may_call(&read_only, write, &[], &reads).unwrap_err();

        assert_eq!(refused.code(), tonic::Code::PermissionDenied);
        assert!(
            refused.message().contains("`write`"),
            "{}",
            refused.message()
        );
        assert!(may_call(&read_only, reads[0], &[], &reads).is_ok());
        assert!(may_call(&read_only, reflection, &[], &reads).is_ok());
        assert!(may_call(&writer, write, &[], &reads).is_ok());
        assert!(may_call(&writer, reads[0], &[], &reads).is_ok());
        assert!(may_call(&admin_only, reads[0], &[], &reads).is_err());
    }

    #[test]
    fn a_project_limit_hides_every_other_project() {
        let limited = token_user(vec![Scope::Read], Some(vec!["SWAT"]));
        let unlimited = token_user(vec![Scope::Read], None);

        assert!(limited.may_access_project("SWAT"));
        assert!(!limited.may_access_project("OPS"));
        assert_eq!(limited.project_limit(), Some(&["SWAT".to_owned()][..]));
        assert!(unlimited.may_access_project("OPS"));
        assert!(unlimited.project_limit().is_none());
        assert!(limited.require_password_login("this").is_err());
    }
}
