//! Handlers of the token endpoint: password, refresh and client-credentials grants, and revocation.

use std::net::IpAddr;

use chrono::Utc;
use subtle::ConstantTimeEq;
use swatter_common::{
    auth,
    input::{self, Lines},
    status::Violation,
};
use swatter_proto::identity::v1::{self as pb, create_token_request::Grant};
use tonic::Request;
use uuid::Uuid;

use super::Identity;
use crate::{
    domain::Username,
    error::{IdentityError, Result},
    sessions,
    store::{self, UserRow},
    throttle,
    tokens::{Subject, hash_refresh_token, new_refresh_token},
};

const BAD_CREDENTIALS: &str = "invalid username or password";
const BAD_REFRESH_TOKEN: &str = "the refresh token is invalid, expired or revoked";

pub(super) async fn create_token(
    identity: &Identity,
    request: Request<pb::CreateTokenRequest>,
) -> Result<pb::TokenResponse> {
    let client = throttle::client_address(&request, identity.throttle.trusted_proxies());
    match request.into_inner().grant {
        Some(Grant::Password(grant)) => password_grant(identity, grant, client).await,
        Some(Grant::RefreshToken(grant)) => refresh_grant(identity, grant).await,
        Some(Grant::ClientCredentials(grant)) => client_credentials_grant(identity, grant).await,
        None => Err(IdentityError::invalid(Violation::new(
            "grant_type",
            "must be password, refresh_token or client_credentials",
        ))),
    }
}

async fn password_grant(
    identity: &Identity,
    grant: pb::PasswordGrant,
    client: IpAddr,
) -> Result<pb::TokenResponse> {
    // Usernames are lower case by rule; accept any case at login. A name no account can have
    // (control characters, too long) is a wrong credential, and never reaches the database.
    let username = Username::parse(&grant.username.trim().to_lowercase())
        .map_err(|_| IdentityError::Unauthenticated(BAD_CREDENTIALS))?;
    let attempt = identity
        .throttle
        .begin_login(username.as_str(), client)
        .await?;
    if !attempt.slowdown.is_zero() {
        tracing::info!(
            slowdown_ms = attempt.slowdown.as_millis() as u64,
            "login slowed down: too many failures for this username"
        );
        tokio::time::sleep(attempt.slowdown).await;
    }
    let user = store::user_by_username(&identity.db, username.as_str()).await?;
    let stored_hash = user.as_ref().map(|u| u.password_hash.clone());
    let matches = identity
        .passwords
        .verify(grant.password, stored_hash)
        .await?;
    if matches {
        identity.throttle.login_succeeded(&attempt).await?;
    }
    let user = match user {
        Some(user) if matches => user,
        _ => return Err(IdentityError::Unauthenticated(BAD_CREDENTIALS)),
    };
    if user.disabled {
        return Err(IdentityError::Unauthenticated("this account is disabled"));
    }
    let mut tx = identity.db.begin().await?;
    let refresh_token = issue_refresh_token(identity, &mut tx, user.id, Uuid::now_v7()).await?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, "login");
    token_response(identity, &user, Some(refresh_token))
}

async fn refresh_grant(
    identity: &Identity,
    grant: pb::RefreshTokenGrant,
) -> Result<pb::TokenResponse> {
    if check_refresh_token(&grant.refresh_token).is_err() {
        return Err(IdentityError::Unauthenticated(BAD_REFRESH_TOKEN));
    }
    let hash = hash_refresh_token(&grant.refresh_token);
    let mut tx = identity.db.begin().await?;
    let Some(token) = store::lock_refresh_token(&mut tx, &hash).await? else {
        return Err(IdentityError::Unauthenticated(BAD_REFRESH_TOKEN));
    };
    if token.revoked_at.is_some() {
        return Err(IdentityError::Unauthenticated(BAD_REFRESH_TOKEN));
    }
    if token.used_at.is_some() {
        // Someone presents a token that was already exchanged: either the client or a thief
        // holds a stale copy. End the whole login so neither can go on with it.
        let revoked = store::revoke_refresh_family(&mut *tx, token.family_id).await?;
        tx.commit().await?;
        tracing::warn!(
            user_id = %token.user_id,
            family_id = %token.family_id,
            revoked,
            "refresh token reused; its family is revoked"
        );
        return Err(IdentityError::Unauthenticated(BAD_REFRESH_TOKEN));
    }
    if token.expires_at <= Utc::now() {
        return Err(IdentityError::Unauthenticated(BAD_REFRESH_TOKEN));
    }
    let user = store::user_by_id(&mut *tx, token.user_id).await?;
    let user = match user {
        Some(user) if !user.disabled => user,
        _ => {
            store::revoke_refresh_family(&mut *tx, token.family_id).await?;
            tx.commit().await?;
            return Err(IdentityError::Unauthenticated("this account is disabled"));
        }
    };
    store::mark_refresh_token_used(&mut *tx, token.id).await?;
    let refresh_token = issue_refresh_token(identity, &mut tx, user.id, token.family_id).await?;
    tx.commit().await?;
    token_response(identity, &user, Some(refresh_token))
}

async fn client_credentials_grant(
    identity: &Identity,
    grant: pb::ClientCredentialsGrant,
) -> Result<pb::TokenResponse> {
    let known = identity.service_clients.get(&grant.client_id);
    let secret_ok = known
        .is_some_and(|secret| bool::from(secret.as_bytes().ct_eq(grant.client_secret.as_bytes())));
    if !secret_ok {
        return Err(IdentityError::Unauthenticated("invalid client credentials"));
    }
    let now = Utc::now();
    let (access_token, expires_in) = match grant.subject_user_id.as_deref() {
        None => {
            let subject = Subject::Service {
                client_id: &grant.client_id,
            };
            (
                identity.tokens.access_token(subject, now)?,
                identity.tokens.ttl_secs(subject),
            )
        }
        Some(raw) => {
            let id: Uuid = raw.parse().map_err(|_| {
                IdentityError::invalid(Violation::new("subject_user_id", "is not a UUID"))
            })?;
            let user = store::user_by_id(&identity.db, id)
                .await?
                .ok_or(IdentityError::NotFound("user"))?;
            if user.disabled {
                return Err(IdentityError::Forbidden("the subject user is disabled"));
            }
            let subject = Subject::User {
                id: user.id,
                username: &user.username,
                admin: false,
                acting_service: Some(&grant.client_id),
            };
            (
                identity
                    .tokens
                    .access_token(subject, sessions::issue_time(&user, now))?,
                identity.tokens.ttl_secs(subject),
            )
        }
    };
    Ok(pb::TokenResponse {
        access_token,
        token_type: "Bearer".into(),
        expires_in,
        refresh_token: String::new(),
    })
}

/// The caller's session as the authentication layer has just checked it against the database
/// (disabled, voided tokens, admin).
pub(super) fn check_session(
    request: Request<pb::CheckSessionRequest>,
) -> Result<pb::SessionStatus> {
    let user = auth::user(&request)?;
    let personal_token = user.token.as_ref().map(|limits| pb::PersonalTokenGrant {
        id: limits.token_id.to_string(),
        scopes: limits
            .scopes
            .iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        projects: limits.projects.as_ref().map(|keys| pb::ProjectKeys {
            keys: keys.to_vec(),
        }),
        expires_at: limits
            .expires_at
            .map(|seconds| prost_types::Timestamp { seconds, nanos: 0 }),
    });
    Ok(pb::SessionStatus {
        user_id: user.id.to_string(),
        admin: user.admin,
        username: user.username.clone(),
        personal_token,
    })
}

pub(super) fn get_jwks(
    identity: &Identity,
    _request: Request<pb::GetJwksRequest>,
) -> Result<pb::Jwks> {
    Ok(pb::Jwks {
        keys: identity.tokens.jwks(),
    })
}

pub(super) async fn revoke_token(
    identity: &Identity,
    request: Request<pb::RevokeTokenRequest>,
) -> Result<()> {
    let token = request.into_inner().refresh_token;
    // RFC 7009 §2.2: an invalid token is not an error; the client's goal (it is unusable)
    // holds. Text that no refresh token can be never reaches the database.
    if check_refresh_token(&token).is_err() {
        return Ok(());
    }
    let hash = hash_refresh_token(&token);
    if let Some(family_id) = store::family_of_refresh_token(&identity.db, &hash).await? {
        let revoked = store::revoke_refresh_family(&identity.db, family_id).await?;
        tracing::info!(%family_id, revoked, "login revoked");
    }
    Ok(())
}

/// Refresh tokens are 43 URL-safe characters; anything much longer or with control characters
/// is none.
fn check_refresh_token(token: &str) -> std::result::Result<(), Violation> {
    input::check_text("refresh_token", token, 256, Lines::One)
}

async fn issue_refresh_token(
    identity: &Identity,
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    user_id: Uuid,
    family_id: Uuid,
) -> Result<String> {
    let (token, hash) = new_refresh_token();
    let expires_at = Utc::now() + identity.refresh_ttl;
    store::insert_refresh_token(&mut **tx, user_id, family_id, &hash, expires_at).await?;
    Ok(token)
}

fn token_response(
    identity: &Identity,
    user: &UserRow,
    refresh_token: Option<String>,
) -> Result<pb::TokenResponse> {
    let subject = Subject::User {
        id: user.id,
        username: &user.username,
        admin: user.admin,
        acting_service: None,
    };
    Ok(pb::TokenResponse {
        access_token: identity
            .tokens
            .access_token(subject, sessions::issue_time(user, Utc::now()))?,
        token_type: "Bearer".into(),
        expires_in: identity.tokens.ttl_secs(subject),
        refresh_token: refresh_token.unwrap_or_default(),
    })
}
