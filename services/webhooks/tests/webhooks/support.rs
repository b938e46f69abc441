//! The webhooks stack for tests (identity, issues and webhooks in-process, each with a fresh
//! database, the real RabbitMQ with names unique to the test) and a real HTTP receiver on
//! 127.0.0.1:0 that records what it gets and answers as the test says.

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};
use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use swatter_common::events::Envelope;
use swatter_proto::{
    issues::v1::{self as ipb, issues_service_client::IssuesServiceClient},
    webhooks::v1::{self as pb, webhooks_service_client::WebhooksServiceClient},
};
use swatter_testkit::{Broker, Identity, Running, Stack, User, create_project, req};
use swatter_webhooks::config::WebhooksConfig;
use tokio::sync::Notify;
use tonic::transport::Channel;

/// How long a test waits for what should happen within seconds (generous: the machine may be
/// busy with other builds).
pub const WAIT: Duration = Duration::from_secs(60);

/// The event types the tests publish themselves. Endpoints subscribe to these rather than to
/// every type: issues publishes the project's own events (`project.created`, `member.added`) to
/// the same exchange, a moment after the change, and they would otherwise arrive among the
/// test's events.
pub const TEST_TYPES: &[&str] = &["issue.created", "issue.updated", "comment.created"];

pub struct TestApp {
    pub running: Running,
    pub owner: User,
}

impl TestApp {
    /// The stack with the test settings, and an owner of project `key`.
    pub async fn start(key: &str) -> TestApp {
        Self::start_with(key, |_| {}).await
    }

    pub async fn start_with(
        key: &str,
        customize: impl FnOnce(&mut WebhooksConfig) + Send + 'static,
    ) -> TestApp {
        let running = Stack::new().webhooks_with(customize).start().await;
        let owner = running.identity.as_ref().unwrap().user("owner").await;
        let app = TestApp { running, owner };
        create_project(&app.issues(), &app.owner, key)
            .await
            .expect("create the project");
        app
    }

    pub fn identity(&self) -> &Identity {
        self.running.identity.as_ref().unwrap()
    }

    pub fn issues(&self) -> IssuesServiceClient<Channel> {
        self.running.issues.as_ref().unwrap().client.clone()
    }

    pub fn client(&self) -> WebhooksServiceClient<Channel> {
        self.webhooks().client.clone()
    }

    pub fn webhooks(&self) -> &swatter_testkit::Webhooks {
        self.running.webhooks.as_ref().unwrap()
    }

    pub fn broker(&self) -> &Broker {
        self.running.broker.as_ref().unwrap()
    }

    /// A new user with `role` in project `key`.
    pub async fn member(&self, key: &str, username: &str, role: ipb::Role) -> User {
        let user = self.identity().user(username).await;
        self.issues()
            .set_member(req(
                ipb::SetMemberRequest {
                    project_key: key.into(),
                    user_id: user.id.clone(),
                    role: role as i32,
                },
                &self.owner,
            ))
            .await
            .expect("add the member");
        user
    }

    /// Registers `url` for project `key` as the owner, subscribed to `types` ([`TEST_TYPES`]
    /// when empty).
    pub async fn endpoint(&self, key: &str, url: &str, types: &[&str]) -> pb::EndpointWithSecret {
        let types = if types.is_empty() { TEST_TYPES } else { types };
        self.client()
            .create_endpoint(req(
                pb::CreateEndpointRequest {
                    project_key: key.into(),
                    url: url.into(),
                    event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                    ..Default::default()
                },
                &self.owner,
            ))
            .await
            .expect("create the endpoint")
            .into_inner()
    }

    /// Publishes an event of `key` to the exchange, as issues would.
    pub async fn publish(&self, key: &str, event_type: &str, cursor: i64) -> Envelope {
        let envelope = envelope(key, event_type, cursor);
        self.broker().publish_event(&envelope).await;
        envelope
    }

    /// The deliveries of an endpoint (newest first), as the owner sees them.
    pub async fn deliveries(&self, endpoint_id: &str) -> Vec<pb::Delivery> {
        self.client()
            .list_deliveries(req(
                pb::ListDeliveriesRequest {
                    endpoint_id: endpoint_id.into(),
                    page_size: 100,
                    ..Default::default()
                },
                &self.owner,
            ))
            .await
            .expect("list deliveries")
            .into_inner()
            .deliveries
    }

    pub async fn endpoint_now(&self, id: &str) -> pb::Endpoint {
        self.client()
            .get_endpoint(req(pb::GetEndpointRequest { id: id.into() }, &self.owner))
            .await
            .expect("get the endpoint")
            .into_inner()
    }

    pub async fn cleanup(&self) {
        self.broker().cleanup().await;
    }
}

/// The deliveries of endpoint `id`, read from the database (for when no service is serving the
/// API): newest first.
pub async fn delivery_log(app: &TestApp, id: &str) -> Vec<pb::Delivery> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT event_id, state FROM deliveries WHERE endpoint_id = $1::uuid ORDER BY created_at DESC",
    )
    .bind(id)
    .fetch_all(&app.webhooks().db.pool)
    .await
    .expect("read the deliveries");
    rows.into_iter()
        .map(|(event_id, state)| pb::Delivery {
            event_id,
            state: match state.as_str() {
                "succeeded" => pb::DeliveryState::Succeeded,
                "failed" => pb::DeliveryState::Failed,
                "retrying" => pb::DeliveryState::Retrying,
                _ => pb::DeliveryState::Pending,
            } as i32,
            ..Default::default()
        })
        .collect()
}

/// An event of project `key`.
pub fn envelope(key: &str, event_type: &str, cursor: i64) -> Envelope {
    Envelope {
        id: format!("evt_{}", uuid::Uuid::now_v7()),
        event_type: event_type.into(),
        timestamp: Utc::now(),
        project_key: Some(key.into()),
        cursor: Some(cursor),
        data: serde_json::json!({ "key": format!("{key}-{cursor}"), "cursor": cursor }),
    }
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    /// When it arrived, by the wall clock (to compare with an event's `timestamp`).
    pub wall: chrono::DateTime<Utc>,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
    }

    pub fn envelope(&self) -> Envelope {
        serde_json::from_str(&self.body).expect("the body is an envelope")
    }

    /// Whether the signature header holds a valid signature by `secret` (the Standard Webhooks
    /// check, written here from the specification).
    pub fn signed_by(&self, secret: &str) -> bool {
        let key = STANDARD
            .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
            .expect("base64 secret");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
        mac.update(
            format!(
                "{}.{}.{}",
                self.webhook_id(),
                self.header("webhook-timestamp"),
                self.body
            )
            .as_bytes(),
        );
        let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
        self.header("webhook-signature")
            .split(' ')
            .any(|signature| signature == expected)
    }
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// 200 with a short body.
    Ok,
    /// This status.
    Status(u16),
    /// 200 after this long.
    Slow(Duration),
    /// 200 with a body of this many bytes.
    Large(usize),
    /// A redirect to this location.
    Redirect(String),
    /// Holds the request until [`Receiver::release`] (it is recorded when it arrives).
    Hold,
}

struct ReceiverState {
    received: Mutex<Vec<Received>>,
    behaviour: Mutex<Behaviour>,
    arrived: Notify,
    release: Notify,
}

/// A real HTTP server on 127.0.0.1 that records every request.
#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// A receiver on `addr` (a port chosen earlier, for a receiver that comes up late).
    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let state = Arc::new(ReceiverState {
            received: Mutex::new(Vec::new()),
            behaviour: Mutex::new(Behaviour::Ok),
            arrived: Notify::new(),
            release: Notify::new(),
        });
        let app = Router::new().fallback(handle).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind the receiver");
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}/hooks", self.addr)
    }

    pub fn behave(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().unwrap() = behaviour;
    }

    /// Lets every held request answer 200.
    pub fn release(&self) {
        self.behave(Behaviour::Ok);
        self.state.release.notify_waiters();
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until at least `n` requests arrived; all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = Instant::now() + WAIT;
        loop {
            let arrived = self.state.arrived.notified();
            let received = self.received();
            if received.len() >= n {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {n} requests arrived",
                received.len()
            );
            let _ = tokio::time::timeout(Duration::from_millis(200), arrived).await;
        }
    }
}

async fn handle(
    State(state): State<Arc<ReceiverState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let behaviour = state.behaviour.lock().unwrap().clone();
    state.received.lock().unwrap().push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
        wall: Utc::now(),
    });
    state.arrived.notify_waiters();
    match behaviour {
        Behaviour::Ok => (StatusCode::OK, "thanks").into_response(),
        Behaviour::Status(code) => (StatusCode::from_u16(code).unwrap(), "no").into_response(),
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            (StatusCode::OK, "late").into_response()
        }
        Behaviour::Large(size) => (StatusCode::OK, "x".repeat(size)).into_response(),
        Behaviour::Redirect(location) => {
            (StatusCode::FOUND, [("location", location)], "moved").into_response()
        }
        Behaviour::Hold => {
            state.release.notified().await;
            (StatusCode::OK, "released").into_response()
        }
    }
}

/// Waits until `check` holds, polling.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + WAIT;
    while !check().await {
        assert!(Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
