//! The gRPC layer: one handler per RPC, in `reports` (asking for one), `jobs` (following,
//! cancelling, retrying) and `artifacts` (the finished report). Only a job's owner (and admins)
//! see it; others get NOT_FOUND, as for jobs that do not exist. The trait impl below only
//! forwards.

mod artifacts;
pub(crate) mod convert;
mod jobs;
mod reports;

use std::{pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use sqlx::{PgPool, Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal,
    client::TracedChannel,
    rpc::{RpcResult, respond},
};
use swatter_proto::{
    issues::v1::issues_service_client::IssuesServiceClient,
    reporting::v1::{self as pb, reporting_service_server::ReportingService},
};
use tonic::{Request, Status};
use uuid::Uuid;

use crate::{
    broker::Publisher,
    domain::ReportParams,
    error::{ReportingError, Result},
    events::{JobEvents, StreamSlots},
    storage::Storage,
    store::{self, JobRow},
};

/// Shared state of the handlers.
pub struct Reporting {
    pub db: PgPool,
    pub issues: IssuesServiceClient<TracedChannel>,
    pub storage: Storage,
    pub publisher: Arc<Publisher>,
    pub events: JobEvents,
    pub max_attempts: i32,
    /// Jobs in flight (queued, running, retrying) a user may have at once.
    pub max_active_jobs_per_user: u32,
    /// Open `WatchJob` streams per user in this process.
    pub streams: StreamSlots,
}

/// When a user at their limit of jobs in flight is told to try again: reports take seconds.
const JOB_SLOT_RETRY: Duration = Duration::from_secs(10);

fn not_yet() -> Status {
    Status::unimplemented("not available yet")
}

/// The tonic service.
#[derive(Clone)]
pub struct ReportingRpc(pub Arc<Reporting>);

type JobStream = Pin<Box<dyn Stream<Item = std::result::Result<pb::Job, Status>> + Send>>;
type DashboardStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::Dashboard, Status>> + Send>>;
type ChunkStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::ArtifactChunk, Status>> + Send>>;

/// The methods here that change nothing: a personal access token with only the `read` scope may
/// call them; every other method needs `write`.
pub const READ_METHODS: &[&str] = &[
    "/swatter.reporting.v1.ReportingService/GetJob",
    "/swatter.reporting.v1.ReportingService/ListJobs",
    "/swatter.reporting.v1.ReportingService/GetArtifact",
    "/swatter.reporting.v1.ReportingService/DownloadArtifact",
    "/swatter.reporting.v1.ReportingService/WatchJob",
    "/swatter.reporting.v1.ReportingService/GetJobStats",
];

/// Whether the caller's token may see a report with these parameters: a token limited to some
/// projects sees the reports and exports of those projects only, never a user report or an
/// export across projects (they span them all).
fn within_token(me: &UserPrincipal, params: &ReportParams) -> bool {
    match params.project_key() {
        Some(project_key) => me.may_access_project(project_key),
        None => me.project_limit().is_none(),
    }
}

/// A job the caller may see (their own, or any for admins; within their token's projects).
async fn visible_job(reporting: &Reporting, raw_id: &str, me: &UserPrincipal) -> Result<JobRow> {
    let id: Uuid = raw_id
        .parse()
        .map_err(|_| ReportingError::NotFound("job"))?;
    let job = store::job_by_id(&reporting.db, id)
        .await?
        .ok_or(ReportingError::NotFound("job"))?;
    if (job.owner_id == me.id || me.admin) && within_token(me, &job.params) {
        Ok(job)
    } else {
        Err(ReportingError::NotFound("job"))
    }
}

/// Refuses to add one more job in flight for `owner` beyond the limit. Call it inside the
/// transaction that adds the job: from here until it ends, `owner`'s other requests that add
/// jobs wait, so two of them cannot both take the last slot.
async fn take_job_slot(
    reporting: &Reporting,
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
) -> Result<()> {
    store::lock_owner_jobs(tx, owner).await?;
    let limit = reporting.max_active_jobs_per_user;
    if store::count_active_jobs(&mut **tx, owner).await? >= i64::from(limit) {
        return Err(ReportingError::ResourceExhausted {
            message: format!(
                "at most {limit} report jobs may be queued, running or retrying at once; \
                 try again when one has finished"
            )
            .into(),
            retry_after: JOB_SLOT_RETRY,
        });
    }
    Ok(())
}

#[tonic::async_trait]
impl ReportingService for ReportingRpc {
    async fn create_report(&self, r: Request<pb::CreateReportRequest>) -> RpcResult<pb::Job> {
        respond(reports::create_report(&self.0, r).await)
    }
    async fn get_job(&self, r: Request<pb::GetJobRequest>) -> RpcResult<pb::Job> {
        respond(jobs::get_job(&self.0, r).await)
    }
    async fn list_jobs(&self, r: Request<pb::ListJobsRequest>) -> RpcResult<pb::ListJobsResponse> {
        respond(jobs::list_jobs(&self.0, r).await)
    }
    async fn cancel_job(&self, r: Request<pb::CancelJobRequest>) -> RpcResult<pb::Job> {
        respond(jobs::cancel_job(&self.0, r).await)
    }
    async fn retry_job(&self, r: Request<pb::RetryJobRequest>) -> RpcResult<pb::Job> {
        respond(jobs::retry_job(&self.0, r).await)
    }
    async fn get_artifact(&self, r: Request<pb::GetArtifactRequest>) -> RpcResult<pb::Artifact> {
        respond(artifacts::get_artifact(&self.0, r).await)
    }

    type DownloadArtifactStream = ChunkStream;

    async fn download_artifact(
        &self,
        r: Request<pb::DownloadArtifactRequest>,
    ) -> RpcResult<ChunkStream> {
        respond(artifacts::download_artifact(&self.0, r).await)
    }

    type WatchJobStream = JobStream;

    async fn watch_job(&self, r: Request<pb::WatchJobRequest>) -> RpcResult<JobStream> {
        respond(jobs::watch_job(&self.0, r).await)
    }
    async fn get_job_stats(&self, r: Request<pb::GetJobStatsRequest>) -> RpcResult<pb::JobStats> {
        respond(jobs::job_stats(&self.0, r).await)
    }

    // Issue 16: schedules, the dashboard and dead letters are filled in by their parts.
    async fn create_schedule(
        &self,
        _r: Request<pb::CreateScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        Err(not_yet())
    }
    async fn get_schedule(&self, _r: Request<pb::GetScheduleRequest>) -> RpcResult<pb::Schedule> {
        Err(not_yet())
    }
    async fn list_schedules(
        &self,
        _r: Request<pb::ListSchedulesRequest>,
    ) -> RpcResult<pb::ListSchedulesResponse> {
        Err(not_yet())
    }
    async fn pause_schedule(
        &self,
        _r: Request<pb::PauseScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        Err(not_yet())
    }
    async fn resume_schedule(
        &self,
        _r: Request<pb::ResumeScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        Err(not_yet())
    }
    async fn delete_schedule(&self, _r: Request<pb::DeleteScheduleRequest>) -> RpcResult<()> {
        Err(not_yet())
    }
    async fn get_dashboard(
        &self,
        _r: Request<pb::GetDashboardRequest>,
    ) -> RpcResult<pb::Dashboard> {
        Err(not_yet())
    }

    type WatchDashboardStream = DashboardStream;

    async fn watch_dashboard(
        &self,
        _r: Request<pb::WatchDashboardRequest>,
    ) -> RpcResult<DashboardStream> {
        Err(not_yet())
    }
    async fn list_dead_letters(
        &self,
        _r: Request<pb::ListDeadLettersRequest>,
    ) -> RpcResult<pb::ListDeadLettersResponse> {
        Err(not_yet())
    }
    async fn requeue_dead_letter(
        &self,
        _r: Request<pb::RequeueDeadLetterRequest>,
    ) -> RpcResult<pb::Job> {
        Err(not_yet())
    }
}
