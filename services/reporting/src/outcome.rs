//! How an attempt ends, recorded in one transaction with the messages it implies: a retry goes
//! back through the outbox with `not_before`, an exhausted job leaves a dead letter.

use std::collections::HashMap;

use chrono::Utc;
use rand::Rng;
use sqlx::PgPool;
use uuid::Uuid;

use crate::{
    domain::{Backoff, FailureKind},
    store::{self, Destination},
};

/// A failed attempt `attempt` of `max_attempts`: `retrying` with a delay while attempts remain,
/// `failed` (exhausted, with a dead letter) after the last. Returns whether the job was still ours.
pub async fn record_transient_failure(
    db: &PgPool,
    backoff: &Backoff,
    job_id: Uuid,
    attempt: i32,
    max_attempts: i32,
    message: &str,
    trace: &HashMap<String, String>,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let ours = if attempt < max_attempts {
        let delay = backoff.delay(attempt as u32, rand::thread_rng().r#gen::<f64>());
        let next = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let ours = store::schedule_retry(&mut *tx, job_id, attempt, next, message).await?;
        if ours {
            store::insert_outbox(
                &mut *tx,
                job_id,
                attempt + 1,
                Destination::Work,
                next,
                trace,
            )
            .await?;
        }
        ours
    } else {
        let message = format!("gave up after {attempt} attempts; last error: {message}");
        let ours =
            store::fail_job(&mut *tx, job_id, attempt, FailureKind::Exhausted, &message).await?;
        if ours {
            store::insert_outbox(
                &mut *tx,
                job_id,
                attempt,
                Destination::Dead,
                Utc::now(),
                trace,
            )
            .await?;
        }
        ours
    };
    tx.commit().await?;
    Ok(ours)
}
