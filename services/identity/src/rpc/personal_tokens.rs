//! Handlers of personal access tokens: create (the secret is answered once), list and revoke,
//! for oneself or, for admins, for anyone. Only a password login manages tokens: a token that
//! could mint tokens could make itself an unlimited one.

use chrono::{Duration, Utc};
use swatter_common::{
    auth::{self, UserPrincipal},
    pagination, personal_token,
    rpc::timestamp,
    status::Violation,
};
use swatter_proto::identity::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::Identity;
use crate::{
    domain::{RawTokenRequest, TokenRequest},
    error::{IdentityError, Result},
    store::{self, NewPersonalToken, PersonalTokenRow},
};

/// The caller, when a password login of a user (not a service, not a token).
fn manager<T>(request: &Request<T>) -> Result<UserPrincipal> {
    let user = auth::user(request)?;
    if user.is_delegated() {
        return Err(IdentityError::Forbidden(
            "a token held by a service cannot manage personal access tokens",
        ));
    }
    user.require_password_login("managing personal access tokens")?;
    Ok(user.clone())
}

/// Whose tokens a request is about: the caller's (empty `user_id`), or for an admin anyone's.
fn owner(caller: &UserPrincipal, raw: &str) -> Result<Uuid> {
    if raw.is_empty() {
        return Ok(caller.id);
    }
    let id: Uuid = raw
        .parse()
        .map_err(|_| IdentityError::invalid(Violation::new("user_id", "is not a UUID")))?;
    if id != caller.id && !caller.admin {
        return Err(IdentityError::Forbidden(
            "only admins may manage other users' personal access tokens",
        ));
    }
    Ok(id)
}

pub(super) async fn create(
    identity: &Identity,
    request: Request<pb::CreatePersonalAccessTokenRequest>,
) -> Result<pb::CreatedPersonalAccessToken> {
    let caller = manager(&request)?;
    let req = request.into_inner();
    let parsed = TokenRequest::parse(
        &RawTokenRequest {
            name: &req.name,
            scopes: &req.scopes,
            projects: req.projects.as_ref().map(|p| p.keys.as_slice()),
            expires_in_days: req.expires_in_days,
            never_expires: req.never_expires,
        },
        caller.admin,
        identity.pat_allow_no_expiry,
    )
    .map_err(IdentityError::Invalid)?;
    let secret = personal_token::generate();
    let scopes: Vec<String> = parsed
        .scopes
        .iter()
        .map(|scope| scope.as_str().to_owned())
        .collect();
    let row = store::insert_personal_token(
        &identity.db,
        &NewPersonalToken {
            user_id: caller.id,
            name: &parsed.name,
            token_hash: &personal_token::hash(&secret),
            prefix: &personal_token::display_prefix(&secret),
            scopes: &scopes,
            project_keys: parsed.projects.as_deref(),
            expires_at: parsed
                .lifetime_days
                .map(|days| Utc::now() + Duration::days(i64::from(days))),
        },
    )
    .await?;
    tracing::info!(user_id = %caller.id, token_id = %row.id, scopes = ?scopes, "personal access token created");
    Ok(pb::CreatedPersonalAccessToken {
        token: Some(token_message(row)),
        secret,
    })
}

pub(super) async fn list(
    identity: &Identity,
    request: Request<pb::ListPersonalAccessTokensRequest>,
) -> Result<pb::ListPersonalAccessTokensResponse> {
    let caller = manager(&request)?;
    let req = request.into_inner();
    let user_id = owner(&caller, &req.user_id)?;
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(IdentityError::invalid)?;
    let mut rows = store::live_personal_tokens(&identity.db, user_id, after, limit + 1).await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |t| (t.created_at, t.id));
    Ok(pb::ListPersonalAccessTokensResponse {
        tokens: rows.into_iter().map(token_message).collect(),
        next_page_token,
    })
}

pub(super) async fn revoke(
    identity: &Identity,
    request: Request<pb::RevokePersonalAccessTokenRequest>,
) -> Result<pb::PersonalAccessToken> {
    let caller = manager(&request)?;
    let req = request.into_inner();
    let user_id = owner(&caller, &req.user_id)?;
    let id: Uuid = req
        .id
        .parse()
        .map_err(|_| IdentityError::NotFound("personal access token"))?;
    let row = store::revoke_personal_token(&identity.db, user_id, id)
        .await?
        .ok_or(IdentityError::NotFound("personal access token"))?;
    tracing::info!(by = %caller.id, user_id = %user_id, token_id = %id, "personal access token revoked");
    Ok(token_message(row))
}

fn token_message(row: PersonalTokenRow) -> pb::PersonalAccessToken {
    pb::PersonalAccessToken {
        id: row.id.to_string(),
        user_id: row.user_id.to_string(),
        name: row.name,
        scopes: row.scopes,
        projects: row.project_keys.map(|keys| pb::ProjectKeys { keys }),
        created_at: Some(timestamp(row.created_at)),
        expires_at: row.expires_at.map(timestamp),
        last_used_at: row.last_used_at.map(timestamp),
        prefix: row.prefix,
        revoked_at: row.revoked_at.map(timestamp),
    }
}
