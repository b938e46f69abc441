//! The query language of issue lists applied to a list's filter: the query's names resolved to
//! ids in the list's scope, its predicates merged with the separate filter parameters (all must
//! hold).
//!
//! Names that match nothing (a username of no member, a milestone title or an issue key that
//! does not exist in the scope) make their predicate match nothing; they are not errors, so a
//! saved view keeps working after a milestone is deleted or a member leaves.

use std::collections::BTreeSet;

use swatter_common::auth::UserPrincipal;
use uuid::Uuid;

use super::Issues;
use crate::{
    domain::{IssueStatus, Person, Predicate, Priority, Query},
    error::Result,
    store::{self, AssigneeFilter, Clause, Condition, IssueFilter, ListScope},
};

/// Narrows `set` (empty: any value) by a term on its values: to them, or (negated) to the
/// others. `None` when nothing is left.
fn narrow<T: Ord + Copy>(set: &[T], all: &[T], values: &[T], negated: bool) -> Vec<T> {
    let current: BTreeSet<T> = if set.is_empty() {
        all.iter().copied().collect()
    } else {
        set.iter().copied().collect()
    };
    let values: BTreeSet<T> = values.iter().copied().collect();
    current
        .into_iter()
        .filter(|v| values.contains(v) != negated)
        .collect()
}

/// Adds `query` to `filter` for a list of `scope`. `false` when the list is empty whatever the
/// data (the statuses or priorities asked for exclude each other).
pub(super) async fn apply(
    issues: &Issues,
    scope: &ListScope,
    me: &UserPrincipal,
    query: Query,
    filter: &mut IssueFilter,
) -> Result<bool> {
    let names = Names::resolve(issues, scope, &query).await?;
    let mut words = Vec::new();
    for term in query.terms {
        let negated = term.negated;
        let condition = match term.predicate {
            Predicate::Status(values) => {
                filter.statuses = narrow(&filter.statuses, IssueStatus::ALL, &values, negated);
                if filter.statuses.is_empty() {
                    return Ok(false);
                }
                continue;
            }
            Predicate::Priority(values) => {
                filter.priorities = narrow(&filter.priorities, Priority::ALL, &values, negated);
                if filter.priorities.is_empty() {
                    return Ok(false);
                }
                continue;
            }
            Predicate::Assignee(people) => {
                let (ids, nobody) = names.people(&people, me);
                // One person: the list's own assignee filter, which can drive the plan.
                match (filter.assignee, negated, ids.as_slice(), nobody) {
                    (AssigneeFilter::Any, false, [id], false) => {
                        filter.assignee = AssigneeFilter::User(*id);
                        continue;
                    }
                    (AssigneeFilter::Any, false, [], true) => {
                        filter.assignee = AssigneeFilter::Unassigned;
                        continue;
                    }
                    _ => Condition::Assignee { ids, nobody },
                }
            }
            Predicate::Author(people) => {
                let (ids, _) = names.people(&people, me);
                match (filter.author, negated, ids.as_slice()) {
                    (None, false, [id]) => {
                        filter.author = Some(*id);
                        continue;
                    }
                    _ => Condition::Author(ids),
                }
            }
            Predicate::Label(labels) => Condition::Labels(labels),
            Predicate::Milestone(titles) => Condition::Milestone {
                ids: titles
                    .iter()
                    .flatten()
                    .flat_map(|title| names.milestones_titled(title))
                    .collect(),
                none: titles.iter().any(Option::is_none),
            },
            Predicate::Due(values) => Condition::Due(values),
            Predicate::Created(values) => Condition::Created(values),
            Predicate::Updated(values) => Condition::Updated(values),
            Predicate::Estimate(values) => Condition::Estimate(values),
            Predicate::Resolution(values) => Condition::Resolution {
                values: values.iter().flatten().copied().collect(),
                none: values.iter().any(Option::is_none),
            },
            Predicate::Blocked => Condition::Blocked,
            Predicate::Has(attributes) => Condition::Has(attributes),
            Predicate::Parent(keys) => Condition::Parent(
                keys.iter()
                    .filter_map(|key| names.issue(key.project.as_str(), key.number))
                    .collect(),
            ),
            Predicate::Words(text) if !negated => {
                words.push(text);
                continue;
            }
            Predicate::Phrase(text) if !negated => {
                filter.phrases.push(text);
                continue;
            }
            Predicate::Words(text) => Condition::Words(text),
            Predicate::Phrase(text) => Condition::Phrase(text),
        };
        filter.clauses.push(Clause { negated, condition });
    }
    if !words.is_empty() {
        filter.query = Some(words.join(" "));
    }
    Ok(true)
}

/// The names a query uses, resolved once per list.
#[derive(Default)]
struct Names {
    members: Vec<(String, Uuid)>,
    milestones: Vec<(String, Uuid)>,
    issues: Vec<(String, i64, Uuid)>,
}

impl Names {
    async fn resolve(issues: &Issues, scope: &ListScope, query: &Query) -> Result<Names> {
        let mut usernames = Vec::new();
        let mut titles = Vec::new();
        let mut keys = Vec::new();
        for term in &query.terms {
            match &term.predicate {
                Predicate::Assignee(people) | Predicate::Author(people) => {
                    usernames.extend(people.iter().filter_map(|p| match p {
                        Person::Name(name) => Some(name.clone()),
                        _ => None,
                    }));
                }
                Predicate::Milestone(values) => titles.extend(values.iter().flatten().cloned()),
                Predicate::Parent(values) => keys.extend(
                    values
                        .iter()
                        .map(|key| (key.project.as_str().to_owned(), key.number)),
                ),
                _ => {}
            }
        }
        let mut names = Names::default();
        if !usernames.is_empty() {
            names.members = store::member_ids_by_usernames(&issues.db, scope, &usernames).await?;
        }
        if !titles.is_empty() {
            names.milestones = store::milestone_ids_by_titles(&issues.db, scope, &titles).await?;
        }
        if !keys.is_empty() {
            names.issues = store::issue_ids_by_keys(&issues.db, scope, &keys).await?;
        }
        Ok(names)
    }

    /// The ids of `people`, and whether they include nobody.
    fn people(&self, people: &[Person], me: &UserPrincipal) -> (Vec<Uuid>, bool) {
        let mut ids = BTreeSet::new();
        let mut nobody = false;
        for person in people {
            match person {
                Person::Me => {
                    ids.insert(me.id);
                }
                Person::Nobody => nobody = true,
                Person::Id(id) => {
                    ids.insert(*id);
                }
                Person::Name(name) => ids.extend(
                    self.members
                        .iter()
                        .filter(|(username, _)| username == name)
                        .map(|(_, id)| *id),
                ),
            }
        }
        (ids.into_iter().collect(), nobody)
    }

    fn milestones_titled<'a>(&'a self, title: &'a str) -> impl Iterator<Item = Uuid> + 'a {
        self.milestones
            .iter()
            .filter(move |(t, _)| t == title)
            .map(|(_, id)| *id)
    }

    fn issue(&self, project: &str, number: i64) -> Option<Uuid> {
        self.issues
            .iter()
            .find(|(key, n, _)| key == project && *n == number)
            .map(|(_, _, id)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_on_statuses_narrow_the_set_a_list_reads() {
        use IssueStatus::*;
        for (set, values, negated, expected) in [
            (
                vec![],
                vec![Open, InProgress],
                false,
                vec![Open, InProgress],
            ),
            (vec![], vec![Open], true, vec![InProgress, Resolved, Closed]),
            (
                vec![Open, Closed],
                vec![Closed, Resolved],
                false,
                vec![Closed],
            ),
            (vec![Open], vec![Open], true, vec![]),
            (vec![Closed], vec![Open, InProgress], false, vec![]),
        ] {
            assert_eq!(narrow(&set, IssueStatus::ALL, &values, negated), expected);
        }
    }
}
