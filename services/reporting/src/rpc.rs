//! The gRPC layer: one handler per RPC. Only a job's owner (and admins) see it; others get
//! NOT_FOUND, as for jobs that do not exist.

use std::{collections::HashMap, pin::Pin, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use futures::Stream;
use prost::Message;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Postgres, Transaction};
use swatter_common::{
    auth::{self, UserPrincipal},
    client::TracedChannel,
    input,
    pagination::{self, CursorTime},
    propagation,
    status::Violation,
};
use swatter_proto::{
    issues::v1::{GetProjectRequest, Role, issues_service_client::IssuesServiceClient},
    reporting::v1::{
        self as pb, report_params::Params, reporting_service_server::ReportingService,
    },
};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Code, Request, Response, Status};
use uuid::Uuid;

use crate::{
    broker::Publisher,
    domain::{self, CancelOutcome, JobState, ReportParams},
    error::{ReportingError, Result},
    events::{JobEvents, StreamSlots},
    storage::Storage,
    store::{self, Destination, JobRow},
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
/// When a user at their limit of open streams is told to try again.
const STREAM_SLOT_RETRY: Duration = Duration::from_secs(5);

/// The tonic service.
#[derive(Clone)]
pub struct ReportingRpc(pub Arc<Reporting>);

type RpcResult<T> = std::result::Result<Response<T>, Status>;
type JobStream = Pin<Box<dyn Stream<Item = std::result::Result<pb::Job, Status>> + Send>>;
type ChunkStream =
    Pin<Box<dyn Stream<Item = std::result::Result<pb::ArtifactChunk, Status>> + Send>>;

fn respond<T>(result: Result<T>) -> RpcResult<T> {
    result.map(Response::new).map_err(Status::from)
}

fn caller<T>(request: &Request<T>) -> Result<UserPrincipal> {
    Ok(auth::user(request)?.clone())
}

fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// An instant of a request: a valid timestamp within the years 1–9999 (chrono reads years far
/// beyond what PostgreSQL and RFC 3339 hold).
fn from_timestamp(field: &str, ts: prost_types::Timestamp) -> Result<DateTime<Utc>> {
    let at = u32::try_from(ts.nanos)
        .ok()
        .and_then(|nanos| DateTime::from_timestamp(ts.seconds, nanos))
        .ok_or_else(|| ReportingError::invalid(Violation::new(field, "is not a valid time")))?;
    input::check_time(field, at).map_err(ReportingError::invalid)
}

fn state_to_pb(state: JobState) -> pb::JobState {
    match state {
        JobState::Queued => pb::JobState::Queued,
        JobState::Running => pb::JobState::Running,
        JobState::Retrying => pb::JobState::Retrying,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

fn params_to_pb(params: &ReportParams) -> pb::ReportParams {
    pb::ReportParams {
        params: Some(match params {
            ReportParams::Project {
                project_key,
                from,
                to,
            } => Params::Project(pb::ProjectReportParams {
                project_key: project_key.clone(),
                from: Some(timestamp(*from)),
                to: Some(timestamp(*to)),
            }),
            ReportParams::UserMonthly { month } => {
                Params::UserMonthly(pb::UserMonthlyReportParams {
                    month: month.clone(),
                })
            }
        }),
    }
}

/// The job as clients see it.
pub fn job_message(row: &JobRow) -> pb::Job {
    let kind = match row.params.0 {
        ReportParams::Project { .. } => pb::ReportKind::Project,
        ReportParams::UserMonthly { .. } => pb::ReportKind::UserMonthly,
    };
    let state = row.state;
    // While a job waits for its next attempt, or after it ended, its last error is shown.
    let error = match (&row.error_kind, &row.error_message) {
        (Some(kind), Some(message)) if state != JobState::Succeeded => Some(pb::JobError {
            kind: kind.as_str().to_owned(),
            message: message.clone(),
        }),
        _ => None,
    };
    let artifact = match (
        &row.artifact_size,
        &row.artifact_sha256,
        &row.artifact_content_type,
    ) {
        (Some(size), Some(sha256), Some(content_type)) if state == JobState::Succeeded => {
            Some(pb::Artifact {
                url: String::new(),
                expires_at: None,
                size_bytes: *size,
                sha256: sha256.clone(),
                content_type: content_type.clone(),
            })
        }
        _ => None,
    };
    pb::Job {
        id: row.id.to_string(),
        kind: kind as i32,
        params: Some(params_to_pb(&row.params.0)),
        state: state_to_pb(state) as i32,
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        progress: row.progress,
        owner_id: row.owner_id.to_string(),
        created_at: Some(timestamp(row.created_at)),
        started_at: row.started_at.map(timestamp),
        finished_at: row.finished_at.map(timestamp),
        next_attempt_at: row.next_attempt_at.map(timestamp),
        error,
        artifact,
    }
}

impl Reporting {
    /// A job the caller may see (their own, or any for admins).
    async fn visible_job(&self, raw_id: &str, me: &UserPrincipal) -> Result<JobRow> {
        let id: Uuid = raw_id
            .parse()
            .map_err(|_| ReportingError::NotFound("job"))?;
        let job = store::job_by_id(&self.db, id)
            .await?
            .ok_or(ReportingError::NotFound("job"))?;
        if job.owner_id == me.id || me.admin {
            Ok(job)
        } else {
            Err(ReportingError::NotFound("job"))
        }
    }

    /// The caller must be a member of the project now (the worker reads it later with a token
    /// held on the caller's behalf, which carries no admin power: an admin who is not a member
    /// would get a job bound to fail).
    async fn check_project_visible<T>(&self, request: &Request<T>, key: &str) -> Result<()> {
        let mut lookup = Request::new(GetProjectRequest {
            key: key.to_owned(),
        });
        if let Some(value) = request.metadata().get("authorization") {
            lookup.metadata_mut().insert("authorization", value.clone());
        }
        match self.issues.clone().get_project(lookup).await {
            Ok(project) if project.get_ref().my_role != Role::Unspecified as i32 => Ok(()),
            Ok(_) => Err(ReportingError::NotFound("project")),
            Err(status) if matches!(status.code(), Code::NotFound | Code::PermissionDenied) => {
                Err(ReportingError::NotFound("project"))
            }
            Err(status) if status.code() == Code::Unavailable => Err(ReportingError::Unavailable(
                anyhow::anyhow!("issues: {status}"),
            )),
            Err(status) => Err(ReportingError::Status(status)),
        }
    }

    async fn create_report(&self, request: Request<pb::CreateReportRequest>) -> Result<pb::Job> {
        let me = caller(&request)?;
        let now = Utc::now();
        let params = match request
            .get_ref()
            .params
            .as_ref()
            .and_then(|p| p.params.clone())
        {
            Some(Params::Project(p)) => {
                let from = p.from.map(|t| from_timestamp("from", t)).transpose()?;
                let to = p.to.map(|t| from_timestamp("to", t)).transpose()?;
                domain::project_params(&p.project_key, from, to, now)
                    .map_err(ReportingError::Invalid)?
            }
            Some(Params::UserMonthly(m)) => {
                domain::monthly_params(&m.month, now).map_err(ReportingError::invalid)?
            }
            None => {
                return Err(ReportingError::invalid(Violation::new(
                    "kind",
                    "must be project or user_monthly",
                )));
            }
        };
        let key = request.get_ref().request_id.clone();
        let hash = {
            let mut body = request.get_ref().clone();
            body.request_id.clear();
            Sha256::digest(body.encode_to_vec()).to_vec()
        };
        if !key.is_empty() {
            input::check_idempotency_key(&key).map_err(ReportingError::invalid)?;
            // A key seen before answers before anything else: a replay gets the same job, a
            // different request with the same key is refused.
            if let Some(job) = self.replay(me.id, &key, &hash).await? {
                return Ok(job);
            }
        }
        if let ReportParams::Project { project_key, .. } = &params {
            self.check_project_visible(&request, project_key).await?;
        }
        let mut tx = self.db.begin().await?;
        if let Err(error) = self.take_job_slot(&mut tx, me.id).await {
            // A concurrent request with the same key may have taken the last slot: answer as it
            // did.
            if !key.is_empty()
                && let Some(job) = self.replay(me.id, &key, &hash).await?
            {
                return Ok(job);
            }
            return Err(error);
        }
        let job = store::insert_job(
            &mut *tx,
            Uuid::now_v7(),
            me.id,
            &me.username,
            &params,
            self.max_attempts,
        )
        .await?;
        if !key.is_empty()
            && !store::claim_idempotency_key(&mut *tx, me.id, &key, &hash, job.id).await?
        {
            // A concurrent request with the same key won; answer as it did.
            drop(tx);
            return self
                .replay(me.id, &key, &hash)
                .await?
                .ok_or_else(|| anyhow::anyhow!("idempotency key vanished").into());
        }
        // The message carries this request's trace, so the worker's spans join it.
        let trace = propagation::current_trace_headers();
        store::insert_outbox(&mut *tx, job.id, 1, Destination::Work, now, &trace).await?;
        tx.commit().await?;
        tracing::info!(job_id = %job.id, kind = %job.kind, owner = %me.id, "report requested");
        Ok(job_message(&job))
    }

    /// Refuses to add one more job in flight for `owner` beyond the limit. Call it inside the
    /// transaction that adds the job: from here until it ends, `owner`'s other requests that add
    /// jobs wait, so two of them cannot both take the last slot.
    async fn take_job_slot(&self, tx: &mut Transaction<'_, Postgres>, owner: Uuid) -> Result<()> {
        store::lock_owner_jobs(tx, owner).await?;
        let limit = self.max_active_jobs_per_user;
        if store::count_active_jobs(&mut **tx, owner).await? >= i64::from(limit) {
            return Err(ReportingError::ResourceExhausted {
                message: format!(
                    "at most {limit} report jobs may be queued, running or retrying at once; \
                     try again when one has finished"
                ),
                retry_after: JOB_SLOT_RETRY,
            });
        }
        Ok(())
    }

    /// The job an idempotency key already stands for, if any.
    async fn replay(&self, owner: Uuid, key: &str, hash: &[u8]) -> Result<Option<pb::Job>> {
        let Some((stored_hash, job_id)) = store::idempotency_key(&self.db, owner, key).await?
        else {
            return Ok(None);
        };
        if stored_hash != hash {
            return Err(ReportingError::invalid(Violation::new(
                "Idempotency-Key",
                "was already used with a different request",
            )));
        }
        let job = store::job_by_id(&self.db, job_id)
            .await?
            .ok_or(ReportingError::NotFound("job"))?;
        Ok(Some(job_message(&job)))
    }

    async fn list_jobs(
        &self,
        request: Request<pb::ListJobsRequest>,
    ) -> Result<pb::ListJobsResponse> {
        let me = caller(&request)?;
        let req = request.into_inner();
        if req.all && !me.admin {
            return Err(ReportingError::Forbidden(
                "only admins list every user's jobs",
            ));
        }
        let mut states = Vec::new();
        for raw in &req.states {
            let state = match pb::JobState::try_from(*raw) {
                Ok(pb::JobState::Queued) => JobState::Queued,
                Ok(pb::JobState::Running) => JobState::Running,
                Ok(pb::JobState::Retrying) => JobState::Retrying,
                Ok(pb::JobState::Succeeded) => JobState::Succeeded,
                Ok(pb::JobState::Failed) => JobState::Failed,
                Ok(pb::JobState::Cancelled) => JobState::Cancelled,
                _ => {
                    return Err(ReportingError::invalid(Violation::new(
                        "state",
                        "is not a job state",
                    )));
                }
            };
            states.push(state.as_str());
        }
        let limit = pagination::page_size(req.page_size).map_err(ReportingError::invalid)?;
        let after: Option<(CursorTime, Uuid)> =
            pagination::decode_token(&req.page_token).map_err(ReportingError::invalid)?;
        let after = after.map(|(at, id)| (at.get(), id));
        let owner = if req.all { None } else { Some(me.id) };
        let mut rows = store::list_jobs(&self.db, owner, &states, after, limit + 1).await?;
        let next_page_token = if rows.len() as i64 > limit {
            rows.truncate(limit as usize);
            rows.last()
                .map(|r| pagination::encode_token(&(CursorTime::from(r.created_at), r.id)))
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(pb::ListJobsResponse {
            jobs: rows.iter().map(job_message).collect(),
            next_page_token,
        })
    }

    async fn cancel_job(&self, request: Request<pb::CancelJobRequest>) -> Result<pb::Job> {
        let me = caller(&request)?;
        let job = self.visible_job(&request.get_ref().id, &me).await?;
        let updated = match job.state.on_cancel() {
            CancelOutcome::CancelNow => store::cancel_waiting_job(&self.db, job.id)
                .await?
                .inspect(|row| crate::metrics::finished(row.kind.as_str(), JobState::Cancelled)),
            CancelOutcome::AtNextCheckpoint => store::request_cancel(&self.db, job.id).await?,
            CancelOutcome::AlreadyTerminal => None,
        };
        match updated {
            Some(row) => Ok(job_message(&row)),
            // Terminal, or it moved on between the read and the write.
            None => {
                let now = store::job_by_id(&self.db, job.id)
                    .await?
                    .ok_or(ReportingError::NotFound("job"))?;
                Err(ReportingError::FailedPrecondition(format!(
                    "the job is {} and cannot be cancelled",
                    now.state
                )))
            }
        }
    }

    async fn retry_job(&self, request: Request<pb::RetryJobRequest>) -> Result<pb::Job> {
        let me = caller(&request)?;
        let job = self.visible_job(&request.get_ref().id, &me).await?;
        if !job.state.can_retry() {
            return Err(ReportingError::FailedPrecondition(format!(
                "only failed or cancelled jobs can be retried; the job is {}",
                job.state
            )));
        }
        let mut tx = self.db.begin().await?;
        self.take_job_slot(&mut tx, job.owner_id).await?;
        let row = store::requeue_job(&mut *tx, job.id, self.max_attempts)
            .await?
            .ok_or_else(|| {
                ReportingError::FailedPrecondition("the job changed meanwhile; try again".into())
            })?;
        store::insert_outbox(
            &mut *tx,
            row.id,
            row.attempts + 1,
            Destination::Work,
            Utc::now(),
            &propagation::current_trace_headers(),
        )
        .await?;
        tx.commit().await?;
        Ok(job_message(&row))
    }

    async fn succeeded_job(&self, raw_id: &str, me: &UserPrincipal) -> Result<(JobRow, String)> {
        let job = self.visible_job(raw_id, me).await?;
        match (&job.artifact_key, job.state) {
            (Some(key), JobState::Succeeded) => {
                let key = key.clone();
                Ok((job, key))
            }
            _ => Err(ReportingError::FailedPrecondition(format!(
                "the job is {}; its report exists once it has succeeded",
                job.state
            ))),
        }
    }

    async fn get_artifact(&self, request: Request<pb::GetArtifactRequest>) -> Result<pb::Artifact> {
        let me = caller(&request)?;
        let (job, key) = self.succeeded_job(&request.get_ref().id, &me).await?;
        let (url, expires_at) = self
            .storage
            .presign(&key)
            .await
            .map_err(ReportingError::Unavailable)?;
        let mut artifact = job_message(&job).artifact.unwrap_or_default();
        artifact.url = url;
        artifact.expires_at = Some(timestamp(expires_at));
        Ok(artifact)
    }

    async fn download_artifact(
        &self,
        request: Request<pb::DownloadArtifactRequest>,
    ) -> Result<ChunkStream> {
        let me = caller(&request)?;
        let (job, key) = self.succeeded_job(&request.get_ref().id, &me).await?;
        let mut body = self
            .storage
            .get(&key)
            .await
            .map_err(ReportingError::Unavailable)?;
        let metadata = job_message(&job).artifact;
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut metadata = metadata;
            loop {
                match body.try_next().await {
                    Ok(Some(bytes)) => {
                        let chunk = pb::ArtifactChunk {
                            metadata: metadata.take(),
                            data: bytes.to_vec(),
                        };
                        if tx.send(Ok(chunk)).await.is_err() {
                            return;
                        }
                    }
                    Ok(None) => return,
                    Err(error) => {
                        tracing::warn!(error = %error, "artifact download interrupted");
                        let _ = tx
                            .send(Err(Status::unavailable(
                                "the object store stopped answering",
                            )))
                            .await;
                        return;
                    }
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    async fn watch_job(&self, request: Request<pb::WatchJobRequest>) -> Result<JobStream> {
        let me = caller(&request)?;
        let slot =
            self.streams
                .acquire(me.id)
                .ok_or_else(|| ReportingError::ResourceExhausted {
                    message: "too many job event streams are open for this user; close one".into(),
                    retry_after: STREAM_SLOT_RETRY,
                })?;
        let raw_id = &request.get_ref().id;
        let id: Uuid = raw_id
            .parse()
            .map_err(|_| ReportingError::NotFound("job"))?;
        // Subscribed before the read: a change committed after it is pushed.
        let mut changes = self.events.subscribe(id);
        let job = self.visible_job(raw_id, &me).await?;
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            // Held while the stream is open.
            let _slot = slot;
            let mut last = job_message(&job);
            if tx.send(Ok(last.clone())).await.is_err() || job.state.is_terminal() {
                return;
            }
            loop {
                let row = tokio::select! {
                    row = changes.next() => match row {
                        Some(row) => row,
                        None => return,
                    },
                    // The client went away.
                    () = tx.closed() => return,
                };
                let now = job_message(&row);
                let changed = (now.state, now.progress, now.attempts, &now.next_attempt_at)
                    != (
                        last.state,
                        last.progress,
                        last.attempts,
                        &last.next_attempt_at,
                    );
                if changed {
                    if tx.send(Ok(now.clone())).await.is_err() {
                        return;
                    }
                    last = now;
                }
                if row.state.is_terminal() {
                    return;
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    async fn job_stats(&self, request: Request<pb::GetJobStatsRequest>) -> Result<pb::JobStats> {
        let me = caller(&request)?;
        if !me.admin {
            return Err(ReportingError::Forbidden("only admins see job statistics"));
        }
        let mut jobs_by_state: HashMap<String, i64> = JobState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect();
        for (state, count) in store::count_by_state(&self.db).await? {
            jobs_by_state.insert(state.to_string(), count);
        }
        let (queue_depth, dead_lettered) = self
            .publisher
            .queue_depths()
            .await
            .map_err(ReportingError::Unavailable)?;
        let oldest_queued_age_seconds = store::oldest_queued(&self.db)
            .await?
            .map(|at| (Utc::now() - at).num_seconds().max(0))
            .unwrap_or(0);
        Ok(pb::JobStats {
            jobs_by_state,
            queue_depth: i64::from(queue_depth),
            dead_lettered: i64::from(dead_lettered),
            oldest_queued_age_seconds,
        })
    }
}

#[tonic::async_trait]
impl ReportingService for ReportingRpc {
    async fn create_report(&self, r: Request<pb::CreateReportRequest>) -> RpcResult<pb::Job> {
        respond(self.0.create_report(r).await)
    }
    async fn get_job(&self, r: Request<pb::GetJobRequest>) -> RpcResult<pb::Job> {
        respond(
            async {
                let me = caller(&r)?;
                Ok(job_message(
                    &self.0.visible_job(&r.get_ref().id, &me).await?,
                ))
            }
            .await,
        )
    }
    async fn list_jobs(&self, r: Request<pb::ListJobsRequest>) -> RpcResult<pb::ListJobsResponse> {
        respond(self.0.list_jobs(r).await)
    }
    async fn cancel_job(&self, r: Request<pb::CancelJobRequest>) -> RpcResult<pb::Job> {
        respond(self.0.cancel_job(r).await)
    }
    async fn retry_job(&self, r: Request<pb::RetryJobRequest>) -> RpcResult<pb::Job> {
        respond(self.0.retry_job(r).await)
    }
    async fn get_artifact(&self, r: Request<pb::GetArtifactRequest>) -> RpcResult<pb::Artifact> {
        respond(self.0.get_artifact(r).await)
    }

    type DownloadArtifactStream = ChunkStream;

    async fn download_artifact(
        &self,
        r: Request<pb::DownloadArtifactRequest>,
    ) -> RpcResult<ChunkStream> {
        respond(self.0.download_artifact(r).await)
    }

    type WatchJobStream = JobStream;

    async fn watch_job(&self, r: Request<pb::WatchJobRequest>) -> RpcResult<JobStream> {
        respond(self.0.watch_job(r).await)
    }
    async fn get_job_stats(&self, r: Request<pb::GetJobStatsRequest>) -> RpcResult<pb::JobStats> {
        respond(self.0.job_stats(r).await)
    }
}
