//! Idempotency keys of create operations.

use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

/// Claims `key` for this request inside `tx`. `true`: this request is the first and proceeds.
/// `false`: the key exists (a concurrent holder is waited for by the unique index).
pub async fn claim_idempotency_key(
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

/// The stored request hash and response of a claimed key.
pub async fn idempotent_response(
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

pub async fn save_idempotent_response(
    tx: &mut Transaction<'_, Postgres>,
    user_id: Uuid,
    operation: &str,
    key: &str,
    response: &[u8],
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE idempotency_keys SET response = $4
         WHERE user_id = $1 AND operation = $2 AND key = $3",
    )
    .bind(user_id)
    .bind(operation)
    .bind(key)
    .bind(response)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
