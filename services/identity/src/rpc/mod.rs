//! The gRPC layer: one handler per RPC, each parsing its request, checking who may call it, and
//! calling storage. The trait impl below only forwards.

mod tokens;
mod users;

use std::{collections::HashMap, sync::Arc};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use swatter_proto::identity::v1::{self as pb, identity_service_server::IdentityService};
use tonic::{Request, Response, Status};

use crate::{
    passwords::PasswordHasherPool, store::UserRow, throttle::Throttle, tokens::TokenIssuer,
};

/// What a token held by a service on a user's behalf may call here: the user names a report
/// shows, and the session check every service makes.
pub const DELEGATED_METHODS: &[&str] = &[
    "/swatter.identity.v1.IdentityService/BatchGetUsers",
    "/swatter.identity.v1.IdentityService/CheckSession",
];

/// Shared state of the identity handlers.
pub struct Identity {
    pub db: PgPool,
    pub tokens: TokenIssuer,
    pub passwords: PasswordHasherPool,
    pub refresh_ttl: chrono::Duration,
    pub signup_enabled: bool,
    pub service_clients: HashMap<String, String>,
    pub throttle: Throttle,
}

/// The tonic service.
#[derive(Clone)]
pub struct IdentityRpc(pub Arc<Identity>);

type RpcResult<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl IdentityService for IdentityRpc {
    async fn sign_up(&self, request: Request<pb::SignUpRequest>) -> RpcResult<pb::User> {
        users::sign_up(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn create_token(
        &self,
        request: Request<pb::CreateTokenRequest>,
    ) -> RpcResult<pb::TokenResponse> {
        tokens::create_token(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn revoke_token(&self, request: Request<pb::RevokeTokenRequest>) -> RpcResult<()> {
        tokens::revoke_token(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn get_me(&self, request: Request<pb::GetMeRequest>) -> RpcResult<pb::User> {
        users::get_me(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn update_me(&self, request: Request<pb::UpdateMeRequest>) -> RpcResult<pb::User> {
        users::update_me(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn change_password(&self, request: Request<pb::ChangePasswordRequest>) -> RpcResult<()> {
        users::change_password(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn search_users(
        &self,
        request: Request<pb::SearchUsersRequest>,
    ) -> RpcResult<pb::SearchUsersResponse> {
        users::search_users(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn get_user(&self, request: Request<pb::GetUserRequest>) -> RpcResult<pb::User> {
        users::get_user(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn batch_get_users(
        &self,
        request: Request<pb::BatchGetUsersRequest>,
    ) -> RpcResult<pb::BatchGetUsersResponse> {
        users::batch_get_users(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn update_user(&self, request: Request<pb::UpdateUserRequest>) -> RpcResult<pb::User> {
        users::update_user(&self.0, request)
            .await
            .map(Response::new)
            .map_err(Status::from)
    }

    async fn check_session(
        &self,
        request: Request<pb::CheckSessionRequest>,
    ) -> RpcResult<pb::SessionStatus> {
        // The authentication layer has just asked the database (disabled, voided tokens, admin).
        let user = swatter_common::auth::user(&request)?;
        Ok(Response::new(pb::SessionStatus {
            user_id: user.id.to_string(),
            admin: user.admin,
        }))
    }

    async fn get_jwks(&self, _request: Request<pb::GetJwksRequest>) -> RpcResult<pb::Jwks> {
        Ok(Response::new(pb::Jwks {
            keys: vec![self.0.tokens.key().jwk().clone()],
        }))
    }
}

/// How much of a user record the caller may see.
#[derive(Clone, Copy, PartialEq, Eq)]
enum View {
    Public,
    Full,
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
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
