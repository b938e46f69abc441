//! Building and running the issues service: database, migrations, identity client, token
//! verifier and the gRPC server. Tests start it in-process on port 0 through the same code.

use std::{future::Future, net::SocketAddr, sync::Arc};

use anyhow::Context;
use swatter_common::{
    auth::{AuthLayer, GrpcJwks, GrpcSessions, TokenVerifier},
    client::TracedChannel,
    db, metrics, server,
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_server::IssuesServiceServer,
};
use tokio::net::TcpListener;
use tonic::transport::Endpoint;

use crate::{
    MIGRATOR,
    config::IssuesConfig,
    rpc::{DELEGATED_METHODS, Issues, IssuesRpc},
};

/// A built issues service, bound and ready to serve.
pub struct Application {
    listener: TcpListener,
    rpc: IssuesRpc,
    verifier: Arc<TokenVerifier>,
    metrics: Option<metrics::Endpoint>,
}

impl Application {
    pub async fn build(config: IssuesConfig) -> anyhow::Result<Self> {
        let db = db::connect(
            "SWATTER_ISSUES_DATABASE_URL",
            &config.database_url,
            config.database_max_connections,
        )
        .await?;
        if config.run_migrations {
            MIGRATOR.run(&db).await.context("run issues migrations")?;
        }
        let channel = Endpoint::from_shared(config.identity_url.clone())
            .context("SWATTER_IDENTITY_URL is not a URL")?
            .connect_timeout(std::time::Duration::from_secs(3))
            .connect_lazy();
        let identity = IdentityServiceClient::new(TracedChannel::new(channel));
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
        let listener = server::bind(config.addr).await?;
        let metrics = metrics::Endpoint::bind(config.metrics_addr).await?;
        Ok(Application {
            listener,
            rpc: IssuesRpc(Arc::new(Issues { db, identity })),
            verifier,
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

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), "issues service listening");
        let probe = database_probe(self.rpc.0.db.clone());
        let _metrics = metrics::serve(self.metrics);
        server::serve(
            self.listener,
            IssuesServiceServer::new(self.rpc),
            AuthLayer::new(self.verifier, DELEGATED_METHODS),
            probe,
            shutdown,
        )
        .await
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(server::shutdown_signal()).await
    }
}

/// Ready while the database answers.
fn database_probe(db: sqlx::PgPool) -> server::ReadinessProbe {
    std::sync::Arc::new(move || {
        let db = db.clone();
        Box::pin(async move { crate::store::ping(&db).await.is_ok() })
    })
}
