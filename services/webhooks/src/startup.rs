//! Building and running the webhooks service: the gRPC API, the events consumer, the dispatcher
//! and the outbox relay, in one process. Tests start it in-process through the same code.

use std::{future::Future, sync::Arc};

use swatter_common::{
    auth::{AuthLayer, TokenVerifier},
    bootstrap,
    broker::EventPublisher,
    server::Listeners,
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_client::IssuesServiceClient,
    webhooks::v1::webhooks_service_server::WebhooksServiceServer,
};
use tokio::sync::watch;

use crate::{
    MIGRATOR,
    broker::{self, Topology},
    config::WebhooksConfig,
    delivery::Sender,
    dispatcher::Dispatcher,
    relay,
    rpc::{READ_METHODS, Webhooks, WebhooksRpc},
};

/// A built webhooks service, bound and ready to run.
pub struct Application {
    listeners: Listeners,
    rpc: WebhooksRpc,
    verifier: Arc<TokenVerifier>,
    dispatcher: Arc<Dispatcher>,
    publisher: Arc<EventPublisher>,
    topology: Topology,
    db: sqlx::PgPool,
    config: WebhooksConfig,
}

impl Application {
    pub async fn build(config: WebhooksConfig) -> anyhow::Result<Self> {
        let db = config.database.connect(&MIGRATOR).await?;
        let identity = IdentityServiceClient::new(bootstrap::lazy_channel(
            &config.identity_url,
            "SWATTER_IDENTITY_URL",
        )?);
        let issues = IssuesServiceClient::new(bootstrap::lazy_channel(
            &config.issues_url,
            "SWATTER_ISSUES_URL",
        )?);
        let verifier = bootstrap::identity_verifier(&identity, &config.tokens).await;
        let topology = Topology::new(&config.events_exchange, &config.queue_prefix);
        let publisher = Arc::new(EventPublisher::new(
            &config.amqp_url,
            &config.events_exchange,
            "swatter-webhooks relay",
        ));
        let dispatcher = Arc::new(Dispatcher {
            db: db.clone(),
            sender: Sender::new(config.timeout, config.address_policy.clone())?,
            schedule: config.retry_schedule.clone(),
            lease: config.lease,
            concurrency: usize::from(config.concurrency),
            sweep: config.sweep_interval,
        });
        let rpc = WebhooksRpc(Arc::new(Webhooks {
            db: db.clone(),
            issues,
            address_policy: config.address_policy.clone(),
        }));
        let listeners = Listeners::bind(Some(config.addr), config.metrics_addr)
            .await?
            .map_metrics(|endpoint| {
                crate::metrics::describe();
                endpoint.with_collector(crate::metrics::collector(db.clone()))
            });
        Ok(Application {
            listeners,
            rpc,
            verifier,
            dispatcher,
            publisher,
            topology,
            db,
            config,
        })
    }

    swatter_common::listener_accessors!();

    /// Runs until `shutdown` resolves: stops taking events and claiming deliveries, lets the
    /// requests and attempts in flight finish, then returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (db, config) = (self.db, self.config);
        let (stop, stopped) = watch::channel(false);
        let tasks = vec![
            tokio::spawn(broker::consume(
                db.clone(),
                config.amqp_url.clone(),
                self.topology,
                stopped.clone(),
            )),
            tokio::spawn(self.dispatcher.run(stopped.clone())),
            tokio::spawn(relay::run(
                db.clone(),
                self.publisher,
                config.sweep_interval,
                stopped.clone(),
            )),
            tokio::spawn(relay::prune(
                db.clone(),
                config.log_retention,
                stopped.clone(),
            )),
        ];
        let probe = swatter_common::db::readiness_probe(db);
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let served = self
            .listeners
            .with_service(
                WebhooksServiceServer::new(self.rpc),
                AuthLayer::new(self.verifier, &[]).with_read_methods(READ_METHODS),
                probe,
            )
            .serve(shutdown)
            .await;
        for task in tasks {
            let _ = task.await;
        }
        served
    }
}
