//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: every service the
//! gateway needs answers `SERVING` on `grpc.health.v1.Health`).

use std::{collections::BTreeMap, time::Duration};

use axum::{Json, extract::State};
use futures::future::join_all;
use serde::Serialize;
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ProblemKind},
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

/// Readiness, with the state of each service.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ready", "services": {"identity": "serving"}}))]
pub struct Readiness {
    /// Always `ready` (otherwise the answer is a 503 problem).
    pub status: &'static str,
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

/// Every service the gateway needs is serving.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready to take traffic", body = Readiness),
        (status = 503, description = "A service is down; the detail names it"),
    ),
)]
pub async fn readyz(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
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
        Ok(Json(Readiness {
            status: "ready",
            services,
        }))
    } else {
        Err(ApiError::new(
            ProblemKind::Unavailable,
            format!("not ready: {}", down.join(", ")),
        ))
    }
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
