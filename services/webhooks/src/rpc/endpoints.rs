//! Registering and managing endpoints, rotating their secrets, and the event types.

use std::time::Duration;

use chrono::Utc;
use swatter_common::{
    events::EVENT_TYPES,
    pagination,
    rpc::{
        Violations, caller,
        idempotency::{self, Begin},
        update_mask::{Fields, UpdateMask},
    },
    status::Violation,
};
use swatter_proto::webhooks::v1 as pb;
use tonic::Request;

use super::{
    Webhooks, authorize,
    convert::{endpoint_message, with_secret},
    managed_endpoint,
};
use crate::{
    domain::{
        DEFAULT_OVERLAP, EndpointUrl, MAX_OVERLAP, new_secret, parse_description, parse_event_types,
    },
    error::{Result, WebhooksError},
    store::{self, EndpointChanges, NewEndpoint},
};

/// The fields `UpdateEndpoint` changes, and those it cannot.
const UPDATABLE: Fields = Fields {
    updatable: &["url", "event_types", "description", "active"],
    fixed: &[
        "id",
        "project_key",
        "disabled_reason",
        "created_by",
        "created_at",
        "updated_at",
        "previous_secret_expires_at",
    ],
};

pub(super) async fn create_endpoint(
    webhooks: &Webhooks,
    request: Request<pb::CreateEndpointRequest>,
) -> Result<pb::EndpointWithSecret> {
    let me = caller(&request)?;
    let req = request.get_ref();
    let mut violations = Violations::default();
    if req.project_key.trim().is_empty() {
        violations.push(Violation::new("project_key", "is required"));
    }
    let url = violations.check(EndpointUrl::parse(
        "url",
        &req.url,
        &webhooks.address_policy,
    ));
    let event_types = violations.check(parse_event_types("event_types", &req.event_types));
    let description = violations.check(parse_description("description", &req.description));
    violations.finish()?;
    let (Some(url), Some(event_types), Some(description)) = (url, event_types, description) else {
        unreachable!("every violation was reported");
    };
    authorize(webhooks, &request, &req.project_key, "project").await?;
    let keyless = pb::CreateEndpointRequest {
        request_id: String::new(),
        ..req.clone()
    };
    let (mut tx, claim) = match idempotency::begin(
        &webhooks.db,
        me.id,
        "create_endpoint",
        &req.request_id,
        &keyless,
    )
    .await?
    {
        Begin::Proceed(tx, claim) => (tx, claim),
        Begin::Replay(response) => return Ok(response),
    };
    let secret = new_secret();
    let row = store::insert_endpoint(
        &mut *tx,
        &NewEndpoint {
            project_key: &req.project_key,
            url: url.as_str(),
            event_types: &event_types,
            description: &description,
            active: req.active.unwrap_or(true),
            secret: &secret,
            created_by: me.id,
        },
    )
    .await?;
    let response = with_secret(&row);
    claim.complete(&mut tx, &response).await?;
    tx.commit().await?;
    Ok(response)
}

pub(super) async fn list_endpoints(
    webhooks: &Webhooks,
    request: Request<pb::ListEndpointsRequest>,
) -> Result<pb::ListEndpointsResponse> {
    let req = request.get_ref();
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(WebhooksError::invalid)?;
    authorize(webhooks, &request, &req.project_key, "project").await?;
    let mut rows = store::list_endpoints(&webhooks.db, &req.project_key, after, limit + 1).await?;
    let next_page_token =
        pagination::next_time_token(&mut rows, limit, |row| (row.created_at, row.id));
    Ok(pb::ListEndpointsResponse {
        endpoints: rows.iter().map(endpoint_message).collect(),
        next_page_token,
    })
}

pub(super) async fn get_endpoint(
    webhooks: &Webhooks,
    request: Request<pb::GetEndpointRequest>,
) -> Result<pb::Endpoint> {
    let endpoint = managed_endpoint(webhooks, &request, &request.get_ref().id).await?;
    Ok(endpoint_message(&endpoint))
}

pub(super) async fn update_endpoint(
    webhooks: &Webhooks,
    request: Request<pb::UpdateEndpointRequest>,
) -> Result<pb::Endpoint> {
    let req = request.get_ref();
    let mask =
        UpdateMask::parse(req.update_mask.as_ref(), UPDATABLE).map_err(WebhooksError::invalid)?;
    let mut violations = Violations::default();
    let url = mask.value("url", req.url.clone()).and_then(|raw| {
        violations.check(EndpointUrl::parse("url", &raw, &webhooks.address_policy))
    });
    // Without a mask an empty list cannot be told from an absent one: it changes nothing.
    let event_types = match &mask {
        UpdateMask::Populated if req.event_types.is_empty() => None,
        _ => mask.value("event_types", Some(req.event_types.clone())),
    }
    .and_then(|raw| violations.check(parse_event_types("event_types", &raw)));
    let description = mask
        .value("description", req.description.clone())
        .and_then(|raw| violations.check(parse_description("description", &raw)));
    let active = mask.value("active", req.active);
    violations.finish()?;
    let endpoint = managed_endpoint(webhooks, &request, &req.id).await?;
    let changes = EndpointChanges {
        url: url.map(|url| url.as_str().to_owned()),
        event_types,
        description,
        active,
    };
    let row = store::update_endpoint(&webhooks.db, endpoint.id, &changes)
        .await?
        .ok_or(WebhooksError::NotFound("endpoint"))?;
    Ok(endpoint_message(&row))
}

pub(super) async fn delete_endpoint(
    webhooks: &Webhooks,
    request: Request<pb::DeleteEndpointRequest>,
) -> Result<()> {
    let endpoint = managed_endpoint(webhooks, &request, &request.get_ref().id).await?;
    if store::delete_endpoint(&webhooks.db, endpoint.id).await? {
        Ok(())
    } else {
        Err(WebhooksError::NotFound("endpoint"))
    }
}

pub(super) async fn rotate_endpoint_secret(
    webhooks: &Webhooks,
    request: Request<pb::RotateEndpointSecretRequest>,
) -> Result<pb::EndpointWithSecret> {
    let req = request.get_ref();
    let overlap = match req.overlap_seconds {
        None => DEFAULT_OVERLAP,
        Some(seconds) if (0..=MAX_OVERLAP.as_secs() as i64).contains(&seconds) => {
            Duration::from_secs(seconds as u64)
        }
        Some(_) => {
            return Err(WebhooksError::invalid(Violation::new(
                "overlap_seconds",
                format!("must be from 0 to {} (7 days)", MAX_OVERLAP.as_secs()),
            )));
        }
    };
    let endpoint = managed_endpoint(webhooks, &request, &req.id).await?;
    let previous_until = (!overlap.is_zero())
        .then(|| Utc::now() + chrono::Duration::from_std(overlap).expect("at most 7 days"));
    let row = store::rotate_secret(&webhooks.db, endpoint.id, &new_secret(), previous_until)
        .await?
        .ok_or(WebhooksError::NotFound("endpoint"))?;
    Ok(with_secret(&row))
}

pub(super) async fn list_event_types(
    _webhooks: &Webhooks,
    request: Request<pb::ListEventTypesRequest>,
) -> Result<pb::ListEventTypesResponse> {
    caller(&request)?;
    Ok(pb::ListEventTypesResponse {
        event_types: EVENT_TYPES
            .iter()
            .map(|(name, description)| pb::EventType {
                name: (*name).to_owned(),
                description: (*description).to_owned(),
            })
            .collect(),
    })
}
