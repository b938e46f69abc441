//! The gRPC layer: one handler per RPC, in `endpoints` (registering and managing endpoints,
//! rotating secrets, the event types) and `deliveries` (the log, redelivering, pinging). The
//! trait impl below only forwards.
//!
//! Who may manage a project's endpoints is the issues service's answer, asked with the caller's
//! own credentials (so the limits of their token apply): its owners, and admins. Someone who
//! cannot see the project gets NOT_FOUND, as for endpoints that do not exist; a member below
//! owner gets PERMISSION_DENIED.

mod convert;
mod deliveries;
mod endpoints;

use sqlx::PgPool;
use swatter_common::{
    client::TracedChannel,
    rpc::{RpcResult, caller, downstream},
};
use swatter_proto::{
    issues::v1::{self as ipb, issues_service_client::IssuesServiceClient},
    webhooks::v1::{self as pb, webhooks_service_server::WebhooksService},
};
use tonic::Request;
use uuid::Uuid;

use crate::{
    domain::AddressPolicy,
    error::{Result, WebhooksError},
    store::{self, EndpointRow},
};

/// The methods that change nothing (the rest register, change, rotate or send), for the auth
/// layer's read/write split of access-token scopes.
pub const READ_METHODS: &[&str] = &[
    "/swatter.webhooks.v1.WebhooksService/ListEndpoints",
    "/swatter.webhooks.v1.WebhooksService/GetEndpoint",
    "/swatter.webhooks.v1.WebhooksService/ListDeliveries",
    "/swatter.webhooks.v1.WebhooksService/GetDelivery",
    "/swatter.webhooks.v1.WebhooksService/ListEventTypes",
];

/// Shared state of the handlers.
pub struct Webhooks {
    pub db: PgPool,
    pub issues: IssuesServiceClient<TracedChannel>,
    /// Registration refuses URLs whose literal address this refuses.
    pub address_policy: AddressPolicy,
}

/// The tonic service.
#[derive(Clone)]
pub struct WebhooksRpc(pub std::sync::Arc<Webhooks>);

/// Refuses unless the caller of `request` may manage the webhooks of project `project_key`;
/// `what` is what is not found when they cannot see the project.
async fn authorize<T>(
    webhooks: &Webhooks,
    request: &Request<T>,
    project_key: &str,
    what: &'static str,
) -> Result<()> {
    let me = caller(request)?;
    let project = webhooks
        .issues
        .clone()
        .get_project(downstream::on_behalf_of(
            request,
            ipb::GetProjectRequest {
                key: project_key.to_owned(),
            },
        ))
        .await
        .map_err(|status| match status.code() {
            tonic::Code::InvalidArgument => WebhooksError::NotFound(what),
            _ => WebhooksError::downstream("issues", what, status),
        })?
        .into_inner();
    if me.admin || project.my_role == ipb::Role::Owner as i32 {
        Ok(())
    } else {
        Err(WebhooksError::Forbidden(
            "only the project's owners and admins manage its webhooks",
        ))
    }
}

/// The endpoint `raw_id`, if the caller may manage it.
async fn managed_endpoint<T>(
    webhooks: &Webhooks,
    request: &Request<T>,
    raw_id: &str,
) -> Result<EndpointRow> {
    let id: Uuid = raw_id
        .parse()
        .map_err(|_| WebhooksError::NotFound("endpoint"))?;
    let endpoint = store::endpoint_by_id(&webhooks.db, id)
        .await?
        .ok_or(WebhooksError::NotFound("endpoint"))?;
    authorize(webhooks, request, &endpoint.project_key, "endpoint").await?;
    Ok(endpoint)
}

#[tonic::async_trait]
impl WebhooksService for WebhooksRpc {
    async fn create_endpoint(
        &self,
        r: Request<pb::CreateEndpointRequest>,
    ) -> RpcResult<pb::EndpointWithSecret> {
        swatter_common::rpc::respond(endpoints::create_endpoint(&self.0, r).await)
    }
    async fn list_endpoints(
        &self,
        r: Request<pb::ListEndpointsRequest>,
    ) -> RpcResult<pb::ListEndpointsResponse> {
        swatter_common::rpc::respond(endpoints::list_endpoints(&self.0, r).await)
    }
    async fn get_endpoint(&self, r: Request<pb::GetEndpointRequest>) -> RpcResult<pb::Endpoint> {
        swatter_common::rpc::respond(endpoints::get_endpoint(&self.0, r).await)
    }
    async fn update_endpoint(
        &self,
        r: Request<pb::UpdateEndpointRequest>,
    ) -> RpcResult<pb::Endpoint> {
        swatter_common::rpc::respond(endpoints::update_endpoint(&self.0, r).await)
    }
    async fn delete_endpoint(&self, r: Request<pb::DeleteEndpointRequest>) -> RpcResult<()> {
        swatter_common::rpc::respond(endpoints::delete_endpoint(&self.0, r).await)
    }
    async fn rotate_endpoint_secret(
        &self,
        r: Request<pb::RotateEndpointSecretRequest>,
    ) -> RpcResult<pb::EndpointWithSecret> {
        swatter_common::rpc::respond(endpoints::rotate_endpoint_secret(&self.0, r).await)
    }
    async fn ping_endpoint(&self, r: Request<pb::PingEndpointRequest>) -> RpcResult<pb::Delivery> {
        swatter_common::rpc::respond(deliveries::ping_endpoint(&self.0, r).await)
    }
    async fn list_deliveries(
        &self,
        r: Request<pb::ListDeliveriesRequest>,
    ) -> RpcResult<pb::ListDeliveriesResponse> {
        swatter_common::rpc::respond(deliveries::list_deliveries(&self.0, r).await)
    }
    async fn get_delivery(&self, r: Request<pb::GetDeliveryRequest>) -> RpcResult<pb::Delivery> {
        swatter_common::rpc::respond(deliveries::get_delivery(&self.0, r).await)
    }
    async fn redeliver_delivery(
        &self,
        r: Request<pb::RedeliverDeliveryRequest>,
    ) -> RpcResult<pb::Delivery> {
        swatter_common::rpc::respond(deliveries::redeliver_delivery(&self.0, r).await)
    }
    async fn list_event_types(
        &self,
        r: Request<pb::ListEventTypesRequest>,
    ) -> RpcResult<pb::ListEventTypesResponse> {
        swatter_common::rpc::respond(endpoints::list_event_types(&self.0, r).await)
    }
}
