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

    /// Deletes this namespace's exchanges and queues from the shared broker.
    pub async fn cleanup(&self) {
        swatter_reporting::broker::Topology::new(&self.queue_prefix)
            .delete(&self.amqp_url)
            .await;
    }
}

impl Default for Broker {
    fn default() -> Self {
        Broker::new()
    }
}
