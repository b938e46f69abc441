//! Building and running the issues service: database, migrations, identity client, token
//! verifier and the gRPC server. Tests start it in-process on port 0 through the same code.

use std::{future::Future, sync::Arc};

use swatter_common::{auth::AuthLayer, bootstrap, server::BoundService};
use swatter_proto::{
    identity::v1::identity_service_client::IdentityServiceClient,
    issues::v1::issues_service_server::IssuesServiceServer,
};

use crate::{
    MIGRATOR,
    config::IssuesConfig,
    feed::ChangeFeed,
    rpc::{DELEGATED_METHODS, Issues, IssuesRpc, READ_METHODS},
};

/// Largest request message: a one-step upload's file and the rest of its request.
const MAX_REQUEST_BYTES: usize =
    crate::domain::attachments::MAX_ONE_STEP_BYTES as usize + 64 * 1024;

/// A built issues service, bound and ready to serve.
pub struct Application {
    grpc: BoundService<IssuesServiceServer<IssuesRpc>>,
    feed: Arc<ChangeFeed>,
    sweeper: crate::attachments::Sweeper,
}

impl Application {
    pub async fn build(config: IssuesConfig) -> anyhow::Result<Self> {
        let db = config
            .database
            .connect_with(&MIGRATOR, crate::store::SESSION_SETTINGS)
            .await?;
        let identity = IdentityServiceClient::new(bootstrap::lazy_channel(
            &config.identity_url,
            "SWATTER_IDENTITY_URL",
        )?);
        let verifier = bootstrap::identity_verifier(&identity, &config.tokens).await;
        let probe = swatter_common::db::readiness_probe(db.clone());
        let feed = Arc::new(ChangeFeed::start(db.clone(), config.changes.clone()));
        let attachments = Arc::new(crate::attachments::Attachments::new(
            config.attachments.clone(),
        )?);
        let sweeper = attachments.start_sweeper(db.clone());
        let rpc = IssuesRpc(Arc::new(Issues {
            db,
            identity,
            feed: feed.clone(),
            attachments,
        }));
        let application = Application {
            feed,
            sweeper,
            grpc: BoundService::bind(
                config.addr,
                config.metrics_addr,
                // `UploadAttachment` carries up to 10 MiB of file; tonic refuses requests over
                // 4 MiB unless told otherwise.
                IssuesServiceServer::new(rpc).max_decoding_message_size(MAX_REQUEST_BYTES),
                AuthLayer::new(verifier, DELEGATED_METHODS).with_read_methods(READ_METHODS),
                probe,
            )
            .await?,
        };
        // The recorder is installed with the first metrics endpoint, above.
        crate::feed::metrics::describe();
        Ok(application)
    }

    swatter_common::listener_accessors!(grpc);

    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let feed = self.feed;
        let sweeper = self.sweeper;
        let shutdown = async move {
            shutdown.await;
            feed.close();
            drop(sweeper);
        };
        self.grpc.serve(shutdown).await
    }
}
