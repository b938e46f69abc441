//! `Idempotency-Key` of create operations (`request_id` over gRPC), one algorithm for every
//! service: the key is claimed inside the creating transaction, so a concurrent duplicate waits
//! on the unique index and then replays the first response, stored with the key. Each service's
//! database has the table `idempotency_keys (user_id, operation, key, request_hash, response)`.

use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{Error, Service};
use crate::{input, status::Violation};

/// What to do with a create request.
pub enum Begin<M> {
    /// Go ahead in the transaction; [`Claim::complete`] it with the response before committing.
    Proceed(Transaction<'static, Postgres>, Claim),
    /// The same request was already answered: return this.
    Replay(M),
}

/// The key a create request holds (if it came with one), to be completed with the response in
/// the transaction that claimed it.
pub struct Claim(Option<Key>);

struct Key {
    user_id: Uuid,
    operation: &'static str,
    key: String,
}

/// Opens the transaction of a create and claims `key` (none when empty) in it for the request
/// `request` (without its key). A key already used with this same request replays its stored
/// response; with another request it is refused.
pub async fn begin<R: Message, M: Message + Default, S: Service>(
    db: &PgPool,
    user_id: Uuid,
    operation: &'static str,
    key: &str,
    request: &R,
) -> Result<Begin<M>, Error<S>> {
    let mut tx = db.begin().await?;
    if key.is_empty() {
        return Ok(Begin::Proceed(tx, Claim(None)));
    }
    let key = input::idempotency_key(key).map_err(Error::invalid)?;
    let hash = Sha256::digest(request.encode_to_vec()).to_vec();
    if claim(&mut tx, user_id, operation, key, &hash).await? {
        let key = Key {
            user_id,
            operation,
            key: key.to_owned(),
        };
        return Ok(Begin::Proceed(tx, Claim(Some(key))));
    }
    drop(tx);
    let (stored_hash, response) = stored(db, user_id, operation, key)
        .await?
        .ok_or_else(|| anyhow::anyhow!("idempotency key vanished after a conflict"))?;
    if stored_hash != hash {
        return Err(Error::invalid(Violation::new(
            "Idempotency-Key",
            "was already used with a different request",
        )));
    }
    let response = response.ok_or(Error::FailedPrecondition(
        "a request with this Idempotency-Key is still being processed".into(),
    ))?;
    Ok(Begin::Replay(
        M::decode(response.as_slice()).map_err(anyhow::Error::from)?,
    ))
}

impl Claim {
    /// Stores `response` as the answer of the claimed key (if any).
    pub async fn complete<M: Message, S: Service>(
        self,
        tx: &mut Transaction<'static, Postgres>,
        response: &M,
    ) -> Result<(), Error<S>> {
        if let Some(Key {
            user_id,
            operation,
            key,
        }) = self.0
        {
            sqlx::query(
                "UPDATE idempotency_keys SET response = $4
                 WHERE user_id = $1 AND operation = $2 AND key = $3",
            )
            .bind(user_id)
            .bind(operation)
            .bind(key)
            .bind(response.encode_to_vec())
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }
}

/// Claims `key` inside `tx`. `true`: this request is the first and proceeds. `false`: the key
/// exists (a concurrent holder is waited for by the unique index).
async fn claim(
    tx: &mut Transaction<'_, Postgres>,
    user_id: Uuid,
    operation: &str,
    key: &str,
    request_hash: &[u8],
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "INSERT INTO idempotency_keys (user_id, operation, key, request_hash)
         VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
    )
    .bind(user_id)
    .bind(operation)
    .bind(key)
    .bind(request_hash)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1)
}

/// The request hash and response (once complete) stored with a claimed key.
async fn stored(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    operation: &str,
    key: &str,
) -> sqlx::Result<Option<(Vec<u8>, Option<Vec<u8>>)>> {
    sqlx::query_as(
        "SELECT request_hash, response FROM idempotency_keys
         WHERE user_id = $1 AND operation = $2 AND key = $3",
    )
    .bind(user_id)
    .bind(operation)
    .bind(key)
    .fetch_optional(db)
    .await
}
