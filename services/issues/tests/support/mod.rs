//! Starts identity and issues in-process on 127.0.0.1:0, each with a fresh database, and offers
//! typed helpers.

#![allow(dead_code)]

use std::{collections::HashMap, time::Duration};

use swatter_common::testing::TestDatabase;
use swatter_identity::config::{BootstrapAdmin, IdentityConfig, ThrottleConfig};
use swatter_issues::config::IssuesConfig;
use swatter_proto::{
    identity::v1::{
        self as idpb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
    },
    issues::v1::{self as pb, issues_service_client::IssuesServiceClient},
};
use tonic::{Request, Status, transport::Channel};

pub struct TestApp {
    pub identity: IdentityServiceClient<Channel>,
    pub issues: IssuesServiceClient<Channel>,
    pub channel: Channel,
    pub db: TestDatabase,
    /// Where the issues service serves `GET /metrics`.
    pub metrics_addr: std::net::SocketAddr,
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

/// `message` sent as `user`.
pub fn req<T>(message: T, user: &User) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", user.token).parse().unwrap(),
    );
    request
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let identity_db = TestDatabase::create(&swatter_identity::MIGRATOR).await;
        let identity = swatter_identity::startup::Application::build(IdentityConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: identity_db.url.clone(),
            database_max_connections: 5,
            run_migrations: true,
            signing_key_pem: swatter_identity::tokens::SigningKey::generate_pem().unwrap(),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(3600),
            signup_enabled: true,
            bootstrap_admin: Some(BootstrapAdmin {
                username: "admin".into(),
                password: "swatter-admin".into(),
                email: "admin@swatter.test".into(),
            }),
            service_clients: HashMap::new(),
            password_hash_concurrency: 2,
            metrics_addr: None,
            // Tests sign many users up from one address.
            throttle: ThrottleConfig {
                signups_per_client_per_hour: 0,
                ..ThrottleConfig::default()
            },
        })
        .await
        .expect("build identity");
        let identity_url = format!("http://{}", identity.local_addr());
        tokio::spawn(identity.run_until(std::future::pending()));

        let db = TestDatabase::create(&swatter_issues::MIGRATOR).await;
        let issues = swatter_issues::startup::Application::build(IssuesConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: db.url.clone(),
            database_max_connections: 10,
            run_migrations: true,
            identity_url: identity_url.clone(),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            // Ask identity about sessions at every request: tests see changes at once.
            session_check_interval: Duration::ZERO,
            metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        })
        .await
        .expect("build issues");
        let issues_url = format!("http://{}", issues.local_addr());
        let metrics_addr = issues.metrics_addr().expect("metrics are on");
        tokio::spawn(issues.run_until(std::future::pending()));

        let identity_channel = Channel::from_shared(identity_url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        let channel = Channel::from_shared(issues_url)
            .unwrap()
            .connect()
            .await
            .unwrap();
        TestApp {
            identity: IdentityServiceClient::new(identity_channel),
            issues: IssuesServiceClient::new(channel.clone()),
            channel,
            db,
            metrics_addr,
        }
    }

    async fn login(&self, username: &str, password: &str) -> User {
        let tokens = self
            .identity
            .clone()
            .create_token(idpb::CreateTokenRequest {
                grant: Some(Grant::Password(idpb::PasswordGrant {
                    username: username.into(),
                    password: password.into(),
                })),
            })
            .await
            .unwrap()
            .into_inner();
        let user = self
            .identity
            .clone()
            .get_me(req(
                idpb::GetMeRequest {},
                &User {
                    id: String::new(),
                    username: username.into(),
                    token: tokens.access_token.clone(),
                },
            ))
            .await
            .unwrap()
            .into_inner();
        User {
            id: user.id,
            username: username.into(),
            token: tokens.access_token,
        }
    }

    /// Signs up and logs in a new user.
    pub async fn user(&self, username: &str) -> User {
        self.identity
            .clone()
            .sign_up(idpb::SignUpRequest {
                username: username.into(),
                email: format!("{username}@example.com"),
                password: "correct-horse".into(),
                full_name: None,
            })
            .await
            .unwrap();
        self.login(username, "correct-horse").await
    }

    pub async fn admin(&self) -> User {
        self.login("admin", "swatter-admin").await
    }

    pub fn client(&self) -> IssuesServiceClient<Channel> {
        self.issues.clone()
    }

    pub async fn create_project(&self, owner: &User, key: &str) -> Result<pb::Project, Status> {
        self.client()
            .create_project(req(
                pb::CreateProjectRequest {
                    key: key.into(),
                    name: format!("Project {key}"),
                    description: None,
                    request_id: String::new(),
                },
                owner,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn set_member(
        &self,
        owner: &User,
        key: &str,
        user: &User,
        role: pb::Role,
    ) -> Result<pb::Member, Status> {
        self.client()
            .set_member(req(
                pb::SetMemberRequest {
                    project_key: key.into(),
                    user_id: user.id.clone(),
                    role: role as i32,
                },
                owner,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn create_issue(
        &self,
        user: &User,
        key: &str,
        title: &str,
    ) -> Result<pb::Issue, Status> {
        self.client()
            .create_issue(req(
                pb::CreateIssueRequest {
                    project_key: key.into(),
                    title: title.into(),
                    ..Default::default()
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn get_issue(&self, user: &User, key: &str) -> Result<pb::Issue, Status> {
        self.client()
            .get_issue(req(
                pb::GetIssueRequest {
                    issue_key: key.into(),
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn update_issue(
        &self,
        user: &User,
        update: pb::UpdateIssueRequest,
    ) -> Result<pb::Issue, Status> {
        self.client()
            .update_issue(req(update, user))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn list(
        &self,
        user: &User,
        list: pb::ListIssuesRequest,
    ) -> Result<pb::ListIssuesResponse, Status> {
        self.client()
            .list_issues(req(list, user))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn comment(
        &self,
        user: &User,
        issue_key: &str,
        body: &str,
    ) -> Result<pb::Comment, Status> {
        self.client()
            .create_comment(req(
                pb::CreateCommentRequest {
                    issue_key: issue_key.into(),
                    body: body.into(),
                    request_id: String::new(),
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// An owner with project `key`, and one member per role (viewer, reporter, maintainer), an
    /// outsider and the admin.
    pub async fn cast(&self, key: &str) -> Cast {
        let owner = self.user(&format!("{}-owner", key.to_lowercase())).await;
        self.create_project(&owner, key).await.unwrap();
        let mut members = Vec::new();
        for role in [pb::Role::Viewer, pb::Role::Reporter, pb::Role::Maintainer] {
            let name = format!(
                "{}-{}",
                key.to_lowercase(),
                role.as_str_name().to_lowercase().replace("role_", "")
            );
            let user = self.user(&name).await;
            self.set_member(&owner, key, &user, role).await.unwrap();
            members.push(user);
        }
        let outsider = self.user(&format!("{}-outsider", key.to_lowercase())).await;
        let [viewer, reporter, maintainer]: [User; 3] = members.try_into().unwrap();
        Cast {
            owner,
            viewer,
            reporter,
            maintainer,
            outsider,
            admin: self.admin().await,
        }
    }
}

/// Everyone around one project.
pub struct Cast {
    pub owner: User,
    pub viewer: User,
    pub reporter: User,
    pub maintainer: User,
    pub outsider: User,
    pub admin: User,
}
