//! What a project report says about planning: its milestones with their progress, and the issues
//! past their due date.

use chrono::NaiveDate;
use serde::Serialize;

use super::model::{ReportIssue, ReportMilestone};

/// How many overdue issues a report lists: the most overdue first; the rest are counted.
pub const LISTED_OVERDUE: usize = 50;

/// A milestone as the report's table shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MilestoneRow<'a> {
    pub title: &'a str,
    /// `YYYY-MM-DD`, or `None` without a due date.
    pub due_on: Option<String>,
    /// `open` or `closed`.
    pub state: &'static str,
    pub done: u32,
    pub total: u32,
    pub percent_done: u32,
}

/// An issue past its due date that is neither resolved nor closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverdueRow<'a> {
    pub key: &'a str,
    pub title: &'a str,
    pub due_on: String,
    /// Whole days from the due date to the report's generation date (at least 1).
    pub days_overdue: i64,
    pub assignee: Option<&'a str>,
}

/// The overdue issues: every one counted, the first [`LISTED_OVERDUE`] listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overdue<'a> {
    pub total: usize,
    pub issues: Vec<OverdueRow<'a>>,
    pub not_listed: usize,
}

/// The milestones' rows, in the order given (by due date, then title).
pub fn milestone_rows(milestones: &[ReportMilestone]) -> Vec<MilestoneRow<'_>> {
    milestones
        .iter()
        .map(|m| MilestoneRow {
            title: &m.title,
            due_on: m.due_on.map(|d| d.to_string()),
            state: if m.closed { "closed" } else { "open" },
            done: m.done,
            total: m.total,
            percent_done: m.percent_done,
        })
        .collect()
}

/// The number after the last `-` of a key, for ordering issues by key.
fn number_of(key: &str) -> u64 {
    key.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(u64::MAX)
}

/// Issues due before `today` (the report's generation date, UTC) that are open or in progress:
/// the most overdue first, then by key.
pub fn overdue(issues: &[ReportIssue], today: NaiveDate) -> Overdue<'_> {
    let mut late: Vec<(&ReportIssue, NaiveDate)> = issues
        .iter()
        .filter(|issue| issue.status.is_open())
        .filter_map(|issue| {
            issue
                .due_on
                .filter(|due| *due < today)
                .map(|due| (issue, due))
        })
        .collect();
    late.sort_by_key(|(issue, due)| (*due, number_of(&issue.key)));
    let total = late.len();
    let issues: Vec<_> = late
        .into_iter()
        .take(LISTED_OVERDUE)
        .map(|(issue, due)| OverdueRow {
            key: &issue.key,
            title: &issue.title,
            due_on: due.to_string(),
            days_overdue: (today - due).num_days(),
            assignee: issue.assignee.as_deref(),
        })
        .collect();
    Overdue {
        total,
        not_listed: total - issues.len(),
        issues,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::render::model::{IssueStatus, Priority};

    fn date(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    fn issue(key: &str, status: IssueStatus, due_on: Option<&str>) -> ReportIssue {
        ReportIssue {
            key: key.into(),
            title: format!("title of {key}"),
            status,
            priority: Priority::Medium,
            assignee: Some("olga".into()),
            author: "frank".into(),
            created_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            closed_at: None,
            due_on: due_on.map(date),
            attachments: 0,
        }
    }

    #[test]
    fn overdue_means_due_before_today_and_not_done_most_overdue_first() {
        use IssueStatus::*;
        let issues = [
            issue("P-1", Open, Some("2026-12-01")),
            issue("P-2", InProgress, Some("2026-11-20")),
            issue("P-3", Resolved, Some("2026-11-01")),
            issue("P-4", Closed, Some("2026-11-01")),
            issue("P-5", Open, Some("2026-12-10")),
            issue("P-6", Open, Some("2026-12-09")),
            issue("P-7", Open, None),
            issue("P-10", Open, Some("2026-11-20")),
        ];
        let overdue = overdue(&issues, date("2026-12-10"));
        let rows: Vec<_> = overdue
            .issues
            .iter()
            .map(|r| (r.key, r.days_overdue))
            .collect();
        assert_eq!(
            rows,
            [("P-2", 20), ("P-10", 20), ("P-1", 9), ("P-6", 1)],
            "due today is not overdue; done issues never are"
        );
        assert_eq!((overdue.total, overdue.not_listed), (4, 0));
    }

    #[test]
    fn only_the_most_overdue_are_listed_and_the_rest_counted() {
        let issues: Vec<_> = (1..=LISTED_OVERDUE + 7)
            .map(|n| issue(&format!("P-{n}"), IssueStatus::Open, Some("2026-01-01")))
            .collect();
        let overdue = overdue(&issues, date("2026-12-10"));
        assert_eq!(overdue.issues.len(), LISTED_OVERDUE);
        assert_eq!((overdue.total, overdue.not_listed), (LISTED_OVERDUE + 7, 7));
        assert_eq!(overdue.issues[0].key, "P-1");
    }
}
