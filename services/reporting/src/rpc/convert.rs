//! Jobs as clients see them.

use swatter_common::rpc::timestamp;
use swatter_proto::reporting::v1::{self as pb, report_params::Params};

use crate::{
    domain::{JobState, ReportParams, schedule::ScheduledReport},
    store::{JobRow, schedules::ScheduleRow},
};

pub fn state_to_pb(state: JobState) -> pb::JobState {
    match state {
        JobState::Queued => pb::JobState::Queued,
        JobState::Running => pb::JobState::Running,
        JobState::Retrying => pb::JobState::Retrying,
        JobState::Succeeded => pb::JobState::Succeeded,
        JobState::Failed => pb::JobState::Failed,
        JobState::Cancelled => pb::JobState::Cancelled,
    }
}

/// `None` for unspecified or unknown numbers.
pub fn state_from_pb(raw: i32) -> Option<JobState> {
    Some(match pb::JobState::try_from(raw).ok()? {
        pb::JobState::Unspecified => return None,
        pb::JobState::Queued => JobState::Queued,
        pb::JobState::Running => JobState::Running,
        pb::JobState::Retrying => JobState::Retrying,
        pb::JobState::Succeeded => JobState::Succeeded,
        pb::JobState::Failed => JobState::Failed,
        pb::JobState::Cancelled => JobState::Cancelled,
    })
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

/// The schedule as clients see it.
pub fn schedule_message(row: &ScheduleRow) -> pb::Schedule {
    use pb::scheduled_report::Report;
    let report = match &row.report.0 {
        ScheduledReport::Project {
            project_key,
            period_days,
        } => Report::Project(pb::ScheduledProjectReport {
            project_key: project_key.clone(),
            period_days: *period_days,
        }),
        ScheduledReport::UserMonthly => Report::UserMonthly(pb::ScheduledUserMonthlyReport {}),
    };
    pb::Schedule {
        id: row.id.to_string(),
        owner_id: row.owner_id.to_string(),
        report: Some(pb::ScheduledReport {
            report: Some(report),
        }),
        cron: row.cron.clone(),
        time_zone: row.time_zone.clone(),
        deliver_event: row.deliver_event,
        paused: row.paused,
        next_run_at: row.next_run_at.map(timestamp),
        last_run_at: row.last_run_at.map(timestamp),
        last_job_id: row.last_job_id.map(|id| id.to_string()).unwrap_or_default(),
        created_at: Some(timestamp(row.created_at)),
        name: row.name.clone(),
    }
}
