//! `job.state_changed` events: the rows the `jobs_state_event` trigger writes to
//! `job_event_outbox` in each state change's transaction, published by the relay to the events
//! exchange (swatter-common's `events`), with `data` = the job exactly as `GET /v1/jobs/{id}`
//! shows it, and `project_key` for project reports and one-project exports (none for monthly
//! user reports and exports across projects, which no project's webhooks receive).
//!
//! The same rows carry `schedule.report_ready` / `schedule.report_failed`, written by the
//! `jobs_state_scheduled_*` triggers when the job of a schedule with `deliver_event` succeeds or
//! fails: `data` = `{"schedule": ..., "job": ...}`, both as the REST API shows them.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use sqlx::{PgPool, Postgres, Transaction};
use swatter_common::{broker::EventPublisher, events::Envelope};
use swatter_proto::reporting::v1::{self as pb, report_params::Params};
use uuid::Uuid;

use crate::{
    domain::{IssueFilter, ReportParams, schedule::ScheduledReport},
    rpc::convert,
    store::{JobRow, schedules::ScheduleRow},
};

/// The event type of job state changes.
pub const JOB_STATE_CHANGED: &str = "job.state_changed";
/// The job of a schedule that delivers events succeeded.
pub const SCHEDULE_REPORT_READY: &str = "schedule.report_ready";
/// The job of a schedule that delivers events failed.
pub const SCHEDULE_REPORT_FAILED: &str = "schedule.report_failed";
/// Rows published per transaction.
const BATCH: i64 = 200;

/// A waiting event: the job as it stood after its change.
#[derive(Debug, sqlx::FromRow)]
struct EventRow {
    seq: i64,
    event_id: Uuid,
    occurred_at: DateTime<Utc>,
    event_type: String,
    /// The schedule as it stood, for the schedule events.
    schedule: Option<sqlx::types::Json<ScheduleRow>>,
    #[sqlx(flatten)]
    job: JobRow,
}

async fn lock_events(tx: &mut Transaction<'_, Postgres>) -> sqlx::Result<Vec<EventRow>> {
    // The stored JSON is read back as a `jobs` row, so it decodes as every job does.
    sqlx::query_as(
        "SELECT e.seq, e.id AS event_id, e.occurred_at, e.event_type, e.schedule,
                (jsonb_populate_record(NULL::jobs, e.job)).*
         FROM job_event_outbox e ORDER BY e.seq LIMIT $1 FOR UPDATE OF e SKIP LOCKED",
    )
    .bind(BATCH)
    .fetch_all(&mut **tx)
    .await
}

fn time(timestamp: Option<&prost_types::Timestamp>) -> Value {
    timestamp
        .and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, u32::try_from(t.nanos).ok()?))
        .map_or(Value::Null, |at| {
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
}

/// An export's filter as the REST API shows it: the issue lists' parameter names, `null` for
/// those not given.
fn export_params_json(kind: &str, filter: &IssueFilter) -> Value {
    let text = |value: &str| Some(value.to_owned()).filter(|v| !v.is_empty());
    json!({
        "kind": kind,
        "project_key": text(&filter.project_key),
        "status": filter.statuses,
        "priority": filter.priorities,
        "assignee": text(&filter.assignee),
        "author": text(&filter.author_id),
        "label": text(&filter.label),
        "q": text(&filter.query),
        "sort": text(&filter.sort),
    })
}

/// The job as the REST API shows it.
pub fn job_json(row: &JobRow) -> Value {
    let job = convert::job_message(row);
    let params = match job.params.and_then(|p| p.params) {
        Some(Params::Project(p)) => json!({
            "kind": "project",
            "project_key": p.project_key,
            "from": time(p.from.as_ref()),
            "to": time(p.to.as_ref()),
        }),
        Some(Params::UserMonthly(m)) => json!({"kind": "user_monthly", "month": m.month}),
        Some(Params::IssuesCsv(_) | Params::IssuesJson(_)) => match &row.params.0 {
            ReportParams::IssuesCsv(filter) | ReportParams::IssuesJson(filter) => {
                export_params_json(row.kind.as_str(), filter)
            }
            ReportParams::Project { .. } | ReportParams::UserMonthly { .. } => Value::Null,
        },
        None => Value::Null,
    };
    json!({
        "id": job.id,
        "kind": row.kind.as_str(),
        "params": params,
        "state": row.state.as_str(),
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "progress": job.progress.clamp(0, 100),
        "owner_id": job.owner_id,
        "created_at": time(job.created_at.as_ref()),
        "started_at": time(job.started_at.as_ref()),
        "finished_at": time(job.finished_at.as_ref()),
        "next_attempt_at": time(job.next_attempt_at.as_ref()),
        "error": job.error.map(|e: pb::JobError| json!({"kind": e.kind, "message": e.message})),
        "artifact": job.artifact.map(|a: pb::Artifact| json!({
            "size_bytes": a.size_bytes,
            "sha256": a.sha256,
            "content_type": a.content_type,
        })),
    })
}

/// The schedule as the REST API shows it.
pub fn schedule_json(row: &ScheduleRow) -> Value {
    let at = |at: Option<DateTime<Utc>>| {
        at.map_or(Value::Null, |at| {
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        })
    };
    let report = match &row.report.0 {
        ScheduledReport::Project {
            project_key,
            period_days,
        } => json!({"kind": "project", "project_key": project_key, "period_days": period_days}),
        ScheduledReport::UserMonthly => json!({"kind": "user_monthly"}),
    };
    json!({
        "id": row.id,
        "owner_id": row.owner_id,
        "name": row.name,
        "report": report,
        "cron": row.cron,
        "time_zone": row.time_zone,
        "deliver_event": row.deliver_event,
        "paused": row.paused,
        "next_run_at": at(row.next_run_at),
        "last_run_at": at(row.last_run_at),
        "last_job_id": row.last_job_id,
        "created_at": at(Some(row.created_at)),
    })
}

fn envelope(row: EventRow) -> Envelope {
    let project_key = row.job.params.0.project_key().map(str::to_owned);
    let data = match &row.schedule {
        Some(schedule) => json!({"schedule": schedule_json(schedule), "job": job_json(&row.job)}),
        None => job_json(&row.job),
    };
    Envelope {
        id: format!("evt_{}", row.event_id),
        event_type: row.event_type,
        timestamp: row.occurred_at,
        project_key,
        cursor: None,
        data,
    }
}

/// Publishes every waiting event; a row is deleted only once the broker confirmed it.
pub async fn publish_all(db: &PgPool, publisher: &EventPublisher) -> anyhow::Result<usize> {
    let mut total = 0;
    loop {
        let mut tx = db.begin().await?;
        let rows = lock_events(&mut tx).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let seqs: Vec<i64> = rows.iter().map(|row| row.seq).collect();
        let envelopes: Vec<Envelope> = rows.into_iter().map(envelope).collect();
        publisher.publish_all(&envelopes).await?;
        sqlx::query("DELETE FROM job_event_outbox WHERE seq = ANY($1)")
            .bind(&seqs)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        total += seqs.len();
    }
}
