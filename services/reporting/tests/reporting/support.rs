//! The whole reporting stack for tests (see `swatter_testkit::Stack`): identity, issues and
//! reporting in-process (each with a fresh database), the real RabbitMQ (queue names unique to
//! the test), and an s3s-fs process owned by the test so it can be stopped and started again.

use std::{net::SocketAddr, time::Duration};

use swatter_proto::{
    issues::v1::issues_service_client::IssuesServiceClient,
    reporting::v1::{self as pb, reporting_service_client::ReportingServiceClient},
};
use swatter_reporting::{config::ReportingConfig, startup::Mode, storage::Storage};
use swatter_testkit::{Broker, Identity, Reporting, S3Server, Stack, TestDatabase, Worker};
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub use swatter_testkit::{User, req};

/// Knobs of a test stack.
pub struct Options {
    pub mode: Mode,
    pub max_attempts: i32,
    pub lease: Duration,
    pub max_active_jobs_per_user: u32,
    pub max_streams_per_user: u32,
    pub max_schedules_per_user: u32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            mode: Mode::WithWorker,
            max_attempts: 5,
            lease: Duration::from_secs(3),
            max_active_jobs_per_user: 10,
            max_streams_per_user: 10,
            max_schedules_per_user: 50,
        }
    }
}

impl Options {
    /// No worker in the stack: jobs stay queued until a test starts one.
    pub fn without_worker() -> Options {
        Options {
            mode: Mode::Api,
            ..Options::default()
        }
    }
}

pub struct TestApp {
    pub identity: Identity,
    pub issues: IssuesServiceClient<Channel>,
    pub reporting: ReportingServiceClient<Channel>,
    pub reporting_db: TestDatabase,
    pub issues_db: TestDatabase,
    pub config: ReportingConfig,
    pub s3: S3Server,
    pub storage: Storage,
    pub broker: Broker,
    pub identity_url: String,
    pub issues_url: String,
    /// Where the in-process reporting service serves gRPC and `GET /metrics`.
    pub reporting_addr: SocketAddr,
    pub metrics_addr: SocketAddr,
    service: Reporting,
}

impl TestApp {
    /// A client of the reporting service under test (clients are cheap clones of one channel).
    pub fn api(&self) -> ReportingServiceClient<Channel> {
        self.reporting.clone()
    }

    pub async fn spawn() -> TestApp {
        Self::spawn_with(Options::default()).await
    }

    pub async fn spawn_with(options: Options) -> TestApp {
        let stack = Stack::new()
            .reporting_with(Worker::from(options.mode), move |config| {
                config.max_attempts = options.max_attempts;
                config.lease = options.lease;
                config.max_active_jobs_per_user = options.max_active_jobs_per_user;
                config.max_streams_per_user = options.max_streams_per_user;
                config.max_schedules_per_user = options.max_schedules_per_user;
            })
            .start()
            .await;
        let identity = stack.identity.expect("identity runs");
        let issues = stack.issues.expect("issues runs");
        let service = stack.reporting.expect("reporting runs");
        TestApp {
            identity_url: identity.url.clone(),
            identity,
            issues: issues.client,
            issues_url: issues.url,
            issues_db: issues.db,
            reporting: service.client.clone(),
            reporting_db: service.db.clone(),
            config: service.config.clone(),
            storage: service.storage(),
            reporting_addr: service.addr,
            metrics_addr: service.metrics_addr.expect("metrics are on"),
            s3: stack.s3.expect("s3s-fs runs"),
            broker: stack.broker.expect("a broker namespace"),
            service,
        }
    }

    /// A stack with `options` where `owner` owns project `key` with `titles` as its issues.
    pub async fn spawn_with_project(
        options: Options,
        key: &str,
        titles: &[&str],
    ) -> (TestApp, User) {
        let app = Self::spawn_with(options).await;
        let owner = app.user("owner").await;
        app.project(&owner, key, titles).await;
        (app, owner)
    }

    /// Another reporting process-in-process (e.g. a worker) on the same database and queues.
    pub async fn start_another_reporting(&self, mode: Mode) -> oneshot::Sender<()> {
        self.service.start_another(Worker::from(mode)).await
    }

    /// A `swatter-reporting <subcommand>` process joining this stack, ready to spawn.
    fn command(&self, subcommand: &str) -> std::process::Command {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_swatter-reporting"));
        command.arg(subcommand).envs(self.reporting_env());
        command
    }

    /// A `swatter-reporting worker` process joining this stack, ready to spawn.
    pub fn worker_command(&self) -> std::process::Command {
        self.command("worker")
    }

    /// A `swatter-reporting api` process (API, relay, sweeper and scheduler) joining this
    /// stack, started.
    pub fn spawn_api(&self) -> std::process::Child {
        self.command("api").spawn().expect("start an api process")
    }

    /// A `swatter-reporting worker` process joining this stack, started.
    pub fn spawn_worker(&self) -> std::process::Child {
        self.worker_command()
            .spawn()
            .expect("start a worker process")
    }

    /// The environment a `swatter-reporting` process needs to join this stack.
    pub fn reporting_env(&self) -> Vec<(String, String)> {
        self.service.env()
    }

    /// Stops the in-process reporting service (API, relay, sweeper, worker).
    pub fn stop_reporting(&mut self) {
        self.service.stop();
    }

    pub async fn user(&self, username: &str) -> User {
        self.identity.user(username).await
    }

    pub async fn admin(&self) -> User {
        self.identity.admin().await
    }

    /// A project owned by `owner` with `titles` as its issues.
    pub async fn project(&self, owner: &User, key: &str, titles: &[&str]) {
        swatter_testkit::create_project(&self.issues, owner, key)
            .await
            .unwrap();
        for title in titles {
            swatter_testkit::create_issue(&self.issues, owner, key, title)
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

    /// Adds `count` issues to project `key` straight in its database, shaped like a real backlog:
    /// `open_percent` % open or in progress, the rest done, every priority, assigned in turn to
    /// `assignees` and to nobody, each with a paragraph of description.
    #[allow(dead_code)] // only the pipeline benchmark seeds projects this big
    pub async fn seed_backlog(
        &self,
        owner: &User,
        key: &str,
        count: i64,
        open_percent: i32,
        assignees: &[&User],
    ) {
        let project_id: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = $1")
            .bind(key)
            .fetch_one(&self.issues_db.pool)
            .await
            .unwrap();
        let assignees: Vec<uuid::Uuid> = assignees
            .iter()
            .map(|user| uuid::Uuid::parse_str(&user.id).unwrap())
            .collect();
        sqlx::query(
            "INSERT INTO issues (id, project_id, number, title, description, status, priority, author_id, assignee_id, created_at, closed_at)
             SELECT gen_random_uuid(), $1, n, 'Backlog issue ' || n || ': the export times out behind the proxy',
                    repeat('Steps to reproduce, what happened and what was expected. ', 6),
                    CASE WHEN n * 37 % 100 < $4 THEN (ARRAY['open','in_progress'])[1 + n % 2]
                         ELSE (ARRAY['resolved','closed'])[1 + n % 2] END,
                    1 + n % 4, $2,
                    ($5::uuid[])[1 + n % (cardinality($5::uuid[]) + 1)],
                    now() - n * interval '10 minutes',
                    CASE WHEN n * 37 % 100 >= $4 THEN now() - n * interval '5 minutes' END
             FROM generate_series(1, $3::int) n",
        )
        .bind(project_id)
        .bind(uuid::Uuid::parse_str(&owner.id).unwrap())
        .bind(count as i32)
        .bind(open_percent)
        .bind(&assignees)
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
        self.broker.queue_depth(queue).await
    }

    /// Deletes this test's exchanges and queues from the shared broker.
    pub async fn cleanup_broker(&self) {
        self.broker.cleanup().await;
    }
}

/// Events read from the events queue `queue` (those whose routing key `keep` accepts), in
/// arrival order, until `done` says so or `limit` passes; the queue is deleted then.
pub async fn read_events(
    queue: &str,
    keep: impl Fn(&str) -> bool,
    limit: Duration,
    mut done: impl FnMut(&[swatter_common::events::Envelope]) -> bool,
) -> Vec<swatter_common::events::Envelope> {
    use lapin::options::{BasicGetOptions, QueueDeleteOptions};
    let connection = lapin::Connection::connect(&swatter_testkit::amqp_url(), Default::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline && !done(&events) {
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap()
        {
            Some(message) if keep(message.delivery.routing_key.as_str()) => {
                events.push(serde_json::from_slice(&message.delivery.data).unwrap())
            }
            // The stack's issues publishes the project's own events to the same exchange.
            Some(_) => {}
            None => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    let _ = channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "read".into()).await;
    events
}
