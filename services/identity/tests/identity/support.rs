//! The identity service of a test (see `swatter_testkit::Stack`), with typed calls.

use std::ops::Deref;

use swatter_identity::config::{IdentityConfig, ThrottleConfig};
use swatter_proto::identity::v1::{
    self as pb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
};
use swatter_testkit::{Identity, Stack};
use tonic::{Status, transport::Channel};

pub use swatter_testkit::{ADMIN, SERVICE_CLIENT, authed, fields};

/// The running identity service: `client`, `channel`, `db`, `config` and more through `Deref`.
pub struct TestApp(Identity);

impl Deref for TestApp {
    type Target = Identity;

    fn deref(&self) -> &Identity {
        &self.0
    }
}

#[derive(Clone)]
pub struct Options {
    pub signup_enabled: bool,
    pub throttle: ThrottleConfig,
}

impl Default for Options {
    fn default() -> Self {
        let config = swatter_testkit::config::identity_for_tests("", "");
        Options {
            signup_enabled: config.signup_enabled,
            throttle: config.throttle,
        }
    }
}

impl Options {
    fn apply(self, config: &mut IdentityConfig) {
        config.signup_enabled = self.signup_enabled;
        config.throttle = self.throttle;
    }
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let stack = Stack::new()
            .identity_with(|config| options.apply(config))
            .start()
            .await;
        TestApp(stack.identity.expect("identity runs"))
    }

    /// A client of a second identity instance on the same database (another replica).
    pub async fn another_replica(&self, options: Options) -> IdentityServiceClient<Channel> {
        self.0.another_replica(|config| options.apply(config)).await
    }

    pub async fn sign_up(&self, username: &str, password: &str) -> Result<pb::User, Status> {
        self.client
            .clone()
            .sign_up(pb::SignUpRequest {
                username: username.into(),
                email: format!("{username}@example.com"),
                password: password.into(),
                full_name: Some(format!("{username} Example")),
            })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn token(&self, grant: Grant) -> Result<pb::TokenResponse, Status> {
        self.client
            .clone()
            .create_token(pb::CreateTokenRequest { grant: Some(grant) })
            .await
            .map(|r| r.into_inner())
    }

    pub async fn login(&self, username: &str, password: &str) -> Result<pb::TokenResponse, Status> {
        self.token(Grant::Password(pb::PasswordGrant {
            username: username.into(),
            password: password.into(),
        }))
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Result<pb::TokenResponse, Status> {
        self.token(Grant::RefreshToken(pb::RefreshTokenGrant {
            refresh_token: refresh_token.into(),
        }))
        .await
    }

    /// Signs up `username` and logs in.
    pub async fn user(&self, username: &str) -> (pb::User, pb::TokenResponse) {
        let user = self.sign_up(username, "correct-horse").await.unwrap();
        let tokens = self.login(username, "correct-horse").await.unwrap();
        (user, tokens)
    }

    pub async fn admin_token(&self) -> String {
        self.login(ADMIN.0, ADMIN.1).await.unwrap().access_token
    }

    pub async fn get_me(&self, access_token: &str) -> Result<pb::User, Status> {
        self.client
            .clone()
            .get_me(authed(pb::GetMeRequest {}, access_token))
            .await
            .map(|r| r.into_inner())
    }

    /// `UpdateUser` as the holder of `access_token`.
    pub async fn update_user(
        &self,
        access_token: &str,
        request: pb::UpdateUserRequest,
    ) -> Result<pb::User, Status> {
        self.client
            .clone()
            .update_user(authed(request, access_token))
            .await
            .map(|r| r.into_inner())
    }

    /// `CheckSession` for `access_token`.
    pub async fn check_session(&self, access_token: &str) -> Result<pb::SessionStatus, Status> {
        self.client
            .clone()
            .check_session(authed(pb::CheckSessionRequest {}, access_token))
            .await
            .map(|r| r.into_inner())
    }

    /// What the report worker gets: a token for `user_id` held by the reporting service.
    pub async fn delegated_token(&self, user_id: &str) -> pb::TokenResponse {
        self.token(Grant::ClientCredentials(pb::ClientCredentialsGrant {
            client_id: SERVICE_CLIENT.0.into(),
            client_secret: SERVICE_CLIENT.1.into(),
            subject_user_id: Some(user_id.into()),
        }))
        .await
        .unwrap()
    }
}
