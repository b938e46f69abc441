//! RabbitMQ: the topology the service declares at start, a publisher with confirms that
//! reconnects by itself, and the message format (the job id, the attempt, the trace context).

use std::collections::HashMap;

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{
        BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions,
        QueueDeclareOptions,
    },
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
    /// Durable work queue; rejected messages dead-letter to `dead_exchange`.
    pub work_queue: String,
    /// Direct exchange of dead letters (routing key `dead`).
    pub dead_exchange: String,
    /// Durable queue of exhausted (and poison) jobs.
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
    pub async fn delete(&self, amqp_url: &str) {
        let Ok(connection) =
            lapin::Connection::connect(amqp_url, lapin::ConnectionProperties::default()).await
        else {
            return;
        };
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

/// Declares (idempotently) every exchange and queue, durable.
pub async fn declare(channel: &Channel, topology: &Topology) -> lapin::Result<()> {
    let durable_exchange = ExchangeDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let durable_queue = QueueDeclareOptions {
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
    channel
        .queue_declare(
            topology.dead_queue.as_str().into(),
            durable_queue,
            FieldTable::default(),
        )
        .await?;
    channel
        .queue_bind(
            topology.dead_queue.as_str().into(),
            topology.dead_exchange.as_str().into(),
            "dead".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut work_args = FieldTable::default();
    work_args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(LongString::from(topology.dead_exchange.as_str())),
    );
    work_args.insert(
        ShortString::from("x-dead-letter-routing-key"),
        AMQPValue::LongString(LongString::from("dead")),
    );
    channel
        .queue_declare(
            topology.work_queue.as_str().into(),
            durable_queue,
            work_args,
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
        let channel = connection.create_channel().await?;
        declare(&channel, &self.topology).await?;
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
