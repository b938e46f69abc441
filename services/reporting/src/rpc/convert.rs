//! Jobs as clients see them.

use swatter_common::{rpc::timestamp, status::Violation};
use swatter_proto::{
    issues::v1 as issues_pb,
    reporting::v1::{self as pb, report_params::Params},
};

use crate::{
    domain::{IssueFilter, JobState, ReportKind, ReportParams, schedule::ScheduledReport},
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
            ReportParams::IssuesCsv(filter) => Params::IssuesCsv(pb::IssueExportParams {
                filter: Some(filter_to_pb(filter)),
            }),
            ReportParams::IssuesJson(filter) => Params::IssuesJson(pb::IssueExportParams {
                filter: Some(filter_to_pb(filter)),
            }),
        }),
    }
}

/// The lowercase name of an enum value (`ISSUE_STATUS_IN_PROGRESS` → `in_progress`).
fn enum_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_ascii_lowercase()
}

/// The `ListIssues` request an export's filter stands for (its first page of the default size).
pub fn filter_to_pb(filter: &IssueFilter) -> issues_pb::ListIssuesRequest {
    let status = |name: &String| {
        issues_pb::IssueStatus::from_str_name(&format!("ISSUE_STATUS_{}", name.to_uppercase()))
            .map_or(-1, |s| s as i32)
    };
    let priority = |name: &String| {
        issues_pb::Priority::from_str_name(&format!("PRIORITY_{}", name.to_uppercase()))
            .map_or(-1, |p| p as i32)
    };
    issues_pb::ListIssuesRequest {
        project_key: filter.project_key.clone(),
        statuses: filter.statuses.iter().map(status).collect(),
        priorities: filter.priorities.iter().map(priority).collect(),
        assignee: filter.assignee.clone(),
        author_id: filter.author_id.clone(),
        label: filter.label.clone(),
        query: filter.query.clone(),
        sort: filter.sort.clone(),
        page_size: 0,
        page_token: String::new(),
    }
}

/// An export's filter from a `ListIssues` request (paging left out); an unknown status or
/// priority number is refused, naming the field as the issue lists do.
pub fn filter_from_pb(
    request: &issues_pb::ListIssuesRequest,
) -> Result<IssueFilter, Vec<Violation>> {
    let mut violations = Vec::new();
    let mut statuses = Vec::new();
    for raw in &request.statuses {
        match issues_pb::IssueStatus::try_from(*raw) {
            Ok(status) if status != issues_pb::IssueStatus::Unspecified => {
                statuses.push(enum_name(status.as_str_name(), "ISSUE_STATUS_"));
            }
            _ => violations.push(Violation::new(
                "status",
                "must be open, in_progress, resolved or closed",
            )),
        }
    }
    let mut priorities = Vec::new();
    for raw in &request.priorities {
        match issues_pb::Priority::try_from(*raw) {
            Ok(priority) if priority != issues_pb::Priority::Unspecified => {
                priorities.push(enum_name(priority.as_str_name(), "PRIORITY_"));
            }
            _ => violations.push(Violation::new(
                "priority",
                "must be low, medium, high or urgent",
            )),
        }
    }
    if !violations.is_empty() {
        return Err(violations);
    }
    Ok(IssueFilter {
        project_key: request.project_key.clone(),
        statuses,
        priorities,
        assignee: request.assignee.clone(),
        author_id: request.author_id.clone(),
        label: request.label.clone(),
        query: request.query.clone(),
        sort: request.sort.clone(),
    })
}

pub fn kind_to_pb(kind: ReportKind) -> pb::ReportKind {
    match kind {
        ReportKind::Project => pb::ReportKind::Project,
        ReportKind::UserMonthly => pb::ReportKind::UserMonthly,
        ReportKind::IssuesCsv => pb::ReportKind::IssuesCsv,
        ReportKind::IssuesJson => pb::ReportKind::IssuesJson,
    }
}

/// The job as clients see it.
pub fn job_message(row: &JobRow) -> pb::Job {
    let kind = kind_to_pb(row.params.0.kind());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_filter_goes_to_the_list_request_and_back_unchanged() {
        let request = issues_pb::ListIssuesRequest {
            project_key: "SWAT".into(),
            statuses: vec![
                issues_pb::IssueStatus::InProgress as i32,
                issues_pb::IssueStatus::Open as i32,
            ],
            priorities: vec![issues_pb::Priority::Urgent as i32],
            assignee: "me".into(),
            author_id: "none".into(),
            label: "bug".into(),
            query: "crash -label:wontfix".into(),
            sort: "-priority".into(),
            page_size: 0,
            page_token: String::new(),
        };
        let filter = filter_from_pb(&request).unwrap();
        assert_eq!(filter.statuses, ["in_progress", "open"]);
        assert_eq!(filter.priorities, ["urgent"]);
        assert_eq!(filter_to_pb(&filter), request);
    }

    #[test]
    fn unknown_statuses_and_priorities_are_refused_by_name() {
        let request = issues_pb::ListIssuesRequest {
            statuses: vec![0],
            priorities: vec![99],
            ..Default::default()
        };
        let fields: Vec<String> = filter_from_pb(&request)
            .unwrap_err()
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["status", "priority"]);
    }
}
