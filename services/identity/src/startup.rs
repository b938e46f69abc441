//! Building and running the identity service: database, migrations, the first admin, keys, and
//! the gRPC server. Tests start it in-process on port 0 through the same code.

use std::{future::Future, sync::Arc, time::Duration};

use anyhow::Context;
use sqlx::PgPool;
use swatter_common::{
    auth::{AuthLayer, StaticJwks, TokenVerifier},
    server::BoundService,
};
use swatter_proto::identity::v1::identity_service_server::IdentityServiceServer;
use uuid::Uuid;

use crate::{
    MIGRATOR,
    config::{BootstrapAdmin, IdentityConfig},
    passwords::PasswordHasherPool,
    rpc::{DELEGATED_METHODS, Identity, IdentityRpc, READ_METHODS},
    sessions::{DbPersonalTokens, DbSessions},
    store::{self, NewUser},
    throttle::{self, Throttle},
    tokens::{SigningKey, TokenIssuer, verification_jwk},
};

/// A built identity service, bound and ready to serve.
pub struct Application {
    grpc: BoundService<IdentityServiceServer<IdentityRpc>>,
    db: PgPool,
}

impl Application {
    /// Connects, migrates, creates the first admin if configured, and binds the listener.
    pub async fn build(config: IdentityConfig) -> anyhow::Result<Self> {
        let db = config.database.connect(&MIGRATOR).await?;
        let key = SigningKey::from_pem(&config.signing_key_pem)
            .context("SWATTER_JWT_PRIVATE_KEY(_FILE) does not hold a usable key")?;
        let verify_keys = config
            .verify_key_pems
            .iter()
            .map(|pem| verification_jwk(pem))
            .collect::<anyhow::Result<Vec<_>>>()
            .context("SWATTER_JWT_VERIFY_KEY_PATHS names a file that holds no usable key")?;
        let tokens = TokenIssuer::new(
            key,
            &config.issuer,
            &config.audience,
            config.access_token_ttl.as_secs() as i64,
        )
        .with_verification_keys(verify_keys);
        let passwords = PasswordHasherPool::new(config.password_hash_concurrency);
        if let Some(admin) = &config.bootstrap_admin {
            ensure_admin(&db, &passwords, admin).await?;
        }
        // Identity asks its own database at every request: its decisions (admin operations
        // above all) follow the account as it is now, not as the token remembers it.
        let verifier = Arc::new(
            TokenVerifier::new(&config.issuer, &config.audience, StaticJwks(tokens.jwks()))
                .with_sessions(DbSessions(db.clone()), Duration::ZERO)
                .with_personal_tokens(DbPersonalTokens(db.clone()), Duration::ZERO),
        );
        verifier.refresh().await?;
        let identity = Identity {
            tokens,
            passwords,
            refresh_ttl: chrono::Duration::from_std(config.refresh_token_ttl)?,
            signup_enabled: config.signup_enabled,
            pat_allow_no_expiry: config.pat_allow_no_expiry,
            service_clients: config.service_clients.clone(),
            throttle: Throttle::new(db.clone(), config.throttle.clone()),
            db: db.clone(),
        };
        let grpc = BoundService::bind(
            config.addr,
            config.metrics_addr,
            IdentityServiceServer::new(IdentityRpc(Arc::new(identity))),
            AuthLayer::new(verifier, DELEGATED_METHODS).with_read_methods(READ_METHODS),
            swatter_common::db::readiness_probe(db.clone()),
        )
        .await?;
        // Binding the metrics endpoint installed the recorder the description goes to.
        crate::passwords::describe_metrics();
        Ok(Application { grpc, db })
    }

    swatter_common::listener_accessors!(grpc);

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let sweeper = tokio::spawn(throttle::sweep_periodically(self.db));
        let served = self.grpc.serve(shutdown).await;
        sweeper.abort();
        served
    }
}

async fn ensure_admin(
    db: &PgPool,
    passwords: &PasswordHasherPool,
    admin: &BootstrapAdmin,
) -> anyhow::Result<()> {
    if store::user_by_username(db, &admin.username)
        .await?
        .is_some()
    {
        return Ok(());
    }
    crate::domain::Username::parse(&admin.username)
        .map_err(|v| anyhow::anyhow!("SWATTER_ADMIN_USERNAME {}", v.message))?;
    crate::domain::Password::parse("SWATTER_ADMIN_PASSWORD", &admin.password)
        .map_err(|v| anyhow::anyhow!("SWATTER_ADMIN_PASSWORD {}", v.message))?;
    let hash = passwords.hash(admin.password.clone()).await?;
    let created = store::insert_user(
        db,
        &NewUser {
            id: Uuid::now_v7(),
            username: &admin.username,
            email: &admin.email,
            full_name: "Administrator",
            password_hash: &hash,
            admin: true,
        },
    )
    .await;
    match created {
        Ok(user) => {
            tracing::info!(username = %user.username, "created the first admin");
            Ok(())
        }
        // Another replica created it at the same moment.
        Err(e)
            if e.as_database_error()
                .is_some_and(|d| d.is_unique_violation()) =>
        {
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}
