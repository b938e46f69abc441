//! The broker topology against the real RabbitMQ: replicated quorum queues with a delivery limit,
//! poison messages that end in the dead-letter queue, and the queues of earlier versions
//! (classic queues) replaced in place without losing their messages.

use std::{process::Command, time::Duration};

use lapin::{
    BasicProperties, Channel, Connection,
    options::{
        BasicGetOptions, BasicNackOptions, BasicPublishOptions, ConfirmSelectOptions,
        QueueDeclareOptions,
    },
    types::{AMQPValue, FieldTable, LongString, ShortString},
};
use swatter_reporting::{
    broker::{self, DELIVERY_LIMIT, JobMessage, Publisher, Topology},
    store::Destination,
};
use swatter_testkit::Broker;

/// A queue as `rabbitmqctl list_queues` shows it: its type and arguments.
fn listed_queue(name: &str) -> serde_json::Value {
    let output = Command::new("rabbitmqctl")
        .args([
            "-q",
            "list_queues",
            "name",
            "type",
            "arguments",
            "--formatter",
            "json",
        ])
        .output()
        .expect("tests need rabbitmqctl: run them with `make test` (it installs RabbitMQ)");
    assert!(output.status.success(), "rabbitmqctl list_queues failed");
    let queues: Vec<serde_json::Value> =
        serde_json::from_slice(&output.stdout).expect("rabbitmqctl's JSON");
    queues
        .into_iter()
        .find(|queue| queue["name"] == name)
        .unwrap_or_else(|| panic!("no queue {name}"))
}

/// The argument `name` of a listed queue.
fn argument(queue: &serde_json::Value, name: &str) -> serde_json::Value {
    match &queue["arguments"] {
        // rabbitmqctl lists arguments as [name, AMQP type, value] triples.
        serde_json::Value::Array(triples) => triples
            .iter()
            .find(|triple| triple[0] == name)
            .map(|triple| triple[2].clone()),
        _ => None,
    }
    .unwrap_or(serde_json::Value::Null)
}

async fn channel(broker: &Broker) -> (Connection, Channel) {
    let connection = broker::connect(&broker.amqp_url).await.expect("connect");
    let channel = connection.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirms");
    (connection, channel)
}

/// Whether `queue` exists.
async fn exists(broker: &Broker, queue: &str) -> bool {
    let connection = broker::connect(&broker.amqp_url).await.expect("connect");
    let channel = connection.create_channel().await.expect("a channel");
    let passive = QueueDeclareOptions {
        passive: true,
        durable: true,
        ..Default::default()
    };
    let found = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .is_ok();
    let _ = connection.close(200, "done".into()).await;
    found
}

/// Publishes `body` straight to `queue` (through the default exchange), confirmed.
async fn put(channel: &Channel, queue: &str, body: &[u8]) {
    let confirm = channel
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body,
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .expect("publish")
        .await
        .expect("a confirmation");
    assert!(confirm.is_ack());
}

#[tokio::test]
async fn the_work_and_dead_letter_queues_are_quorum_queues_with_a_delivery_limit_and_dead_lettering()
 {
    let broker = Broker::new();
    let topology = Topology::new(&broker.queue_prefix);
    let (connection, _) = channel(&broker).await;
    broker::declare(&connection, &topology).await.unwrap();
    // Declaring again (every reconnect does) changes nothing.
    broker::declare(&connection, &topology).await.unwrap();

    let dead = listed_queue(&topology.dead_queue);
    assert_eq!(dead["type"], "quorum", "{dead}");
    let work = listed_queue(&topology.work_queue);
    assert_eq!(work["type"], "quorum", "{work}");
    assert_eq!(
        argument(&work, "x-delivery-limit"),
        serde_json::json!(DELIVERY_LIMIT),
        "{work}"
    );
    assert_eq!(
        argument(&work, "x-dead-letter-exchange"),
        serde_json::json!(topology.dead_exchange),
        "{work}"
    );
    assert_eq!(
        argument(&work, "x-dead-letter-strategy"),
        "at-least-once",
        "{work}"
    );
    assert_eq!(argument(&work, "x-overflow"), "reject-publish", "{work}");
    let _ = connection.close(200, "done".into()).await;
    broker.cleanup().await;
}

#[tokio::test]
async fn a_message_handed_back_more_often_than_the_delivery_limit_lands_in_the_dead_letter_queue() {
    let broker = Broker::new();
    let topology = Topology::new(&broker.queue_prefix);
    let message = JobMessage {
        job_id: uuid::Uuid::new_v4(),
        attempt: 1,
    };
    Publisher::new(&broker.amqp_url, topology.clone())
        .publish(Destination::Work, &message, &Default::default())
        .await
        .unwrap();

    // A worker that dies with the message unacknowledged hands it back; so does this nack.
    let (connection, channel) = channel(&broker).await;
    let mut deliveries = 0;
    while let Some(got) = channel
        .basic_get(
            topology.work_queue.as_str().into(),
            BasicGetOptions::default(),
        )
        .await
        .unwrap()
    {
        deliveries += 1;
        assert!(deliveries <= DELIVERY_LIMIT + 1, "never dead-lettered");
        got.delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(deliveries, DELIVERY_LIMIT + 1);

    let mut dead = None;
    for _ in 0..50 {
        dead = channel
            .basic_get(
                topology.dead_queue.as_str().into(),
                BasicGetOptions::default(),
            )
            .await
            .unwrap();
        if dead.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let dead = dead.expect("the message reached the dead-letter queue");
    let body: JobMessage = serde_json::from_slice(&dead.delivery.data).unwrap();
    assert_eq!(body, message);
    assert_eq!(
        dead.delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string()),
        Some(message.id())
    );
    assert_eq!(broker.queue_depth(&topology.work_queue).await, 0);
    let _ = connection.close(200, "done".into()).await;
    broker.cleanup().await;
}

#[tokio::test]
async fn classic_queues_of_an_earlier_version_become_quorum_queues_and_keep_their_messages() {
    let broker = Broker::new();
    let topology = Topology::new(&broker.queue_prefix);
    // The queues as versions before quorum queues declared them.
    let (connection, channel) = channel(&broker).await;
    let durable = QueueDeclareOptions {
        durable: true,
        ..Default::default()
    };
    let mut legacy_work = FieldTable::default();
    legacy_work.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString(LongString::from(topology.dead_exchange.as_str())),
    );
    legacy_work.insert(
        ShortString::from("x-dead-letter-routing-key"),
        AMQPValue::LongString(LongString::from("dead")),
    );
    channel
        .queue_declare(topology.work_queue.as_str().into(), durable, legacy_work)
        .await
        .unwrap();
    channel
        .queue_declare(
            topology.dead_queue.as_str().into(),
            durable,
            FieldTable::default(),
        )
        .await
        .unwrap();
    for body in [b"waiting-1".as_slice(), b"waiting-2"] {
        put(&channel, &topology.work_queue, body).await;
    }
    put(&channel, &topology.dead_queue, b"dead-1").await;
    assert_eq!(listed_queue(&topology.work_queue)["type"], "classic");

    broker::declare(&connection, &topology).await.unwrap();

    for queue in [&topology.work_queue, &topology.dead_queue] {
        assert_eq!(listed_queue(queue)["type"], "quorum", "{queue}");
        assert!(
            !exists(&broker, &format!("{queue}.migrating")).await,
            "the holding queue of {queue} is gone"
        );
    }
    let (_connection, channel) = self::channel(&broker).await;
    let mut work = Vec::new();
    while let Some(got) = channel
        .basic_get(
            topology.work_queue.as_str().into(),
            BasicGetOptions { no_ack: true },
        )
        .await
        .unwrap()
    {
        work.push(got.delivery.data);
    }
    assert_eq!(work, [b"waiting-1".to_vec(), b"waiting-2".to_vec()]);
    assert_eq!(broker.queue_depth(&topology.dead_queue).await, 1);
    // And the work queue is bound again: a job published now is routed to it.
    Publisher::new(&broker.amqp_url, topology.clone())
        .publish(
            Destination::Work,
            &JobMessage {
                job_id: uuid::Uuid::new_v4(),
                attempt: 1,
            },
            &Default::default(),
        )
        .await
        .unwrap();
    assert_eq!(broker.queue_depth(&topology.work_queue).await, 1);
    let _ = connection.close(200, "done".into()).await;
    broker.cleanup().await;
}

#[tokio::test]
async fn messages_left_in_the_holding_queue_by_a_replacement_cut_short_move_back_at_the_next_start()
{
    let broker = Broker::new();
    let topology = Topology::new(&broker.queue_prefix);
    let (connection, channel) = channel(&broker).await;
    broker::declare(&connection, &topology).await.unwrap();
    // The state a crash between deleting the old queue and moving the messages back leaves.
    let holding = format!("{}.migrating", topology.work_queue);
    channel
        .queue_declare(
            holding.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    put(&channel, &holding, b"stranded").await;

    broker::declare(&connection, &topology).await.unwrap();

    assert_eq!(broker.queue_depth(&topology.work_queue).await, 1);
    assert!(
        !exists(&broker, &holding).await,
        "the holding queue is gone"
    );
    let _ = connection.close(200, "done".into()).await;
    broker.cleanup().await;
}
