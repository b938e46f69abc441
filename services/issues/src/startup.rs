//! Building and running the issues service: database, migrations, identity client, token
//! verifier and the gRPC server. Tests start it in-process on port 0 through the same code.

use std::{future::Future, sync::Arc};

use swatter_common::{
    auth::{AuthLayer, TokenVerifier},
    bootstrap,
    server::{self, Listeners},
};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_server::IssuesServiceServer,
};

use crate::{
    MIGRATOR,
    config::IssuesConfig,
    rpc::{DELEGATED_METHODS, Issues, IssuesRpc},
};

/// A built issues service, bound and ready to serve.
pub struct Application {
    listeners: Listeners,
    rpc: IssuesRpc,
    verifier: Arc<TokenVerifier>,
}

impl Application {
    pub async fn build(config: IssuesConfig) -> anyhow::Result<Self> {
        let db = config.database.connect(&MIGRATOR).await?;
        let identity = IdentityServiceClient::new(bootstrap::lazy_channel(
            &config.identity_url,
            "SWATTER_IDENTITY_URL",
        )?);
        let verifier = bootstrap::identity_verifier(
            &identity,
            &config.issuer,
            &config.audience,
            config.session_check_interval,
        )
        .await;
        Ok(Application {
            listeners: Listeners::bind(Some(config.addr), config.metrics_addr).await?,
            rpc: IssuesRpc(Arc::new(Issues { db, identity })),
            verifier,
        })
    }

    swatter_common::listener_accessors!();

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let probe = server::database_probe(self.rpc.0.db.clone());
        self.listeners
            .serve(
                IssuesServiceServer::new(self.rpc),
                AuthLayer::new(self.verifier, DELEGATED_METHODS),
                probe,
                shutdown,
            )
            .await
    }
}
