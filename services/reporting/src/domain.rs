//! The rules of report jobs, without I/O: states and their transitions, parameters and their
//! defaults, and the retry backoff.

use std::{fmt, str::FromStr, time::Duration};

use chrono::{DateTime, Datelike, Months, NaiveDate, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use swatter_common::status::Violation;

pub mod schedule;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Retrying,
    Succeeded,
    Failed,
    Cancelled,
}

impl JobState {
    pub const ALL: [JobState; 6] = [
        JobState::Queued,
        JobState::Running,
        JobState::Retrying,
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Retrying => "retrying",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
        }
    }

    /// Succeeded, failed and cancelled jobs never change again on their own.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }

    /// What a cancel request does in this state.
    pub fn on_cancel(self) -> CancelOutcome {
        match self {
            JobState::Queued | JobState::Retrying => CancelOutcome::CancelNow,
            JobState::Running => CancelOutcome::AtNextCheckpoint,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled => {
                CancelOutcome::AlreadyTerminal
            }
        }
    }

    /// Whether a retry request may queue the job again.
    pub fn can_retry(self) -> bool {
        matches!(self, JobState::Failed | JobState::Cancelled)
    }
}

impl FromStr for JobState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        JobState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The effect of cancelling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelOutcome {
    CancelNow,
    AtNextCheckpoint,
    AlreadyTerminal,
}

/// Why a job failed, as clients see it in `error.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum FailureKind {
    /// Worth trying again (a dependency was unavailable); shown while `retrying`.
    Transient,
    /// Trying again cannot help (the project is gone, the parameters are wrong).
    Permanent,
    /// Every attempt failed transiently.
    Exhausted,
}

impl FailureKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Transient => "transient",
            FailureKind::Permanent => "permanent",
            FailureKind::Exhausted => "exhausted",
        }
    }
}

/// What a report is about, as stored in `jobs.params`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReportParams {
    /// The period is `[from, to)`.
    Project {
        project_key: String,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    },
    /// `month` is `YYYY-MM`.
    UserMonthly { month: String },
    /// The issues a list shows, as RFC 4180 CSV.
    IssuesCsv(IssueFilter),
    /// The issues a list shows, as one JSON array.
    IssuesJson(IssueFilter),
}

impl ReportParams {
    pub fn kind(&self) -> ReportKind {
        match self {
            ReportParams::Project { .. } => ReportKind::Project,
            ReportParams::UserMonthly { .. } => ReportKind::UserMonthly,
            ReportParams::IssuesCsv(_) => ReportKind::IssuesCsv,
            ReportParams::IssuesJson(_) => ReportKind::IssuesJson,
        }
    }

    /// The one project the report is about, if it is about one (an export without
    /// `project_key` spans every project its owner sees).
    pub fn project_key(&self) -> Option<&str> {
        match self {
            ReportParams::Project { project_key, .. } => Some(project_key),
            ReportParams::IssuesCsv(filter) | ReportParams::IssuesJson(filter) => {
                Some(filter.project_key.as_str()).filter(|key| !key.is_empty())
            }
            ReportParams::UserMonthly { .. } => None,
        }
    }
}

/// What an export lists: the filters of a `ListIssues` request, under that request's field
/// names, statuses and priorities by their lowercase names (`in_progress`, `urgent`); empty
/// values filter nothing. The issues service checks them when the export is asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IssueFilter {
    pub project_key: String,
    pub statuses: Vec<String>,
    pub priorities: Vec<String>,
    /// `me`, `none` or a user id.
    pub assignee: String,
    /// `me` or a user id.
    pub author_id: String,
    pub label: String,
    /// The query language of issue lists.
    pub query: String,
    pub sort: String,
}

/// What kind of report a job makes (`jobs.kind`, the tag of its parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ReportKind {
    Project,
    UserMonthly,
    IssuesCsv,
    IssuesJson,
}

impl ReportKind {
    pub const ALL: [ReportKind; 4] = [
        ReportKind::Project,
        ReportKind::UserMonthly,
        ReportKind::IssuesCsv,
        ReportKind::IssuesJson,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::Project => "project",
            ReportKind::UserMonthly => "user_monthly",
            ReportKind::IssuesCsv => "issues_csv",
            ReportKind::IssuesJson => "issues_json",
        }
    }

    /// The content type of the kind's artifact.
    pub fn content_type(self) -> &'static str {
        match self {
            ReportKind::Project | ReportKind::UserMonthly => "application/pdf",
            ReportKind::IssuesCsv => "text/csv; charset=utf-8",
            ReportKind::IssuesJson => "application/json",
        }
    }

    /// The object key of a job's artifact: one job, one object (a retry overwrites it).
    pub fn artifact_key(self, job_id: uuid::Uuid) -> String {
        match self {
            ReportKind::Project | ReportKind::UserMonthly => format!("reports/{job_id}.pdf"),
            ReportKind::IssuesCsv => format!("exports/{job_id}.csv"),
            ReportKind::IssuesJson => format!("exports/{job_id}.json"),
        }
    }
}

impl fmt::Display for ReportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An export's filter: its project, when it names one, must be a project key (the rest is the
/// issues service's to check, as its lists do).
pub fn export_params(filter: IssueFilter, csv: bool) -> Result<ReportParams, Violation> {
    if !filter.project_key.is_empty() && !is_project_key(&filter.project_key) {
        return Err(Violation::new("project_key", "is not a project key"));
    }
    Ok(if csv {
        ReportParams::IssuesCsv(filter)
    } else {
        ReportParams::IssuesJson(filter)
    })
}

/// Longest period a project report may cover.
pub const MAX_PERIOD_DAYS: i64 = 366;
/// Period of a project report when none is given.
pub const DEFAULT_PERIOD_DAYS: i64 = 30;

/// Whether `key` has the shape of a project key (`SWAT`: 2–10 capitals and digits).
pub fn is_project_key(key: &str) -> bool {
    (2..=10).contains(&key.len())
        && key.starts_with(|c: char| c.is_ascii_uppercase())
        && key
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A project report's parameters, with the defaults of docs/api.md (the last 30 days up to `now`).
pub fn project_params(
    project_key: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<ReportParams, Vec<Violation>> {
    let mut violations = Vec::new();
    if !is_project_key(project_key) {
        violations.push(Violation::new("project_key", "is not a project key"));
    }
    let to = to.unwrap_or(now);
    let from = from.unwrap_or(to - chrono::Duration::days(DEFAULT_PERIOD_DAYS));
    if from >= to {
        violations.push(Violation::new("from", "must be before to"));
    } else if to - from > chrono::Duration::days(MAX_PERIOD_DAYS) {
        violations.push(Violation::new(
            "to",
            "the period may cover at most 366 days",
        ));
    }
    if from > now {
        violations.push(Violation::new("from", "must not be in the future"));
    }
    if violations.is_empty() {
        Ok(ReportParams::Project {
            project_key: project_key.to_owned(),
            from,
            to,
        })
    } else {
        Err(violations)
    }
}

/// A monthly report's parameters; the current month when `month` is empty.
pub fn monthly_params(month: &str, now: DateTime<Utc>) -> Result<ReportParams, Violation> {
    let month = if month.is_empty() {
        format!("{:04}-{:02}", now.year(), now.month())
    } else {
        month.to_owned()
    };
    let (start, _) = month_bounds(&month)
        .ok_or_else(|| Violation::new("month", "must be a month as YYYY-MM"))?;
    if start > now {
        return Err(Violation::new("month", "must not be in the future"));
    }
    Ok(ReportParams::UserMonthly { month })
}

/// `[first instant, first instant of the next month)` of a `YYYY-MM` month.
pub fn month_bounds(month: &str) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let (year, mon) = month.split_once('-')?;
    if year.len() != 4 || mon.len() != 2 {
        return None;
    }
    let first = NaiveDate::from_ymd_opt(year.parse().ok()?, mon.parse().ok()?, 1)?;
    if first.year() < 2000 {
        return None;
    }
    let next = first.checked_add_months(Months::new(1))?;
    let at = |date: NaiveDate| Utc.from_utc_datetime(&date.and_hms_opt(0, 0, 0).expect("midnight"));
    Some((at(first), at(next)))
}

/// Retry policy: exponential backoff with jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub factor: u32,
    pub cap: Duration,
}

impl Default for Backoff {
    /// docs/guarantees.md: 1 s base, ×2, 60 s cap.
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            factor: 2,
            cap: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The wait before attempt `failed_attempt + 1`, with `jitter` in `[0, 1)`: "equal jitter",
    /// half the exponential delay fixed and half random, so retries spread out but never come
    /// sooner than half the nominal delay.
    pub fn delay(&self, failed_attempt: u32, jitter: f64) -> Duration {
        let exponent = failed_attempt.saturating_sub(1).min(30);
        let nominal = self
            .base
            .saturating_mul(self.factor.saturating_pow(exponent))
            .min(self.cap);
        let half = nominal / 2;
        half + half.mul_f64(jitter.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn cancel_and_retry_follow_the_state() {
        use CancelOutcome::*;
        use JobState::*;
        let table = [
            (Queued, CancelNow, false),
            (Retrying, CancelNow, false),
            (Running, AtNextCheckpoint, false),
            (Succeeded, AlreadyTerminal, false),
            (Failed, AlreadyTerminal, true),
            (Cancelled, AlreadyTerminal, true),
        ];
        for (state, cancel, retry) in table {
            assert_eq!(state.on_cancel(), cancel, "{state}");
            assert_eq!(state.can_retry(), retry, "{state}");
            assert_eq!(state.as_str().parse(), Ok(state));
        }
    }

    #[test]
    fn backoff_doubles_from_one_second_up_to_a_minute_with_jitter_in_the_upper_half() {
        let backoff = Backoff::default();
        let table = [
            (1, 1_000),
            (2, 2_000),
            (3, 4_000),
            (4, 8_000),
            (7, 60_000),
            (40, 60_000),
        ];
        for (attempt, nominal_ms) in table {
            let low = backoff.delay(attempt, 0.0);
            let high = backoff.delay(attempt, 0.999_999);
            assert_eq!(
                low,
                Duration::from_millis(nominal_ms / 2),
                "attempt {attempt}"
            );
            assert!(
                high <= Duration::from_millis(nominal_ms),
                "attempt {attempt}"
            );
            assert!(
                high > Duration::from_millis(nominal_ms * 99 / 100),
                "attempt {attempt}"
            );
        }
    }

    #[test]
    fn a_project_report_defaults_to_the_last_thirty_days() {
        let now = at("2026-11-22T10:00:00Z");
        assert_eq!(
            project_params("SWAT", None, None, now),
            Ok(ReportParams::Project {
                project_key: "SWAT".into(),
                from: at("2026-10-23T10:00:00Z"),
                to: now,
            })
        );
    }

    #[test]
    fn project_report_periods_are_checked() {
        let now = at("2026-11-22T10:00:00Z");
        let fields = |r: Result<ReportParams, Vec<Violation>>| {
            r.unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(project_params("swat", None, None, now)),
            ["project_key"]
        );
        assert_eq!(
            fields(project_params("SWAT", Some(now), Some(now), now)),
            ["from"]
        );
        assert_eq!(
            fields(project_params(
                "SWAT",
                Some(at("2024-01-01T00:00:00Z")),
                None,
                now
            )),
            ["to"]
        );
        assert_eq!(
            fields(project_params(
                "SWAT",
                Some(at("2027-01-01T00:00:00Z")),
                Some(at("2027-02-01T00:00:00Z")),
                now
            )),
            ["from"]
        );
    }

    #[test]
    fn exports_name_a_project_by_its_key_or_none_and_are_stored_with_their_kind() {
        let filter = |key: &str| IssueFilter {
            project_key: key.into(),
            query: "is:open".into(),
            ..IssueFilter::default()
        };
        for bad in ["swat", "S", "SWAT-1", "TOOLONGAKEY"] {
            assert_eq!(
                export_params(filter(bad), true).unwrap_err().field,
                "project_key",
                "{bad}"
            );
        }
        let csv = export_params(filter("SWAT"), true).unwrap();
        assert_eq!(csv.kind(), ReportKind::IssuesCsv);
        assert_eq!(csv.project_key(), Some("SWAT"));
        let json = export_params(filter(""), false).unwrap();
        assert_eq!(json.project_key(), None);
        assert_eq!(
            serde_json::to_value(&json).unwrap(),
            serde_json::json!({"kind": "issues_json", "project_key": "", "statuses": [],
                "priorities": [], "assignee": "", "author_id": "", "label": "", "query": "is:open",
                "sort": ""})
        );
        let stored: ReportParams =
            serde_json::from_value(serde_json::json!({"kind": "issues_csv", "query": "x"}))
                .unwrap();
        assert_eq!(stored.kind(), ReportKind::IssuesCsv);
        assert_eq!(
            ReportKind::IssuesJson.artifact_key(uuid::Uuid::nil()),
            "exports/00000000-0000-0000-0000-000000000000.json"
        );
    }

    #[test]
    fn months_parse_to_their_bounds_and_default_to_the_current_one() {
        let now = at("2026-11-22T10:00:00Z");
        assert_eq!(
            monthly_params("", now),
            Ok(ReportParams::UserMonthly {
                month: "2026-11".into()
            })
        );
        assert_eq!(
            month_bounds("2024-02"),
            Some((at("2024-02-01T00:00:00Z"), at("2024-03-01T00:00:00Z")))
        );
        assert_eq!(
            month_bounds("2026-12"),
            Some((at("2026-12-01T00:00:00Z"), at("2027-01-01T00:00:00Z")))
        );
        for bad in [
            "2026-13", "2026-1", "26-01", "2026/01", "abcd-ef", "1999-12", "2026-00", "",
        ] {
            assert!(month_bounds(bad).is_none(), "{bad}");
        }
        assert!(
            monthly_params("2026-12", now).is_err(),
            "future months are refused"
        );
    }
}
