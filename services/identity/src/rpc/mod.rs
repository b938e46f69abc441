//! The gRPC layer: one handler per RPC, each parsing its request, checking who may call it, and
//! calling storage; `users` and `tokens` group them. The trait impl below only forwards.

mod personal_tokens;
mod tokens;
mod users;

use std::{collections::HashMap, sync::Arc};

use sqlx::PgPool;
use swatter_common::rpc::{RpcResult, respond, timestamp};
use swatter_proto::identity::v1::{self as pb, identity_service_server::IdentityService};
use tonic::Request;

use crate::{
    passwords::PasswordHasherPool, store::UserRow, throttle::Throttle, tokens::TokenIssuer,
};

/// What a token held by a service on a user's behalf may call here: the user names a report
/// shows, and the session check every service makes.
pub const DELEGATED_METHODS: &[&str] = &[
    "/swatter.identity.v1.IdentityService/BatchGetUsers",
    "/swatter.identity.v1.IdentityService/CheckSession",
];

/// The methods here that change nothing: a personal access token with only the `read` scope may
/// call them.
pub const READ_METHODS: &[&str] = &[
    "/swatter.identity.v1.IdentityService/GetMe",
    "/swatter.identity.v1.IdentityService/SearchUsers",
    "/swatter.identity.v1.IdentityService/GetUser",
    "/swatter.identity.v1.IdentityService/BatchGetUsers",
    "/swatter.identity.v1.IdentityService/GetJwks",
    "/swatter.identity.v1.IdentityService/CheckSession",
    "/swatter.identity.v1.IdentityService/ListPersonalAccessTokens",
];

/// Shared state of the identity handlers.
pub struct Identity {
    pub db: PgPool,
    pub tokens: TokenIssuer,
    pub passwords: PasswordHasherPool,
    pub refresh_ttl: chrono::Duration,
    pub signup_enabled: bool,
    pub pat_allow_no_expiry: bool,
    pub service_clients: HashMap<String, String>,
    pub throttle: Throttle,
}

/// The tonic service.
#[derive(Clone)]
pub struct IdentityRpc(pub Arc<Identity>);

#[tonic::async_trait]
impl IdentityService for IdentityRpc {
    async fn sign_up(&self, r: Request<pb::SignUpRequest>) -> RpcResult<pb::User> {
        respond(users::sign_up(&self.0, r).await)
    }
    async fn create_token(
        &self,
        r: Request<pb::CreateTokenRequest>,
    ) -> RpcResult<pb::TokenResponse> {
        respond(tokens::create_token(&self.0, r).await)
    }
    async fn revoke_token(&self, r: Request<pb::RevokeTokenRequest>) -> RpcResult<()> {
        respond(tokens::revoke_token(&self.0, r).await)
    }
    async fn get_me(&self, r: Request<pb::GetMeRequest>) -> RpcResult<pb::User> {
        respond(users::get_me(&self.0, r).await)
    }
    async fn update_me(&self, r: Request<pb::UpdateMeRequest>) -> RpcResult<pb::User> {
        respond(users::update_me(&self.0, r).await)
    }
    async fn change_password(&self, r: Request<pb::ChangePasswordRequest>) -> RpcResult<()> {
        respond(users::change_password(&self.0, r).await)
    }
    async fn search_users(
        &self,
        r: Request<pb::SearchUsersRequest>,
    ) -> RpcResult<pb::SearchUsersResponse> {
        respond(users::search_users(&self.0, r).await)
    }
    async fn get_user(&self, r: Request<pb::GetUserRequest>) -> RpcResult<pb::User> {
        respond(users::get_user(&self.0, r).await)
    }
    async fn batch_get_users(
        &self,
        r: Request<pb::BatchGetUsersRequest>,
    ) -> RpcResult<pb::BatchGetUsersResponse> {
        respond(users::batch_get_users(&self.0, r).await)
    }
    async fn update_user(&self, r: Request<pb::UpdateUserRequest>) -> RpcResult<pb::User> {
        respond(users::update_user(&self.0, r).await)
    }
    async fn check_session(
        &self,
        r: Request<pb::CheckSessionRequest>,
    ) -> RpcResult<pb::SessionStatus> {
        respond(tokens::check_session(r))
    }
    async fn get_jwks(&self, r: Request<pb::GetJwksRequest>) -> RpcResult<pb::Jwks> {
        respond(tokens::get_jwks(&self.0, r))
    }
    async fn create_personal_access_token(
        &self,
        r: Request<pb::CreatePersonalAccessTokenRequest>,
    ) -> RpcResult<pb::CreatedPersonalAccessToken> {
        respond(personal_tokens::create(&self.0, r).await)
    }
    async fn list_personal_access_tokens(
        &self,
        r: Request<pb::ListPersonalAccessTokensRequest>,
    ) -> RpcResult<pb::ListPersonalAccessTokensResponse> {
        respond(personal_tokens::list(&self.0, r).await)
    }
    async fn revoke_personal_access_token(
        &self,
        r: Request<pb::RevokePersonalAccessTokenRequest>,
    ) -> RpcResult<pb::PersonalAccessToken> {
        respond(personal_tokens::revoke(&self.0, r).await)
    }
}

/// How much of a user record the caller may see.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Public,
    Full,
}

fn user_message(row: UserRow, view: View) -> pb::User {
    let full = view == View::Full;
    pb::User {
        id: row.id.to_string(),
        username: row.username,
        full_name: row.full_name,
        email: full.then_some(row.email),
        admin: full.then_some(row.admin),
        disabled: full.then_some(row.disabled),
        created_at: full.then(|| timestamp(row.created_at)),
    }
}
