//! Webhooks (docs/api.md, *Webhooks*): a project's endpoints at `/v1/projects/{key}/webhooks`,
//! each endpoint at `/v1/webhooks/{id}` with its secret rotation, test ping and delivery log, and
//! the event types at `/v1/webhook-event-types`. Each handler calls one RPC of the webhooks
//! service, which decides who may do what (project owners and admins manage endpoints).

use std::collections::BTreeMap;

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::webhooks::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::{
    Page, PageQuery, broken_answer,
    fields::{comma_list, not_null, nullable},
    json, limits, located, no_content,
    paths::{DeliveryPath, ProjectKey, WebhookId},
    required_rfc3339, rfc3339, update_mask,
    wire::DeliveryState,
};
use crate::{
    error::{ApiError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey, OptionalJson},
    openapi::problem_example,
    state::AppState,
};

/// An endpoint that receives a project's events, signed in the Standard Webhooks format.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "project_key": "SWAT",
    "url": "https://ci.example.com/hooks/swatter",
    "event_types": ["issue.created", "issue.updated"],
    "description": "CI triage bot",
    "active": true,
    "disabled_reason": null,
    "created_by": "01936f8e-0000-7c42-8e5f-4a3b2c1d0e9f",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "updated_at": "2026-11-22T09:30:00.123456Z",
    "previous_secret_expires_at": null
}))]
pub struct Webhook {
    #[schema(format = Uuid)]
    pub id: String,
    pub project_key: String,
    pub url: String,
    /// The event types delivered; empty means every type.
    pub event_types: Vec<String>,
    pub description: String,
    /// Inactive endpoints receive nothing; what happens meanwhile is delivered, in order, once
    /// it is active again.
    pub active: bool,
    /// Why the service disabled the endpoint (deliveries kept failing); `null` when it did not.
    #[schema(required = true)]
    pub disabled_reason: Option<String>,
    /// The user who registered it.
    #[schema(format = Uuid)]
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// Until when the previous signing secret still signs (after a rotation); `null` when it no
    /// longer does.
    #[schema(format = DateTime, required = true)]
    pub previous_secret_expires_at: Option<String>,
}

impl TryFrom<pb::Endpoint> for Webhook {
    type Error = ApiError;

    fn try_from(endpoint: pb::Endpoint) -> Result<Self, ApiError> {
        Ok(Webhook {
            created_at: required_rfc3339("endpoint.created_at", endpoint.created_at)?,
            updated_at: required_rfc3339("endpoint.updated_at", endpoint.updated_at)?,
            previous_secret_expires_at: endpoint.previous_secret_expires_at.and_then(rfc3339),
            disabled_reason: Some(endpoint.disabled_reason).filter(|reason| !reason.is_empty()),
            id: endpoint.id,
            project_key: endpoint.project_key,
            url: endpoint.url,
            event_types: endpoint.event_types,
            description: endpoint.description,
            active: endpoint.active,
            created_by: endpoint.created_by,
        })
    }
}

/// An endpoint with its signing secret: the only answers that show a secret are the creation
/// and a rotation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "project_key": "SWAT",
    "url": "https://ci.example.com/hooks/swatter",
    "event_types": [],
    "description": "",
    "active": true,
    "disabled_reason": null,
    "created_by": "01936f8e-0000-7c42-8e5f-4a3b2c1d0e9f",
    "created_at": "2026-11-22T09:30:00.123456Z",
    "updated_at": "2026-11-22T09:30:00.123456Z",
    "previous_secret_expires_at": null,
    "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
}))]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// `whsec_` and the base64 of 32 random bytes: verify deliveries with it (any Standard
    /// Webhooks library takes it as it is). Shown this once; store it now.
    pub secret: String,
}

impl TryFrom<pb::EndpointWithSecret> for WebhookWithSecret {
    type Error = ApiError;

    fn try_from(answer: pb::EndpointWithSecret) -> Result<Self, ApiError> {
        let endpoint = answer.endpoint.ok_or_else(|| broken_answer("endpoint"))?;
        Ok(WebhookWithSecret {
            webhook: endpoint.try_into()?,
            secret: answer.secret,
        })
    }
}

/// A new endpoint for the project's events.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "url": "https://ci.example.com/hooks/swatter",
    "event_types": ["issue.created", "issue.updated"],
    "description": "CI triage bot"
}))]
pub struct CreateWebhookRequest {
    #[schema(schema_with = limits::webhook_url)]
    pub url: String,
    /// Absent or empty: every type.
    #[serde(default)]
    #[schema(schema_with = limits::event_types, required = false)]
    pub event_types: Vec<String>,
    #[schema(schema_with = limits::webhook_description, required = false)]
    pub description: Option<String>,
    /// Default `true`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(required = false)]
    pub active: Option<bool>,
}

/// Changes to an endpoint; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"active": true, "event_types": []}))]
pub struct UpdateWebhookRequest {
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::webhook_url, required = false)]
    pub url: Option<String>,
    /// An empty list means every type. May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(schema_with = limits::event_types, required = false)]
    pub event_types: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::webhook_description, required = false)]
    pub description: Option<Option<String>>,
    /// `true` re-activates an endpoint (one the service disabled too): its deliveries resume
    /// where they stopped. May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(required = false)]
    pub active: Option<bool>,
}

/// How to rotate a signing secret; the body may be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"overlap_seconds": 3600}))]
pub struct RotateSecretRequest {
    /// How long the previous secret keeps signing (both signatures are sent meanwhile).
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(schema_with = limits::overlap_seconds, required = false)]
    pub overlap_seconds: Option<i64>,
}

/// A whole number, also when written as one with a zero fraction (`3600.0`): JSON Schema's
/// `integer`, which the OpenAPI description promises, counts those in. `null` is absent.
fn whole_number<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if let Some(whole) = number.as_i64() {
        return Ok(Some(whole));
    }
    match number.as_f64() {
        // Beyond 2^53 a float no longer tells whole numbers apart; such values are far outside
        // every limit anyway.
        Some(float) if float.fract() == 0.0 && float.abs() < 9.0e15 => Ok(Some(float as i64)),
        _ => Err(serde::de::Error::custom(
            "must be a whole number between 0 and 604800",
        )),
    }
}

/// One try at delivering an event.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryAttempt {
    /// 1 for the first try.
    pub attempt: i32,
    #[schema(format = DateTime)]
    pub started_at: String,
    pub duration_ms: i64,
    /// Where the request went.
    pub request_url: String,
    /// The request's headers as sent, `webhook-id`, `webhook-timestamp` and
    /// `webhook-signature` among them.
    pub request_headers: BTreeMap<String, String>,
    /// The receiver's status; `null` when no answer came (see `error`).
    #[schema(required = true)]
    pub response_status: Option<i32>,
    /// The first 1,024 bytes of the receiver's answer, as text.
    pub response_body_excerpt: String,
    /// Why no answer came: timeout, refused address, connection error; `null` when one came.
    #[schema(required = true)]
    pub error: Option<String>,
}

impl TryFrom<pb::DeliveryAttempt> for DeliveryAttempt {
    type Error = ApiError;

    fn try_from(attempt: pb::DeliveryAttempt) -> Result<Self, ApiError> {
        Ok(DeliveryAttempt {
            attempt: attempt.attempt,
            started_at: required_rfc3339("attempt.started_at", attempt.started_at)?,
            duration_ms: attempt.duration_ms,
            request_url: attempt.request_url,
            request_headers: attempt.request_headers.into_iter().collect(),
            response_status: Some(attempt.response_status).filter(|status| *status != 0),
            response_body_excerpt: attempt.response_body_excerpt,
            error: Some(attempt.error).filter(|error| !error.is_empty()),
        })
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f8f-1c2d-7e3f-8a4b-5c6d7e8f9a0b",
    "webhook_id": "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f",
    "event_id": "evt_01936f8f-1c2d-7e3f-8a4b-000000000001",
    "event_type": "issue.created",
    "state": "succeeded",
    "attempts": 1,
    "created_at": "2026-11-22T09:31:00.120Z",
    "next_attempt_at": null,
    "delivered_at": "2026-11-22T09:31:00.162Z",
    "payload": {"id": "evt_01936f8f-1c2d-7e3f-8a4b-000000000001", "type": "issue.created",
        "timestamp": "2026-11-22T09:31:00.1Z", "project_key": "SWAT", "cursor": 17,
        "data": {"key": "SWAT-4", "title": "Login fails"}},
    "last_response_status": 200,
    "last_duration_ms": 42
}))]
pub struct Delivery {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub webhook_id: String,
    /// The event's stable id, sent as `webhook-id`: the same on every attempt and redelivery,
    /// so receivers can drop duplicates.
    pub event_id: String,
    pub event_type: String,
    pub state: DeliveryState,
    /// Attempts made so far.
    pub attempts: i32,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When a `retrying` delivery is tried again.
    #[schema(format = DateTime, required = true)]
    pub next_attempt_at: Option<String>,
    /// When the receiver answered 2xx.
    #[schema(format = DateTime, required = true)]
    pub delivered_at: Option<String>,
    /// The JSON body sent: the event envelope (`id`, `type`, `timestamp`, `project_key`,
    /// `cursor`, `data`).
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// The receiver's status at the last attempt; `null` before any answer.
    #[schema(required = true)]
    pub last_response_status: Option<i32>,
    /// How long the last attempt took; `null` before any attempt.
    #[schema(required = true)]
    pub last_duration_ms: Option<i64>,
    /// Every attempt, oldest first: in the answers about one delivery (read, ping, redeliver),
    /// not in lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt_log: Option<Vec<DeliveryAttempt>>,
}

impl Delivery {
    /// The delivery as a list shows it, or with its attempts.
    fn from_pb(delivery: pb::Delivery, with_attempts: bool) -> Result<Self, ApiError> {
        let payload = serde_json::from_str(&delivery.payload)
            .map_err(|_| broken_answer("delivery.payload"))?;
        let attempted = delivery.attempts > 0;
        Ok(Delivery {
            state: DeliveryState::from_pb(delivery.state)
                .ok_or_else(|| broken_answer("delivery.state"))?,
            created_at: required_rfc3339("delivery.created_at", delivery.created_at)?,
            next_attempt_at: delivery.next_attempt_at.and_then(rfc3339),
            delivered_at: delivery.delivered_at.and_then(rfc3339),
            last_response_status: Some(delivery.last_response_status).filter(|status| *status != 0),
            last_duration_ms: attempted.then_some(delivery.last_duration_ms),
            attempt_log: with_attempts
                .then(|| {
                    delivery
                        .attempt_log
                        .into_iter()
                        .map(DeliveryAttempt::try_from)
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?,
            payload,
            id: delivery.id,
            webhook_id: delivery.endpoint_id,
            event_id: delivery.event_id,
            event_type: delivery.event_type,
            attempts: delivery.attempts,
        })
    }
}

/// A list item: without the attempt log.
impl TryFrom<pb::Delivery> for Delivery {
    type Error = ApiError;

    fn try_from(delivery: pb::Delivery) -> Result<Self, ApiError> {
        Delivery::from_pb(delivery, false)
    }
}

/// `GET /v1/webhooks/{id}/deliveries` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListDeliveriesQuery {
    /// Only deliveries in these states (comma-separated).
    #[param(value_type = Option<Vec<DeliveryState>>, style = Form, explode = false, example = "retrying,failed")]
    #[serde(default, deserialize_with = "comma_list")]
    pub state: Vec<DeliveryState>,
}

/// An event type an endpoint can subscribe to.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventType {
    pub name: String,
    pub description: String,
}

/// Every event type.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"name": "issue.created", "description": "an issue was filed"},
    {"name": "webhook.ping", "description": "a test event sent on request to one endpoint only"}
]}))]
pub struct EventTypes {
    pub items: Vec<EventType>,
}

/// Project owners: register an endpoint for the project's events. The answer carries the
/// signing secret, the only time it is shown.
#[utoipa::path(
    post,
    path = "/v1/projects/{key}/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    params(ProjectKey, IdempotencyKey),
    request_body = CreateWebhookRequest,
    responses(
        (status = 201, description = "The endpoint, with its signing secret (shown this once)", body = WebhookWithSecret,
            headers(("Location" = String, description = "/v1/webhooks/{id}"))),
        (status = 403, description = "The caller is a member but not an owner"),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 422, description = "A bad URL (or one on a refused address), an unknown event type, a description too long, or the Idempotency-Key was used with another body", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "event_types", "unknown event type issue.moved"))),
    ),
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let created = state
        .webhooks()
        .create_endpoint(caller.request(pb::CreateEndpointRequest {
            project_key: key,
            url: body.url,
            event_types: body.event_types,
            description: body.description.unwrap_or_default(),
            active: body.active,
            request_id,
        }))
        .await?
        .into_inner();
    let created = WebhookWithSecret::try_from(created)?;
    located(
        StatusCode::CREATED,
        &format!("/v1/webhooks/{}", created.webhook.id),
        Json(created),
    )
}

/// Project owners: the project's endpoints, oldest first.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/webhooks",
    tag = "webhooks",
    security(("bearer" = [])),
    params(ProjectKey, PageQuery),
    responses(
        (status = 200, description = "One page of endpoints, oldest first", body = Page<Webhook>),
        (status = 403, description = "The caller is a member but not an owner"),
        (status = 404, description = "No such project, or the caller is not a member"),
    ),
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Webhook>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .webhooks()
        .list_endpoints(caller.request(pb::ListEndpointsRequest {
            project_key: key,
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.endpoints, response.next_page_token)
}

/// One endpoint (without its secret).
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId),
    responses(
        (status = 200, description = "The endpoint", body = Webhook),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
    ),
)]
pub async fn get_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
) -> Result<Json<Webhook>, ApiError> {
    let request = caller.request(pb::GetEndpointRequest { id: id.to_string() });
    json(state.webhooks().get_endpoint(request).await)
}

/// Change an endpoint's URL, event types, description or active flag. Re-activating it resumes
/// its deliveries where they stopped.
#[utoipa::path(
    patch,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId),
    request_body = UpdateWebhookRequest,
    responses(
        (status = 200, description = "The changed endpoint", body = Webhook),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
    ),
)]
pub async fn update_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<Webhook>, ApiError> {
    let request = caller.request(pb::UpdateEndpointRequest {
        id: id.to_string(),
        update_mask: update_mask([
            ("url", body.url.is_some()),
            ("event_types", body.event_types.is_some()),
            ("description", body.description.is_some()),
            ("active", body.active.is_some()),
        ]),
        url: body.url,
        event_types: body.event_types.unwrap_or_default(),
        description: body.description.map(Option::unwrap_or_default),
        active: body.active,
    });
    json(state.webhooks().update_endpoint(request).await)
}

/// Delete an endpoint with its delivery log; what was not delivered is dropped.
#[utoipa::path(
    delete,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId),
    responses(
        (status = 204, description = "The endpoint is gone"),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
    ),
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteEndpointRequest { id: id.to_string() });
    no_content(state.webhooks().delete_endpoint(request).await)
}

/// A new signing secret, shown once. The previous one keeps signing until
/// `previous_secret_expires_at` (both signatures are sent meanwhile), so receivers can switch
/// without missing a delivery.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/rotate-secret",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId),
    request_body(content = Option<RotateSecretRequest>, description = "May be left out: the previous secret then signs for 24 hours more"),
    responses(
        (status = 200, description = "The endpoint with its new secret (shown this once)", body = WebhookWithSecret),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
        (status = 422, description = "`overlap_seconds` is outside 0–604,800", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "overlap_seconds", "must be between 0 and 604800"))),
    ),
)]
pub async fn rotate_webhook_secret(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
    OptionalJson(body): OptionalJson<RotateSecretRequest>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    if let Some(seconds) = body.overlap_seconds
        && !(0..=limits::MAX_SECRET_OVERLAP_SECONDS).contains(&seconds)
    {
        return Err(ApiError::invalid_field(
            "overlap_seconds",
            format!(
                "must be between 0 and {}",
                limits::MAX_SECRET_OVERLAP_SECONDS
            ),
        ));
    }
    let request = caller.request(pb::RotateEndpointSecretRequest {
        id: id.to_string(),
        overlap_seconds: body.overlap_seconds,
    });
    json(state.webhooks().rotate_endpoint_secret(request).await)
}

/// Send a `webhook.ping` event to the endpoint now. It takes its turn after the endpoint's
/// earlier deliveries; follow it at the `Location`.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/ping",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId),
    responses(
        (status = 202, description = "The ping's delivery, on its way", body = Delivery,
            headers(("Location" = String, description = "/v1/webhooks/{id}/deliveries/{delivery_id}"))),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
    ),
)]
pub async fn ping_webhook(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
) -> Result<impl IntoResponse, ApiError> {
    let request = caller.request(pb::PingEndpointRequest { id: id.to_string() });
    let delivery = state.webhooks().ping_endpoint(request).await?.into_inner();
    accepted(Delivery::from_pb(delivery, true)?)
}

/// An endpoint's delivery log, newest first.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    security(("bearer" = [])),
    params(WebhookId, ListDeliveriesQuery, PageQuery),
    responses(
        (status = 200, description = "One page of deliveries, newest first (without their attempts)", body = Page<Delivery>),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint, or the caller is not a member of its project"),
        (status = 422, description = "A bad state, page size or page token", body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "state", DeliveryState::EXPECTED))),
    ),
)]
pub async fn list_deliveries(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(WebhookId { id }): ApiPath<WebhookId>,
    ApiQuery(query): ApiQuery<ListDeliveriesQuery>,
    ApiQuery(page): ApiQuery<PageQuery>,
) -> Result<Json<Page<Delivery>>, ApiError> {
    let (page_size, page_token) = page.into_pb()?;
    let response = state
        .webhooks()
        .list_deliveries(caller.request(pb::ListDeliveriesRequest {
            endpoint_id: id.to_string(),
            states: query.state.iter().map(|s| s.to_pb()).collect(),
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.deliveries, response.next_page_token)
}

/// One delivery with every attempt: the request as sent, the answer, how long it took.
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries/{delivery_id}",
    tag = "webhooks",
    security(("bearer" = [])),
    params(DeliveryPath),
    responses(
        (status = 200, description = "The delivery with its attempt log", body = Delivery),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint or delivery, or the caller is not a member of its project"),
    ),
)]
pub async fn get_delivery(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(DeliveryPath { id, delivery_id }): ApiPath<DeliveryPath>,
) -> Result<Json<Delivery>, ApiError> {
    let request = caller.request(pb::GetDeliveryRequest {
        endpoint_id: id.to_string(),
        id: delivery_id.to_string(),
    });
    let delivery = state.webhooks().get_delivery(request).await?.into_inner();
    Ok(Json(Delivery::from_pb(delivery, true)?))
}

/// Deliver the same event again (same `webhook-id`), whatever the delivery's state.
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    tag = "webhooks",
    security(("bearer" = [])),
    params(DeliveryPath),
    responses(
        (status = 202, description = "The delivery, on its way again", body = Delivery,
            headers(("Location" = String, description = "/v1/webhooks/{id}/deliveries/{delivery_id}"))),
        (status = 403, description = "The caller is a member of the project but not an owner"),
        (status = 404, description = "No such endpoint or delivery, or the caller is not a member of its project"),
    ),
)]
pub async fn redeliver(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(DeliveryPath { id, delivery_id }): ApiPath<DeliveryPath>,
) -> Result<impl IntoResponse, ApiError> {
    let request = caller.request(pb::RedeliverDeliveryRequest {
        endpoint_id: id.to_string(),
        id: delivery_id.to_string(),
    });
    let delivery = state
        .webhooks()
        .redeliver_delivery(request)
        .await?
        .into_inner();
    accepted(Delivery::from_pb(delivery, true)?)
}

/// The event types an endpoint can subscribe to, with what each means.
#[utoipa::path(
    get,
    path = "/v1/webhook-event-types",
    tag = "webhooks",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every event type", body = EventTypes),
    ),
)]
pub async fn list_event_types(
    State(state): State<AppState>,
    caller: Authenticated,
) -> Result<Json<EventTypes>, ApiError> {
    let request = caller.request(pb::ListEventTypesRequest {});
    let response = state
        .webhooks()
        .list_event_types(request)
        .await?
        .into_inner();
    Ok(Json(EventTypes {
        items: response
            .event_types
            .into_iter()
            .map(|t| EventType {
                name: t.name,
                description: t.description,
            })
            .collect(),
    }))
}

/// `202 Accepted` with a delivery and where to follow it.
fn accepted(delivery: Delivery) -> Result<axum::response::Response, ApiError> {
    located(
        StatusCode::ACCEPTED,
        &format!(
            "/v1/webhooks/{}/deliveries/{}",
            delivery.webhook_id, delivery.id
        ),
        Json(delivery),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> pb::Endpoint {
        let at = Some(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        });
        pb::Endpoint {
            id: "01936f8e-7b1d-7c42-8e5f-4a3b2c1d0e9f".into(),
            project_key: "SWAT".into(),
            url: "https://example.com/hook".into(),
            created_at: at,
            updated_at: at,
            ..Default::default()
        }
    }

    #[test]
    fn the_secret_sits_beside_the_endpoints_fields() {
        let answer = pb::EndpointWithSecret {
            endpoint: Some(endpoint()),
            secret: "whsec_abc".into(),
        };

        let json = serde_json::to_value(WebhookWithSecret::try_from(answer).unwrap()).unwrap();

        assert_eq!(json["secret"], "whsec_abc");
        assert_eq!(json["project_key"], "SWAT");
        assert_eq!(json["disabled_reason"], serde_json::Value::Null);
        assert_eq!(json["previous_secret_expires_at"], serde_json::Value::Null);
    }

    #[test]
    fn a_delivery_shows_its_payload_as_json_and_no_answer_as_null() {
        let delivery = pb::Delivery {
            id: "d".into(),
            endpoint_id: "e".into(),
            state: pb::DeliveryState::Retrying as i32,
            attempts: 1,
            created_at: endpoint().created_at,
            payload: r#"{"id":"evt_1","type":"issue.created"}"#.into(),
            attempt_log: vec![pb::DeliveryAttempt {
                attempt: 1,
                started_at: endpoint().created_at,
                error: "timeout".into(),
                ..Default::default()
            }],
            ..Default::default()
        };

        let listed = serde_json::to_value(Delivery::try_from(delivery.clone()).unwrap()).unwrap();
        let one = serde_json::to_value(Delivery::from_pb(delivery, true).unwrap()).unwrap();

        assert_eq!(listed["payload"]["type"], "issue.created");
        assert_eq!(listed["state"], "retrying");
        assert_eq!(listed["webhook_id"], "e");
        assert_eq!(listed["last_response_status"], serde_json::Value::Null);
        assert_eq!(listed["last_duration_ms"], 0);
        assert!(listed.get("attempt_log").is_none());
        assert_eq!(
            one["attempt_log"][0]["response_status"],
            serde_json::Value::Null
        );
        assert_eq!(one["attempt_log"][0]["error"], "timeout");
    }

    #[test]
    fn an_overlap_written_with_a_zero_fraction_is_a_whole_number() {
        let read = |json: &str| {
            serde_json::from_str::<RotateSecretRequest>(json).map(|body| body.overlap_seconds)
        };
        assert_eq!(read(r#"{"overlap_seconds": 571.0}"#).unwrap(), Some(571));
        assert_eq!(read(r#"{"overlap_seconds": 60}"#).unwrap(), Some(60));
        assert_eq!(read(r#"{"overlap_seconds": null}"#).unwrap(), None);
        assert_eq!(read("{}").unwrap(), None);
        assert!(read(r#"{"overlap_seconds": 1.5}"#).is_err());
        assert!(read(r#"{"overlap_seconds": "60"}"#).is_err());
        assert!(read(r#"{"overlap_seconds": 1e300}"#).is_err());
    }

    #[test]
    fn a_payload_that_is_not_json_is_a_broken_answer() {
        let delivery = pb::Delivery {
            state: pb::DeliveryState::Pending as i32,
            created_at: endpoint().created_at,
            payload: "not json".into(),
            ..Default::default()
        };
        assert!(Delivery::try_from(delivery).is_err());
    }
}
