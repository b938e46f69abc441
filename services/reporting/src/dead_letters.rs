//! Dead letters into the database: the API's consumer of the dead-letter queue moves each
//! message into `dead_letters` (insert committed, then ack), so that operators list and requeue
//! them (`ListDeadLetters`, `RequeueDeadLetter`, the dashboard) instead of reading the broker.
//! At least once: a message redelivered after a crash between the commit and the ack finds its
//! row by its key and adds nothing.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures::StreamExt;
use lapin::{
    BasicProperties,
    options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions},
    types::{AMQPValue, FieldTable},
};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    broker::{self, JobMessage, Topology},
    store::{self, NewDeadLetter},
};

/// The reason of a letter the reporting service sent to the dead-letter exchange itself, after
/// the last attempt (the broker adds no `x-death` header to those).
pub const EXHAUSTED: &str = "exhausted";
/// How much of a body is kept.
const PAYLOAD_LIMIT: usize = 4096;

/// What a message from the dead-letter queue says, read without I/O: `now` stands for when it
/// was dead-lettered when the broker did not say.
pub fn read_dead_letter(
    body: &[u8],
    properties: &BasicProperties,
    now: DateTime<Utc>,
) -> NewDeadLetter {
    let message: Option<JobMessage> = serde_json::from_slice(body).ok();
    let message_key = match (properties.message_id(), &message) {
        (Some(id), _) => id.to_string(),
        (None, Some(message)) => message.id(),
        (None, None) => format!("sha256:{}", hex::encode(Sha256::digest(body))),
    };
    let headers = properties.headers().as_ref();
    let death = headers.and_then(|h| match h.inner().get("x-death") {
        Some(AMQPValue::FieldArray(deaths)) => match deaths.as_slice().first() {
            Some(AMQPValue::FieldTable(first)) => Some(first.clone()),
            _ => None,
        },
        _ => None,
    });
    let reason = headers
        .and_then(|h| text(h.inner().get("x-first-death-reason")))
        .or_else(|| death.as_ref().and_then(|d| text(d.inner().get("reason"))))
        .unwrap_or_else(|| EXHAUSTED.to_owned());
    let dead_lettered_at = death
        .as_ref()
        .and_then(|d| match d.inner().get("time") {
            Some(AMQPValue::Timestamp(seconds)) => {
                Utc.timestamp_opt(i64::try_from(*seconds).ok()?, 0).single()
            }
            _ => None,
        })
        .unwrap_or(now);
    let mut payload = String::from_utf8_lossy(body).into_owned();
    if payload.len() > PAYLOAD_LIMIT {
        let mut end = PAYLOAD_LIMIT;
        while !payload.is_char_boundary(end) {
            end -= 1;
        }
        payload.truncate(end);
    }
    NewDeadLetter {
        message_key,
        job_id: message.as_ref().map(|m| m.job_id),
        attempt: message.as_ref().map(|m| m.attempt),
        reason,
        dead_lettered_at,
        payload,
    }
}

fn text(value: Option<&AMQPValue>) -> Option<String> {
    match value? {
        AMQPValue::LongString(s) => Some(s.to_string()),
        AMQPValue::ShortString(s) => Some(s.to_string()),
        _ => None,
    }
}

/// Moves dead letters into the database until `shutdown` turns true, reconnecting as needed.
pub async fn run(
    db: PgPool,
    amqp_url: String,
    topology: Topology,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut delay = Duration::from_millis(200);
    while !*shutdown.borrow() {
        match consume(&db, &amqp_url, &topology, &mut shutdown).await {
            Ok(()) => delay = Duration::from_millis(200),
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "dead-letter consumer interrupted; reconnecting"
            ),
        }
        tokio::select! {
            _ = tokio::time::sleep(delay) => {},
            _ = shutdown.changed() => {},
        }
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

async fn consume(
    db: &PgPool,
    amqp_url: &str,
    topology: &Topology,
    shutdown: &mut watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let connection = broker::connect(amqp_url).await?;
    broker::declare(&connection, topology).await?;
    let channel = connection.create_channel().await?;
    channel.basic_qos(16, BasicQosOptions::default()).await?;
    let mut consumer = channel
        .basic_consume(
            topology.dead_queue.as_str().into(),
            format!("swatter-dead-letters-{}", Uuid::new_v4().simple())
                .as_str()
                .into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    loop {
        tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    let letter = read_dead_letter(&delivery.data, &delivery.properties, Utc::now());
                    // Not acked when the insert fails: the broker hands the message out again.
                    if store::insert_dead_letter(db, &letter).await? {
                        tracing::info!(key = %letter.message_key, reason = %letter.reason, "dead letter stored");
                    }
                    delivery.ack(BasicAckOptions::default()).await?;
                }
                Some(Err(error)) => return Err(error.into()),
                None => anyhow::bail!("the broker cancelled the dead-letter consumer"),
            },
            _ = shutdown.changed() => {
                let _ = channel.close(200, "shutting down".into()).await;
                let _ = connection.close(200, "shutting down".into()).await;
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use lapin::types::{FieldArray, LongString, ShortString};

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    #[test]
    fn a_letter_sent_after_the_last_attempt_is_exhausted_and_keyed_by_its_message_id() {
        let job_id = Uuid::now_v7();
        let body = serde_json::to_vec(&JobMessage { job_id, attempt: 3 }).unwrap();
        let properties = BasicProperties::default().with_message_id(format!("{job_id}:3").into());
        let letter = read_dead_letter(&body, &properties, at(100));
        assert_eq!(letter.message_key, format!("{job_id}:3"));
        assert_eq!((letter.job_id, letter.attempt), (Some(job_id), Some(3)));
        assert_eq!(letter.reason, EXHAUSTED);
        assert_eq!(letter.dead_lettered_at, at(100));
    }

    #[test]
    fn the_brokers_reason_and_time_come_from_the_death_headers() {
        let mut death = FieldTable::default();
        death.insert(
            ShortString::from("reason"),
            AMQPValue::LongString(LongString::from("delivery_limit")),
        );
        death.insert(ShortString::from("time"), AMQPValue::Timestamp(42));
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from("x-death"),
            AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
        );
        let letter = read_dead_letter(
            b"not json",
            &BasicProperties::default().with_headers(headers.clone()),
            at(100),
        );
        assert_eq!(letter.reason, "delivery_limit");
        assert_eq!(letter.dead_lettered_at, at(42));
        assert_eq!((letter.job_id, letter.attempt), (None, None));
        assert!(letter.message_key.starts_with("sha256:"), "{letter:?}");
        assert_eq!(letter.payload, "not json");

        headers.insert(
            ShortString::from("x-first-death-reason"),
            AMQPValue::LongString(LongString::from("rejected")),
        );
        let letter = read_dead_letter(
            b"not json",
            &BasicProperties::default().with_headers(headers),
            at(100),
        );
        assert_eq!(letter.reason, "rejected", "the first death wins");
    }

    #[test]
    fn a_long_body_is_cut_at_a_character_boundary() {
        let body = "é".repeat(PAYLOAD_LIMIT);
        let letter = read_dead_letter(body.as_bytes(), &BasicProperties::default(), at(1));
        assert!(letter.payload.len() <= PAYLOAD_LIMIT);
        assert!(letter.payload.chars().all(|c| c == 'é'));
    }
}
