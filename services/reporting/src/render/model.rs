//! The data a report is made from, as the job pipeline hands it over: plain values, no markup.
//!
//! Every string here (keys, titles, names) is user text and is only ever shown as text. The
//! shapes follow docs/api.md: a project report gets *every* issue of the project and counts the
//! period itself; a monthly report gets, per project the user belongs to, every issue too.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// Where an issue stands (docs/api.md wire values `open | in_progress | resolved | closed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueStatus {
    Open,
    InProgress,
    Resolved,
    Closed,
}

impl IssueStatus {
    /// All statuses in the order reports show them.
    pub const ALL: [IssueStatus; 4] = [Self::Open, Self::InProgress, Self::Resolved, Self::Closed];

    /// Work still to do: open or in progress.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Open | Self::InProgress)
    }

    /// Work done: resolved or closed (the issue's `closed_at` is set).
    pub fn is_done(self) -> bool {
        !self.is_open()
    }
}

/// How urgent an issue is (docs/api.md wire values `low | medium | high | urgent`);
/// ordered low < urgent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    /// All priorities, most urgent first, as reports list them.
    pub const ALL_DESC: [Priority; 4] = [Self::Urgent, Self::High, Self::Medium, Self::Low];
}

/// One issue as a report sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportIssue {
    /// `PROJ-123`; the number after the last `-` orders issues.
    pub key: String,
    pub title: String,
    pub status: IssueStatus,
    pub priority: Priority,
    /// The assignee's username; `None` when unassigned.
    pub assignee: Option<String>,
    /// The reporter's username.
    pub author: String,
    pub created_at: DateTime<Utc>,
    /// Set while the issue is resolved or closed (cleared on reopen).
    pub closed_at: Option<DateTime<Utc>>,
    /// When it is due; `None` without a due date.
    #[serde(default)]
    pub due_on: Option<NaiveDate>,
    /// Confirmed attachments of the issue and of its comments.
    #[serde(default)]
    pub attachments: u32,
}

/// A milestone of the project with its progress, as the issues service counts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportMilestone {
    pub title: String,
    pub due_on: Option<NaiveDate>,
    /// Closed milestones are shown as such; they still count.
    pub closed: bool,
    /// Its issues that are resolved or closed.
    pub done: u32,
    pub total: u32,
    /// `done` of `total` as a whole percent, rounded down; 0 without issues.
    pub percent_done: u32,
}

/// Input of a `project` report: the project, the period `[from, to)` and every issue of the
/// project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectReport {
    pub project_key: String,
    pub project_name: String,
    /// Start of the period, inclusive.
    pub from: DateTime<Utc>,
    /// End of the period, exclusive.
    pub to: DateTime<Utc>,
    /// When the report is made; ages of open issues are measured at this instant.
    pub generated_at: DateTime<Utc>,
    /// Username of whoever asked for the report.
    pub requested_by: String,
    /// Every issue of the project, whatever its status or date.
    pub issues: Vec<ReportIssue>,
    /// The project's milestones, by due date (undated ones last), then title.
    #[serde(default)]
    pub milestones: Vec<ReportMilestone>,
}

/// One project of a monthly report, with every issue of the project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MonthlyProject {
    pub key: String,
    pub name: String,
    pub issues: Vec<ReportIssue>,
}

/// Input of a `user_monthly` report: the user, the month `[month_start, month_end)` and the
/// projects the user belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserMonthlyReport {
    pub username: String,
    /// `YYYY-MM`, as requested.
    pub month: String,
    /// First instant of the month, inclusive.
    pub month_start: DateTime<Utc>,
    /// First instant of the next month, exclusive.
    pub month_end: DateTime<Utc>,
    pub generated_at: DateTime<Utc>,
    /// The projects the user belongs to; may be empty.
    pub projects: Vec<MonthlyProject>,
}
