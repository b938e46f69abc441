//! [`Stack`]: a builder that starts any part of the stack in-process, each service on port 0
//! with a fresh database, and hands back typed handles.
//!
//! ```ignore
//! let stack = Stack::new().reporting(Worker::Running).gateway().start().await;
//! ```
//!
//! A service starts the ones it calls: issues brings identity; reporting brings identity,
//! issues, an s3s-fs and a broker namespace; the gateway brings identity and issues (without
//! reporting its reporting upstream is the issues service, so readiness holds).

use std::net::SocketAddr;

use swatter_identity::config::IdentityConfig;
use swatter_proto::identity::v1::{
    self as idpb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
};
use tonic::transport::Channel;

#[cfg(feature = "issues")]
use swatter_issues::config::IssuesConfig;
#[cfg(feature = "issues")]
use swatter_proto::issues::v1::issues_service_client::IssuesServiceClient;
#[cfg(feature = "reporting")]
use swatter_proto::reporting::v1::reporting_service_client::ReportingServiceClient;
#[cfg(feature = "webhooks")]
use swatter_proto::webhooks::v1::webhooks_service_client::WebhooksServiceClient;
#[cfg(feature = "reporting")]
use swatter_reporting::config::ReportingConfig;
#[cfg(feature = "webhooks")]
use swatter_webhooks::config::WebhooksConfig;
#[cfg(any(feature = "reporting", feature = "webhooks"))]
use tokio::sync::oneshot;

use crate::{ADMIN, PASSWORD, TestDatabase, User, authed, config, connect};

type Customize<'a, C> = Box<dyn FnOnce(&mut C) + Send + 'a>;

fn keep<'a, C>() -> Customize<'a, C> {
    Box::new(|_| {})
}

/// Whether a reporting service runs its worker.
#[cfg(feature = "reporting")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Worker {
    /// API, relay, sweeper and worker: jobs are rendered.
    Running,
    /// API, relay and sweeper only: jobs stay queued.
    Off,
}

#[cfg(feature = "reporting")]
impl Worker {
    fn mode(self) -> swatter_reporting::startup::Mode {
        match self {
            Worker::Running => swatter_reporting::startup::Mode::WithWorker,
            Worker::Off => swatter_reporting::startup::Mode::Api,
        }
    }
}

#[cfg(feature = "reporting")]
impl From<swatter_reporting::startup::Mode> for Worker {
    fn from(mode: swatter_reporting::startup::Mode) -> Worker {
        match mode {
            swatter_reporting::startup::Mode::Api => Worker::Off,
            swatter_reporting::startup::Mode::WithWorker => Worker::Running,
            swatter_reporting::startup::Mode::Worker => {
                panic!("a Stack runs reporting with its API; start a `worker` process instead")
            }
        }
    }
}

/// What to start; see the module documentation.
#[derive(Default)]
pub struct Stack<'a> {
    identity: Option<Customize<'a, IdentityConfig>>,
    #[cfg(feature = "issues")]
    issues: Option<Customize<'a, IssuesConfig>>,
    /// Whether issues stores attachments in an s3s-fs of the stack's own.
    #[cfg(feature = "issues")]
    issues_s3: bool,
    #[cfg(feature = "reporting")]
    reporting: Option<(Worker, Customize<'a, ReportingConfig>)>,
    #[cfg(feature = "webhooks")]
    webhooks: Option<Customize<'a, WebhooksConfig>>,
    #[cfg(feature = "gateway")]
    gateway: Option<Customize<'a, swatter_gateway::config::GatewayConfig>>,
}

impl<'a> Stack<'a> {
    pub fn new() -> Stack<'a> {
        Stack::default()
    }

    /// Identity with [`config::identity_for_tests`].
    pub fn identity(self) -> Stack<'a> {
        self.identity_with(|_| {})
    }

    /// Identity with its test settings changed by `customize`.
    pub fn identity_with(
        mut self,
        customize: impl FnOnce(&mut IdentityConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.identity = Some(Box::new(customize));
        self
    }

    /// Issues (and identity).
    #[cfg(feature = "issues")]
    pub fn issues(self) -> Stack<'a> {
        self.issues_with(|_| {})
    }

    /// Issues with its test settings changed by `customize`.
    #[cfg(feature = "issues")]
    pub fn issues_with(
        mut self,
        customize: impl FnOnce(&mut IssuesConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.issues = Some(Box::new(customize));
        self
    }

    /// Issues with its attachments in an s3s-fs of the stack's own ([`Running::s3`], which a
    /// test may stop and resume), its test settings changed by `customize`.
    #[cfg(feature = "issues")]
    pub fn issues_with_s3(
        mut self,
        customize: impl FnOnce(&mut IssuesConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.issues = Some(Box::new(customize));
        self.issues_s3 = true;
        self
    }

    /// Reporting (and identity, issues, s3s-fs, a broker namespace), its worker as `worker` says.
    #[cfg(feature = "reporting")]
    pub fn reporting(self, worker: Worker) -> Stack<'a> {
        self.reporting_with(worker, |_| {})
    }

    /// Reporting with its test settings changed by `customize`.
    #[cfg(feature = "reporting")]
    pub fn reporting_with(
        mut self,
        worker: Worker,
        customize: impl FnOnce(&mut ReportingConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.reporting = Some((worker, Box::new(customize)));
        self
    }

    /// Webhooks (and identity, issues, a broker namespace).
    #[cfg(feature = "webhooks")]
    pub fn webhooks(self) -> Stack<'a> {
        self.webhooks_with(|_| {})
    }

    /// Webhooks with its test settings changed by `customize`.
    #[cfg(feature = "webhooks")]
    pub fn webhooks_with(
        mut self,
        customize: impl FnOnce(&mut WebhooksConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.webhooks = Some(Box::new(customize));
        self
    }

    /// The gateway (and identity, issues) in front of the services started.
    #[cfg(feature = "gateway")]
    pub fn gateway(self) -> Stack<'a> {
        self.gateway_with(|_| {})
    }

    /// The gateway with its test settings changed by `customize`.
    #[cfg(feature = "gateway")]
    pub fn gateway_with(
        mut self,
        customize: impl FnOnce(&mut swatter_gateway::config::GatewayConfig) + Send + 'a,
    ) -> Stack<'a> {
        self.gateway = Some(Box::new(customize));
        self
    }

    /// Starts what was asked for (and what it calls) on background tasks.
    pub async fn start(self) -> Running {
        #[cfg_attr(not(feature = "issues"), allow(unused_mut))]
        let mut issues_wanted = false;
        #[cfg(feature = "issues")]
        {
            issues_wanted |= self.issues.is_some();
        }
        #[cfg(feature = "reporting")]
        {
            issues_wanted |= self.reporting.is_some();
        }
        #[cfg(feature = "gateway")]
        {
            issues_wanted |= self.gateway.is_some();
        }
        #[cfg(feature = "webhooks")]
        {
            issues_wanted |= self.webhooks.is_some();
        }
        let identity_wanted = issues_wanted || self.identity.is_some();
        let mut running = Running::default();
        if identity_wanted {
            running.identity = Some(Identity::start(self.identity.unwrap_or_else(keep)).await);
        }
        // One broker namespace per stack, shared by the services that use the broker.
        #[cfg(any(feature = "reporting", feature = "webhooks"))]
        let broker = crate::Broker::new();
        #[cfg(feature = "issues")]
        if issues_wanted {
            let identity = running.identity.as_ref().expect("identity runs");
            let mut customize = self.issues.unwrap_or_else(keep);
            // Issues publishes its changes where the stack's reporting and webhooks read them.
            #[cfg(any(feature = "reporting", feature = "webhooks"))]
            {
                let exchange = broker.events_exchange();
                customize = Box::new(move |config: &mut IssuesConfig| {
                    config.changes.events_exchange = exchange;
                    customize(config)
                });
            }
            if self.issues_s3 {
                let s3 = crate::S3Server::start().await;
                let endpoint = s3.endpoint();
                customize = Box::new(move |config: &mut IssuesConfig| {
                    config.attachments.s3_endpoint = endpoint;
                    customize(config)
                });
                running.s3 = Some(s3);
            }
            running.issues = Some(Issues::start(&identity.url, customize).await);
        }
        #[cfg(feature = "reporting")]
        if let Some((worker, customize)) = self.reporting {
            let s3 = match running.s3.take() {
                Some(s3) => s3,
                None => crate::S3Server::start().await,
            };
            let broker = broker.clone();
            running.reporting = Some(
                Reporting::start(
                    &broker,
                    &s3,
                    running.identity.as_ref().expect("identity runs"),
                    running.issues.as_ref().expect("issues runs"),
                    worker,
                    customize,
                )
                .await,
            );
            running.s3 = Some(s3);
            running.broker = Some(broker);
        }
        #[cfg(feature = "webhooks")]
        if let Some(customize) = self.webhooks {
            let broker = broker.clone();
            running.webhooks = Some(
                Webhooks::start(
                    &broker,
                    running.identity.as_ref().expect("identity runs"),
                    running.issues.as_ref().expect("issues runs"),
                    customize,
                )
                .await,
            );
            running.broker = Some(broker);
        }
        #[cfg(feature = "gateway")]
        if let Some(customize) = self.gateway {
            let identity = running.identity.as_ref().expect("identity runs").addr;
            let issues = running.issues.as_ref().expect("issues runs").addr;
            #[cfg(feature = "reporting")]
            let reporting = running.reporting.as_ref().map_or(issues, |r| r.addr);
            #[cfg(not(feature = "reporting"))]
            let reporting = issues;
            let mut config = config::gateway_for_tests(identity, issues, reporting);
            #[cfg(feature = "webhooks")]
            if let Some(webhooks) = &running.webhooks {
                config.webhooks_url = webhooks.url.parse().expect("webhooks URL");
            }
            customize(&mut config);
            running.gateway = Some(Gateway::start(config).await);
        }
        running
    }
}

/// What [`Stack::start`] started.
#[derive(Default)]
pub struct Running {
    pub identity: Option<Identity>,
    #[cfg(feature = "issues")]
    pub issues: Option<Issues>,
    #[cfg(feature = "reporting")]
    pub reporting: Option<Reporting>,
    #[cfg(feature = "webhooks")]
    pub webhooks: Option<Webhooks>,
    #[cfg(feature = "gateway")]
    pub gateway: Option<Gateway>,
    /// The object store of reporting, and of issues' attachments when asked for.
    #[cfg(feature = "issues")]
    pub s3: Option<crate::S3Server>,
    #[cfg(any(feature = "reporting", feature = "webhooks"))]
    pub broker: Option<crate::Broker>,
}

/// A running identity service.
pub struct Identity {
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub url: String,
    pub metrics_addr: Option<SocketAddr>,
    pub channel: Channel,
    pub client: IdentityServiceClient<Channel>,
    pub db: TestDatabase,
    pub config: IdentityConfig,
}

/// Builds `config`'s service and runs it on a background task until the test ends; its
/// addresses (gRPC, metrics).
macro_rules! serve {
    ($app:ty, $config:expr $(, $mode:expr)?) => {{
        let app = <$app>::build($config $(, $mode)?).await.expect(concat!("build ", stringify!($app)));
        let addrs = (app.local_addr(), app.metrics_addr());
        tokio::spawn(app.run_until(std::future::pending()));
        addrs
    }};
}

impl Identity {
    async fn start(customize: Customize<'_, IdentityConfig>) -> Identity {
        let db = TestDatabase::create(&swatter_identity::MIGRATOR).await;
        let signing_key_pem =
            swatter_identity::tokens::SigningKey::generate_pem().expect("generate a signing key");
        let mut config = config::identity_for_tests(&db.url, &signing_key_pem);
        customize(&mut config);
        let (addr, metrics_addr) = serve!(swatter_identity::startup::Application, config.clone());
        let channel = connect(addr).await;
        Identity {
            addr,
            url: format!("http://{addr}"),
            metrics_addr,
            client: IdentityServiceClient::new(channel.clone()),
            channel,
            db,
            config,
        }
    }

    /// A client of another identity instance on the same database and signing key (another
    /// replica), its settings changed by `customize`.
    pub async fn another_replica(
        &self,
        customize: impl FnOnce(&mut IdentityConfig),
    ) -> IdentityServiceClient<Channel> {
        let mut config = self.config.clone();
        customize(&mut config);
        let (addr, _) = serve!(swatter_identity::startup::Application, config);
        IdentityServiceClient::new(connect(addr).await)
    }

    /// Logs `username` in with a password grant.
    pub async fn login(&self, username: &str, password: &str) -> User {
        let tokens = self
            .client
            .clone()
            .create_token(idpb::CreateTokenRequest {
                grant: Some(Grant::Password(idpb::PasswordGrant {
                    username: username.into(),
                    password: password.into(),
                })),
            })
            .await
            .unwrap_or_else(|status| panic!("login of {username}: {status:?}"))
            .into_inner();
        let me = self
            .client
            .clone()
            .get_me(authed(idpb::GetMeRequest {}, &tokens.access_token))
            .await
            .expect("GetMe with a fresh token")
            .into_inner();
        User {
            id: me.id,
            username: username.into(),
            token: tokens.access_token,
        }
    }

    /// Signs `username` up (password [`PASSWORD`]) and logs them in.
    pub async fn user(&self, username: &str) -> User {
        self.client
            .clone()
            .sign_up(idpb::SignUpRequest {
                username: username.into(),
                email: format!("{username}@example.com"),
                password: PASSWORD.into(),
                full_name: None,
            })
            .await
            .unwrap_or_else(|status| panic!("sign-up of {username}: {status:?}"));
        self.login(username, PASSWORD).await
    }

    /// The bootstrap admin, logged in.
    pub async fn admin(&self) -> User {
        self.login(ADMIN.0, ADMIN.1).await
    }
}

/// A running issues service.
#[cfg(feature = "issues")]
pub struct Issues {
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub url: String,
    pub metrics_addr: Option<SocketAddr>,
    pub channel: Channel,
    pub client: IssuesServiceClient<Channel>,
    pub db: TestDatabase,
    /// The settings it runs with.
    pub config: IssuesConfig,
}

#[cfg(feature = "issues")]
impl Issues {
    async fn start(identity_url: &str, customize: Customize<'_, IssuesConfig>) -> Issues {
        let db = TestDatabase::create(&swatter_issues::MIGRATOR).await;
        let mut config = config::issues_for_tests(&db.url, identity_url);
        customize(&mut config);
        let (addr, metrics_addr) = serve!(swatter_issues::startup::Application, config.clone());
        let channel = connect(addr).await;
        Issues {
            config,
            addr,
            url: format!("http://{addr}"),
            metrics_addr,
            client: IssuesServiceClient::new(channel.clone()),
            channel,
            db,
        }
    }
}

/// A running reporting service; it stops when [`Reporting::stop`] is called.
#[cfg(feature = "reporting")]
pub struct Reporting {
    pub addr: SocketAddr,
    pub metrics_addr: Option<SocketAddr>,
    pub client: ReportingServiceClient<Channel>,
    pub db: TestDatabase,
    pub config: ReportingConfig,
    stop: Option<oneshot::Sender<()>>,
}

#[cfg(feature = "reporting")]
impl Reporting {
    async fn start(
        broker: &crate::Broker,
        s3: &crate::S3Server,
        identity: &Identity,
        issues: &Issues,
        worker: Worker,
        customize: Customize<'_, ReportingConfig>,
    ) -> Reporting {
        let db = TestDatabase::create(&swatter_reporting::MIGRATOR).await;
        let mut config = config::reporting_for_tests(
            &db.url,
            broker,
            &s3.endpoint(),
            &identity.url,
            &issues.url,
        );
        customize(&mut config);
        let (addr, metrics_addr, stop) = Self::serve(&config, worker).await;
        Reporting {
            addr,
            metrics_addr,
            client: ReportingServiceClient::new(connect(addr).await),
            db,
            config,
            stop: Some(stop),
        }
    }

    async fn serve(
        config: &ReportingConfig,
        worker: Worker,
    ) -> (SocketAddr, Option<SocketAddr>, oneshot::Sender<()>) {
        let app = swatter_reporting::startup::Application::build(config.clone(), worker.mode())
            .await
            .expect("build reporting");
        let addrs = (app.local_addr(), app.metrics_addr());
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        (addrs.0, addrs.1, stop)
    }

    /// Another reporting service in-process on the same database, queues and object store;
    /// it stops when the sender is used or dropped.
    pub async fn start_another(&self, worker: Worker) -> oneshot::Sender<()> {
        Self::serve(&self.config, worker).await.2
    }

    /// Stops this reporting service (API, relay, sweeper, worker).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// The object store as the service sees it.
    pub fn storage(&self) -> swatter_reporting::storage::Storage {
        swatter_reporting::storage::Storage::new(&self.config.s3)
    }

    /// The environment a `swatter-reporting` process needs to join this stack.
    pub fn env(&self) -> Vec<(String, String)> {
        config::reporting_env(&self.config)
    }
}

/// A running webhooks service; it stops when [`Webhooks::stop`] is called.
#[cfg(feature = "webhooks")]
pub struct Webhooks {
    pub addr: SocketAddr,
    /// `http://{addr}`.
    pub url: String,
    pub metrics_addr: Option<SocketAddr>,
    pub client: WebhooksServiceClient<Channel>,
    pub db: TestDatabase,
    pub config: WebhooksConfig,
    stop: Option<oneshot::Sender<()>>,
}

#[cfg(feature = "webhooks")]
impl Webhooks {
    async fn start(
        broker: &crate::Broker,
        identity: &Identity,
        issues: &Issues,
        customize: Customize<'_, WebhooksConfig>,
    ) -> Webhooks {
        let db = TestDatabase::create(&swatter_webhooks::MIGRATOR).await;
        let mut config = config::webhooks_for_tests(&db.url, broker, &identity.url, &issues.url);
        customize(&mut config);
        let (addr, metrics_addr, stop) = Self::serve(&config).await;
        Webhooks {
            addr,
            url: format!("http://{addr}"),
            metrics_addr,
            client: WebhooksServiceClient::new(connect(addr).await),
            db,
            config,
            stop: Some(stop),
        }
    }

    async fn serve(
        config: &WebhooksConfig,
    ) -> (SocketAddr, Option<SocketAddr>, oneshot::Sender<()>) {
        let app = swatter_webhooks::startup::Application::build(config.clone())
            .await
            .expect("build webhooks");
        let addrs = (app.local_addr(), app.metrics_addr());
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        (addrs.0, addrs.1, stop)
    }

    /// Another webhooks service in-process on the same database and queue; it stops when the
    /// sender is used or dropped.
    pub async fn start_another(&self) -> oneshot::Sender<()> {
        Self::serve(&self.config).await.2
    }

    /// Stops this webhooks service (API, consumer, dispatcher, relay).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// The environment a `swatter-webhooks` process needs to join this stack.
    pub fn env(&self) -> Vec<(String, String)> {
        config::webhooks_env(&self.config)
    }
}

/// A running gateway.
#[cfg(feature = "gateway")]
pub struct Gateway {
    pub addr: SocketAddr,
    /// Its base URL, `http://{addr}`.
    pub address: String,
    /// Where it serves `GET /metrics`, unless turned off.
    pub metrics_addr: Option<SocketAddr>,
}

#[cfg(feature = "gateway")]
impl Gateway {
    /// Builds the gateway with `config` and serves it on a background task.
    pub async fn start(config: swatter_gateway::config::GatewayConfig) -> Gateway {
        let (addr, metrics_addr) = serve!(swatter_gateway::startup::Application, config);
        Gateway {
            addr,
            address: format!("http://{addr}"),
            metrics_addr,
        }
    }
}

/// `CreateProject` of `key` (named `Project {key}`) as `owner`.
#[cfg(feature = "issues")]
pub async fn create_project(
    issues: &IssuesServiceClient<Channel>,
    owner: &User,
    key: &str,
) -> Result<swatter_proto::issues::v1::Project, tonic::Status> {
    use swatter_proto::issues::v1 as ipb;
    issues
        .clone()
        .create_project(crate::req(
            ipb::CreateProjectRequest {
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

/// `CreateIssue` titled `title` in project `key` as `user`.
#[cfg(feature = "issues")]
pub async fn create_issue(
    issues: &IssuesServiceClient<Channel>,
    user: &User,
    key: &str,
    title: &str,
) -> Result<swatter_proto::issues::v1::Issue, tonic::Status> {
    use swatter_proto::issues::v1 as ipb;
    issues
        .clone()
        .create_issue(crate::req(
            ipb::CreateIssueRequest {
                project_key: key.into(),
                title: title.into(),
                ..Default::default()
            },
            user,
        ))
        .await
        .map(|r| r.into_inner())
}

/// The keys of every issue `list` shows to `user`, page after page (100 a page), as a client
/// pages through it.
#[cfg(feature = "issues")]
pub async fn listed_keys(
    issues: &IssuesServiceClient<Channel>,
    user: &User,
    mut list: swatter_proto::issues::v1::ListIssuesRequest,
) -> Vec<String> {
    list.page_size = 100;
    let mut keys = Vec::new();
    loop {
        let page = issues
            .clone()
            .list_issues(crate::req(list.clone(), user))
            .await
            .expect("a list page")
            .into_inner();
        keys.extend(page.issues.into_iter().map(|issue| issue.key));
        if page.next_page_token.is_empty() {
            return keys;
        }
        list.page_token = page.next_page_token;
    }
}
