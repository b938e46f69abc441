//! `Idempotency-Key` for create operations: the key is claimed inside the creating transaction,
//! so a concurrent duplicate waits on the unique index and then replays the stored response.

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use swatter_common::{input, status::Violation};
use uuid::Uuid;

use crate::{
    error::{IssuesError, Result},
    store,
};

/// A claimed key, to be completed with the response in the same transaction.
pub struct Claim {
    user_id: Uuid,
    operation: &'static str,
    key: String,
}

/// What to do with a create request.
pub enum Begin<M> {
    /// Go ahead in `tx`; call [`complete`] with the response before committing.
    Proceed(Transaction<'static, Postgres>, Option<Claim>),
    /// The same request was already answered: return this.
    Replay(M),
}

/// The hash that identifies "the same body": the request without its idempotency key.
pub fn request_hash<M: Message>(request_without_key: &M) -> Vec<u8> {
    Sha256::digest(request_without_key.encode_to_vec()).to_vec()
}

/// Opens the transaction of a create and claims `key` (if any) in it.
pub async fn begin<M: Message + Default>(
    db: &PgPool,
    user_id: Uuid,
    operation: &'static str,
    key: &str,
    hash: &[u8],
) -> Result<Begin<M>> {
    let mut tx = db.begin().await?;
    if key.is_empty() {
        return Ok(Begin::Proceed(tx, None));
    }
    input::check_idempotency_key(key).map_err(IssuesError::invalid)?;
    if store::claim_idempotency_key(&mut tx, user_id, operation, key, hash).await? {
        return Ok(Begin::Proceed(
            tx,
            Some(Claim {
                user_id,
                operation,
                key: key.to_owned(),
            }),
        ));
    }
    drop(tx);
    let (stored_hash, response) = store::idempotent_response(db, user_id, operation, key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency key vanished after a conflict"))?;
    if stored_hash != hash {
        return Err(IssuesError::invalid(Violation::new(
            "Idempotency-Key",
            "was already used with a different request",
        )));
    }
    let response = response.ok_or(IssuesError::FailedPrecondition(
        "a request with this Idempotency-Key is still being processed",
    ))?;
    Ok(Begin::Replay(
        M::decode(response.as_slice()).map_err(anyhow::Error::from)?,
    ))
}

/// Records the response of a claimed key.
pub async fn complete<M: Message>(
    tx: &mut Transaction<'static, Postgres>,
    claim: Option<Claim>,
    response: &M,
) -> Result<()> {
    if let Some(claim) = claim {
        store::save_idempotent_response(
            tx,
            claim.user_id,
            claim.operation,
            &claim.key,
            &response.encode_to_vec(),
        )
        .await?;
    }
    Ok(())
}
