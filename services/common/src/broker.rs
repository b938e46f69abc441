//! Publishing [`crate::events::Envelope`]s to the events topic exchange, as `events` describes:
//! persistent, routing key = event type, `message_id` = envelope id, publisher confirms. The
//! connection is opened (and the durable exchange declared) on first use and again after any
//! failure, so a relay simply retries what was not confirmed.

use lapin::{
    BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind,
    options::{BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions},
    types::FieldTable,
};
use tokio::sync::Mutex;

use crate::events::Envelope;

/// A publisher of events with confirms that reconnects by itself.
pub struct EventPublisher {
    url: String,
    exchange: String,
    connection_name: String,
    link: Mutex<Option<(Connection, Channel)>>,
}

impl EventPublisher {
    /// Publishes to `exchange` on the broker at `url`; `connection_name` shows in the broker's
    /// management UI.
    pub fn new(url: &str, exchange: &str, connection_name: &str) -> Self {
        EventPublisher {
            url: url.to_owned(),
            exchange: exchange.to_owned(),
            connection_name: connection_name.to_owned(),
            link: Mutex::new(None),
        }
    }

    /// The exchange events go to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    async fn channel(&self) -> anyhow::Result<Channel> {
        let mut link = self.link.lock().await;
        if let Some((connection, channel)) = link.as_ref()
            && connection.status().connected()
            && channel.status().connected()
        {
            return Ok(channel.clone());
        }
        let connection = Connection::connect(
            &self.url,
            ConnectionProperties::default()
                .with_connection_name(self.connection_name.as_str().into()),
        )
        .await?;
        let channel = connection.create_channel().await?;
        declare_exchange(&channel, &self.exchange).await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        *link = Some((connection, channel.clone()));
        Ok(channel)
    }

    /// Drops the connection (the next publish opens a new one).
    async fn drop_link(&self) {
        if let Some((connection, _)) = self.link.lock().await.take() {
            let _ = connection.close(0, "reconnecting".into()).await;
        }
    }

    /// Publishes `envelope`; `Ok` only once the broker has confirmed it. An event no queue is
    /// bound for is confirmed too: nobody consumes that type.
    pub async fn publish(&self, envelope: &Envelope) -> anyhow::Result<()> {
        let result = self.try_publish(envelope).await;
        if result.is_err() {
            self.drop_link().await;
        }
        result
    }

    /// Publishes every envelope, then waits for all their confirms; `Ok` only when the broker
    /// confirmed each one (on an error some may have been taken: publish them all again).
    pub async fn publish_all(&self, envelopes: &[Envelope]) -> anyhow::Result<()> {
        let result = self.try_publish_all(envelopes).await;
        if result.is_err() {
            self.drop_link().await;
        }
        result
    }

    async fn try_publish_all(&self, envelopes: &[Envelope]) -> anyhow::Result<()> {
        let channel = self.channel().await?;
        let mut confirms = Vec::with_capacity(envelopes.len());
        for envelope in envelopes {
            confirms.push(self.send(&channel, envelope).await?);
        }
        for confirm in confirms {
            if !confirm.await?.is_ack() {
                anyhow::bail!("the broker refused an event (nack)");
            }
        }
        Ok(())
    }

    async fn try_publish(&self, envelope: &Envelope) -> anyhow::Result<()> {
        let channel = self.channel().await?;
        let confirm = self.send(&channel, envelope).await?.await?;
        if !confirm.is_ack() {
            anyhow::bail!("the broker refused the event (nack)");
        }
        Ok(())
    }

    async fn send(
        &self,
        channel: &Channel,
        envelope: &Envelope,
    ) -> anyhow::Result<lapin::PublisherConfirm> {
        let properties = BasicProperties::default()
            .with_delivery_mode(2)
            .with_content_type("application/json".into())
            .with_message_id(envelope.id.as_str().into())
            .with_timestamp(u64::try_from(envelope.timestamp.timestamp()).unwrap_or(0))
            .with_type(envelope.event_type.as_str().into());
        Ok(channel
            .basic_publish(
                self.exchange.as_str().into(),
                envelope.event_type.as_str().into(),
                BasicPublishOptions::default(),
                &serde_json::to_vec(envelope)?,
                properties,
            )
            .await?)
    }
}

/// Declares (idempotently) the durable topic exchange events are published to.
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> lapin::Result<()> {
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}
