//! An endpoint's delivery log, redelivering one of its deliveries, and test pings.

use chrono::Utc;
use swatter_common::{events::Envelope, pagination, status::Violation};
use swatter_proto::webhooks::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{
    Webhooks,
    convert::{delivery_message, state_from_pb},
    managed_endpoint,
};
use crate::{
    domain::PING,
    error::{Result, WebhooksError},
    store,
};

pub(super) async fn ping_endpoint(
    webhooks: &Webhooks,
    request: Request<pb::PingEndpointRequest>,
) -> Result<pb::Delivery> {
    let endpoint = managed_endpoint(webhooks, &request, &request.get_ref().id).await?;
    let now = Utc::now();
    let envelope = Envelope {
        id: format!("evt_{}", Uuid::now_v7()),
        event_type: PING.to_owned(),
        timestamp: now,
        project_key: Some(endpoint.project_key.clone()),
        cursor: None,
        data: serde_json::json!({ "endpoint_id": endpoint.id.to_string() }),
    };
    let payload = serde_json::to_string(&envelope).map_err(anyhow::Error::from)?;
    let mut tx = webhooks.db.begin().await?;
    let row =
        store::insert_delivery(&mut tx, endpoint.id, &envelope.id, PING, now, &payload).await?;
    tx.commit().await?;
    Ok(delivery_message(&row, &[]))
}

pub(super) async fn list_deliveries(
    webhooks: &Webhooks,
    request: Request<pb::ListDeliveriesRequest>,
) -> Result<pb::ListDeliveriesResponse> {
    let req = request.get_ref();
    let states = req
        .states
        .iter()
        .map(|raw| state_from_pb(*raw))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            WebhooksError::invalid(Violation::new("states", "is not a delivery state"))
        })?;
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(WebhooksError::invalid)?;
    let endpoint = managed_endpoint(webhooks, &request, &req.endpoint_id).await?;
    let mut rows =
        store::list_deliveries(&webhooks.db, endpoint.id, &states, after, limit + 1).await?;
    let next_page_token =
        pagination::next_time_token(&mut rows, limit, |row| (row.created_at, row.id));
    Ok(pb::ListDeliveriesResponse {
        deliveries: rows.iter().map(|row| delivery_message(row, &[])).collect(),
        next_page_token,
    })
}

pub(super) async fn get_delivery(
    webhooks: &Webhooks,
    request: Request<pb::GetDeliveryRequest>,
) -> Result<pb::Delivery> {
    let req = request.get_ref();
    let endpoint = managed_endpoint(webhooks, &request, &req.endpoint_id).await?;
    let id: Uuid = req
        .id
        .parse()
        .map_err(|_| WebhooksError::NotFound("delivery"))?;
    let row = store::delivery_by_id(&webhooks.db, endpoint.id, id)
        .await?
        .ok_or(WebhooksError::NotFound("delivery"))?;
    let attempts = store::attempts_of(&webhooks.db, row.id).await?;
    Ok(delivery_message(&row, &attempts))
}

pub(super) async fn redeliver_delivery(
    webhooks: &Webhooks,
    request: Request<pb::RedeliverDeliveryRequest>,
) -> Result<pb::Delivery> {
    let req = request.get_ref();
    let endpoint = managed_endpoint(webhooks, &request, &req.endpoint_id).await?;
    let id: Uuid = req
        .id
        .parse()
        .map_err(|_| WebhooksError::NotFound("delivery"))?;
    let row = store::redeliver(&webhooks.db, endpoint.id, id)
        .await?
        .ok_or(WebhooksError::NotFound("delivery"))?;
    let attempts = store::attempts_of(&webhooks.db, row.id).await?;
    Ok(delivery_message(&row, &attempts))
}
