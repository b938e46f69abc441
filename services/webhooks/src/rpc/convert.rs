//! Endpoints and deliveries as clients see them.

use swatter_common::rpc::timestamp;
use swatter_proto::webhooks::v1 as pb;

use crate::{
    domain::DeliveryState,
    store::{AttemptRow, DeliveryRow, EndpointRow},
};

/// The endpoint, without its secrets.
pub fn endpoint_message(row: &EndpointRow) -> pb::Endpoint {
    pb::Endpoint {
        id: row.id.to_string(),
        project_key: row.project_key.clone(),
        url: row.url.clone(),
        event_types: row.event_types.clone(),
        description: row.description.clone(),
        active: row.active,
        disabled_reason: row.disabled_reason.clone(),
        created_by: row.created_by.to_string(),
        created_at: Some(timestamp(row.created_at)),
        updated_at: Some(timestamp(row.updated_at)),
        previous_secret_expires_at: row
            .previous_secret_expires_at
            .filter(|at| *at > chrono::Utc::now())
            .map(timestamp),
    }
}

/// The endpoint with its current secret (only in the answers that create one).
pub fn with_secret(row: &EndpointRow) -> pb::EndpointWithSecret {
    pb::EndpointWithSecret {
        endpoint: Some(endpoint_message(row)),
        secret: row.secret.clone(),
    }
}

pub fn state_to_pb(state: DeliveryState) -> pb::DeliveryState {
    match state {
        DeliveryState::Pending => pb::DeliveryState::Pending,
        DeliveryState::Retrying => pb::DeliveryState::Retrying,
        DeliveryState::Succeeded => pb::DeliveryState::Succeeded,
        DeliveryState::Failed => pb::DeliveryState::Failed,
    }
}

/// `None` for unspecified or unknown numbers.
pub fn state_from_pb(raw: i32) -> Option<DeliveryState> {
    Some(match pb::DeliveryState::try_from(raw).ok()? {
        pb::DeliveryState::Unspecified => return None,
        pb::DeliveryState::Pending => DeliveryState::Pending,
        pb::DeliveryState::Retrying => DeliveryState::Retrying,
        pb::DeliveryState::Succeeded => DeliveryState::Succeeded,
        pb::DeliveryState::Failed => DeliveryState::Failed,
    })
}

/// The delivery, with `attempts` as its log (empty in lists).
pub fn delivery_message(row: &DeliveryRow, attempts: &[AttemptRow]) -> pb::Delivery {
    let waiting = matches!(row.state, DeliveryState::Pending | DeliveryState::Retrying);
    pb::Delivery {
        id: row.id.to_string(),
        endpoint_id: row.endpoint_id.to_string(),
        event_id: row.event_id.clone(),
        event_type: row.event_type.clone(),
        state: state_to_pb(row.state) as i32,
        attempts: row.attempts,
        created_at: Some(timestamp(row.created_at)),
        next_attempt_at: waiting.then(|| timestamp(row.next_attempt_at)),
        delivered_at: row.delivered_at.map(timestamp),
        payload: row.payload.clone(),
        attempt_log: attempts.iter().map(attempt_message).collect(),
        last_response_status: row.last_response_status,
        last_duration_ms: row.last_duration_ms,
    }
}

fn attempt_message(row: &AttemptRow) -> pb::DeliveryAttempt {
    pb::DeliveryAttempt {
        attempt: row.attempt,
        started_at: Some(timestamp(row.started_at)),
        duration_ms: row.duration_ms,
        request_url: row.request_url.clone(),
        request_headers: row.request_headers.0.clone().into_iter().collect(),
        response_status: row.response_status,
        response_body_excerpt: row.response_body_excerpt.clone(),
        error: row.error.clone(),
    }
}
