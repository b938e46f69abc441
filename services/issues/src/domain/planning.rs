//! Planning values (docs/api.md, "Milestones" and "Resolution, due date, estimate"): calendar
//! dates, estimates, the resolution rule, and milestones' states and progress.

use std::{fmt, str::FromStr};

use chrono::NaiveDate;
use swatter_common::status::Violation;

use uuid::Uuid;

use super::{Change, IssueStatus, Resolution};

/// Earliest and latest dates a due date may be (the schema's and the database's bounds).
pub const FIRST_DATE: NaiveDate = NaiveDate::from_ymd_opt(1900, 1, 1).expect("a valid date");
pub const LAST_DATE: NaiveDate = NaiveDate::from_ymd_opt(9999, 12, 31).expect("a valid date");

/// Largest estimate, in points. Planning poker decks end at 100; a thousand leaves room for
/// teams that count hours while still refusing values that can only be mistakes.
pub const MAX_ESTIMATE: i32 = 1000;

/// A calendar date as sent: exactly `YYYY-MM-DD`, a real day, from 1900-01-01 to 9999-12-31.
pub fn calendar_date(field: &str, raw: &str) -> Result<NaiveDate, Violation> {
    let bad = || {
        Violation::new(
            field,
            "must be a date YYYY-MM-DD from 1900-01-01 to 9999-12-31",
        )
    };
    let shaped = raw.len() == 10
        && raw.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        });
    if !shaped {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())?;
    if (FIRST_DATE..=LAST_DATE).contains(&date) {
        Ok(date)
    } else {
        Err(bad())
    }
}

/// An estimate in points: 0 to [`MAX_ESTIMATE`].
pub fn estimate(raw: i32) -> Result<i32, Violation> {
    if (0..=MAX_ESTIMATE).contains(&raw) {
        Ok(raw)
    } else {
        Err(Violation::new(
            "estimate",
            format!("must be between 0 and {MAX_ESTIMATE} points"),
        ))
    }
}

/// A resolution says why an issue is done: one given while the issue (after the update) is open
/// or in progress is refused, naming `resolution`. Resolving or closing without one leaves it
/// unset; reopening clears it (see [`super::Patch::apply`]).
pub fn check_resolution(
    status_after: IssueStatus,
    resolution_given: Option<Resolution>,
) -> Result<(), Violation> {
    match resolution_given {
        Some(_) if !status_after.is_done() => Err(Violation::new(
            "resolution",
            "may be set only when the status is resolved or closed",
        )),
        _ => Ok(()),
    }
}

impl Change {
    /// The history entry of an issue whose milestone was deleted.
    pub fn milestone_detached(milestone: Uuid) -> Self {
        Change {
            kind: "milestone",
            field: "milestone_id",
            old: Some(milestone.to_string()),
            new: None,
        }
    }
}

/// Whether a milestone is still being worked towards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum MilestoneState {
    Open,
    Closed,
}

impl MilestoneState {
    pub fn as_str(self) -> &'static str {
        match self {
            MilestoneState::Open => "open",
            MilestoneState::Closed => "closed",
        }
    }

    /// `closed_at` after moving from `self` to `to`: set when it closes, kept while it stays
    /// closed, cleared when it is reopened.
    pub fn closed_at_after<T: Copy>(
        self,
        to: MilestoneState,
        current: Option<T>,
        now: T,
    ) -> Option<T> {
        match (self, to) {
            (MilestoneState::Open, MilestoneState::Closed) => Some(now),
            (MilestoneState::Closed, MilestoneState::Closed) => current.or(Some(now)),
            (_, MilestoneState::Open) => None,
        }
    }
}

impl FromStr for MilestoneState {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        match s {
            "open" => Ok(MilestoneState::Open),
            "closed" => Ok(MilestoneState::Closed),
            _ => Err(()),
        }
    }
}

impl fmt::Display for MilestoneState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a milestone's issues are: counts by status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    pub open: i64,
    pub in_progress: i64,
    pub resolved: i64,
    pub closed: i64,
}

impl Progress {
    pub fn total(self) -> i64 {
        self.open + self.in_progress + self.resolved + self.closed
    }

    /// Resolved or closed.
    pub fn done(self) -> i64 {
        self.resolved + self.closed
    }

    /// Done out of total as a whole percent, rounded down (100 only when all are done); 0
    /// without issues.
    pub fn percent_done(self) -> i64 {
        match self.total() {
            0 => 0,
            total => self.done() * 100 / total,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_must_be_real_days_written_yyyy_mm_dd_between_1900_and_9999() {
        for (raw, ok) in [
            ("2026-12-24", true),
            ("1900-01-01", true),
            ("9999-12-31", true),
            ("2028-02-29", true),
            ("1899-12-31", false),
            ("0000-01-01", false),
            ("2027-02-29", false),
            ("2026-13-01", false),
            ("2026-12-32", false),
            ("2026-1-01", false),
            ("+2026-12-24", false),
            ("2026-12-24T00:00:00Z", false),
            (" 2026-12-24", false),
            ("2026/12/24", false),
            ("", false),
            ("१९९९-०१-०१", false),
        ] {
            let parsed = calendar_date("due_on", raw);
            assert_eq!(parsed.is_ok(), ok, "{raw:?}");
            if let Err(violation) = parsed {
                assert_eq!(violation.field, "due_on");
            }
        }
    }

    #[test]
    fn estimates_are_zero_to_a_thousand_points() {
        for (raw, ok) in [
            (0, true),
            (3, true),
            (1000, true),
            (-1, false),
            (1001, false),
            (i32::MIN, false),
            (i32::MAX, false),
        ] {
            assert_eq!(estimate(raw).is_ok(), ok, "{raw}");
        }
    }

    #[test]
    fn a_resolution_is_refused_unless_the_issue_ends_up_resolved_or_closed() {
        use IssueStatus::*;
        for (status, given, ok) in [
            (Resolved, Some(Resolution::Fixed), true),
            (Closed, Some(Resolution::WontFix), true),
            (Open, Some(Resolution::Fixed), false),
            (InProgress, Some(Resolution::Duplicate), false),
            (Open, None, true),
            (Closed, None, true),
        ] {
            let verdict = check_resolution(status, given);
            assert_eq!(verdict.is_ok(), ok, "{status} {given:?}");
            if let Err(violation) = verdict {
                assert_eq!(violation.field, "resolution");
            }
        }
    }

    #[test]
    fn closing_a_milestone_sets_closed_at_and_reopening_clears_it() {
        use MilestoneState::*;
        let (earlier, now) = (1, 2);
        for (from, current, to, expected) in [
            (Open, None, Closed, Some(now)),
            (Closed, Some(earlier), Closed, Some(earlier)),
            (Closed, Some(earlier), Open, None),
            (Open, None, Open, None),
        ] {
            assert_eq!(
                from.closed_at_after(to, current, now),
                expected,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn progress_counts_resolved_and_closed_as_done_and_rounds_down() {
        let cases = [
            (Progress::default(), 0, 0),
            (
                Progress {
                    open: 1,
                    in_progress: 1,
                    resolved: 1,
                    closed: 0,
                },
                3,
                33,
            ),
            (
                Progress {
                    open: 1,
                    resolved: 100,
                    closed: 98,
                    ..Progress::default()
                },
                199,
                99,
            ),
            (
                Progress {
                    resolved: 2,
                    closed: 2,
                    ..Progress::default()
                },
                4,
                100,
            ),
        ];
        for (progress, total, percent) in cases {
            assert_eq!(progress.total(), total, "{progress:?}");
            assert_eq!(progress.percent_done(), percent, "{progress:?}");
        }
    }
}
