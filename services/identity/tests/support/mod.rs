//! Starts the identity service in-process on 127.0.0.1:0 with a fresh database, and offers a
//! typed client.

#![allow(dead_code)]

use std::{collections::HashMap, time::Duration};

use swatter_common::testing::TestDatabase;
use swatter_identity::{
    MIGRATOR,
    config::{BootstrapAdmin, IdentityConfig, ThrottleConfig},
    startup::Application,
};
use swatter_proto::identity::v1::{
    self as pb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
};
use tonic::{Request, Status, transport::Channel};

pub const ADMIN: (&str, &str) = ("admin", "swatter-admin");
pub const SERVICE_CLIENT: (&str, &str) = (
    "reporting",
    "test-reporting-secret-of-32-characters-or-more",
);

pub struct TestApp {
    pub client: IdentityServiceClient<Channel>,
    pub channel: Channel,
    pub db: TestDatabase,
    pub signing_key_pem: String,
    /// Where identity serves `GET /metrics`.
    pub metrics_addr: std::net::SocketAddr,
}

#[derive(Clone)]
pub struct Options {
    pub signup_enabled: bool,
    pub throttle: ThrottleConfig,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            signup_enabled: true,
            // Tests sign many users up from one address; the throttling tests set their limits.
            throttle: ThrottleConfig {
                signups_per_client_per_hour: 0,
                ..ThrottleConfig::default()
            },
        }
    }
}

/// One running identity instance: where it serves gRPC and `GET /metrics`.
struct Instance {
    addr: std::net::SocketAddr,
    metrics_addr: std::net::SocketAddr,
}

async fn start_instance(database_url: &str, signing_key_pem: &str, options: Options) -> Instance {
    let config = IdentityConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        database_url: database_url.to_owned(),
        database_max_connections: 5,
        run_migrations: true,
        signing_key_pem: signing_key_pem.to_owned(),
        issuer: "swatter".into(),
        audience: "swatter".into(),
        access_token_ttl: Duration::from_secs(900),
        refresh_token_ttl: Duration::from_secs(3600),
        signup_enabled: options.signup_enabled,
        bootstrap_admin: Some(BootstrapAdmin {
            username: ADMIN.0.into(),
            password: ADMIN.1.into(),
            email: "admin@swatter.test".into(),
        }),
        service_clients: HashMap::from([(
            SERVICE_CLIENT.0.to_owned(),
            SERVICE_CLIENT.1.to_owned(),
        )]),
        password_hash_concurrency: 2,
        metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        throttle: options.throttle,
    };
    let app = Application::build(config).await.expect("build identity");
    let instance = Instance {
        addr: app.local_addr(),
        metrics_addr: app.metrics_addr().expect("metrics are on"),
    };
    tokio::spawn(app.run_until(std::future::pending()));
    instance
}

async fn connect(addr: std::net::SocketAddr) -> Channel {
    Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .expect("connect to identity")
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let db = TestDatabase::create(&MIGRATOR).await;
        let signing_key_pem = swatter_identity::tokens::SigningKey::generate_pem().unwrap();
        let instance = start_instance(&db.url, &signing_key_pem, options).await;
        let channel = connect(instance.addr).await;
        TestApp {
            client: IdentityServiceClient::new(channel.clone()),
            channel,
            db,
            signing_key_pem,
            metrics_addr: instance.metrics_addr,
        }
    }

    /// A client of a second identity instance on the same database (another replica).
    pub async fn another_replica(&self, options: Options) -> IdentityServiceClient<Channel> {
        let instance = start_instance(&self.db.url, &self.signing_key_pem, options).await;
        IdentityServiceClient::new(connect(instance.addr).await)
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
}

impl TestApp {
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

/// The fields a status's violations name, sorted.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    let mut fields: Vec<String> = swatter_common::status::violations(status)
        .into_iter()
        .map(|v| v.field)
        .collect();
    fields.sort();
    fields
}

/// `message` with `authorization: Bearer <token>`.
pub fn authed<T>(message: T, token: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii token"),
    );
    request
}
