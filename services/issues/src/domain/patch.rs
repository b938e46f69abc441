//! An issue update: the fields it sets, the issue after it, and the history entries it leaves.

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use super::{Description, IssueChange, IssueStatus, IssueTitle, Labels, Priority, Resolution};

/// The fields of an issue an update may change (with `closed_at`, which follows the status).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct IssueFields {
    pub title: String,
    pub description: String,
    pub status: IssueStatus,
    #[sqlx(try_from = "i16")]
    pub priority: Priority,
    pub labels: Vec<String>,
    pub assignee_id: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
    pub resolution: Option<Resolution>,
    pub due_on: Option<NaiveDate>,
    pub estimate: Option<i32>,
    pub milestone_id: Option<Uuid>,
}

/// An update request, parsed: `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct Patch {
    pub title: Option<IssueTitle>,
    pub description: Option<Description>,
    pub status: Option<IssueStatus>,
    pub priority: Option<Priority>,
    pub labels: Option<Labels>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<Uuid>>,
    /// `Some(None)` clears it.
    pub resolution: Option<Option<Resolution>>,
    /// `Some(None)` clears it.
    pub due_on: Option<Option<NaiveDate>>,
    /// `Some(None)` clears it.
    pub estimate: Option<Option<i32>>,
    /// `Some(None)` detaches the issue from its milestone.
    pub milestone: Option<Option<Uuid>>,
}

/// One entry of an issue's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: &'static str,
    pub field: &'static str,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    fn new(
        kind: &'static str,
        field: &'static str,
        old: Option<String>,
        new: Option<String>,
    ) -> Self {
        Change {
            kind,
            field,
            old,
            new,
        }
    }

    pub fn comment_added(comment_id: Uuid) -> Self {
        Change::new(
            "comment_added",
            "comment",
            None,
            Some(comment_id.to_string()),
        )
    }

    pub fn comment_removed(comment_id: Uuid) -> Self {
        Change::new(
            "comment_removed",
            "comment",
            Some(comment_id.to_string()),
            None,
        )
    }

    /// A file attached (confirmed) to the issue or one of its comments: its name.
    pub fn attachment_added(file_name: &str) -> Self {
        Change::new(
            "attachment_added",
            "attachment",
            None,
            Some(file_name.to_owned()),
        )
    }

    /// An attachment deleted: its name.
    pub fn attachment_removed(file_name: &str) -> Self {
        Change::new(
            "attachment_removed",
            "attachment",
            Some(file_name.to_owned()),
            None,
        )
    }
}

impl IssueChange {
    /// What `changes` touch, for [`super::authorize_issue_change`].
    pub fn of(changes: &[Change]) -> Self {
        let touches = |fields: &[&str]| changes.iter().any(|c| fields.contains(&c.field));
        // Reopening clears the resolution: that follows the status change (which a reporter
        // may make on an issue assigned to them), it is not triage of its own.
        let reopened = changes.iter().any(|c| {
            c.field == "status"
                && c.new
                    .as_deref()
                    .and_then(|s| s.parse::<IssueStatus>().ok())
                    .is_some_and(|s| !s.is_done())
        });
        let resolution_set = changes
            .iter()
            .any(|c| c.field == "resolution" && !(reopened && c.new.is_none()));
        IssueChange {
            text: touches(&["title", "description"]),
            status: touches(&["status"]),
            triage: resolution_set
                || touches(&[
                    "priority",
                    "assignee_id",
                    "labels",
                    "due_on",
                    "estimate",
                    "milestone_id",
                ]),
        }
    }
}

impl Patch {
    /// The issue after this update at `now`, and one history entry per field it really changes
    /// (none when every value given equals the current one).
    pub fn apply(&self, current: &IssueFields, now: DateTime<Utc>) -> (IssueFields, Vec<Change>) {
        let or = |new: Option<&str>, old: &str| new.unwrap_or(old).to_owned();
        let status = self.status.unwrap_or(current.status);
        let updated = IssueFields {
            title: or(self.title.as_ref().map(IssueTitle::as_str), &current.title),
            description: or(
                self.description.as_ref().map(Description::as_str),
                &current.description,
            ),
            status,
            priority: self.priority.unwrap_or(current.priority),
            labels: self
                .labels
                .as_ref()
                .map_or_else(|| current.labels.clone(), |l| l.as_slice().to_vec()),
            assignee_id: self.assignee.unwrap_or(current.assignee_id),
            closed_at: current
                .status
                .closed_at_after(status, current.closed_at, now),
            // A reopened issue has no resolution.
            resolution: self
                .resolution
                .unwrap_or(current.resolution)
                .filter(|_| status.is_done()),
            due_on: self.due_on.unwrap_or(current.due_on),
            estimate: self.estimate.unwrap_or(current.estimate),
            milestone_id: self.milestone.unwrap_or(current.milestone_id),
        };
        let mut changes = Vec::new();
        let mut diff = |kind, field, value: fn(&IssueFields) -> Option<String>| {
            let (old, new) = (value(current), value(&updated));
            if old != new {
                changes.push(Change::new(kind, field, old, new));
            }
        };
        diff("edited", "title", |f| Some(f.title.clone()));
        diff("edited", "description", |f| Some(f.description.clone()));
        diff("edited", "priority", |f| Some(f.priority.to_string()));
        diff("status", "status", |f| Some(f.status.to_string()));
        diff("assignee", "assignee_id", |f| {
            f.assignee_id.map(|a| a.to_string())
        });
        diff("edited", "resolution", |f| {
            f.resolution.map(|r| r.to_string())
        });
        diff("edited", "due_on", |f| f.due_on.map(|d| d.to_string()));
        diff("edited", "estimate", |f| f.estimate.map(|e| e.to_string()));
        diff("milestone", "milestone_id", |f| {
            f.milestone_id.map(|m| m.to_string())
        });
        // Compared as lists: two lists may join to the same text.
        if updated.labels != current.labels {
            changes.push(Change::new(
                "labels",
                "labels",
                Some(current.labels.join(", ")),
                Some(updated.labels.join(", ")),
            ));
        }
        (updated, changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn current() -> IssueFields {
        IssueFields {
            title: "Crash".into(),
            description: "on start".into(),
            status: IssueStatus::Open,
            priority: Priority::Medium,
            labels: vec!["bug".into()],
            assignee_id: Some(Uuid::from_u128(1)),
            closed_at: None,
            resolution: None,
            due_on: None,
            estimate: None,
            milestone_id: None,
        }
    }

    /// A patch with what `set` sets.
    fn patch(set: impl FnOnce(&mut Patch)) -> Patch {
        let mut patch = Patch::default();
        set(&mut patch);
        patch
    }

    fn labels(raw: &[&str]) -> Labels {
        Labels::parse(&raw.iter().map(|l| l.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn each_field_changed_leaves_one_entry_and_unchanged_values_none() {
        let one = Some(Uuid::from_u128(1).to_string());
        let two = Uuid::from_u128(2);
        let unchanged = Patch {
            title: Some(IssueTitle::parse("title", "Crash").unwrap()),
            description: Some(Description::parse("description", "on start").unwrap()),
            status: Some(IssueStatus::Open),
            priority: Some(Priority::Medium),
            labels: Some(labels(&["bug"])),
            assignee: Some(Some(Uuid::from_u128(1))),
            resolution: Some(None),
            due_on: Some(None),
            estimate: Some(None),
            milestone: Some(None),
        };
        let text = |s: &str| Some(s.to_owned());
        let cases = [
            (Patch::default(), None),
            (unchanged, None),
            (
                patch(|p| p.title = Some(IssueTitle::parse("title", "Hang").unwrap())),
                Some(("edited", "title", text("Crash"), text("Hang"))),
            ),
            (
                patch(|p| p.description = Some(Description::parse("d", "").unwrap())),
                Some(("edited", "description", text("on start"), text(""))),
            ),
            (
                patch(|p| p.priority = Some(Priority::Urgent)),
                Some(("edited", "priority", text("medium"), text("urgent"))),
            ),
            (
                patch(|p| p.status = Some(IssueStatus::InProgress)),
                Some(("status", "status", text("open"), text("in_progress"))),
            ),
            (
                patch(|p| p.assignee = Some(Some(two))),
                Some((
                    "assignee",
                    "assignee_id",
                    one.clone(),
                    Some(two.to_string()),
                )),
            ),
            (
                patch(|p| p.assignee = Some(None)),
                Some(("assignee", "assignee_id", one.clone(), None)),
            ),
            (
                patch(|p| p.labels = Some(labels(&["ui", "bug"]))),
                Some(("labels", "labels", text("bug"), text("bug, ui"))),
            ),
            (
                patch(|p| p.labels = Some(labels(&[]))),
                Some(("labels", "labels", text("bug"), text(""))),
            ),
        ];
        for (patch, expected) in cases {
            let (updated, changes) = patch.apply(&current(), at("2026-11-30T12:00:00Z"));
            let expected: Vec<_> = expected
                .into_iter()
                .map(|(kind, field, old, new)| Change::new(kind, field, old, new))
                .collect();
            assert_eq!(changes, expected, "{patch:?}");
            if expected.is_empty() {
                assert_eq!(updated, current(), "{patch:?}");
            }
        }
    }

    #[test]
    fn every_change_is_applied_and_in_history_order() {
        let now = at("2026-11-30T12:00:00Z");
        let patch = Patch {
            title: Some(IssueTitle::parse("title", "Hang").unwrap()),
            description: Some(Description::parse("description", "always").unwrap()),
            status: Some(IssueStatus::Resolved),
            priority: Some(Priority::High),
            labels: Some(Labels::parse(&["ui".into()]).unwrap()),
            assignee: Some(None),
            ..Patch::default()
        };
        let (updated, changes) = patch.apply(&current(), now);
        assert_eq!(
            updated,
            IssueFields {
                title: "Hang".into(),
                description: "always".into(),
                status: IssueStatus::Resolved,
                priority: Priority::High,
                labels: vec!["ui".into()],
                assignee_id: None,
                closed_at: Some(now),
                ..current()
            }
        );
        let fields = changes
            .iter()
            .map(|c| c.field)
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(
            fields,
            "title description priority status assignee_id labels"
        );
        assert_eq!(
            IssueChange::of(&changes),
            IssueChange {
                text: true,
                status: true,
                triage: true
            }
        );
    }

    #[test]
    fn a_status_change_sets_keeps_or_clears_closed_at() {
        use IssueStatus::*;
        let (earlier, now) = (at("2026-11-01T00:00:00Z"), at("2026-11-30T12:00:00Z"));
        let cases = [
            (Open, None, Resolved, Some(now)),
            (InProgress, None, Closed, Some(now)),
            (Resolved, Some(earlier), Closed, Some(earlier)),
            (Closed, Some(earlier), Open, None),
            (Resolved, Some(earlier), InProgress, None),
            (Open, None, InProgress, None),
        ];
        for (from, closed_at, to, expected) in cases {
            let current = IssueFields {
                status: from,
                closed_at,
                ..current()
            };
            let (updated, changes) = patch(|p| p.status = Some(to)).apply(&current, now);
            assert_eq!(updated.closed_at, expected, "{from} -> {to}");
            assert_eq!(
                IssueChange::of(&changes),
                IssueChange {
                    status: true,
                    ..IssueChange::default()
                },
                "{from} -> {to}"
            );
        }
        // Without a status change a done issue keeps when it was closed.
        let done = IssueFields {
            status: Closed,
            closed_at: Some(earlier),
            ..current()
        };
        let (updated, _) = patch(|p| p.priority = Some(Priority::Low)).apply(&done, now);
        assert_eq!(updated.closed_at, Some(earlier));
    }

    #[test]
    fn planning_fields_change_with_history_and_reopening_clears_the_resolution() {
        let now = at("2026-12-01T00:00:00Z");
        let due = NaiveDate::from_ymd_opt(2026, 12, 24).unwrap();
        let milestone = Uuid::from_u128(7);
        let (updated, changes) = patch(|p| {
            p.status = Some(IssueStatus::Resolved);
            p.resolution = Some(Some(Resolution::Fixed));
            p.due_on = Some(Some(due));
            p.estimate = Some(Some(3));
            p.milestone = Some(Some(milestone));
        })
        .apply(&current(), now);
        assert_eq!(updated.resolution, Some(Resolution::Fixed));
        assert_eq!(updated.due_on, Some(due));
        assert_eq!(updated.estimate, Some(3));
        assert_eq!(updated.milestone_id, Some(milestone));
        let fields: Vec<_> = changes.iter().map(|c| c.field).collect();
        assert_eq!(
            fields,
            ["status", "resolution", "due_on", "estimate", "milestone_id"]
        );
        assert!(IssueChange::of(&changes).triage);

        let (reopened, changes) =
            patch(|p| p.status = Some(IssueStatus::Open)).apply(&updated, now);
        assert_eq!(reopened.resolution, None);
        assert!(changes.iter().any(|c| c.field == "resolution"
            && c.old.as_deref() == Some("fixed")
            && c.new.is_none()));
        // Reopening is a status change (a reporter may reopen an issue assigned to them),
        // even though it clears the resolution; clearing it otherwise is triage.
        assert_eq!(
            IssueChange::of(&changes),
            IssueChange {
                status: true,
                ..IssueChange::default()
            }
        );
        let (_, changes) = patch(|p| p.resolution = Some(None)).apply(&updated, now);
        assert!(IssueChange::of(&changes).triage);
        let (_, changes) = patch(|p| p.status = Some(IssueStatus::Closed)).apply(&updated, now);
        assert!(!IssueChange::of(&changes).triage);
    }
}
