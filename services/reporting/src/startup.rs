//! Building and running the reporting service: the gRPC API, the outbox relay, the lease
//! sweeper, and (unless API-only) the worker. Tests start it in-process through the same code.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use swatter_common::{
    auth::{AuthLayer, GrpcJwks, GrpcSessions, TokenVerifier},
    client::TracedChannel,
    db, metrics, server,
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_client::IssuesServiceClient,
    reporting::v1::reporting_service_server::ReportingServiceServer,
};
use tokio::{net::TcpListener, sync::watch};
use tonic::transport::Endpoint;

use crate::{
    MIGRATOR,
    broker::{Publisher, Topology},
    config::ReportingConfig,
    events::{JobEvents, StreamSlots},
    fetch::Sources,
    relay,
    rpc::{Reporting, ReportingRpc},
    storage::Storage,
    sweeper,
    worker::Worker,
};

/// Which parts run in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// API, relay and sweeper; no rendering (the reporting API deployment).
    Api,
    /// Everything, including the worker (the worker deployment, and `make run`).
    WithWorker,
}

/// A built reporting service, bound and ready to run.
pub struct Application {
    listener: TcpListener,
    rpc: ReportingRpc,
    verifier: Arc<TokenVerifier>,
    worker: Option<Worker>,
    publisher: Arc<Publisher>,
    config: ReportingConfig,
    metrics: Option<metrics::Endpoint>,
}

fn lazy_channel(url: &str, setting: &str) -> anyhow::Result<TracedChannel> {
    Ok(TracedChannel::new(
        Endpoint::from_shared(url.to_owned())
            .with_context(|| format!("{setting} is not a URL"))?
            .connect_timeout(std::time::Duration::from_secs(3))
            .tcp_nodelay(true)
            .connect_lazy(),
    ))
}

impl Application {
    pub async fn build(config: ReportingConfig, mode: Mode) -> anyhow::Result<Self> {
        let db = db::connect(
            "SWATTER_REPORTING_DATABASE_URL",
            &config.database_url,
            config.database_max_connections,
        )
        .await?;
        if config.run_migrations {
            MIGRATOR
                .run(&db)
                .await
                .context("run reporting migrations")?;
        }
        let identity =
            IdentityServiceClient::new(lazy_channel(&config.identity_url, "SWATTER_IDENTITY_URL")?);
        let issues =
            IssuesServiceClient::new(lazy_channel(&config.issues_url, "SWATTER_ISSUES_URL")?);
        let verifier = Arc::new(
            TokenVerifier::new(&config.issuer, &config.audience, GrpcJwks(identity.clone()))
                .with_sessions(
                    GrpcSessions(identity.clone()),
                    config.session_check_interval,
                ),
        );
        if let Err(error) = verifier.refresh().await {
            tracing::warn!(error = %error, "identity's signing keys are not available yet; will fetch on first use");
        }
        let storage = Storage::new(&config.s3);
        if let Err(error) = storage.ensure_bucket().await {
            tracing::warn!(
                error = format!("{error:#}"),
                "the object store is not reachable yet; uploads will retry"
            );
        }
        let topology = Topology::new(&config.queue_prefix);
        let publisher = Arc::new(Publisher::new(&config.amqp_url, topology.clone()));
        let worker = (mode == Mode::WithWorker).then(|| Worker {
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
            topology,
            concurrency: config.worker_concurrency,
        });
        let listener = server::bind(config.addr).await?;
        let metrics = metrics::Endpoint::bind(config.metrics_addr)
            .await?
            .map(|endpoint| {
                crate::metrics::describe();
                endpoint.with_collector(crate::metrics::collector(db.clone(), publisher.clone()))
            });
        let rpc = ReportingRpc(Arc::new(Reporting {
            events: JobEvents::start(db.clone()),
            db,
            issues,
            storage,
            publisher: publisher.clone(),
            max_attempts: config.max_attempts,
            max_active_jobs_per_user: config.max_active_jobs_per_user,
            streams: StreamSlots::new(config.max_streams_per_user as usize),
        }));
        Ok(Application {
            listener,
            rpc,
            verifier,
            worker,
            publisher,
            config,
            metrics,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// The address `GET /metrics` listens on, unless metrics are off.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(metrics::Endpoint::local_addr)
    }

    /// Runs until `shutdown` resolves: stops taking work, lets in-flight requests and jobs
    /// finish (a job that cannot finish is released at its next checkpoint), then returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            rpc,
            verifier,
            worker,
            publisher,
            config,
            metrics,
        } = self;
        let _metrics = metrics::serve(metrics);
        let db = rpc.0.db.clone();
        let (stop, stopped) = watch::channel(false);
        let relay = tokio::spawn(relay::run(
            db.clone(),
            publisher.clone(),
            config.sweep_interval,
            stopped.clone(),
        ));
        let sweeper = tokio::spawn(sweeper::run(
            db.clone(),
            config.backoff,
            config.sweep_interval,
            sweeper::STALE_WAITING,
            stopped.clone(),
        ));
        let worker = worker.map(|w| tokio::spawn(w.run(stopped.clone())));
        let probe: server::ReadinessProbe = {
            let (db, publisher) = (db.clone(), publisher.clone());
            Arc::new(move || {
                let (db, publisher) = (db.clone(), publisher.clone());
                Box::pin(async move {
                    crate::store::ping(&db).await.is_ok() && publisher.queue_depths().await.is_ok()
                })
            })
        };
        tracing::info!(addr = %listener.local_addr()?, worker = worker.is_some(), "reporting service listening");
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        server::serve(
            listener,
            ReportingServiceServer::new(rpc),
            // The worker's tokens (held for report owners) read identity and issues, never this.
            AuthLayer::new(verifier, &[]),
            probe,
            shutdown,
        )
        .await?;
        if let Some(worker) = worker {
            let _ = worker.await;
        }
        let _ = relay.await;
        let _ = sweeper.await;
        Ok(())
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(server::shutdown_signal()).await
    }
}
