//! RabbitMQ: the events exchange and this service's queue on it, the consumer that turns each
//! event into deliveries, and the publisher of this context's own events (with confirms).
//!
//! The consumer stores the deliveries of a batch of events in one transaction and acknowledges
//! the batch only once it is committed: a crash or a dropped connection before that has the
//! broker hand the events over again, and the unique (endpoint, event) key makes the second
//! storing a no-op. Events are handled one batch at a time, in the order the queue holds them,
//! by one consumer at a time however many replicas run (the queue has a single active consumer;
//! the others stand by), so that each endpoint's deliveries keep the order the events were
//! published in.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use lapin::{
    Connection, ConnectionProperties,
    message::Delivery,
    options::{
        BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use sqlx::PgPool;
use swatter_common::{broker::declare_exchange, events::Envelope};
use tokio::sync::watch;
use tracing::Instrument;
use uuid::Uuid;

use crate::{domain, store};

/// The exchange and this service's queue.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Durable topic exchange every context publishes its events to.
    pub exchange: String,
    /// Durable quorum queue bound to every routing key (`#`) of the exchange, with a single
    /// active consumer.
    pub queue: String,
}

impl Topology {
    pub fn new(exchange: &str, queue_prefix: &str) -> Self {
        Topology {
            exchange: exchange.to_owned(),
            queue: format!("{queue_prefix}.events"),
        }
    }

    /// Deletes the queue and the exchange (tests leave the shared broker clean with it).
    pub async fn delete(&self, amqp_url: &str) {
        let Ok(connection) = connect(amqp_url).await else {
            return;
        };
        if let Ok(channel) = connection.create_channel().await {
            let _ = channel
                .queue_delete(self.queue.as_str().into(), Default::default())
                .await;
            let _ = channel
                .exchange_delete(self.exchange.as_str().into(), Default::default())
                .await;
        }
        let _ = connection.close(200, "done".into()).await;
    }
}

/// The first wait before reconnecting to the broker; it doubles up to 5 s while connecting fails.
const FIRST_RETRY: Duration = Duration::from_millis(200);

/// Events handled per transaction at most.
const BATCH: usize = 200;

/// Connects to the broker.
pub async fn connect(url: &str) -> lapin::Result<Connection> {
    Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("swatter-webhooks".into()),
    )
    .await
}

/// Declares (idempotently) the exchange, the queue and its binding.
pub async fn declare(connection: &Connection, topology: &Topology) -> anyhow::Result<()> {
    let channel = connection.create_channel().await?;
    declare_exchange(&channel, &topology.exchange).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        ShortString::from("x-queue-type"),
        AMQPValue::LongString(LongString::from("quorum")),
    );
    // One consumer at a time (the others wait to take over): two replicas consuming at once
    // would store events in an order of their racing, not the order they were published in.
    arguments.insert(
        ShortString::from("x-single-active-consumer"),
        AMQPValue::Boolean(true),
    );
    channel
        .queue_declare(
            topology.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await
        .map_err(|error| {
            anyhow::anyhow!(
                "declare the queue {}: {error} (a queue of that name declared by an earlier \
                 version with other arguments must be deleted first)",
                topology.queue
            )
        })?;
    channel
        .queue_bind(
            topology.queue.as_str().into(),
            topology.exchange.as_str().into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// Consumes events until `shutdown` turns true, reconnecting whenever the broker goes away.
pub async fn consume(
    db: PgPool,
    amqp_url: String,
    topology: Topology,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_RETRY;
    while !*shutdown.borrow() {
        match consume_once(&db, &amqp_url, &topology, &mut shutdown, &mut backoff).await {
            Ok(()) => return,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "events consumer: broker connection lost; reconnecting"
                );
                tokio::select! {
                    _ = tokio::time::sleep(backoff) => {}
                    _ = shutdown.changed() => return,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn consume_once(
    db: &PgPool,
    amqp_url: &str,
    topology: &Topology,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    let connection = connect(amqp_url).await?;
    let result = consume_on(&connection, db, topology, shutdown, backoff).await;
    // Closed in every case, so that what was handed over and not acknowledged goes back to the
    // queue at once.
    let _ = connection.close(200, "consumer stopped".into()).await;
    result
}

async fn consume_on(
    connection: &Connection,
    db: &PgPool,
    topology: &Topology,
    shutdown: &mut watch::Receiver<bool>,
    backoff: &mut Duration,
) -> anyhow::Result<()> {
    declare(connection, topology).await?;
    let channel = connection.create_channel().await?;
    channel
        .basic_qos(BATCH as u16, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            topology.queue.as_str().into(),
            "swatter-webhooks".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    tracing::info!(queue = %topology.queue, "consuming events");
    *backoff = FIRST_RETRY;
    loop {
        let first = tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(delivery) => delivery?,
                None => anyhow::bail!("the broker cancelled the consumer"),
            },
            _ = shutdown.changed() => return Ok(()),
        };
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match consumer.next().now_or_never() {
                Some(Some(delivery)) => batch.push(delivery?),
                _ => break,
            }
        }
        let span = tracing::info_span!("webhooks.store_events", events = batch.len());
        store_batch(db, &batch).instrument(span).await?;
        let last = batch.last().expect("a batch holds at least one event");
        last.ack(BasicAckOptions { multiple: true }).await?;
    }
}

/// Stores the deliveries of every event of `batch` in one transaction.
async fn store_batch(db: &PgPool, batch: &[Delivery]) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let mut added = 0;
    for delivery in batch {
        let envelope: Envelope = match serde_json::from_slice(&delivery.data) {
            Ok(envelope) => envelope,
            Err(error) => {
                tracing::warn!(error = %error, "dropped a message that is no event envelope");
                crate::metrics::event_consumed("unreadable");
                continue;
            }
        };
        let Some(project_key) = envelope.project_key.as_deref() else {
            crate::metrics::event_consumed("no_project");
            continue;
        };
        if envelope.event_type == domain::PING {
            crate::metrics::event_consumed("ignored");
            continue;
        }
        // The endpoint a disabled event is about does not receive it (it is disabled anyway).
        let except = (envelope.event_type == domain::ENDPOINT_DISABLED)
            .then(|| envelope.data.get("id").and_then(|id| id.as_str()))
            .flatten()
            .and_then(|id| id.parse::<Uuid>().ok());
        let payload = String::from_utf8_lossy(&delivery.data);
        added += store::insert_deliveries(
            &mut tx,
            &store::IncomingEvent {
                event_id: &envelope.id,
                event_type: &envelope.event_type,
                event_at: envelope.timestamp,
                project_key,
                payload: &payload,
                except,
            },
        )
        .await?;
        crate::metrics::event_consumed("stored");
    }
    if added > 0 {
        store::notify(&mut tx, store::DELIVERIES_CHANNEL).await?;
    }
    tx.commit().await?;
    Ok(())
}
