//! The shared RabbitMQ, with exchange and queue names unique to one test.

use crate::amqp_url;

/// One test's names on the shared broker: its exchanges and queues start with `queue_prefix`.
#[derive(Clone, Debug)]
pub struct Broker {
    pub amqp_url: String,
    pub queue_prefix: String,
}

impl Broker {
    /// A namespace no other test uses.
    pub fn new() -> Broker {
        Broker {
            amqp_url: amqp_url(),
            queue_prefix: format!("swatter.test.{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// Messages in `queue` (one of this namespace's).
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let connection =
            lapin::Connection::connect(&self.amqp_url, lapin::ConnectionProperties::default())
                .await
                .expect("connect to the broker");
        let channel = connection.create_channel().await.expect("a channel");
        let depth = channel
            .queue_declare(
                queue.into(),
                lapin::options::QueueDeclareOptions {
                    passive: true,
                    durable: true,
                    ..Default::default()
                },
                lapin::types::FieldTable::default(),
            )
            .await
            .expect("the queue exists")
            .message_count();
        let _ = connection.close(200, "done".into()).await;
        depth
    }

    /// This namespace's events exchange (`SWATTER_EVENTS_EXCHANGE`).
    pub fn events_exchange(&self) -> String {
        format!("{}.events-exchange", self.queue_prefix)
    }

    /// Publishes `envelope` to the events exchange as the contexts do (routing key its type,
    /// persistent, confirmed), declaring the exchange first.
    pub async fn publish_event(&self, envelope: &swatter_common::events::Envelope) {
        self.publish_events(std::slice::from_ref(envelope)).await;
    }

    /// Publishes `envelopes` in order over one connection (see [`Broker::publish_event`]). A
    /// connection dropped meanwhile (another test closing every connection of the broker) is
    /// made again and the rest published: an event may then go out twice, as in production.
    pub async fn publish_events(&self, envelopes: &[swatter_common::events::Envelope]) {
        let mut sent = 0;
        for _ in 0..10 {
            match self.try_publish(&envelopes[sent..]).await {
                Ok(()) => return,
                Err((confirmed, error)) => {
                    sent += confirmed;
                    eprintln!("publishing test events failed ({error}); publishing the rest again");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
        panic!("the broker never took the test events");
    }

    /// Publishes `envelopes`; on failure, how many were confirmed before it.
    async fn try_publish(
        &self,
        envelopes: &[swatter_common::events::Envelope],
    ) -> Result<(), (usize, lapin::Error)> {
        use lapin::{
            BasicProperties, ExchangeKind,
            options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions},
            types::FieldTable,
        };
        let connection =
            lapin::Connection::connect(&self.amqp_url, lapin::ConnectionProperties::default())
                .await
                .map_err(|e| (0, e))?;
        let channel = connection.create_channel().await.map_err(|e| (0, e))?;
        let exchange = self.events_exchange();
        channel
            .exchange_declare(
                exchange.as_str().into(),
                ExchangeKind::Topic,
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await
            .map_err(|e| (0, e))?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .map_err(|e| (0, e))?;
        for (confirmed, envelope) in envelopes.iter().enumerate() {
            let body = serde_json::to_vec(envelope).expect("an envelope is JSON");
            let confirm = channel
                .basic_publish(
                    exchange.as_str().into(),
                    envelope.event_type.as_str().into(),
                    BasicPublishOptions::default(),
                    &body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("application/json".into())
                        .with_message_id(envelope.id.as_str().into()),
                )
                .await
                .map_err(|e| (confirmed, e))?
                .await
                .map_err(|e| (confirmed, e))?;
            assert!(confirm.is_ack(), "the broker refused the event");
        }
        let _ = connection.close(200, "done".into()).await;
        Ok(())
    }

    /// Deletes this namespace's exchanges and queues from the shared broker.
    pub async fn cleanup(&self) {
        #[cfg(feature = "reporting")]
        swatter_reporting::broker::Topology::new(&self.queue_prefix)
            .delete(&self.amqp_url)
            .await;
        #[cfg(feature = "webhooks")]
        swatter_webhooks::broker::Topology::new(&self.events_exchange(), &self.queue_prefix)
            .delete(&self.amqp_url)
            .await;
    }
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new()
    }
}

/// A durable queue bound to every event of `exchange`, declared before the events flow.
pub async fn bind_events_queue(exchange: &str) -> String {
    let connection =
        lapin::Connection::connect(&amqp_url(), lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .exchange_declare(
            exchange.into(),
            lapin::ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let queue = format!("{exchange}.consumer");
    channel
        .queue_declare(
            queue.as_str().into(),
            lapin::options::QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    channel
        .queue_bind(
            queue.as_str().into(),
            exchange.into(),
            "#".into(),
            lapin::options::QueueBindOptions::default(),
            lapin::types::FieldTable::default(),
        )
        .await
        .unwrap();
    let _ = connection.close(200, "bound".into()).await;
    queue
}
