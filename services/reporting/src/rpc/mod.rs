//! The gRPC layer: one handler per RPC, in `reports` (asking for one), `jobs` (following,
//! cancelling, retrying), `artifacts` (the finished report) and `dashboard` (the operator
//! dashboard and dead letters, admins only). Only a job's owner (and admins)
//! see it; others get NOT_FOUND, as for jobs that do not exist. The trait impl below only
//! forwards.

mod artifacts;
pub(crate) mod convert;
mod dashboard;
mod jobs;
mod reports;
mod schedules;

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
    /// Schedules a user may have.
    pub max_schedules_per_user: u32,
}

/// When a user at their limit of jobs in flight is told to try again: reports take seconds.
const JOB_SLOT_RETRY: Duration = Duration::from_secs(10);

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
    "/swatter.reporting.v1.ReportingService/GetSchedule",
    "/swatter.reporting.v1.ReportingService/ListSchedules",
    "/swatter.reporting.v1.ReportingService/GetDashboard",
    "/swatter.reporting.v1.ReportingService/WatchDashboard",
    "/swatter.reporting.v1.ReportingService/ListDeadLetters",
];

/// Whether the caller's token may see a report with these parameters: a token limited to some
/// projects sees the reports and exports of those projects only, never a user report or an
/// export across projects (they span them all).
fn within_token(me: &UserPrincipal, params: &ReportParams) -> bool {
    within_project(me, params.project_key())
}

/// Whether the caller's token may see something about `project_key`, or about no one project.
fn within_project(me: &UserPrincipal, project_key: Option<&str>) -> bool {
    match project_key {
        Some(key) => me.may_access_project(key),
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

/// Refuses to add one more job in flight for `owner` beyond the limit (see
/// [`store::take_job_slot`]).
async fn take_job_slot(
    reporting: &Reporting,
    tx: &mut Transaction<'_, Postgres>,
    owner: Uuid,
) -> Result<()> {
    let limit = reporting.max_active_jobs_per_user;
    if !store::take_job_slot(tx, owner, limit).await? {
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

    async fn create_schedule(
        &self,
        r: Request<pb::CreateScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        respond(schedules::create_schedule(&self.0, r).await)
    }
    async fn get_schedule(&self, r: Request<pb::GetScheduleRequest>) -> RpcResult<pb::Schedule> {
        respond(schedules::get_schedule(&self.0, r).await)
    }
    async fn list_schedules(
        &self,
        r: Request<pb::ListSchedulesRequest>,
    ) -> RpcResult<pb::ListSchedulesResponse> {
        respond(schedules::list_schedules(&self.0, r).await)
    }
    async fn pause_schedule(
        &self,
        r: Request<pb::PauseScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        respond(schedules::pause_schedule(&self.0, r).await)
    }
    async fn resume_schedule(
        &self,
        r: Request<pb::ResumeScheduleRequest>,
    ) -> RpcResult<pb::Schedule> {
        respond(schedules::resume_schedule(&self.0, r).await)
    }
    async fn delete_schedule(&self, r: Request<pb::DeleteScheduleRequest>) -> RpcResult<()> {
        respond(schedules::delete_schedule(&self.0, r).await)
    }
    async fn get_dashboard(&self, r: Request<pb::GetDashboardRequest>) -> RpcResult<pb::Dashboard> {
        respond(dashboard::get_dashboard(&self.0, r).await)
    }

    type WatchDashboardStream = DashboardStream;

    async fn watch_dashboard(
        &self,
        r: Request<pb::WatchDashboardRequest>,
    ) -> RpcResult<DashboardStream> {
        respond(dashboard::watch_dashboard(&self.0, r).await)
    }
    async fn list_dead_letters(
        &self,
        r: Request<pb::ListDeadLettersRequest>,
    ) -> RpcResult<pb::ListDeadLettersResponse> {
        respond(dashboard::list_dead_letters(&self.0, r).await)
    }
    async fn requeue_dead_letter(
        &self,
        r: Request<pb::RequeueDeadLetterRequest>,
    ) -> RpcResult<pb::Job> {
        respond(dashboard::requeue_dead_letter(&self.0, r).await)
    }

    async fn discard_dead_letter(&self, r: Request<pb::DiscardDeadLetterRequest>) -> RpcResult<()> {
        respond(dashboard::discard_dead_letter(&self.0, r).await)
    }
}
