//! RabbitMQ: the topology the service declares at start, a publisher with confirms that
//! reconnects by itself, and the message format (the job id, the attempt, the trace context).

use std::collections::HashMap;

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
        ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
    },
    protocol::{AMQPErrorKind, AMQPSoftError},
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use serde::{Deserialize, Serialize};
use swatter_common::propagation;
use tokio::sync::Mutex;
use tracing::Instrument;
use uuid::Uuid;

use crate::store::Destination;

/// Names of the exchanges and queues, all derived from one prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    /// Direct exchange the relay publishes work to (routing key `work`).
    pub exchange: String,
    /// Durable quorum work queue; rejected messages, and those delivered [`DELIVERY_LIMIT`]
    /// times, dead-letter to `dead_exchange`.
    pub work_queue: String,
    /// Direct exchange of dead letters (routing key `dead`).
    pub dead_exchange: String,
    /// Durable quorum queue of exhausted (and poison) jobs.
    pub dead_queue: String,
}

impl Topology {
    pub fn new(prefix: &str) -> Self {
        Topology {
            exchange: prefix.to_owned(),
            work_queue: format!("{prefix}.work"),
            dead_exchange: format!("{prefix}.dlx"),
            dead_queue: format!("{prefix}.dead"),
        }
    }

    /// Deletes this topology's queues and exchanges, messages included (retiring a prefix; tests
    /// use it to leave the shared broker clean). Best effort: what is already gone is skipped.
    ///
    /// The queues are first declared and given [`SETTLE`] to start: RabbitMQ 3.10 crashes the
    /// dead-letter worker of a work queue deleted while that worker starts (a process may still
    /// be declaring the topology: a test that ends at once), and after a few such crashes no
    /// at-least-once queue starts on the node until it restarts (scripts/ensure-deps.sh).
    pub async fn delete(&self, amqp_url: &str) {
        const SETTLE: std::time::Duration = std::time::Duration::from_millis(300);
        let Ok(connection) =
            lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await
        else {
            return;
        };
        if declare(&connection, self).await.is_ok() {
            tokio::time::sleep(SETTLE).await;
        }
        if let Ok(channel) = connection.create_channel().await {
            for queue in [&self.work_queue, &self.dead_queue] {
                let _ = channel
                    .queue_delete(queue.as_str().into(), Default::default())
                    .await;
            }
            for exchange in [&self.exchange, &self.dead_exchange] {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), Default::default())
                    .await;
            }
        }
        let _ = connection.close(200, "done".into()).await;
    }

    fn route(&self, destination: Destination) -> (&str, &str) {
        match destination {
            Destination::Work => (&self.exchange, "work"),
            Destination::Dead => (&self.dead_exchange, "dead"),
        }
    }
}

/// What a message says: start `attempt` of job `job_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub job_id: Uuid,
    pub attempt: i32,
}

impl JobMessage {
    /// The AMQP message id: `job_id:attempt`.
    pub fn id(&self) -> String {
        format!("{}:{}", self.job_id, self.attempt)
    }
}

/// Connects to the broker.
pub async fn connect(url: &str) -> lapin::Result<Connection> {
    Connection::connect(
        url,
        ConnectionProperties::default().with_connection_name("swatter-reporting".into()),
    )
    .await
}

/// Deliveries of one message after which the broker stops handing it out and dead-letters it.
///
/// The worker acknowledges every message it could read once the job's outcome is committed, and
/// retries are new messages with a new attempt number, so a message comes back only when a
/// worker lost it unacknowledged: the process died or its connection dropped mid-job, or it shut
/// down with the message prefetched. A message that has come back this often is one that takes
/// workers down (a poison message); without a limit it would do so for ever. Its job is not
/// lost: the sweeper takes over the job when its lease lapses or it waits too long.
pub const DELIVERY_LIMIT: i32 = 10;

/// Declares (idempotently) every exchange and queue: durable exchanges and replicated quorum
/// queues. A queue of the same name declared with other arguments (a classic queue, as versions
/// before quorum queues declared) is replaced, its messages moved across (see [`replace_queue`]).
pub async fn declare(connection: &Connection, topology: &Topology) -> anyhow::Result<()> {
    let channel = connection.create_channel().await?;
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    channel
        .exchange_declare(
            topology.exchange.as_str().into(),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    channel
        .exchange_declare(
            topology.dead_exchange.as_str().into(),
            ExchangeKind::Direct,
            durable_exchange,
            FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    declare_quorum_queue(connection, &topology.dead_queue, dead_queue_arguments()).await?;
    declare_quorum_queue(
        connection,
        &topology.work_queue,
        work_queue_arguments(topology),
    )
    .await?;
    let channel = connection.create_channel().await?;
    channel
        .queue_bind(
            topology.dead_queue.as_str().into(),
            topology.dead_exchange.as_str().into(),
            "dead".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            topology.work_queue.as_str().into(),
            topology.exchange.as_str().into(),
            "work".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// The dead-letter queue: replicated, and nothing more (what lands there stays for an operator).
fn dead_queue_arguments() -> FieldTable {
    let mut arguments = FieldTable::default();
    arguments.insert(ShortString::from("x-queue-type"), text("quorum"));
    arguments
}

/// The work queue: replicated, with a delivery limit, dead-lettering (rejected messages and those
/// over the limit) to the dead-letter exchange. At-least-once dead-lettering has the broker keep a
/// dead letter until the dead-letter queue has confirmed it (the default would drop it if that
/// queue's leader were away); it needs `reject-publish` overflow, which only matters with a length
/// limit, and the work queue has none.
fn work_queue_arguments(topology: &Topology) -> FieldTable {
    let mut arguments = dead_queue_arguments();
    arguments.insert(
        ShortString::from("x-dead-letter-exchange"),
        text(&topology.dead_exchange),
    );
    arguments.insert(ShortString::from("x-dead-letter-routing-key"), text("dead"));
    arguments.insert(
        ShortString::from("x-delivery-limit"),
        AMQPValue::LongInt(DELIVERY_LIMIT),
    );
    arguments.insert(
        ShortString::from("x-dead-letter-strategy"),
        text("at-least-once"),
    );
    arguments.insert(ShortString::from("x-overflow"), text("reject-publish"));
    arguments
}

fn text(value: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(value))
}

fn durable_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

/// Declares quorum queue `name`, replacing a queue of that name that has other arguments.
async fn declare_quorum_queue(
    connection: &Connection,
    name: &str,
    arguments: FieldTable,
) -> anyhow::Result<()> {
    let channel = connection.create_channel().await?;
    match channel
        .queue_declare(name.into(), durable_queue(), arguments.clone())
        .await
    {
        Ok(_) => {
            let _ = channel.close(200, "declared".into()).await;
        }
        // The broker refuses to declare a queue again with other arguments (and closes the
        // channel): the queue of that name is one an earlier version declared.
        Err(error) if is_precondition_failed(&error) => {
            tracing::warn!(
                queue = name,
                "the queue was declared with other arguments (a classic queue?); replacing it"
            );
            replace_queue(connection, name, arguments)
                .await
                .map_err(|e| e.context(format!("replacing the queue {name}")))?;
        }
        Err(error) => return Err(error.into()),
    }
    // A replacement that stopped half-way left messages in the holding queue: bring them home.
    // Declaring the holding queue is the check (a passive declare of a missing queue would be an
    // error the client logs at every start); it is deleted again at once.
    let holding = holding_queue(name);
    let channel = connection.create_channel().await?;
    let waiting = channel
        .queue_declare(
            holding.as_str().into(),
            durable_queue(),
            FieldTable::default(),
        )
        .await?
        .message_count();
    if waiting > 0 {
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        move_messages(&channel, &holding, name).await?;
    }
    channel
        .queue_delete(
            holding.as_str().into(),
            QueueDeleteOptions {
                if_empty: true,
                ..Default::default()
            },
        )
        .await?;
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

fn is_precondition_failed(error: &lapin::Error) -> bool {
    matches!(
        error.kind(),
        lapin::ErrorKind::ProtocolError(e)
            if *e.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
    )
}

/// Where [`replace_queue`] keeps the messages of `name` while it swaps the queue.
fn holding_queue(name: &str) -> String {
    format!("{name}.migrating")
}

/// Replaces queue `name` by a quorum queue with `arguments`, keeping its messages: they move to
/// a durable holding queue, the old queue is deleted and declared anew ([`declare_quorum_queue`]
/// then moves them back). Every move is confirmed before the original is acknowledged, so a crash
/// loses nothing (at worst a message is copied twice, and a second delivery of a job claims
/// nothing), and the next start finishes the move. While the queue is away a publish finds no
/// queue and fails, and the outbox publishes it again later.
async fn replace_queue(
    connection: &Connection,
    name: &str,
    arguments: FieldTable,
) -> anyhow::Result<()> {
    let holding = holding_queue(name);
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    channel
        .queue_declare(
            holding.as_str().into(),
            durable_queue(),
            FieldTable::default(),
        )
        .await?;
    move_messages(&channel, name, &holding).await?;
    channel
        .queue_delete(
            name.into(),
            QueueDeleteOptions {
                if_empty: true,
                ..Default::default()
            },
        )
        .await?;
    channel
        .queue_declare(name.into(), durable_queue(), arguments)
        .await?;
    let _ = channel.close(200, "replaced".into()).await;
    Ok(())
}

/// Moves every message of queue `from` to queue `to` on `channel` (in confirm mode): each is
/// republished with its properties and acknowledged once the broker has confirmed the copy.
async fn move_messages(channel: &Channel, from: &str, to: &str) -> anyhow::Result<()> {
    while let Some(message) = channel
        .basic_get(from.into(), BasicGetOptions::default())
        .await?
    {
        let delivery = message.delivery;
        let confirm = channel
            .basic_publish(
                "".into(),
                to.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &delivery.data,
                delivery.properties.clone(),
            )
            .await?
            .await?;
        if !confirm.is_ack() || confirm.take_message().is_some() {
            anyhow::bail!("the broker did not take the message moved from {from} to {to}");
        }
        delivery.ack(BasicAckOptions::default()).await?;
    }
    Ok(())
}

/// Publishes persistent, mandatory messages and waits for the broker's confirmation of each.
/// A failed publish drops the connection; the next one reconnects.
pub struct Publisher {
    url: String,
    topology: Topology,
    link: Mutex<Option<(Connection, Channel)>>,
}

impl Publisher {
    pub fn new(url: &str, topology: Topology) -> Self {
        Publisher {
            url: url.to_owned(),
            topology,
            link: Mutex::new(None),
        }
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    async fn channel(&self) -> anyhow::Result<Channel> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let connection = connect(&self.url).await?;
        declare(&connection, &self.topology).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    async fn drop_link(&self) {
        if let Some((connection, _)) = self.link.lock().await.take() {
            let _ = connection.close(0, "reconnecting".into()).await;
        }
    }

    /// Publishes `message` to `destination`; `Ok` only once the broker has confirmed it and it
    /// was routed to a queue. `headers` holds the trace context of whoever queued the message:
    /// the publish is a producer span in that trace, and the message carries the producer
    /// span's context on to the consumer.
    pub async fn publish(
        &self,
        destination: Destination,
        message: &JobMessage,
        headers: &HashMap<String, String>,
    ) -> anyhow::Result<()> {
        let (exchange, _) = self.topology.route(destination);
        let span = tracing::info_span!(
            "amqp.publish",
            otel.name = %format!("publish {exchange}"),
            otel.kind = "producer",
            otel.status_code = tracing::field::Empty,
            messaging.system = "rabbitmq",
            messaging.operation.type = "send",
            messaging.destination.name = %exchange,
            messaging.message.id = %message.id(),
            job_id = %message.job_id,
            attempt = message.attempt,
        );
        propagation::continue_trace(&span, headers);
        let mut headers = headers.clone();
        propagation::inject(&span, &mut headers);
        let result = self
            .try_publish(destination, message, &headers)
            .instrument(span.clone())
            .await;
        if result.is_err() {
            span.record("otel.status_code", "ERROR");
            self.drop_link().await;
        }
        result
    }

    async fn try_publish(
        &self,
        destination: Destination,
        message: &JobMessage,
        headers: &HashMap<String, String>,
    ) -> anyhow::Result<()> {
        let channel = self.channel().await?;
        let (exchange, routing_key) = self.topology.route(destination);
        let mut table = FieldTable::default();
        for (name, value) in headers {
            table.insert(
                ShortString::from(name.as_str()),
                AMQPValue::LongString(LongString::from(value.as_str())),
            );
        }
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(message.id().into())
            .with_headers(table);
        let confirm = channel
            .basic_publish(
                exchange.into(),
                routing_key.into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                &serde_json::to_vec(message)?,
                properties,
            )
            .await?
            .await?;
        if !confirm.is_ack() {
            anyhow::bail!("the broker refused the message (nack)");
        }
        if confirm.take_message().is_some() {
            anyhow::bail!("the message was not routed to any queue");
        }
        Ok(())
    }

    /// Messages waiting in the work queue and in the dead-letter queue.
    pub async fn queue_depths(&self) -> anyhow::Result<(u32, u32)> {
        let channel = self.channel().await?;
        let passive = QueueDeclareOptions {
            passive: true,
            durable: true,
            ..Default::default()
        };
        let work = channel
            .queue_declare(
                self.topology.work_queue.as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await;
        let dead = channel
            .queue_declare(
                self.topology.dead_queue.as_str().into(),
                passive,
                FieldTable::default(),
            )
            .await;
        match (work, dead) {
            (Ok(work), Ok(dead)) => Ok((work.message_count(), dead.message_count())),
            (Err(e), _) | (_, Err(e)) => {
                self.drop_link().await;
                Err(e.into())
            }
        }
    }
}

/// Text headers of a delivery (the trace context).
pub fn headers_of(properties: &BasicProperties) -> HashMap<String, String> {
    let mut headers = HashMap::new();
    if let Some(table) = properties.headers() {
        for (name, value) in table.inner() {
            if let AMQPValue::LongString(value) = value {
                headers.insert(name.to_string(), value.to_string());
            }
        }
    }
    headers
}
