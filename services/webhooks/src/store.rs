//! The webhooks service's storage: one function per query against `swatter_webhooks`.
//!
//! A dispatcher holds a delivery through a lease (`lease_until`, `lease_token`); every write of
//! an attempt's result is conditional on the token it claimed with, so a dispatcher whose lease
//! lapsed (and whose delivery another one took over) changes nothing.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, Transaction, types::Json};
use swatter_common::pagination::TimeKey;
use uuid::Uuid;

use crate::domain::DeliveryState;

/// The channel `NOTIFY` wakes the dispatchers on when deliveries are due.
pub const DELIVERIES_CHANNEL: &str = "swatter_webhook_deliveries";
/// The channel `NOTIFY` wakes the outbox relays on.
pub const OUTBOX_CHANNEL: &str = "swatter_webhook_outbox";

/// A row of `endpoints`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EndpointRow {
    pub id: Uuid,
    pub project_key: String,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: String,
    pub active: bool,
    pub disabled_reason: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What a new endpoint is made of.
pub struct NewEndpoint<'a> {
    pub project_key: &'a str,
    pub url: &'a str,
    pub event_types: &'a [String],
    pub description: &'a str,
    pub active: bool,
    pub secret: &'a str,
    pub created_by: Uuid,
}

/// The changes of an update; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    pub description: Option<String>,
    pub active: Option<bool>,
}

/// A row of `deliveries`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_id: String,
    pub event_type: String,
    pub payload: String,
    pub state: DeliveryState,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_response_status: i32,
    pub last_duration_ms: i64,
}

/// A row of `delivery_attempts`.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttemptRow {
    pub attempt: i32,
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub request_url: String,
    pub request_headers: Json<BTreeMap<String, String>>,
    pub response_status: i32,
    pub response_body_excerpt: String,
    pub error: String,
}

/// A delivery a dispatcher holds, with what it needs to send it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Claim {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub project_key: String,
    pub event_id: String,
    pub event_type: String,
    pub event_at: DateTime<Utc>,
    pub payload: String,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
    pub schedule_start: i32,
    pub lease_token: Uuid,
    pub url: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
}

/// What became of a delivery after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Succeeded,
    RetryAt(DateTime<Utc>),
    /// The schedule is used up: the delivery failed and its endpoint is disabled.
    Exhausted,
}

const ENDPOINT_COLUMNS: &str = "id, project_key, url, event_types, description, active, \
    disabled_reason, secret, previous_secret, previous_secret_expires_at, created_by, \
    created_at, updated_at";

const DELIVERY_COLUMNS: &str = "id, endpoint_id, event_id, event_type, payload, state, attempts, \
    next_attempt_at, created_at, delivered_at, last_response_status, last_duration_ms";

pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await.map(|_| ())
}

pub async fn insert_endpoint(
    db: impl PgExecutor<'_>,
    new: &NewEndpoint<'_>,
) -> sqlx::Result<EndpointRow> {
    sqlx::query_as(&format!(
        "INSERT INTO endpoints (id, project_key, url, event_types, description, active, secret, \
         created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(new.project_key)
    .bind(new.url)
    .bind(new.event_types)
    .bind(new.description)
    .bind(new.active)
    .bind(new.secret)
    .bind(new.created_by)
    .fetch_one(db)
    .await
}

pub async fn endpoint_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A project's endpoints, oldest first, after `after`.
pub async fn list_endpoints(
    db: &PgPool,
    project_key: &str,
    after: Option<TimeKey>,
    limit: i64,
) -> sqlx::Result<Vec<EndpointRow>> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(&format!(
        "SELECT {ENDPOINT_COLUMNS} FROM endpoints WHERE project_key = $1
           AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id LIMIT $4"
    ))
    .bind(project_key)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Applies `changes`; an endpoint made active again loses its disabled reason and its waiting
/// deliveries become due at once.
pub async fn update_endpoint(
    db: &PgPool,
    id: Uuid,
    changes: &EndpointChanges,
) -> sqlx::Result<Option<EndpointRow>> {
    let mut tx = db.begin().await?;
    let row: Option<EndpointRow> = sqlx::query_as(&format!(
        "UPDATE endpoints SET url = COALESCE($2, url), event_types = COALESCE($3, event_types),
           description = COALESCE($4, description), active = COALESCE($5, active),
           disabled_reason = CASE WHEN $5 THEN '' ELSE disabled_reason END,
           updated_at = now()
         WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(&changes.url)
    .bind(&changes.event_types)
    .bind(&changes.description)
    .bind(changes.active)
    .fetch_optional(&mut *tx)
    .await?;
    if changes.active == Some(true) && row.is_some() {
        sqlx::query(
            "UPDATE deliveries SET next_attempt_at = now()
             WHERE endpoint_id = $1 AND state IN ('pending', 'retrying') AND next_attempt_at > now()",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        notify(&mut tx, DELIVERIES_CHANNEL).await?;
    }
    tx.commit().await?;
    Ok(row)
}

pub async fn delete_endpoint(db: &PgPool, id: Uuid) -> sqlx::Result<bool> {
    Ok(sqlx::query("DELETE FROM endpoints WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?
        .rows_affected()
        == 1)
}

/// Makes `secret` the endpoint's secret; the current one keeps signing until `previous_until`
/// (`None`: it stops at once).
pub async fn rotate_secret(
    db: impl PgExecutor<'_>,
    id: Uuid,
    secret: &str,
    previous_until: Option<DateTime<Utc>>,
) -> sqlx::Result<Option<EndpointRow>> {
    sqlx::query_as(&format!(
        "UPDATE endpoints SET
           previous_secret = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE secret END,
           previous_secret_expires_at = $3, secret = $2, updated_at = now()
         WHERE id = $1 RETURNING {ENDPOINT_COLUMNS}"
    ))
    .bind(id)
    .bind(secret)
    .bind(previous_until)
    .fetch_optional(db)
    .await
}

/// Wakes whoever listens on `channel` once the transaction commits.
pub async fn notify(tx: &mut Transaction<'_, Postgres>, channel: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(channel)
        .execute(&mut **tx)
        .await
        .map(|_| ())
}

/// One event as the consumer stores it.
pub struct IncomingEvent<'a> {
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub event_at: DateTime<Utc>,
    pub project_key: &'a str,
    pub payload: &'a str,
    /// An endpoint that must not receive it (the one a `webhook.endpoint_disabled` is about).
    pub except: Option<Uuid>,
}

/// A delivery of `event` to each endpoint of its project that subscribes to its type (active or
/// not: an inactive endpoint gets its events once active again). An endpoint that already has
/// the event gets nothing more. Returns how many were added.
pub async fn insert_deliveries(
    tx: &mut Transaction<'_, Postgres>,
    event: &IncomingEvent<'_>,
) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "INSERT INTO deliveries (id, endpoint_id, event_id, event_type, event_at, payload)
         SELECT gen_random_uuid(), e.id, $1, $2, $3, $5 FROM endpoints e
         WHERE e.project_key = $4 AND (cardinality(e.event_types) = 0 OR $2 = ANY(e.event_types))
           AND e.id IS DISTINCT FROM $6
         ORDER BY e.id
         ON CONFLICT ON CONSTRAINT deliveries_endpoint_event_key DO NOTHING",
    )
    .bind(event.event_id)
    .bind(event.event_type)
    .bind(event.event_at)
    .bind(event.project_key)
    .bind(event.payload)
    .bind(event.except)
    .execute(&mut **tx)
    .await?
    .rows_affected())
}

/// A delivery of one event to one endpoint (a ping), due now.
pub async fn insert_delivery(
    tx: &mut Transaction<'_, Postgres>,
    endpoint_id: Uuid,
    event_id: &str,
    event_type: &str,
    event_at: DateTime<Utc>,
    payload: &str,
) -> sqlx::Result<DeliveryRow> {
    let row = sqlx::query_as(&format!(
        "INSERT INTO deliveries (id, endpoint_id, event_id, event_type, event_at, payload)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING {DELIVERY_COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(endpoint_id)
    .bind(event_id)
    .bind(event_type)
    .bind(event_at)
    .bind(payload)
    .fetch_one(&mut **tx)
    .await?;
    notify(tx, DELIVERIES_CHANNEL).await?;
    Ok(row)
}

/// Claims up to `limit` due deliveries, each the oldest unfinished delivery of an active
/// endpoint (of `endpoint` only, when given) that no live lease holds, for `lease`.
pub async fn claim_due(
    db: &PgPool,
    limit: i64,
    lease: Duration,
    endpoint: Option<Uuid>,
) -> sqlx::Result<Vec<Claim>> {
    sqlx::query_as(
        "WITH heads AS (
           SELECT h.id FROM endpoints e
           CROSS JOIN LATERAL (
             SELECT d.id, d.next_attempt_at, d.lease_until FROM deliveries d
             WHERE d.endpoint_id = e.id AND d.state IN ('pending', 'retrying')
             ORDER BY d.position LIMIT 1
           ) h
           WHERE e.active AND ($3::uuid IS NULL OR e.id = $3)
             AND h.next_attempt_at <= now() AND (h.lease_until IS NULL OR h.lease_until < now())
           ORDER BY h.next_attempt_at
           LIMIT $1
         ), locked AS (
           SELECT d.id FROM deliveries d
           WHERE d.id IN (SELECT id FROM heads) AND d.state IN ('pending', 'retrying')
             AND (d.lease_until IS NULL OR d.lease_until < now())
           FOR UPDATE SKIP LOCKED
         )
         UPDATE deliveries d SET attempts = d.attempts + 1, lease_token = gen_random_uuid(),
           lease_until = now() + make_interval(secs => $2)
         FROM locked, endpoints e
         WHERE d.id = locked.id AND e.id = d.endpoint_id
         RETURNING d.id, d.endpoint_id, e.project_key, d.event_id, d.event_type, d.event_at,
           d.payload, d.attempts, d.schedule_start, d.lease_token, e.url, e.secret,
           e.previous_secret, e.previous_secret_expires_at",
    )
    .bind(limit)
    .bind(lease.as_secs_f64())
    .bind(endpoint)
    .fetch_all(db)
    .await
}

/// When the next delivery becomes due (the earliest head of an active endpoint that waits for
/// its time or for a lapsed lease), if any.
pub async fn next_due(db: &PgPool) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "SELECT min(GREATEST(h.next_attempt_at, COALESCE(h.lease_until, h.next_attempt_at)))
         FROM endpoints e
         CROSS JOIN LATERAL (
           SELECT d.next_attempt_at, d.lease_until FROM deliveries d
           WHERE d.endpoint_id = e.id AND d.state IN ('pending', 'retrying')
           ORDER BY d.position LIMIT 1
         ) h
         WHERE e.active",
    )
    .fetch_one(db)
    .await
}

/// One attempt as the log keeps it.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub started_at: DateTime<Utc>,
    pub duration_ms: i64,
    pub request_url: String,
    pub request_headers: BTreeMap<String, String>,
    pub response_status: i32,
    pub response_body_excerpt: String,
    pub error: String,
}

/// How an exhausted delivery disables its endpoint: the reason, and the envelope JSON of the
/// `webhook.endpoint_disabled` event made from the endpoint as disabled.
pub struct Disable<'a> {
    pub reason: &'a str,
    pub event: &'a (dyn Fn(&EndpointRow) -> String + Sync),
}

/// Records attempt `claim.attempts` and what became of the delivery, if `claim` still holds its
/// lease (`false`: it lost it, nothing was written). An exhausted delivery disables its endpoint
/// as `disable` says and queues the event in the outbox.
pub async fn record_attempt(
    db: &PgPool,
    claim: &Claim,
    record: &AttemptRecord,
    after: AfterAttempt,
    disable: Option<Disable<'_>>,
) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let (state, next_at, delivered) = match after {
        AfterAttempt::Succeeded => (DeliveryState::Succeeded, None, true),
        AfterAttempt::RetryAt(at) => (DeliveryState::Retrying, Some(at), false),
        AfterAttempt::Exhausted => (DeliveryState::Failed, None, false),
    };
    let updated = sqlx::query(
        "UPDATE deliveries SET state = $3, next_attempt_at = COALESCE($4, next_attempt_at),
           delivered_at = CASE WHEN $5 THEN now() ELSE delivered_at END,
           lease_until = NULL, lease_token = NULL,
           last_response_status = $6, last_duration_ms = $7
         WHERE id = $1 AND lease_token = $2",
    )
    .bind(claim.id)
    .bind(claim.lease_token)
    .bind(state)
    .bind(next_at)
    .bind(delivered)
    .bind(record.response_status)
    .bind(record.duration_ms)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO delivery_attempts (delivery_id, attempt, started_at, duration_ms,
           request_url, request_headers, response_status, response_body_excerpt, error)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(claim.id)
    .bind(claim.attempts)
    .bind(record.started_at)
    .bind(record.duration_ms)
    .bind(&record.request_url)
    .bind(Json(&record.request_headers))
    .bind(record.response_status)
    .bind(&record.response_body_excerpt)
    .bind(&record.error)
    .execute(&mut *tx)
    .await?;
    if let (AfterAttempt::Exhausted, Some(disable)) = (after, disable) {
        let disabled: Option<EndpointRow> = sqlx::query_as(&format!(
            "UPDATE endpoints SET active = false, disabled_reason = $2, updated_at = now()
             WHERE id = $1 AND active RETURNING {ENDPOINT_COLUMNS}"
        ))
        .bind(claim.endpoint_id)
        .bind(disable.reason)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(endpoint) = disabled {
            sqlx::query("INSERT INTO outbox (event_type, envelope) VALUES ($1, $2)")
                .bind(crate::domain::ENDPOINT_DISABLED)
                .bind((disable.event)(&endpoint))
                .execute(&mut *tx)
                .await?;
            notify(&mut tx, OUTBOX_CHANNEL).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// An endpoint's deliveries, newest first, in `states` (all when empty), after `after`.
pub async fn list_deliveries(
    db: &PgPool,
    endpoint_id: Uuid,
    states: &[DeliveryState],
    after: Option<TimeKey>,
    limit: i64,
) -> sqlx::Result<Vec<DeliveryRow>> {
    let (after_at, after_id) = after.unzip();
    let states: Vec<&str> = states.iter().map(|s| s.as_str()).collect();
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE endpoint_id = $1
           AND (cardinality($2::text[]) = 0 OR state = ANY($2))
           AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(endpoint_id)
    .bind(&states)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn delivery_by_id(
    db: impl PgExecutor<'_>,
    endpoint_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<DeliveryRow>> {
    sqlx::query_as(&format!(
        "SELECT {DELIVERY_COLUMNS} FROM deliveries WHERE id = $1 AND endpoint_id = $2"
    ))
    .bind(id)
    .bind(endpoint_id)
    .fetch_optional(db)
    .await
}

/// Every attempt of a delivery, oldest first.
pub async fn attempts_of(
    db: impl PgExecutor<'_>,
    delivery_id: Uuid,
) -> sqlx::Result<Vec<AttemptRow>> {
    sqlx::query_as(
        "SELECT attempt, started_at, duration_ms, request_url, request_headers, response_status,
           response_body_excerpt, error
         FROM delivery_attempts WHERE delivery_id = $1 ORDER BY id",
    )
    .bind(delivery_id)
    .fetch_all(db)
    .await
}

/// Makes a delivery pending again at the end of its endpoint's order, its retry schedule
/// starting over; an attempt in flight is fenced out.
pub async fn redeliver(
    db: &PgPool,
    endpoint_id: Uuid,
    id: Uuid,
) -> sqlx::Result<Option<DeliveryRow>> {
    let mut tx = db.begin().await?;
    let row = sqlx::query_as(&format!(
        "UPDATE deliveries SET state = 'pending', position = nextval('delivery_order'),
           next_attempt_at = now(), schedule_start = attempts, lease_until = NULL,
           lease_token = NULL
         WHERE id = $1 AND endpoint_id = $2 RETURNING {DELIVERY_COLUMNS}"
    ))
    .bind(id)
    .bind(endpoint_id)
    .fetch_optional(&mut *tx)
    .await?;
    notify(&mut tx, DELIVERIES_CHANNEL).await?;
    tx.commit().await?;
    Ok(row)
}

/// A message of the outbox.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub envelope: String,
}

/// Locks up to `limit` unsent outbox messages, oldest first, skipping those another relay holds.
pub async fn lock_unsent_outbox(
    tx: &mut Transaction<'_, Postgres>,
    limit: i64,
) -> sqlx::Result<Vec<OutboxRow>> {
    sqlx::query_as(
        "SELECT id, envelope FROM outbox WHERE sent_at IS NULL
         ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(limit)
    .fetch_all(&mut **tx)
    .await
}

pub async fn mark_outbox_sent(db: impl PgExecutor<'_>, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query("UPDATE outbox SET sent_at = now() WHERE id = ANY($1)")
        .bind(ids)
        .execute(db)
        .await
        .map(|_| ())
}

/// Deletes finished deliveries (succeeded or failed) created more than `older_than` ago, with
/// their attempts; returns how many.
pub async fn prune_deliveries(db: &PgPool, older_than: Duration) -> sqlx::Result<u64> {
    Ok(sqlx::query(
        "DELETE FROM deliveries WHERE state IN ('succeeded', 'failed')
           AND created_at < now() - make_interval(secs => $1)",
    )
    .bind(older_than.as_secs_f64())
    .execute(db)
    .await?
    .rows_affected())
}

/// Deliveries not finished yet (pending or retrying), the age of the oldest of them in seconds,
/// and outbox messages not yet published.
pub async fn backlog(db: &PgPool) -> sqlx::Result<(i64, f64, i64)> {
    sqlx::query_as(
        "SELECT
           (SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retrying')),
           COALESCE((SELECT extract(epoch FROM now() - min(created_at))::float8 FROM deliveries
                     WHERE state IN ('pending', 'retrying')), 0),
           (SELECT count(*) FROM outbox WHERE sent_at IS NULL)",
    )
    .fetch_one(db)
    .await
}
