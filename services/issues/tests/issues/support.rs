//! Identity and issues in-process (see `swatter_testkit::Stack`), with typed helpers.

use swatter_proto::issues::v1::{self as pb, issues_service_client::IssuesServiceClient};
use swatter_testkit::{Identity, Stack, TestDatabase};
use tonic::{Status, transport::Channel};

pub use swatter_testkit::{User, req};

pub struct TestApp {
    pub identity: Identity,
    pub issues: IssuesServiceClient<Channel>,
    pub db: TestDatabase,
    /// Where the issues service serves `GET /metrics`.
    pub metrics_addr: std::net::SocketAddr,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        let stack = Stack::new().issues().start().await;
        let issues = stack.issues.expect("issues runs");
        TestApp {
            identity: stack.identity.expect("identity runs"),
            issues: issues.client,
            db: issues.db,
            metrics_addr: issues.metrics_addr.expect("metrics are on"),
        }
    }

    /// Signs up and logs in a new user.
    pub async fn user(&self, username: &str) -> User {
        self.identity.user(username).await
    }

    pub async fn admin(&self) -> User {
        self.identity.admin().await
    }

    pub fn client(&self) -> IssuesServiceClient<Channel> {
        self.issues.clone()
    }

    pub async fn create_project(&self, owner: &User, key: &str) -> Result<pb::Project, Status> {
        swatter_testkit::create_project(&self.issues, owner, key).await
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
        swatter_testkit::create_issue(&self.issues, user, key, title).await
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
