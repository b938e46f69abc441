//! The numbers of a report, computed from its issues: pure functions, no formatting.
//!
//! Periods are half-open, `[start, end)`: an issue created exactly at `end` belongs to the next
//! period. "Closed" in a period means done (resolved or closed) with `closed_at` in the period.
//! Weekly buckets are 7-day spans counted from the period's start (the last one may be shorter),
//! so any period, not only whole ISO weeks, is split without partial first weeks.

use std::cmp::{Ordering, Reverse};
use std::collections::HashMap;
use std::ops::Range;

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

use super::model::{IssueStatus, Priority, ReportIssue};

/// Current number of issues in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StatusCounts {
    pub open: usize,
    pub in_progress: usize,
    pub resolved: usize,
    pub closed: usize,
}

impl StatusCounts {
    fn add(&mut self, status: IssueStatus) {
        *self.get_mut(status) += 1;
    }

    fn get_mut(&mut self, status: IssueStatus) -> &mut usize {
        match status {
            IssueStatus::Open => &mut self.open,
            IssueStatus::InProgress => &mut self.in_progress,
            IssueStatus::Resolved => &mut self.resolved,
            IssueStatus::Closed => &mut self.closed,
        }
    }

    /// All issues counted.
    pub fn total(&self) -> usize {
        self.open + self.in_progress + self.resolved + self.closed
    }
}

/// One row of the priority × status table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityRow {
    pub priority: Priority,
    pub counts: StatusCounts,
    pub total: usize,
}

/// Issues counted by priority (rows, most urgent first) and status (columns), with totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PriorityStatusMatrix {
    pub rows: Vec<PriorityRow>,
    /// Column totals: the issues per status over all priorities.
    pub totals: StatusCounts,
    pub total: usize,
}

/// How many open issues (open or in progress) one assignee has; `None` is "Unassigned".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssigneeCount<'a> {
    pub assignee: Option<&'a str>,
    pub open: usize,
}

/// Issues created and closed in one 7-day bucket `[start, end)` of the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WeekBucket {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub created: usize,
    pub closed: usize,
}

/// An open issue as the per-assignee lists show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenIssueRow<'a> {
    pub key: &'a str,
    pub title: &'a str,
    pub priority: Priority,
    pub status: IssueStatus,
    /// Whole days between creation and the report's generation (never negative).
    pub age_days: i64,
    pub author: &'a str,
}

/// How many open issues a report lists per assignee: enough for the work in front of someone
/// (about a page), not a catalogue; the rest are counted ("and N more"), and the project's issue
/// list (filtered or exported) has them all. Counts and the chart always cover every issue.
pub const LISTED_PER_ASSIGNEE: usize = 25;

/// The open issues of one assignee (`None`: unassigned): all of them counted, the first
/// [`LISTED_PER_ASSIGNEE`] listed, most urgent first, then oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AssigneeGroup<'a> {
    pub assignee: Option<&'a str>,
    /// Every open issue of the assignee, listed or not.
    pub open: usize,
    /// The listed ones, in report order.
    pub issues: Vec<OpenIssueRow<'a>>,
    /// Open issues counted in `open` but not listed (`open - issues.len()`).
    pub not_listed: usize,
}

/// Everything a project report counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProjectSummary<'a> {
    pub status: StatusCounts,
    pub created_in_period: usize,
    pub closed_in_period: usize,
    pub matrix: PriorityStatusMatrix,
    pub open_per_assignee: Vec<AssigneeCount<'a>>,
    pub weeks: Vec<WeekBucket>,
    pub open_groups: Vec<AssigneeGroup<'a>>,
    pub attachments: AttachmentCounts,
}

/// The project's attachments (confirmed files of its issues and their comments).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AttachmentCounts {
    pub files: u64,
    /// Issues with at least one.
    pub issues: usize,
}

/// Counts the attachments of `issues`.
pub fn attachment_counts(issues: &[ReportIssue]) -> AttachmentCounts {
    issues.iter().filter(|issue| issue.attachments > 0).fold(
        AttachmentCounts::default(),
        |counts, issue| AttachmentCounts {
            files: counts.files + u64::from(issue.attachments),
            issues: counts.issues + 1,
        },
    )
}

/// What a monthly report says about one project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MonthlyProjectSummary<'a> {
    /// Open or in progress now.
    pub open: usize,
    pub created_in_month: usize,
    /// Resolved or closed, with `closed_at` in the month.
    pub closed_in_month: usize,
    pub open_groups: Vec<AssigneeGroup<'a>>,
}

/// Counts a project's issues for the period `[from, to)`, ages measured at `now`.
pub fn project_summary<'a>(
    issues: &'a [ReportIssue],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
) -> ProjectSummary<'a> {
    let period = from..to;
    let mut status = StatusCounts::default();
    for issue in issues {
        status.add(issue.status);
    }
    let open_groups = open_issues_by_assignee(issues, now, LISTED_PER_ASSIGNEE);
    ProjectSummary {
        status,
        created_in_period: count_created(issues, &period),
        closed_in_period: count_closed(issues, &period),
        matrix: priority_status_matrix(issues),
        open_per_assignee: open_groups
            .iter()
            .map(|group| AssigneeCount {
                assignee: group.assignee,
                open: group.open,
            })
            .collect(),
        weeks: weekly_buckets(issues, from, to),
        open_groups,
        attachments: attachment_counts(issues),
    }
}

/// Counts one project's issues for the month `[start, end)`, ages measured at `now`.
pub fn monthly_project_summary<'a>(
    issues: &'a [ReportIssue],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> MonthlyProjectSummary<'a> {
    let month = start..end;
    MonthlyProjectSummary {
        open: issues.iter().filter(|issue| issue.status.is_open()).count(),
        created_in_month: count_created(issues, &month),
        closed_in_month: count_closed(issues, &month),
        open_groups: open_issues_by_assignee(issues, now, LISTED_PER_ASSIGNEE),
    }
}

fn count_created(issues: &[ReportIssue], period: &Range<DateTime<Utc>>) -> usize {
    issues
        .iter()
        .filter(|issue| period.contains(&issue.created_at))
        .count()
}

fn count_closed(issues: &[ReportIssue], period: &Range<DateTime<Utc>>) -> usize {
    issues
        .iter()
        .filter(|issue| closed_within(issue, period))
        .count()
}

fn closed_within(issue: &ReportIssue, period: &Range<DateTime<Utc>>) -> bool {
    issue.status.is_done() && issue.closed_at.is_some_and(|at| period.contains(&at))
}

/// The 4 × 4 table of current issues by priority and status, with row and column totals.
pub fn priority_status_matrix(issues: &[ReportIssue]) -> PriorityStatusMatrix {
    let mut by_priority: HashMap<Priority, StatusCounts> = HashMap::new();
    let mut totals = StatusCounts::default();
    for issue in issues {
        by_priority
            .entry(issue.priority)
            .or_default()
            .add(issue.status);
        totals.add(issue.status);
    }
    let rows = Priority::ALL_DESC
        .into_iter()
        .map(|priority| {
            let counts = by_priority.get(&priority).copied().unwrap_or_default();
            PriorityRow {
                priority,
                counts,
                total: counts.total(),
            }
        })
        .collect();
    PriorityStatusMatrix {
        rows,
        totals,
        total: totals.total(),
    }
}

/// Created and closed counts per 7-day bucket from `from`; none when the period is empty.
pub fn weekly_buckets(
    issues: &[ReportIssue],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<WeekBucket> {
    let week = TimeDelta::weeks(1);
    let mut buckets = Vec::new();
    let mut start = from;
    while start < to {
        let end = (start + week).min(to);
        buckets.push(WeekBucket {
            start,
            end,
            created: 0,
            closed: 0,
        });
        start = end;
    }
    let bucket_of = |at: DateTime<Utc>| {
        (from..to)
            .contains(&at)
            .then(|| ((at - from).num_seconds() / week.num_seconds()) as usize)
    };
    for issue in issues {
        if let Some(i) = bucket_of(issue.created_at) {
            buckets[i].created += 1;
        }
        if issue.status.is_done()
            && let Some(i) = issue.closed_at.and_then(bucket_of)
        {
            buckets[i].closed += 1;
        }
    }
    buckets
}

/// The open issues grouped by assignee: groups by size (largest first), then by name with
/// "Unassigned" after named people. Each group lists at most `listed` issues: most urgent first,
/// then oldest (creation time, then key number, so the order is total and stable).
pub fn open_issues_by_assignee(
    issues: &[ReportIssue],
    now: DateTime<Utc>,
    listed: usize,
) -> Vec<AssigneeGroup<'_>> {
    let mut groups: HashMap<Option<&str>, Vec<&ReportIssue>> = HashMap::new();
    for issue in issues.iter().filter(|issue| issue.status.is_open()) {
        groups
            .entry(issue.assignee.as_deref())
            .or_default()
            .push(issue);
    }
    let mut groups: Vec<_> = groups.into_iter().collect();
    groups.sort_by(|(a_name, a), (b_name, b)| {
        b.len()
            .cmp(&a.len())
            .then_with(|| by_name_unassigned_last(*a_name, *b_name))
    });
    groups
        .into_iter()
        .map(|(assignee, mut issues)| {
            let open = issues.len();
            // Only the first `listed` need to be in order: partition around the cut (linear),
            // then sort just the listed ones, so a 20,000-issue group costs no full sort.
            if listed < open {
                issues.select_nth_unstable_by_key(listed, listing_order);
                issues.truncate(listed);
            }
            issues.sort_unstable_by_key(listing_order);
            AssigneeGroup {
                assignee,
                open,
                not_listed: open - issues.len(),
                issues: issues
                    .into_iter()
                    .map(|issue| OpenIssueRow {
                        key: &issue.key,
                        title: &issue.title,
                        priority: issue.priority,
                        status: issue.status,
                        age_days: (now - issue.created_at).num_days().max(0),
                        author: &issue.author,
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Most urgent first, then oldest; creation ties go by key number, then key, so the order is
/// total and a report lists the same issues every time.
fn listing_order<'a>(issue: &&'a ReportIssue) -> (Reverse<Priority>, DateTime<Utc>, u64, &'a str) {
    (
        Reverse(issue.priority),
        issue.created_at,
        key_number(&issue.key).unwrap_or(u64::MAX),
        &issue.key,
    )
}

fn by_name_unassigned_last(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.cmp(b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// The number after the last `-` of a key (`SWAT-42` → 42), which orders issues of a project.
fn key_number(key: &str) -> Option<u64> {
    key.rsplit_once('-')?.1.parse().ok()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn attachments_are_counted_as_files_and_as_issues_having_some() {
        let now = at(10, 9);
        let mut issues = vec![
            issue("A-1", IssueStatus::Open, Priority::Low, None, now, None),
            issue(
                "A-2",
                IssueStatus::Closed,
                Priority::Low,
                None,
                now,
                Some(now),
            ),
            issue("A-3", IssueStatus::Open, Priority::Low, None, now, None),
        ];
        assert_eq!(attachment_counts(&issues), AttachmentCounts::default());
        issues[0].attachments = 2;
        issues[1].attachments = u32::MAX;
        assert_eq!(
            attachment_counts(&issues),
            AttachmentCounts {
                files: u64::from(u32::MAX) + 2,
                issues: 2,
            }
        );
    }

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0).unwrap()
    }

    fn issue(
        key: &str,
        status: IssueStatus,
        priority: Priority,
        assignee: Option<&str>,
        created_at: DateTime<Utc>,
        closed_at: Option<DateTime<Utc>>,
    ) -> ReportIssue {
        ReportIssue {
            key: key.to_owned(),
            title: format!("title of {key}"),
            status,
            priority,
            assignee: assignee.map(str::to_owned),
            author: "reporter".to_owned(),
            created_at,
            closed_at,
            due_on: None,
            attachments: 0,
        }
    }

    use IssueStatus::{Closed, InProgress, Open, Resolved};
    use Priority::{High, Low, Medium, Urgent};

    #[test]
    fn period_boundaries_are_half_open_for_created_and_closed() {
        let (from, to) = (at(1, 0), at(8, 0));
        let table = [
            // (created, closed, status, counted as created, counted as closed)
            (at(1, 0), None, Open, true, false),
            (at(8, 0), None, Open, false, false),
            (at(7, 23), None, InProgress, true, false),
            (at(1, 0) - TimeDelta::seconds(1), None, Open, false, false),
            (at(2, 0), Some(at(1, 0)), Resolved, true, true),
            (at(2, 0), Some(at(8, 0)), Closed, true, false),
            (at(20, 0), Some(at(7, 23)), Closed, false, true),
            (at(2, 0), Some(at(3, 0)), Open, true, false),
        ];
        for (i, (created, closed, status, in_created, in_closed)) in table.into_iter().enumerate() {
            let issues = [issue("P-1", status, Low, None, created, closed)];
            let summary = project_summary(&issues, from, to, to);
            assert_eq!(
                summary.created_in_period,
                usize::from(in_created),
                "row {i}: created"
            );
            assert_eq!(
                summary.closed_in_period,
                usize::from(in_closed),
                "row {i}: closed"
            );
        }
    }

    #[test]
    fn status_counts_are_current_and_cover_every_issue() {
        let old = at(1, 0) - TimeDelta::days(400);
        let issues = [
            issue("P-1", Open, Low, None, old, None),
            issue("P-2", Open, High, Some("ann"), at(2, 0), None),
            issue("P-3", InProgress, High, Some("ann"), at(2, 0), None),
            issue("P-4", Resolved, Urgent, Some("bob"), old, Some(old)),
            issue("P-5", Closed, Medium, None, old, Some(at(3, 0))),
            issue("P-6", Closed, Medium, None, old, Some(old)),
        ];
        let summary = project_summary(&issues, at(1, 0), at(8, 0), at(8, 0));
        assert_eq!(
            summary.status,
            StatusCounts {
                open: 2,
                in_progress: 1,
                resolved: 1,
                closed: 2
            }
        );
        assert_eq!(
            (summary.created_in_period, summary.closed_in_period),
            (2, 1)
        );
    }

    #[test]
    fn the_matrix_counts_priority_by_status_with_totals() {
        let t = at(1, 0);
        let issues = [
            issue("P-1", Open, Urgent, None, t, None),
            issue("P-2", Open, Urgent, None, t, None),
            issue("P-3", Closed, Urgent, None, t, Some(t)),
            issue("P-4", InProgress, Medium, None, t, None),
            issue("P-5", Resolved, Low, None, t, Some(t)),
        ];
        let matrix = priority_status_matrix(&issues);
        let rows: Vec<_> = matrix
            .rows
            .iter()
            .map(|r| {
                (
                    r.priority,
                    [
                        r.counts.open,
                        r.counts.in_progress,
                        r.counts.resolved,
                        r.counts.closed,
                    ],
                    r.total,
                )
            })
            .collect();
        assert_eq!(
            rows,
            [
                (Urgent, [2, 0, 0, 1], 3),
                (High, [0, 0, 0, 0], 0),
                (Medium, [0, 1, 0, 0], 1),
                (Low, [0, 0, 1, 0], 1),
            ]
        );
        assert_eq!(
            matrix.totals,
            StatusCounts {
                open: 2,
                in_progress: 1,
                resolved: 1,
                closed: 1
            }
        );
        assert_eq!(matrix.total, 5);
    }

    #[test]
    fn an_empty_project_has_zero_counts_empty_lists_and_still_its_weeks() {
        let summary = project_summary(&[], at(1, 0), at(15, 0), at(15, 0));
        assert_eq!(summary.status, StatusCounts::default());
        assert_eq!(
            (summary.created_in_period, summary.closed_in_period),
            (0, 0)
        );
        assert_eq!(summary.matrix.total, 0);
        assert_eq!(summary.matrix.rows.len(), 4);
        assert!(summary.open_per_assignee.is_empty());
        assert!(summary.open_groups.is_empty());
        assert_eq!(summary.weeks.len(), 2);
        assert!(
            summary
                .weeks
                .iter()
                .all(|w| w.created == 0 && w.closed == 0)
        );
    }

    #[test]
    fn open_issues_per_assignee_count_desc_then_name_with_unassigned_last_on_ties() {
        let t = at(1, 0);
        let issues = [
            issue("P-1", Open, Low, Some("zoe"), t, None),
            issue("P-2", InProgress, Low, Some("zoe"), t, None),
            issue("P-3", Open, Low, None, t, None),
            issue("P-4", Open, Low, Some("amy"), t, None),
            issue("P-5", Open, Low, Some("bob"), t, None),
            issue("P-6", Closed, Low, Some("bob"), t, Some(t)),
            issue("P-7", Resolved, Low, Some("carl"), t, Some(t)),
        ];
        let summary = project_summary(&issues, t, t, t);
        let counts: Vec<_> = summary
            .open_per_assignee
            .iter()
            .map(|c| (c.assignee, c.open))
            .collect();
        assert_eq!(
            counts,
            [
                (Some("zoe"), 2),
                (Some("amy"), 1),
                (Some("bob"), 1),
                (None, 1)
            ]
        );
        let groups: Vec<_> = summary.open_groups.iter().map(|g| g.assignee).collect();
        assert_eq!(
            groups,
            [Some("zoe"), Some("amy"), Some("bob"), None],
            "groups follow the counts"
        );
    }

    #[test]
    fn issues_in_a_group_go_by_priority_desc_then_key_number() {
        let t = at(1, 0);
        let issues = [
            issue("P-10", Open, Low, None, t, None),
            issue("P-9", Open, Low, None, t, None),
            issue("P-100", InProgress, Urgent, None, t, None),
            issue("P-2", Open, Medium, None, t, None),
            issue("P-11", Open, Urgent, None, t, None),
        ];
        let groups = open_issues_by_assignee(&issues, t, LISTED_PER_ASSIGNEE);
        let keys: Vec<_> = groups[0].issues.iter().map(|i| i.key).collect();
        assert_eq!(keys, ["P-11", "P-100", "P-2", "P-9", "P-10"]);
    }

    #[test]
    fn a_group_lists_the_most_urgent_then_oldest_and_counts_the_rest() {
        let day = |d: u32| at(d, 0);
        // (key, priority, created): deliberately out of order; P-5 and P-6 tie on priority and
        // creation time, so the key number decides; P-30 is older than P-4 despite its number.
        let mine = [
            ("P-4", High, day(4)),
            ("P-6", Urgent, day(2)),
            ("P-1", Low, day(1)),
            ("P-5", Urgent, day(2)),
            ("P-30", High, day(3)),
            ("P-2", Medium, day(1)),
        ];
        let issues: Vec<_> = mine
            .iter()
            .map(|&(key, priority, created)| issue(key, Open, priority, Some("ann"), created, None))
            .collect();
        let in_order = ["P-5", "P-6", "P-30", "P-4", "P-2", "P-1"];
        let table: [(usize, usize); 6] = [
            // (listed at most, listed), for a group of 6 issues
            (0, 0),
            (1, 1),
            (5, 5),
            (6, 6),
            (7, 6),
            (LISTED_PER_ASSIGNEE, 6),
        ];
        for (limit, listed) in table {
            let groups = open_issues_by_assignee(&issues, day(20), limit);
            let group = &groups[0];
            let keys: Vec<_> = group.issues.iter().map(|i| i.key).collect();
            assert_eq!(keys, in_order[..listed], "at most {limit}");
            assert_eq!(
                group.open, 6,
                "at most {limit}: every open issue is counted"
            );
            assert_eq!(group.not_listed, 6 - listed, "at most {limit}");
        }
    }

    #[test]
    fn every_group_is_bounded_alone_and_keeps_its_full_count_for_the_summary() {
        let t = at(1, 0);
        let mut issues = Vec::new();
        let mut number = 0;
        let mut add = |assignee: Option<&str>, status: IssueStatus, n: usize| {
            for _ in 0..n {
                number += 1;
                issues.push(issue(
                    &format!("P-{number}"),
                    status,
                    Low,
                    assignee,
                    t,
                    None,
                ));
            }
        };
        add(Some("ann"), Open, LISTED_PER_ASSIGNEE + 1);
        add(Some("bob"), InProgress, LISTED_PER_ASSIGNEE);
        add(None, Open, LISTED_PER_ASSIGNEE + 40);
        // Done issues are neither listed nor counted as open.
        add(Some("bob"), Closed, 10);
        let summary = project_summary(&issues, t, t, t);
        let groups: Vec<_> = summary
            .open_groups
            .iter()
            .map(|g| (g.assignee, g.open, g.issues.len(), g.not_listed))
            .collect();
        let n = LISTED_PER_ASSIGNEE;
        assert_eq!(
            groups,
            [
                (None, n + 40, n, 40),
                (Some("ann"), n + 1, n, 1),
                (Some("bob"), n, n, 0)
            ]
        );
        let counts: Vec<_> = summary
            .open_per_assignee
            .iter()
            .map(|c| (c.assignee, c.open))
            .collect();
        assert_eq!(
            counts,
            [(None, n + 40), (Some("ann"), n + 1), (Some("bob"), n)]
        );
        let monthly = monthly_project_summary(&issues, t, t, t);
        assert_eq!(monthly.open_groups, summary.open_groups);
    }

    #[test]
    fn age_is_whole_days_at_generation_and_never_negative() {
        let now = at(10, 12);
        let table = [
            (at(10, 12), 0),
            (at(9, 13), 0),
            (at(9, 12), 1),
            (at(1, 0), 9),
            (at(11, 0), 0),
        ];
        for (created, days) in table {
            let issues = [issue("P-1", Open, Low, None, created, None)];
            assert_eq!(
                open_issues_by_assignee(&issues, now, 1)[0].issues[0].age_days,
                days,
                "created {created}"
            );
        }
    }

    #[test]
    fn weekly_buckets_are_seven_days_from_the_start_and_the_last_may_be_short() {
        let (from, to) = (at(1, 6), at(17, 6));
        let issues = [
            issue("P-1", Open, Low, None, at(1, 6), None),
            // An hour before the second bucket starts, closed as it starts.
            issue("P-2", Closed, Low, None, at(8, 5), Some(at(8, 6))),
            issue("P-3", Resolved, Low, None, at(15, 6), Some(at(17, 5))),
            issue("P-4", Open, Low, None, at(17, 6), None),
            issue("P-5", Closed, Low, None, at(1, 5), Some(at(17, 6))),
        ];
        let weeks = weekly_buckets(&issues, from, to);
        let shape: Vec<_> = weeks
            .iter()
            .map(|w| (w.start, w.end, w.created, w.closed))
            .collect();
        assert_eq!(
            shape,
            [
                (at(1, 6), at(8, 6), 2, 0),
                (at(8, 6), at(15, 6), 0, 1),
                (at(15, 6), at(17, 6), 1, 1)
            ]
        );
    }

    #[test]
    fn an_empty_or_reversed_period_has_no_weeks() {
        assert!(weekly_buckets(&[], at(5, 0), at(5, 0)).is_empty());
        assert!(weekly_buckets(&[], at(6, 0), at(5, 0)).is_empty());
    }

    #[test]
    fn monthly_counts_open_now_and_created_and_closed_within_the_month() {
        let (start, end) = (at(1, 0), Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap());
        let before = start - TimeDelta::days(3);
        let table: [(ReportIssue, [usize; 3]); 8] = [
            // [open, created, closed] contributed by the issue alone
            (issue("P-1", Open, Low, None, before, None), [1, 0, 0]),
            (issue("P-2", InProgress, Low, None, start, None), [1, 1, 0]),
            (issue("P-3", Open, Low, None, end, None), [1, 0, 0]),
            (
                issue("P-4", Resolved, Low, None, before, Some(start)),
                [0, 0, 1],
            ),
            (
                issue("P-5", Closed, Low, None, at(3, 0), Some(at(4, 0))),
                [0, 1, 1],
            ),
            (
                issue("P-6", Closed, Low, None, before, Some(end)),
                [0, 0, 0],
            ),
            (
                issue("P-7", Closed, Low, None, before, Some(before)),
                [0, 0, 0],
            ),
            (
                issue("P-8", Open, Low, None, before, Some(at(3, 0))),
                [1, 0, 0],
            ),
        ];
        for (issue, [open, created, closed]) in &table {
            let s = monthly_project_summary(std::slice::from_ref(issue), start, end, end);
            assert_eq!(
                [s.open, s.created_in_month, s.closed_in_month],
                [*open, *created, *closed],
                "{}",
                issue.key
            );
        }
        let all: Vec<_> = table.into_iter().map(|(issue, _)| issue).collect();
        let s = monthly_project_summary(&all, start, end, end);
        assert_eq!([s.open, s.created_in_month, s.closed_in_month], [4, 2, 2]);
        assert_eq!(s.open_groups.len(), 1);
        assert_eq!(s.open_groups[0].issues.len(), 4);
    }

    #[test]
    fn a_monthly_project_without_issues_counts_zero() {
        let s = monthly_project_summary(&[], at(1, 0), at(31, 0), at(31, 0));
        assert_eq!([s.open, s.created_in_month, s.closed_in_month], [0, 0, 0]);
        assert!(s.open_groups.is_empty());
    }

    #[test]
    fn key_numbers_come_after_the_last_dash() {
        let table = [
            ("SWAT-42", Some(42)),
            ("MY-PROJ-7", Some(7)),
            ("SWAT", None),
            ("SWAT-x", None),
        ];
        for (key, number) in table {
            assert_eq!(key_number(key), number, "{key}");
        }
    }
}
