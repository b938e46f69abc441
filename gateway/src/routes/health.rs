//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the gateway takes
//! traffic, with the state of each service it calls). Readiness does not follow the services: a
//! gateway whose one backend is down still answers the other backends' routes, and the broken
//! one's with 503 problem+json (docs/decisions.md); `/readyz?strict=true` is 503 until every
//! service serves, for whoever waits for a whole stack.

use std::{collections::BTreeMap, time::Duration};

use axum::{Json, extract::State};
use futures::future::join_all;
use serde::{Deserialize, Serialize};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use utoipa::{IntoParams, ToSchema};

use crate::{
    error::{ApiError, ProblemKind},
    extract::ApiQuery,
    state::{AppState, Upstream},
};

/// How long a service may take to answer a health check before it counts as not ready.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Liveness.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub struct Health {
    /// Always `ok`.
    pub status: &'static str,
}

/// What a service answered to its health check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ServiceState {
    Serving,
    NotServing,
    Unreachable,
}

/// Whether every service the gateway calls is serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReadinessStatus {
    /// Every service serves.
    Ready,
    /// At least one does not: its routes answer 503 until it is back; the others work.
    Degraded,
}

/// Readiness, with the state of each service.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "degraded", "services": {"identity": "serving", "issues": "serving", "reporting": "unreachable", "webhooks": "serving"}}))]
pub struct Readiness {
    /// `ready`, or `degraded` while a service is down.
    pub status: ReadinessStatus,
    /// Each service and its health.
    pub services: BTreeMap<&'static str, ServiceState>,
}

/// The process is up.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "Always", body = Health)),
)]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Query of `/readyz`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReadyzQuery {
    /// `true`: 503 unless every service serves (what scripts waiting for a whole stack ask).
    #[serde(default, deserialize_with = "super::fields::empty_as_none")]
    pub strict: Option<bool>,
}

/// The gateway takes traffic; the body says which services serve.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    params(ReadyzQuery),
    responses(
        (status = 200, description = "Takes traffic; `degraded` while a service is down (its routes answer 503)", body = Readiness),
        (status = 503, description = "`strict=true` and a service is down; the detail names it"),
    ),
)]
pub async fn readyz(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ReadyzQuery>,
) -> Result<Json<Readiness>, ApiError> {
    let upstreams = state.upstreams.all();
    let states = join_all(upstreams.iter().map(|upstream| check(upstream))).await;
    let services: BTreeMap<_, _> = upstreams
        .iter()
        .map(|upstream| upstream.name)
        .zip(states)
        .collect();
    let down: Vec<_> = services
        .iter()
        .filter(|(_, state)| **state != ServiceState::Serving)
        .map(|(name, state)| match state {
            ServiceState::NotServing => format!("{name} is not serving"),
            _ => format!("{name} is unreachable"),
        })
        .collect();
    if down.is_empty() {
        return Ok(Json(Readiness {
            status: ReadinessStatus::Ready,
            services,
        }));
    }
    if query.strict == Some(true) {
        return Err(ApiError::new(
            ProblemKind::Unavailable,
            format!("not ready: {}", down.join(", ")),
        ));
    }
    Ok(Json(Readiness {
        status: ReadinessStatus::Degraded,
        services,
    }))
}

async fn check(upstream: &Upstream) -> ServiceState {
    let mut client = HealthClient::new(upstream.channel.clone());
    let request = HealthCheckRequest {
        service: String::new(),
    };
    match tokio::time::timeout(CHECK_TIMEOUT, client.check(request)).await {
        Ok(Ok(response)) if response.get_ref().status() == ServingStatus::Serving => {
            ServiceState::Serving
        }
        Ok(Ok(_)) => ServiceState::NotServing,
        Ok(Err(_)) | Err(_) => ServiceState::Unreachable,
    }
}
