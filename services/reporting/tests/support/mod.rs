//! The whole reporting stack for tests: identity, issues and reporting in-process (each with a
//! fresh database), the real RabbitMQ (queue names unique to the test), and an s3s-fs process
//! owned by the test so it can be stopped and started again.

#![allow(dead_code)]

use std::{
    collections::HashMap,
    net::SocketAddr,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use swatter_common::testing::TestDatabase;
use swatter_identity::config::{BootstrapAdmin, IdentityConfig, ThrottleConfig};
use swatter_issues::config::IssuesConfig;
use swatter_proto::{
    identity::v1::{
        self as idpb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
    },
    issues::v1::{self as ipb, issues_service_client::IssuesServiceClient},
    reporting::v1::{self as pb, reporting_service_client::ReportingServiceClient},
};
use swatter_reporting::{
    config::{ReportingConfig, S3Config},
    domain::Backoff,
    startup::{Application, Mode},
    storage::Storage,
};
use tokio::sync::oneshot;
use tonic::{Request, transport::Channel};

pub const SERVICE_SECRET: &str = "test-reporting-secret-of-32-characters-or-more";
pub const S3_KEY: &str = "swatter-test";
pub const S3_SECRET: &str = "swatter-test-secret";

/// The broker tests use.
pub fn amqp_url() -> String {
    std::env::var("SWATTER_TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn s3s_fs_binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .chain(std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin")))
        .map(|dir| dir.join("s3s-fs"))
        .find(|p| p.is_file());
    on_path.expect("tests need s3s-fs: run them with `make test` (it installs s3s-fs 0.14.1)")
}

/// An s3s-fs server owned by one test.
pub struct S3Server {
    pub port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl S3Server {
    pub async fn start() -> S3Server {
        let dir =
            std::env::temp_dir().join(format!("swatter-s3-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = S3Server {
            port: free_port(),
            dir,
            child: None,
        };
        server.resume().await;
        server
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts (again) on the same port and folder.
    pub async fn resume(&mut self) {
        let child = Command::new(s3s_fs_binary())
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string()])
            .args(["--access-key", S3_KEY, "--secret-key", S3_SECRET])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start s3s-fs");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("s3s-fs did not start on port {}", self.port);
    }

    /// Stops the server (the object store is "down").
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Knobs of a test stack.
pub struct Options {
    pub mode: Mode,
    pub max_attempts: i32,
    pub lease: Duration,
    pub max_active_jobs_per_user: u32,
    pub max_streams_per_user: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::WithWorker,
            max_attempts: 5,
            lease: Duration::from_secs(3),
            max_active_jobs_per_user: 10,
            max_streams_per_user: 10,
        }
    }
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub token: String,
}

pub fn req<T>(message: T, user: &User) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {}", user.token).parse().unwrap(),
    );
    request
}

pub struct TestApp {
    pub identity: IdentityServiceClient<Channel>,
    pub issues: IssuesServiceClient<Channel>,
    pub reporting: ReportingServiceClient<Channel>,
    pub reporting_db: TestDatabase,
    pub issues_db: TestDatabase,
    pub config: ReportingConfig,
    pub s3: S3Server,
    pub storage: Storage,
    pub identity_url: String,
    pub issues_url: String,
    /// Where the in-process reporting service serves gRPC and `GET /metrics`.
    pub reporting_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    stop_reporting: Option<oneshot::Sender<()>>,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
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
            service_clients: HashMap::from([("reporting".to_owned(), SERVICE_SECRET.to_owned())]),
            password_hash_concurrency: 2,
            metrics_addr: None,
            // Tests sign many users up from one address.
            throttle: ThrottleConfig {
                signups_per_client_per_hour: 0,
                ..ThrottleConfig::default()
            },
        })
        .await
        .unwrap();
        let identity_url = format!("http://{}", identity.local_addr());
        tokio::spawn(identity.run_until(std::future::pending()));

        let issues_db = TestDatabase::create(&swatter_issues::MIGRATOR).await;
        let issues = swatter_issues::startup::Application::build(IssuesConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: issues_db.url.clone(),
            database_max_connections: 5,
            run_migrations: true,
            identity_url: identity_url.clone(),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            // Ask identity about sessions at every request: tests see changes at once.
            session_check_interval: Duration::ZERO,
            metrics_addr: None,
        })
        .await
        .unwrap();
        let issues_url = format!("http://{}", issues.local_addr());
        tokio::spawn(issues.run_until(std::future::pending()));

        let s3 = S3Server::start().await;
        let reporting_db = TestDatabase::create(&swatter_reporting::MIGRATOR).await;
        let config = ReportingConfig {
            addr: "127.0.0.1:0".parse().unwrap(),
            database_url: reporting_db.url.clone(),
            database_max_connections: 10,
            run_migrations: true,
            amqp_url: amqp_url(),
            queue_prefix: format!("swatter.test.{}", uuid::Uuid::new_v4().simple()),
            identity_url: identity_url.clone(),
            issues_url: issues_url.clone(),
            issuer: "swatter".into(),
            audience: "swatter".into(),
            // Ask identity about sessions at every request: tests see changes at once.
            session_check_interval: Duration::ZERO,
            service_client_id: "reporting".into(),
            service_client_secret: SERVICE_SECRET.into(),
            s3: S3Config {
                endpoint: s3.endpoint(),
                public_endpoint: s3.endpoint(),
                region: "us-east-1".into(),
                bucket: "swatter-reports".into(),
                access_key: S3_KEY.into(),
                secret_key: S3_SECRET.into(),
                presign_ttl: Duration::from_secs(300),
            },
            worker_concurrency: 2,
            max_attempts: options.max_attempts,
            backoff: Backoff {
                base: Duration::from_millis(200),
                factor: 2,
                cap: Duration::from_secs(2),
            },
            lease: options.lease,
            sweep_interval: Duration::from_millis(200),
            max_active_jobs_per_user: options.max_active_jobs_per_user,
            max_streams_per_user: options.max_streams_per_user,
            metrics_addr: Some("127.0.0.1:0".parse().unwrap()),
        };
        let (reporting_addr, metrics_addr, stop_reporting) =
            Self::start_reporting(&config, options.mode).await;
        let storage = Storage::new(&config.s3);
        let connect = |url: String| async move {
            Channel::from_shared(url).unwrap().connect().await.unwrap()
        };
        TestApp {
            identity: IdentityServiceClient::new(connect(identity_url.clone()).await),
            issues: IssuesServiceClient::new(connect(issues_url.clone()).await),
            reporting: ReportingServiceClient::new(
                connect(format!("http://{reporting_addr}")).await,
            ),
            reporting_db,
            issues_db,
            config,
            s3,
            storage,
            identity_url,
            issues_url,
            reporting_addr,
            metrics_addr: metrics_addr.expect("metrics are on"),
            stop_reporting: Some(stop_reporting),
        }
    }

    async fn start_reporting(
        config: &ReportingConfig,
        mode: Mode,
    ) -> (SocketAddr, Option<SocketAddr>, oneshot::Sender<()>) {
        let app = Application::build(config.clone(), mode)
            .await
            .expect("build reporting");
        let addr = app.local_addr();
        let metrics = app.metrics_addr();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        (addr, metrics, stop)
    }

    /// Another reporting process-in-process (e.g. a worker) on the same database and queues.
    pub async fn start_another_reporting(&self, mode: Mode) -> oneshot::Sender<()> {
        Self::start_reporting(&self.config, mode).await.2
    }

    /// A `swatter-reporting worker` process joining this stack, ready to spawn.
    pub fn worker_command(&self) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_swatter-reporting"));
        command.arg("worker").envs(self.reporting_env());
        command
    }

    /// The environment a `swatter-reporting` process needs to join this stack.
    pub fn reporting_env(&self) -> Vec<(String, String)> {
        let c = &self.config;
        [
            ("SWATTER_REPORTING_ADDR", "127.0.0.1:0".to_owned()),
            ("SWATTER_REPORTING_DATABASE_URL", c.database_url.clone()),
            ("SWATTER_AMQP_URL", c.amqp_url.clone()),
            ("SWATTER_QUEUE_PREFIX", c.queue_prefix.clone()),
            ("SWATTER_IDENTITY_URL", c.identity_url.clone()),
            ("SWATTER_ISSUES_URL", c.issues_url.clone()),
            ("SWATTER_SERVICE_CLIENT_ID", c.service_client_id.clone()),
            (
                "SWATTER_SERVICE_CLIENT_SECRET",
                c.service_client_secret.clone(),
            ),
            ("SWATTER_S3_ENDPOINT", c.s3.endpoint.clone()),
            ("SWATTER_S3_ACCESS_KEY", c.s3.access_key.clone()),
            ("SWATTER_S3_SECRET_KEY", c.s3.secret_key.clone()),
            ("SWATTER_S3_BUCKET", c.s3.bucket.clone()),
            ("SWATTER_JOB_LEASE_SECS", c.lease.as_secs().to_string()),
            (
                "SWATTER_RETRY_BASE_MS",
                c.backoff.base.as_millis().to_string(),
            ),
            (
                "SWATTER_RETRY_MAX_MS",
                c.backoff.cap.as_millis().to_string(),
            ),
            (
                "SWATTER_OUTBOX_SWEEP_MS",
                c.sweep_interval.as_millis().to_string(),
            ),
            ("SWATTER_METRICS_ADDR", "127.0.0.1:0".to_owned()),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Stops the in-process reporting service (API, relay, sweeper, worker).
    pub fn stop_reporting(&mut self) {
        if let Some(stop) = self.stop_reporting.take() {
            let _ = stop.send(());
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
        let me = self
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
            id: me.id,
            username: username.into(),
            token: tokens.access_token,
        }
    }

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

    /// A project owned by `owner` with `titles` as its issues.
    pub async fn project(&self, owner: &User, key: &str, titles: &[&str]) {
        self.issues
            .clone()
            .create_project(req(
                ipb::CreateProjectRequest {
                    key: key.into(),
                    name: format!("Project {key}"),
                    description: None,
                    request_id: String::new(),
                },
                owner,
            ))
            .await
            .unwrap();
        for title in titles {
            self.issues
                .clone()
                .create_issue(req(
                    ipb::CreateIssueRequest {
                        project_key: key.into(),
                        title: (*title).into(),
                        ..Default::default()
                    },
                    owner,
                ))
                .await
                .unwrap();
        }
    }

    /// Adds `count` issues to project `key` straight in its database (fast seeding).
    pub async fn seed_issues(&self, owner: &User, key: &str, count: i64) {
        let project_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = $1")
            .bind(key)
            .fetch_one(&self.issues_db.pool)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO issues (id, project_id, number, title, description, status, priority, author_id, assignee_id, created_at, closed_at)
             SELECT gen_random_uuid(), $1, n, 'Seeded issue ' || n, 'text',
                    (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4], 1 + n % 4, $2,
                    CASE WHEN n % 3 = 0 THEN NULL ELSE $2 END,
                    now() - n * interval '10 minutes',
                    CASE WHEN n % 4 >= 2 THEN now() - n * interval '5 minutes' END
             FROM generate_series(1000, 999 + $3::int) n",
        )
        .bind(project_id)
        .bind(uuid::Uuid::parse_str(&owner.id).unwrap())
        .bind(count as i32)
        .execute(&self.issues_db.pool)
        .await
        .unwrap();
    }

    pub async fn request_project_report(&self, user: &User, key: &str) -> pb::Job {
        self.try_request_project_report(user, key).await.unwrap()
    }

    pub async fn try_request_project_report(
        &self,
        user: &User,
        key: &str,
    ) -> Result<pb::Job, tonic::Status> {
        self.reporting
            .clone()
            .create_report(req(
                pb::CreateReportRequest {
                    params: Some(pb::ReportParams {
                        params: Some(pb::report_params::Params::Project(
                            pb::ProjectReportParams {
                                project_key: key.into(),
                                from: None,
                                to: None,
                            },
                        )),
                    }),
                    request_id: String::new(),
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// `WatchJob` of job `id` as `user`: the stream, or why it was refused.
    pub async fn try_watch(
        &self,
        user: &User,
        id: &str,
    ) -> Result<tonic::Streaming<pb::Job>, tonic::Status> {
        self.reporting
            .clone()
            .watch_job(req(pb::WatchJobRequest { id: id.into() }, user))
            .await
            .map(|r| r.into_inner())
    }

    /// `WatchJob` of job `id` as `user`.
    pub async fn watch(&self, user: &User, id: &str) -> tonic::Streaming<pb::Job> {
        self.try_watch(user, id).await.unwrap()
    }

    pub async fn job(&self, user: &User, id: &str) -> pb::Job {
        self.reporting
            .clone()
            .get_job(req(pb::GetJobRequest { id: id.into() }, user))
            .await
            .unwrap()
            .into_inner()
    }

    /// Polls the job until `done` says so (the pipeline has no fixed timing), at most `limit`.
    pub async fn wait_for(
        &self,
        user: &User,
        id: &str,
        limit: Duration,
        done: impl Fn(&pb::Job) -> bool,
    ) -> pb::Job {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let job = self.job(user, id).await;
            if done(&job) {
                return job;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting; the job is {job:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn wait_for_state(
        &self,
        user: &User,
        id: &str,
        state: pb::JobState,
        limit: Duration,
    ) -> pb::Job {
        self.wait_for(user, id, limit, |job| job.state == state as i32)
            .await
    }

    /// Downloads the artifact through the API's stream.
    pub async fn download(&self, user: &User, id: &str) -> Vec<u8> {
        use tokio_stream::StreamExt;
        let mut stream = self
            .reporting
            .clone()
            .download_artifact(req(pb::DownloadArtifactRequest { id: id.into() }, user))
            .await
            .unwrap()
            .into_inner();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend(chunk.unwrap().data);
        }
        bytes
    }

    /// Messages in one of this test's queues.
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let connection = lapin::Connection::connect(
            &self.config.amqp_url,
            lapin::ConnectionProperties::default(),
        )
        .await
        .unwrap();
        let channel = connection.create_channel().await.unwrap();
        let depth = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    durable: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .unwrap()
            .message_count();
        let _ = connection.close(200, "done".into()).await;
        depth
    }

    /// Deletes this test's exchanges and queues from the shared broker.
    pub async fn cleanup_broker(&self) {
        swatter_reporting::broker::Topology::new(&self.config.queue_prefix)
            .delete(&self.config.amqp_url)
            .await;
    }
}
