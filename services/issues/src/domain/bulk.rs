//! A bulk edit (docs/api.md, "Bulk edits"): which issues it names, what it sets on each, and the
//! per-issue outcome. Pure: the handler loads and locks the issues, this works out their diffs.

use chrono::{DateTime, NaiveDate, Utc};
use swatter_common::status::Violation;
use uuid::Uuid;

use super::{
    Change, IssueFields, IssueKey, IssueStatus, Labels, Patch, Priority, ProjectKey, Resolution,
};

/// Most issues one bulk edit may name.
pub const MAX_BULK_ISSUES: usize = 500;

/// What a bulk edit does to every issue it names; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkEdit {
    pub status: Option<IssueStatus>,
    pub resolution: Option<Resolution>,
    pub priority: Option<Priority>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<Uuid>>,
    /// `Some(None)` detaches from the milestone.
    pub milestone: Option<Option<Uuid>>,
    /// `Some(None)` clears the due date.
    pub due_on: Option<Option<NaiveDate>>,
    /// Trimmed, sorted, without duplicates.
    pub add_labels: Vec<String>,
    /// Trimmed, sorted, without duplicates; none of them in `add_labels`.
    pub remove_labels: Vec<String>,
}

/// Why one issue cannot take a bulk edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkRefusal {
    /// The labels after the edit would be more than [`Labels::MAX`].
    TooManyLabels(usize),
    /// A resolution is set but the issue would be neither resolved nor closed.
    ResolutionNeedsDone(IssueStatus),
}

impl BulkRefusal {
    /// The violation, naming the issue `key`, in the field of the request that asks for it.
    pub fn violation(&self, key: &str) -> Violation {
        match self {
            BulkRefusal::TooManyLabels(n) => Violation::new(
                "changes.add_labels",
                format!(
                    "{key} would have {n} labels; an issue has at most {}",
                    Labels::MAX
                ),
            ),
            BulkRefusal::ResolutionNeedsDone(status) => Violation::new(
                "changes.resolution",
                format!(
                    "{key} would be {status}; a resolution is set only on resolved or closed issues"
                ),
            ),
        }
    }
}

impl BulkEdit {
    /// The labels of one issue after the edit (unsorted, possibly over the limit).
    fn labels_of(&self, current: &[String]) -> Vec<String> {
        current
            .iter()
            .filter(|l| !self.remove_labels.contains(l))
            .chain(self.add_labels.iter().filter(|l| !current.contains(l)))
            .cloned()
            .collect()
    }

    /// The update of one issue: [`Patch`] with its labels worked out from its current ones.
    pub fn patch_for(&self, current: &IssueFields) -> Result<Patch, BulkRefusal> {
        let labels = if self.add_labels.is_empty() && self.remove_labels.is_empty() {
            None
        } else {
            let after = self.labels_of(&current.labels);
            if after.len() > Labels::MAX {
                return Err(BulkRefusal::TooManyLabels(after.len()));
            }
            Some(Labels::parse(&after).map_err(|_| BulkRefusal::TooManyLabels(after.len()))?)
        };
        Ok(Patch {
            status: self.status,
            priority: self.priority,
            labels,
            assignee: self.assignee,
            resolution: self.resolution.map(Some),
            due_on: self.due_on,
            milestone: self.milestone,
            ..Patch::default()
        })
    }

    /// One issue after the edit at `now`, with its history entries (none when it already has
    /// every value asked for).
    pub fn apply(
        &self,
        current: &IssueFields,
        now: DateTime<Utc>,
    ) -> Result<(IssueFields, Vec<Change>), BulkRefusal> {
        let (updated, changes) = self.patch_for(current)?.apply(current, now);
        if self.resolution.is_some() && !updated.status.is_done() {
            return Err(BulkRefusal::ResolutionNeedsDone(updated.status));
        }
        Ok((updated, changes))
    }
}

/// The issue numbers `raw` names in `project`, in order: 1–500 keys of that project, each once.
pub fn issue_numbers(project: &ProjectKey, raw: &[String]) -> Result<Vec<i64>, Vec<Violation>> {
    if raw.is_empty() || raw.len() > MAX_BULK_ISSUES {
        return Err(vec![Violation::new(
            "issue_keys",
            format!(
                "must list 1 to {MAX_BULK_ISSUES} issues (it lists {})",
                raw.len()
            ),
        )]);
    }
    let mut violations = Vec::new();
    let mut numbers = Vec::with_capacity(raw.len());
    let mut seen = std::collections::HashMap::with_capacity(raw.len());
    for (i, key) in raw.iter().enumerate() {
        let field = format!("issue_keys[{i}]");
        match IssueKey::parse(key) {
            Some(key) if key.project == *project => {
                if let Some(first) = seen.insert(key.number, i) {
                    seen.insert(key.number, first);
                    violations.push(Violation::new(
                        field,
                        format!("{key} is listed twice (also issue_keys[{first}])"),
                    ));
                } else {
                    numbers.push(key.number);
                }
            }
            Some(key) => violations.push(Violation::new(
                field,
                format!("{key} is not an issue of project {project}"),
            )),
            None => violations.push(Violation::new(
                field,
                format!("{:?} is not an issue key (KEY-n)", truncated(key)),
            )),
        }
    }
    if violations.is_empty() {
        Ok(numbers)
    } else {
        Err(violations)
    }
}

/// At most 40 characters of a client's text, to quote it back.
fn truncated(raw: &str) -> String {
    raw.chars().take(40).collect()
}

/// Labels to add or remove: each 1–50 characters on one line, at most [`Labels::MAX`]; trimmed,
/// sorted, without duplicates.
pub fn label_list(field: &str, raw: &[String]) -> Result<Vec<String>, Violation> {
    if raw.len() > Labels::MAX {
        return Err(Violation::new(
            field,
            format!("at most {} labels", Labels::MAX),
        ));
    }
    Labels::parse(raw)
        .map(Labels::into_vec)
        .map_err(|v| Violation::new(field, v.message))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current(labels: &[&str]) -> IssueFields {
        IssueFields {
            title: "Crash".into(),
            description: String::new(),
            status: IssueStatus::Open,
            priority: Priority::Medium,
            labels: labels.iter().map(|l| l.to_string()).collect(),
            assignee_id: None,
            closed_at: None,
            resolution: None,
            due_on: None,
            estimate: None,
            milestone_id: None,
        }
    }

    fn strings(raw: &[&str]) -> Vec<String> {
        raw.iter().map(|s| s.to_string()).collect()
    }

    fn now() -> DateTime<Utc> {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn labels_are_added_and_removed_per_issue_and_kept_sorted() {
        let edit = BulkEdit {
            add_labels: strings(&["triaged", "ui"]),
            remove_labels: strings(&["needs-info"]),
            ..BulkEdit::default()
        };
        let cases: [(&[&str], Option<&str>); 4] = [
            (&["bug", "needs-info"], Some("bug, triaged, ui")),
            (&[], Some("triaged, ui")),
            (&["triaged", "ui"], None),
            (&["needs-info", "triaged", "ui"], Some("triaged, ui")),
        ];
        for (labels, expected) in cases {
            let (updated, changes) = edit.apply(&current(labels), now()).unwrap();
            assert_eq!(
                changes.first().and_then(|c| c.new.as_deref()),
                expected,
                "{labels:?}"
            );
            assert!(updated.labels.is_sorted(), "{labels:?}");
        }
    }

    #[test]
    fn an_issue_that_would_hold_more_than_twenty_labels_is_refused() {
        let nineteen: Vec<String> = (0..19).map(|i| format!("l{i:02}")).collect();
        let mut issue = current(&[]);
        issue.labels = nineteen;
        let edit = BulkEdit {
            add_labels: strings(&["a", "b"]),
            ..BulkEdit::default()
        };
        assert_eq!(
            edit.apply(&issue, now()).unwrap_err(),
            BulkRefusal::TooManyLabels(21)
        );
        let one = BulkEdit {
            add_labels: strings(&["a"]),
            ..BulkEdit::default()
        };
        assert_eq!(one.apply(&issue, now()).unwrap().0.labels.len(), 20);
    }

    #[test]
    fn a_resolution_needs_the_issue_to_end_resolved_or_closed() {
        use IssueStatus::*;
        let resolve = |status| BulkEdit {
            status,
            resolution: Some(Resolution::WontFix),
            ..BulkEdit::default()
        };
        let done = IssueFields {
            status: Closed,
            closed_at: Some(now()),
            ..current(&[])
        };
        let cases = [
            (resolve(Some(Closed)), current(&[]), Ok(())),
            (resolve(None), done.clone(), Ok(())),
            (resolve(None), current(&[]), Err(Open)),
            (resolve(Some(InProgress)), done, Err(InProgress)),
        ];
        for (edit, issue, expected) in cases {
            let outcome = edit.apply(&issue, now());
            match expected {
                Ok(()) => assert_eq!(
                    outcome.unwrap().0.resolution,
                    Some(Resolution::WontFix),
                    "{edit:?}"
                ),
                Err(status) => assert_eq!(
                    outcome.unwrap_err(),
                    BulkRefusal::ResolutionNeedsDone(status)
                ),
            }
        }
    }

    #[test]
    fn an_issue_that_already_has_every_value_is_unchanged() {
        let edit = BulkEdit {
            priority: Some(Priority::Medium),
            assignee: Some(None),
            due_on: Some(None),
            milestone: Some(None),
            remove_labels: strings(&["absent"]),
            ..BulkEdit::default()
        };
        let (updated, changes) = edit.apply(&current(&["bug"]), now()).unwrap();
        assert!(changes.is_empty(), "{changes:?}");
        assert_eq!(updated, current(&["bug"]));
    }

    #[test]
    fn keys_are_one_to_five_hundred_distinct_keys_of_the_project() {
        let swat = ProjectKey::parse("SWAT").unwrap();
        assert_eq!(
            issue_numbers(&swat, &strings(&["SWAT-3", "SWAT-1"])).unwrap(),
            [3, 1]
        );
        let fields = |raw: &[String]| -> Vec<String> {
            issue_numbers(&swat, raw)
                .unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect()
        };
        assert_eq!(fields(&[]), ["issue_keys"]);
        let too_many: Vec<String> = (1..=501).map(|n| format!("SWAT-{n}")).collect();
        assert_eq!(fields(&too_many), ["issue_keys"]);
        assert_eq!(issue_numbers(&swat, &too_many[..500]).unwrap().len(), 500);
        assert_eq!(
            fields(&strings(&[
                "SWAT-1", "OPS-1", "SWAT-1", "swat-2", "SWAT-0", ""
            ])),
            [
                "issue_keys[1]",
                "issue_keys[2]",
                "issue_keys[3]",
                "issue_keys[4]",
                "issue_keys[5]"
            ]
        );
        let twice = issue_numbers(&swat, &strings(&["SWAT-1", "SWAT-1", "SWAT-1"])).unwrap_err();
        assert!(twice[1].message.contains("issue_keys[0]"), "{twice:?}");
    }

    #[test]
    fn label_lists_follow_the_label_limits() {
        assert_eq!(
            label_list("add_labels", &strings(&[" ui ", "bug", "ui"])).unwrap(),
            ["bug", "ui"]
        );
        for bad in [strings(&[""]), strings(&["a\u{0}"]), vec!["x".repeat(51)]] {
            assert_eq!(
                label_list("add_labels", &bad).unwrap_err().field,
                "add_labels"
            );
        }
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(label_list("remove_labels", &many).is_err());
    }
}
