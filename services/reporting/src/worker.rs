//! The report worker: consumes job messages, and for each claims the job (fenced by the attempt
//! number, under a lease it keeps alive), gathers the data, typesets the PDF, uploads it (or
//! streams an export into the object store part by part), commits the result, and only then
//! acks the message.
//!
//! Whatever happens, the job ends in a recorded state or its lease lapses and the sweeper takes
//! it over: a crash never leaves a job `running` for good, and a duplicate delivery claims
//! nothing.
//!
//! Each worker process also keeps a row in `workers` for the operator dashboard: a heartbeat
//! every few seconds with the jobs it runs at that moment, deleted when it shuts down cleanly.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use lapin::{
    message::Delivery,
    options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions},
    types::FieldTable,
};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use swatter_common::propagation;
use tokio::{sync::watch, task::JoinSet};
use tracing::{Instrument, Span};
use uuid::Uuid;

use crate::{
    broker::{self, JobMessage, Topology},
    domain::{Backoff, FailureKind, IssueFilter, JobState, ReportParams},
    export::{Encoder, Format, PartWriter},
    fetch::{FetchError, Sources, classify},
    metrics, outcome, render,
    rpc::convert::filter_to_pb,
    storage::Storage,
    store::{self, ArtifactRecord, Heartbeat, JobRow, Lease},
};

/// Issues an export writes between two checkpoints (progress, lease, cancellation).
const EXPORT_CHECKPOINT_ROWS: u64 = 5000;
/// Issues an export reads from the issues service per query.
const EXPORT_BATCH: i32 = 1000;

/// What a worker needs.
#[derive(Clone)]
pub struct Worker {
    pub db: PgPool,
    pub storage: Storage,
    pub sources: Sources,
    pub backoff: Backoff,
    pub lease: Duration,
    pub amqp_url: String,
    pub topology: Topology,
    pub concurrency: u16,
    /// This process in `workers`: its id, start, heartbeat period and the jobs it runs now.
    pub presence: Presence,
}

/// How long a worker not heard from stays in `workers` (shown as not alive) before it is
/// forgotten.
pub const FORGET_SILENT_WORKERS: Duration = Duration::from_secs(3600);

/// A worker process as the dashboard sees it.
#[derive(Clone, Debug)]
pub struct Presence {
    pub id: Uuid,
    pub hostname: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat: Duration,
    running: Arc<Mutex<BTreeSet<Uuid>>>,
}

impl Presence {
    /// A new worker process, sending a heartbeat every `heartbeat`.
    pub fn new(heartbeat: Duration) -> Self {
        Presence {
            id: Uuid::now_v7(),
            hostname: hostname(),
            started_at: Utc::now(),
            heartbeat,
            running: Arc::default(),
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, BTreeSet<Uuid>> {
        // A set stays consistent whatever a panicking holder did: every change is one call.
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Marks job `id` as running here until the guard is dropped.
    fn runs(&self, id: Uuid) -> RunningJob {
        self.running().insert(id);
        RunningJob {
            presence: self.clone(),
            id,
        }
    }

    /// Sends heartbeats until `done` turns true. Workers silent for [`FORGET_SILENT_WORKERS`] are
    /// pruned at each heartbeat (by any worker).
    async fn beat(self, db: PgPool, concurrency: u16, mut done: watch::Receiver<bool>) {
        while !*done.borrow() {
            let job_ids: Vec<Uuid> = self.running().iter().copied().collect();
            let beat = Heartbeat {
                id: self.id,
                hostname: &self.hostname,
                started_at: self.started_at,
                interval: self.heartbeat,
                concurrency: i32::from(concurrency),
                job_ids: &job_ids,
            };
            if let Err(error) = store::record_heartbeat(&db, &beat).await {
                tracing::warn!(error = %error, "worker heartbeat failed");
            }
            if let Err(error) = store::prune_workers(&db, FORGET_SILENT_WORKERS).await {
                tracing::warn!(error = %error, "cannot prune silent workers");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.heartbeat) => {},
                _ = done.changed() => {},
            }
        }
    }

    async fn leave(&self, db: &PgPool) {
        if let Err(error) = store::delete_worker(db, self.id).await {
            tracing::warn!(error = %error, "cannot remove this worker from the list; it will be pruned");
        }
    }
}

/// A job counted in its worker's heartbeats while this lives.
struct RunningJob {
    presence: Presence,
    id: Uuid,
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        self.presence.running().remove(&self.id);
    }
}

/// The host's name, as the dashboard shows it (`HOSTNAME`, or the kernel's).
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// How one attempt ended before its outcome is recorded.
#[derive(Debug)]
enum Stop {
    Transient(String),
    Permanent(String),
    /// The owner cancelled it.
    Cancelled,
    /// Our lease was lost (fenced off): someone else owns the job now; touch nothing.
    Fenced,
    /// The worker is shutting down: give the job back.
    Released,
}

impl From<FetchError> for Stop {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Transient(message) => Stop::Transient(message),
            FetchError::Permanent(message) => Stop::Permanent(message),
        }
    }
}

/// Keeps the lease of a running attempt alive and watches for cancellation.
struct Attempt {
    db: PgPool,
    job_id: Uuid,
    attempt: i32,
    lease: Duration,
    cancelled: Arc<AtomicBool>,
    fenced: Arc<AtomicBool>,
}

impl Attempt {
    /// Records progress and renews the lease; stops the attempt if it was fenced or cancelled,
    /// or the worker is shutting down.
    async fn checkpoint(
        &self,
        progress: i32,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<(), Stop> {
        if *shutdown.borrow() {
            return Err(Stop::Released);
        }
        match store::heartbeat(&self.db, self.job_id, self.attempt, self.lease, progress).await {
            Ok(Lease::Lost) => self.fenced.store(true, Ordering::SeqCst),
            Ok(Lease::CancelRequested) => self.cancelled.store(true, Ordering::SeqCst),
            Ok(Lease::Renewed) => {}
            // The database is away: keep working; if it stays away the lease lapses.
            Err(error) => tracing::warn!(job_id = %self.job_id, error = %error, "heartbeat failed"),
        }
        if self.fenced.load(Ordering::SeqCst) {
            Err(Stop::Fenced)
        } else if self.cancelled.load(Ordering::SeqCst) {
            Err(Stop::Cancelled)
        } else {
            Ok(())
        }
    }

    /// Renews the lease in the background every third of it until dropped.
    fn keep_alive(&self) -> tokio::task::JoinHandle<()> {
        let (db, job_id, attempt, lease) = (self.db.clone(), self.job_id, self.attempt, self.lease);
        let (cancelled, fenced) = (self.cancelled.clone(), self.fenced.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                match store::heartbeat(&db, job_id, attempt, lease, 0).await {
                    Ok(Lease::Lost) => {
                        fenced.store(true, Ordering::SeqCst);
                        return;
                    }
                    Ok(Lease::CancelRequested) => cancelled.store(true, Ordering::SeqCst),
                    Ok(Lease::Renewed) => {}
                    Err(error) => tracing::warn!(%job_id, error = %error, "heartbeat failed"),
                }
            }
        })
    }
}

impl Worker {
    /// Consumes until `shutdown` turns true, reconnecting whenever the broker goes away; then
    /// lets in-flight jobs finish (or releases them at their next checkpoint).
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut delay = Duration::from_millis(200);
        let mut in_flight = JoinSet::new();
        // Heartbeats go on while in-flight jobs finish after a shutdown request.
        let (done, beating) = watch::channel(false);
        let heartbeats = tokio::spawn(self.presence.clone().beat(
            self.db.clone(),
            self.concurrency,
            beating,
        ));
        while !*shutdown.borrow() {
            match self.consume(&mut shutdown, &mut in_flight).await {
                Ok(()) => delay = Duration::from_millis(200),
                Err(error) => {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "broker connection lost; reconnecting"
                    );
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(delay) => {},
                _ = shutdown.changed() => {},
            }
            delay = (delay * 2).min(Duration::from_secs(5));
        }
        while in_flight.join_next().await.is_some() {}
        let _ = done.send(true);
        let _ = heartbeats.await;
        self.presence.leave(&self.db).await;
        tracing::info!("worker stopped");
    }

    async fn consume(
        &self,
        shutdown: &mut watch::Receiver<bool>,
        in_flight: &mut JoinSet<()>,
    ) -> anyhow::Result<()> {
        let connection = broker::connect(&self.amqp_url).await?;
        broker::declare(&connection, &self.topology).await?;
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(self.concurrency, BasicQosOptions::default())
            .await?;
        let mut consumer = channel
            .basic_consume(
                self.topology.work_queue.as_str().into(),
                format!("swatter-worker-{}", Uuid::new_v4().simple())
                    .as_str()
                    .into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        tracing::info!(queue = %self.topology.work_queue, prefetch = self.concurrency, "consuming");
        loop {
            tokio::select! {
                delivery = consumer.next() => match delivery {
                    Some(Ok(delivery)) => {
                        let worker = self.clone();
                        let shutdown = shutdown.clone();
                        in_flight.spawn(async move { worker.handle(delivery, shutdown).await });
                    }
                    Some(Err(error)) => return Err(error.into()),
                    None => anyhow::bail!("the broker cancelled the consumer"),
                },
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                _ = shutdown.changed() => {
                    // Stop taking work; unacked prefetched messages go back to the queue when the
                    // channel closes, after the in-flight jobs are done.
                    while in_flight.join_next().await.is_some() {}
                    let _ = channel.close(200, "worker shutting down".into()).await;
                    let _ = connection.close(200, "worker shutting down".into()).await;
                    return Ok(());
                }
            }
        }
    }

    async fn handle(&self, delivery: Delivery, shutdown: watch::Receiver<bool>) {
        let message: JobMessage = match serde_json::from_slice(&delivery.data) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(error = %error, "poison message; dead-lettering it");
                let _ = delivery.reject(BasicRejectOptions { requeue: false }).await;
                metrics::dead_lettered();
                return;
            }
        };
        let trace = broker::headers_of(&delivery.properties);
        // The queue hop: a consumer span continuing the trace of the publish.
        let queue = &self.topology.work_queue;
        let span = tracing::info_span!(
            "amqp.consume",
            otel.name = %format!("process {queue}"),
            otel.kind = "consumer",
            messaging.system = "rabbitmq",
            messaging.operation.type = "process",
            messaging.destination.name = %queue,
            messaging.message.id = %message.id(),
            messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
        );
        propagation::continue_trace(&span, &trace);
        async {
            self.process(&message, &trace, shutdown).await;
            // The outcome is committed (or the lease will lapse and the sweeper takes over), so
            // the message has done its job either way.
            if let Err(error) = delivery.ack(BasicAckOptions::default()).await {
                tracing::warn!(job_id = %message.job_id, error = %error, "ack failed; a redelivery will claim nothing");
            }
        }
        .instrument(span)
        .await;
    }

    /// One attempt of one job.
    #[tracing::instrument(
        name = "report.job",
        skip_all,
        fields(
            job_id = %message.job_id,
            attempt = message.attempt,
            otel.status_code = tracing::field::Empty,
        ),
    )]
    pub async fn process(
        &self,
        message: &JobMessage,
        trace: &HashMap<String, String>,
        shutdown: watch::Receiver<bool>,
    ) {
        let job = match store::claim_job(&self.db, message.job_id, message.attempt, self.lease)
            .await
        {
            Ok(Some(job)) => job,
            Ok(None) => {
                tracing::debug!(job_id = %message.job_id, attempt = message.attempt, "nothing to claim (duplicate, stale or cancelled)");
                return;
            }
            Err(error) => {
                tracing::warn!(job_id = %message.job_id, error = %error, "cannot claim; the sweeper will requeue it");
                return;
            }
        };
        let attempt = Attempt {
            db: self.db.clone(),
            job_id: job.id,
            attempt: message.attempt,
            lease: self.lease,
            cancelled: Arc::new(AtomicBool::new(false)),
            fenced: Arc::new(AtomicBool::new(false)),
        };
        tracing::info!(job_id = %job.id, attempt = message.attempt, kind = %job.kind, "job started");
        let _running = self.presence.runs(job.id);
        let keep_alive = attempt.keep_alive();
        let result = self.execute(&job, &attempt, &shutdown).await;
        keep_alive.abort();
        if let Err(error) = self.record(&job, message.attempt, result, trace).await {
            tracing::warn!(job_id = %job.id, error = %error, "cannot record the outcome; the lease will lapse and the job be retried");
        }
    }

    async fn execute(
        &self,
        job: &JobRow,
        attempt: &Attempt,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<ArtifactInfo, Stop> {
        attempt.checkpoint(10, shutdown).await?;
        let fetch = metrics::Timer::start();
        let pdf = match &job.params.0 {
            ReportParams::IssuesCsv(filter) => {
                return self
                    .export(job, filter, Format::Csv, attempt, shutdown)
                    .await;
            }
            ReportParams::IssuesJson(filter) => {
                return self
                    .export(job, filter, Format::Json, attempt, shutdown)
                    .await;
            }
            ReportParams::Project {
                project_key,
                from,
                to,
            } => {
                let data = self
                    .sources
                    .project_report(job.owner_id, &job.owner_username, project_key, *from, *to)
                    .instrument(tracing::info_span!("report.fetch"))
                    .await;
                fetch.fetched(job.kind.as_str());
                let data = data?;
                attempt.checkpoint(40, shutdown).await?;
                render_blocking(job.kind.as_str(), move || render::render_project(&data)).await?
            }
            ReportParams::UserMonthly { month } => {
                let data = self
                    .sources
                    .monthly_report(job.owner_id, &job.owner_username, month)
                    .instrument(tracing::info_span!("report.fetch"))
                    .await;
                fetch.fetched(job.kind.as_str());
                let data = data?;
                attempt.checkpoint(40, shutdown).await?;
                render_blocking(job.kind.as_str(), move || {
                    render::render_user_monthly(&data)
                })
                .await?
            }
        };
        attempt.checkpoint(75, shutdown).await?;
        let sha256 = hex::encode(Sha256::digest(&pdf));
        let size = pdf.len() as i64;
        let key = job.kind.artifact_key(job.id);
        let upload = metrics::Timer::start();
        let stored = self
            .storage
            .put(&key, pdf, job.kind.content_type(), &sha256)
            .instrument(tracing::info_span!("report.upload", size))
            .await;
        upload.uploaded();
        stored.map_err(object_store)?;
        // No checkpoint after the upload: the PDF exists, so a late cancel or a shutdown should
        // not throw it away; the fenced commit still refuses a lost lease.
        Ok(ArtifactInfo { key, size, sha256 })
    }

    /// An export: the issues stream in from the issues service (as the owner) and go out to the
    /// object store part by part as they are encoded. Whatever stops it before the end, the
    /// upload is aborted: no partial object is left.
    async fn export(
        &self,
        job: &JobRow,
        filter: &IssueFilter,
        format: Format,
        attempt: &Attempt,
        shutdown: &watch::Receiver<bool>,
    ) -> Result<ArtifactInfo, Stop> {
        let key = job.kind.artifact_key(job.id);
        let request = swatter_proto::issues::v1::ListIssuesRequest {
            page_size: EXPORT_BATCH,
            ..filter_to_pb(filter)
        };
        let mut issues = self
            .sources
            .export_issues(job.owner_id, request)
            .instrument(tracing::info_span!("report.fetch"))
            .await?;
        let upload = self
            .storage
            .start_multipart(&key, job.kind.content_type())
            .await
            .map_err(object_store)?;
        let mut writer = PartWriter::new(upload);
        let mut encoder = Encoder::new(format);
        let timer = metrics::Timer::start();
        let written = async {
            encoder.start(&mut writer.buffer);
            while let Some(issue) = issues.next().await {
                let issue = issue.map_err(|s| Stop::from(classify(&s, "the exported issues")))?;
                encoder.issue(&issue, &mut writer.buffer);
                writer.flush_full().await.map_err(object_store)?;
                if encoder.rows().is_multiple_of(EXPORT_CHECKPOINT_ROWS) {
                    attempt
                        .checkpoint(export_progress(encoder.rows()), shutdown)
                        .await?;
                }
            }
            encoder.finish(&mut writer.buffer);
            Ok::<(), Stop>(())
        }
        .instrument(tracing::info_span!("report.export"))
        .await;
        timer.fetched(job.kind.as_str());
        if let Err(stop) = written {
            writer.abort().await;
            return Err(stop);
        }
        let (size, sha256, parts) = writer
            .finish()
            .instrument(tracing::info_span!("report.upload"))
            .await
            .map_err(object_store)?;
        tracing::info!(job_id = %job.id, rows = encoder.rows(), size, parts, "export written");
        Ok(ArtifactInfo { key, size, sha256 })
    }

    async fn record(
        &self,
        job: &JobRow,
        attempt: i32,
        result: Result<ArtifactInfo, Stop>,
        trace: &HashMap<String, String>,
    ) -> sqlx::Result<()> {
        let ours = match result {
            Ok(artifact) => {
                let record = ArtifactRecord {
                    key: &artifact.key,
                    size: artifact.size,
                    sha256: &artifact.sha256,
                    content_type: job.kind.content_type(),
                };
                let ours = store::complete_job(&self.db, job.id, attempt, &record).await?;
                if ours {
                    tracing::info!(job_id = %job.id, attempt, size = artifact.size, "job succeeded");
                    metrics::finished(job.kind.as_str(), JobState::Succeeded);
                }
                ours
            }
            Err(Stop::Transient(message)) => {
                Span::current().record("otel.status_code", "ERROR");
                tracing::warn!(job_id = %job.id, attempt, %message, "attempt failed; will retry if attempts remain");
                let ours = outcome::record_transient_failure(
                    &self.db,
                    &self.backoff,
                    job.id,
                    attempt,
                    job.max_attempts,
                    &message,
                    trace,
                )
                .await?;
                if ours {
                    metrics::transient_failure(job.kind.as_str(), attempt, job.max_attempts);
                }
                ours
            }
            Err(Stop::Permanent(message)) => {
                Span::current().record("otel.status_code", "ERROR");
                tracing::warn!(job_id = %job.id, attempt, %message, "job failed permanently");
                let ours =
                    store::fail_job(&self.db, job.id, attempt, FailureKind::Permanent, &message)
                        .await?;
                if ours {
                    metrics::finished(job.kind.as_str(), JobState::Failed);
                }
                ours
            }
            Err(Stop::Cancelled) => {
                tracing::info!(job_id = %job.id, attempt, "job cancelled at a checkpoint");
                let ours = store::finish_cancelled(&self.db, job.id, attempt).await?;
                if ours {
                    metrics::finished(job.kind.as_str(), JobState::Cancelled);
                }
                ours
            }
            Err(Stop::Released) => {
                // Shutting down: give the job back now rather than waiting for the lease.
                let mut no_backoff = self.backoff;
                no_backoff.base = Duration::ZERO;
                outcome::record_transient_failure(
                    &self.db,
                    &no_backoff,
                    job.id,
                    attempt,
                    job.max_attempts.max(attempt + 1),
                    "the worker shut down",
                    trace,
                )
                .await?
            }
            Err(Stop::Fenced) => false,
        };
        if !ours {
            tracing::info!(job_id = %job.id, attempt, "attempt was fenced off; its result is dropped");
        }
        Ok(())
    }
}

struct ArtifactInfo {
    key: String,
    size: i64,
    sha256: String,
}

/// The object store failed: worth another attempt.
fn object_store(error: anyhow::Error) -> Stop {
    Stop::Transient(format!("object store: {error:#}"))
}

/// An export's progress after `rows` issues: its total is not known in advance, so it grows
/// towards 90 % (10 % at the start, 50 % at 20,000 issues) and jumps to 100 % at the end.
fn export_progress(rows: u64) -> i32 {
    10 + (80 * rows / (rows + 20_000)) as i32
}

/// Typesets off the async threads. A render error is permanent: the same data renders the same.
async fn render_blocking(
    kind: &str,
    render: impl FnOnce() -> Result<Vec<u8>, render::RenderError> + Send + 'static,
) -> Result<Vec<u8>, Stop> {
    let timer = metrics::Timer::start();
    let span = tracing::info_span!("report.render");
    let rendered = tokio::task::spawn_blocking(move || span.in_scope(render)).await;
    timer.rendered(kind);
    match rendered {
        Ok(Ok(pdf)) => Ok(pdf),
        Ok(Err(error)) => Err(Stop::Permanent(format!("typesetting failed: {error}"))),
        Err(error) => Err(Stop::Transient(format!("typesetting task failed: {error}"))),
    }
}
