//! Deterministic synthetic reports for the render tests, the samples example and the benchmark.

#![allow(dead_code)] // each of the three users takes what it needs

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use swatter_reporting::render::model::{
    IssueStatus, MonthlyProject, Priority, ProjectReport, ReportIssue, UserMonthlyReport,
};

/// A small deterministic pseudo-random generator (splitmix64), so samples never change.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// The instant every synthetic report is generated at.
pub fn generated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 16, 9, 30, 0).unwrap()
}

const ASSIGNEES: [Option<&str>; 7] = [
    Some("alice"),
    Some("bob"),
    Some("chen.wei"),
    Some("dana"),
    Some("emeka"),
    Some("alice"),
    None,
];
const AUTHORS: [&str; 5] = ["alice", "bob", "frank", "grace.hopper", "support-bot"];
const SUBJECTS: [&str; 12] = [
    "Login page",
    "CSV export",
    "Password reset email",
    "Issue list pagination",
    "Dark mode toggle",
    "Webhook retries",
    "Search by label",
    "Avatar upload",
    "Report PDF",
    "Mobile navigation menu",
    "API rate limiter",
    "Comment editor",
];
const PROBLEMS: [&str; 12] = [
    "crashes when the password contains an emoji",
    "is slow for projects with many issues",
    "shows the wrong time zone",
    "ignores the selected filter after a refresh",
    "times out behind the corporate proxy",
    "loses unsaved changes when switching tabs",
    "returns 500 for keys with lowercase letters",
    "renders blank in Safari 17",
    "duplicates entries after a retry",
    "should remember the last used sort order",
    "needs keyboard shortcuts",
    "has confusing wording in the confirmation dialog",
];

/// `n` issues of project `key`, created over the 120 days before `now`, with a realistic mix of
/// statuses (45 % open or in progress), priorities and assignees.
pub fn issues(key: &str, n: usize, now: DateTime<Utc>, rng: &mut Rng) -> Vec<ReportIssue> {
    (1..=n)
        .map(|number| {
            let created_at = now - TimeDelta::minutes(rng.below(120 * 24 * 60) as i64 + 60);
            let status = match rng.below(100) {
                0..30 => IssueStatus::Open,
                30..45 => IssueStatus::InProgress,
                45..70 => IssueStatus::Resolved,
                _ => IssueStatus::Closed,
            };
            let priority = match rng.below(100) {
                0..8 => Priority::Urgent,
                8..30 => Priority::High,
                30..75 => Priority::Medium,
                _ => Priority::Low,
            };
            let closed_at = status.is_done().then(|| {
                let open_for = (now - created_at).num_minutes().max(1) as u64;
                created_at + TimeDelta::minutes(rng.below(open_for) as i64)
            });
            let title = format!("{} {}", rng.pick(&SUBJECTS), rng.pick(&PROBLEMS));
            ReportIssue {
                key: format!("{key}-{number}"),
                title,
                status,
                priority,
                assignee: rng.pick(&ASSIGNEES).map(str::to_owned),
                author: (*rng.pick(&AUTHORS)).to_owned(),
                created_at,
                closed_at,
                due_on: None,
                attachments: 0,
            }
        })
        .collect()
}

/// A project report over the 6 weeks before [`generated_at`] with `n` issues.
pub fn project(n: usize, seed: u64) -> ProjectReport {
    let now = generated_at();
    let mut rng = Rng::new(seed);
    ProjectReport {
        project_key: "SWAT".into(),
        project_name: "Swatter Web App".into(),
        from: now - TimeDelta::weeks(6),
        to: now,
        generated_at: now,
        requested_by: "dana".into(),
        issues: issues("SWAT", n, now, &mut rng),
        milestones: Vec::new(),
    }
}

/// A project report like [`project`] whose backlog was never worked off: about 94 % of its
/// issues are open or in progress (as in the 18,805-open of 20,000 project of issue 11).
pub fn backlog(n: usize, seed: u64) -> ProjectReport {
    let mut report = project(n, seed);
    let mut rng = Rng::new(seed ^ 0x0B4C_4106);
    for issue in &mut report.issues {
        if issue.status.is_done() && rng.below(100) < 89 {
            issue.status = IssueStatus::Open;
            issue.closed_at = None;
        }
    }
    report
}

/// A monthly report of March 2026 for `alice` with the given number of issues per project.
pub fn monthly(issue_counts: &[usize], seed: u64) -> UserMonthlyReport {
    let now = generated_at();
    let mut rng = Rng::new(seed);
    let names = [
        ("SWAT", "Swatter Web App"),
        ("MOB", "Mobile Client"),
        ("OPS", "Operations & Infrastructure"),
    ];
    UserMonthlyReport {
        username: "alice".into(),
        month: "2026-03".into(),
        month_start: Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        month_end: Utc.with_ymd_and_hms(2026, 4, 1, 0, 0, 0).unwrap(),
        generated_at: now,
        projects: issue_counts
            .iter()
            .zip(names.iter().cycle())
            .map(|(&n, &(key, name))| MonthlyProject {
                key: key.into(),
                name: name.into(),
                issues: issues(key, n, now, &mut rng),
            })
            .collect(),
    }
}
