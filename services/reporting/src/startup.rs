//! Building and running the reporting service: the gRPC API with the outbox relay, the lease
//! sweeper, the dead-letter consumer and the scheduler of scheduled reports, and the worker, in
//! the combinations of [`Mode`]. Tests start it in-process through the same code.

use std::{future::Future, sync::Arc};

use swatter_common::{
    auth::{AuthLayer, TokenVerifier},
    bootstrap,
    broker::EventPublisher,
    server::{self, Listeners},
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_client::IssuesServiceClient,
    reporting::v1::reporting_service_server::ReportingServiceServer,
};
use tokio::sync::watch;

use crate::{
    MIGRATOR,
    broker::{Publisher, Topology},
    config::ReportingConfig,
    dead_letters,
    events::{JobEvents, StreamSlots},
    fetch::Sources,
    relay,
    rpc::{READ_METHODS, Reporting, ReportingRpc},
    scheduler,
    storage::Storage,
    sweeper,
    worker::{Presence, Worker},
};

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The API, the outbox relay and the lease sweeper; no rendering (`swatter-reporting api`).
    Api,
    /// Everything: the API, relay and sweeper, and the worker (`swatter-reporting serve`, the
    /// default, and `make run`).
    WithWorker,
    /// Only the worker, rendering jobs from the queue (`swatter-reporting worker`): no API port
    /// is bound, only `GET /metrics`. Relay and sweeper run with the API.
    Worker,
}

/// A built reporting service, bound and ready to run.
pub struct Application {
    listeners: Listeners,
    /// The API, with the relay and the sweeper; `None` in [`Mode::Worker`].
    api: Option<(ReportingRpc, Arc<TokenVerifier>)>,
    worker: Option<Worker>,
    publisher: Arc<Publisher>,
    db: sqlx::PgPool,
    config: ReportingConfig,
}

impl Application {
    pub async fn build(config: ReportingConfig, mode: Mode) -> anyhow::Result<Self> {
        let db = config.database.connect(&MIGRATOR).await?;
        let identity = IdentityServiceClient::new(bootstrap::lazy_channel(
            &config.identity_url,
            "SWATTER_IDENTITY_URL",
        )?);
        let issues = IssuesServiceClient::new(bootstrap::lazy_channel(
            &config.issues_url,
            "SWATTER_ISSUES_URL",
        )?);
        let storage = Storage::new(&config.s3);
        if let Err(error) = storage.ensure_bucket().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "the object store is not reachable yet; uploads will retry"
            );
        }
        let topology = Topology::new(&config.queue_prefix);
        let publisher = Arc::new(Publisher::new(&config.amqp_url, topology.clone()));
        let worker = (mode != Mode::Api).then(|| Worker {
            db: db.clone(),
            storage: storage.clone(),
            sources: Sources {
                identity: identity.clone(),
                issues: issues.clone(),
                client_id: config.service_client_id.clone(),
                client_secret: config.service_client_secret.clone(),
            },
            backoff: config.backoff,
            lease: config.lease,
            amqp_url: config.amqp_url.clone(),
            topology: topology.clone(),
            concurrency: config.worker_concurrency,
            presence: Presence::new(config.worker_heartbeat),
        });
        let api = match mode {
            Mode::Worker => None,
            Mode::Api | Mode::WithWorker => {
                let verifier = bootstrap::identity_verifier(&identity, &config.tokens).await;
                let rpc = ReportingRpc(Arc::new(Reporting {
                    events: JobEvents::start(db.clone()),
                    db: db.clone(),
                    issues,
                    storage,
                    publisher: publisher.clone(),
                    max_attempts: config.max_attempts,
                    max_active_jobs_per_user: config.max_active_jobs_per_user,
                    streams: StreamSlots::new(config.max_streams_per_user as usize),
                    max_schedules_per_user: config.max_schedules_per_user,
                }));
                Some((rpc, verifier))
            }
        };
        let grpc_addr = api.is_some().then_some(config.addr);
        let listeners = Listeners::bind(grpc_addr, config.metrics_addr)
            .await?
            .map_metrics(|endpoint| {
                crate::metrics::describe();
                endpoint.with_collector(crate::metrics::collector(db.clone(), publisher.clone()))
            });
        Ok(Application {
            listeners,
            api,
            worker,
            publisher,
            db,
            config,
        })
    }

    swatter_common::listener_accessors!();

    /// Runs until `shutdown` resolves: stops taking work, lets in-flight requests and jobs
    /// finish (a job that cannot finish is released at its next checkpoint), then returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (db, publisher, config) = (self.db, self.publisher, self.config);
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        if self.api.is_some() {
            let events = Arc::new(EventPublisher::new(
                &config.amqp_url,
                &config.events_exchange,
                "swatter-reporting",
            ));
            tasks.push(tokio::spawn(relay::run(
                db.clone(),
                publisher.clone(),
                events,
                config.sweep_interval,
                stopped.clone(),
            )));
            tasks.push(tokio::spawn(sweeper::run(
                db.clone(),
                config.backoff,
                config.sweep_interval,
                sweeper::STALE_WAITING,
                stopped.clone(),
            )));
            tasks.push(tokio::spawn(scheduler::run_until(
                db.clone(),
                scheduler::Settings {
                    max_attempts: config.max_attempts,
                    max_active_jobs_per_user: config.max_active_jobs_per_user,
                    tick: config.scheduler_tick,
                },
                stopped.clone(),
            )));
            tasks.push(tokio::spawn(dead_letters::run(
                db.clone(),
                config.amqp_url.clone(),
                publisher.topology().clone(),
                stopped.clone(),
            )));
        }
        if let Some(worker) = self.worker {
            tracing::info!("reporting worker running");
            tasks.push(tokio::spawn(worker.run(stopped.clone())));
        }
        let probe: server::ReadinessProbe = Arc::new(move || {
            let (db, publisher) = (db.clone(), publisher.clone());
            Box::pin(async move {
                crate::store::ping(&db).await.is_ok() && publisher.queue_depths().await.is_ok()
            })
        });
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        match self.api {
            Some((rpc, verifier)) => {
                self.listeners
                    .with_service(
                        ReportingServiceServer::new(rpc),
                        // The worker's tokens (held for report owners) read identity and issues,
                        // never this.
                        AuthLayer::new(verifier, &[]).with_read_methods(READ_METHODS),
                        probe,
                    )
                    .serve(shutdown)
                    .await?
            }
            None => self.listeners.serve_metrics_until(shutdown).await,
        }
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    }
}
