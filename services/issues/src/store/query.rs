//! The query language in SQL: the names a query uses resolved to ids in the list's scope
//! (usernames, milestone titles, issue keys), its predicates merged with the separate filter
//! parameters of a list (all must hold), and its conditions as predicates on a listed issue `i`.
//!
//! Names that match nothing (a username of no member, a milestone title or an issue key that
//! does not exist in the scope) make their predicate match nothing; they are not errors, so a
//! saved view keeps working after a milestone is deleted or a member leaves.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder};
use uuid::Uuid;

use super::{AssigneeFilter, IssueFilter, ListScope};
use crate::domain::{Attribute, Cmp, IssueStatus, Person, Predicate, Priority, Query, Resolution};

/// A condition of a query with its names resolved, checked on the rows a list reads.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Assigned to one of `ids`, or (`nobody`) to no one.
    Assignee {
        ids: Vec<Uuid>,
        nobody: bool,
    },
    Author(Vec<Uuid>),
    /// Carrying any of these labels.
    Labels(Vec<String>),
    /// In one of `ids`, or (`none`) in no milestone.
    Milestone {
        ids: Vec<Uuid>,
        none: bool,
    },
    Due(Vec<(Cmp, NaiveDate)>),
    Created(Vec<(Cmp, NaiveDate)>),
    Updated(Vec<(Cmp, NaiveDate)>),
    Estimate(Vec<(Cmp, i32)>),
    Resolution {
        values: Vec<Resolution>,
        none: bool,
    },
    /// Blocked by an issue that is neither resolved nor closed.
    Blocked,
    Has(Vec<Attribute>),
    /// A sub-issue of one of these.
    Parent(Vec<Uuid>),
    /// Full-text: every word.
    Words(String),
    /// Full-text: the words in this order.
    Phrase(String),
}

/// A condition, or (`negated`) its opposite: issues for which it does not hold, those without
/// the value included (`-due:<2026-12-31` lists the issues without a due date too).
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub negated: bool,
    pub condition: Condition,
}

impl Clause {
    /// Appends ` AND (…)` to `q`.
    pub fn push(&self, q: &mut QueryBuilder<'_, Postgres>) {
        q.push(" AND (");
        self.condition.push(q);
        q.push(if self.negated { ") IS NOT TRUE" } else { ")" });
    }
}

/// The first instant of `day` (UTC), and of the day after.
fn day_bounds(day: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = day.and_time(chrono::NaiveTime::MIN).and_utc();
    (start, start + chrono::Duration::days(1))
}

impl Condition {
    /// The predicate on `i`, one boolean expression.
    fn push(&self, q: &mut QueryBuilder<'_, Postgres>) {
        match self {
            Condition::Assignee { ids, nobody } => {
                q.push("i.assignee_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
                if *nobody {
                    q.push(" OR i.assignee_id IS NULL");
                }
            }
            Condition::Author(ids) => {
                q.push("i.author_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            Condition::Labels(labels) => {
                q.push("i.labels && ")
                    .push_bind(labels.clone())
                    .push("::text[]");
            }
            Condition::Milestone { ids, none } => {
                q.push("i.milestone_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
                if *none {
                    q.push(" OR i.milestone_id IS NULL");
                }
            }
            Condition::Due(values) => any_of(q, values, |q, (cmp, day)| {
                q.push(format!("i.due_on {} ", cmp.as_sql()))
                    .push_bind(*day)
                    .push("::date");
            }),
            Condition::Estimate(values) => any_of(q, values, |q, (cmp, points)| {
                q.push(format!("i.estimate {} ", cmp.as_sql()))
                    .push_bind(*points);
            }),
            Condition::Created(values) => any_of(q, values, |q, value| {
                on_days(q, "i.created_at", *value);
            }),
            Condition::Updated(values) => any_of(q, values, |q, value| {
                on_days(q, "i.updated_at", *value);
            }),
            Condition::Resolution { values, none } => {
                let values: Vec<&str> = values.iter().map(|r| r.as_str()).collect();
                q.push("i.resolution = ANY(").push_bind(values).push(")");
                if *none {
                    q.push(" OR i.resolution IS NULL");
                }
            }
            Condition::Blocked => {
                // issue_relations_target_idx, then each blocker by its primary key.
                q.push(
                    "EXISTS (SELECT 1 FROM issue_relations r JOIN issues b ON b.id = r.source_id \
                     WHERE r.target_id = i.id AND r.kind = 'blocks' \
                     AND b.status IN ('open', 'in_progress'))",
                );
            }
            Condition::Has(attributes) => any_of(q, attributes, |q, attribute| {
                q.push(match attribute {
                    Attribute::Assignee => "i.assignee_id IS NOT NULL",
                    Attribute::Milestone => "i.milestone_id IS NOT NULL",
                    Attribute::Due => "i.due_on IS NOT NULL",
                    Attribute::Estimate => "i.estimate IS NOT NULL",
                    Attribute::Label => "cardinality(i.labels) > 0",
                    Attribute::Parent => "i.parent_id IS NOT NULL",
                });
            }),
            Condition::Parent(ids) => {
                q.push("i.parent_id = ANY(")
                    .push_bind(ids.clone())
                    .push(")");
            }
            Condition::Words(words) => {
                q.push("i.search @@ plainto_tsquery('simple', ")
                    .push_bind(words.clone())
                    .push(")");
            }
            Condition::Phrase(words) => {
                q.push("i.search @@ phraseto_tsquery('simple', ")
                    .push_bind(words.clone())
                    .push(")");
            }
        }
    }
}

/// `(a OR b OR …)` of `values`.
fn any_of<T>(
    q: &mut QueryBuilder<'_, Postgres>,
    values: &[T],
    mut push: impl FnMut(&mut QueryBuilder<'_, Postgres>, &T),
) {
    q.push("false");
    for value in values {
        q.push(" OR ");
        push(q, value);
    }
}

/// A timestamp `column` compared with a day (UTC): `= day` is within it, `< day` before it,
/// `<= day` before its end, `> day` after its end, `>= day` from its start.
fn on_days(q: &mut QueryBuilder<'_, Postgres>, column: &str, (cmp, day): (Cmp, NaiveDate)) {
    let (start, end) = day_bounds(day);
    match cmp {
        Cmp::Eq => {
            q.push(format!("({column} >= "))
                .push_bind(start)
                .push(format!(" AND {column} < "))
                .push_bind(end)
                .push(")");
        }
        Cmp::Lt => {
            q.push(format!("{column} < ")).push_bind(start);
        }
        Cmp::Le => {
            q.push(format!("{column} < ")).push_bind(end);
        }
        Cmp::Gt => {
            q.push(format!("{column} >= ")).push_bind(end);
        }
        Cmp::Ge => {
            q.push(format!("{column} >= ")).push_bind(start);
        }
    }
}

/// The projects of `scope` as an array parameter, `NULL` for every project.
fn scope_ids(scope: &ListScope) -> Option<Vec<Uuid>> {
    match scope {
        ListScope::Project { id, .. } => Some(vec![*id]),
        ListScope::Projects(ids) => Some(ids.clone()),
        ListScope::All => None,
    }
}

/// The user ids of the members named `usernames` in the projects of `scope`, by username.
pub async fn member_ids_by_usernames(
    db: impl PgExecutor<'_>,
    scope: &ListScope,
    usernames: &[String],
) -> sqlx::Result<Vec<(String, Uuid)>> {
    sqlx::query_as(
        "SELECT DISTINCT username, user_id FROM members
         WHERE username = ANY($1) AND ($2::uuid[] IS NULL OR project_id = ANY($2))",
    )
    .bind(usernames)
    .bind(scope_ids(scope))
    .fetch_all(db)
    .await
}

/// The ids of the milestones titled `titles` in the projects of `scope`, by title.
pub async fn milestone_ids_by_titles(
    db: impl PgExecutor<'_>,
    scope: &ListScope,
    titles: &[String],
) -> sqlx::Result<Vec<(String, Uuid)>> {
    sqlx::query_as(
        "SELECT title, id FROM milestones
         WHERE title = ANY($1) AND ($2::uuid[] IS NULL OR project_id = ANY($2))",
    )
    .bind(titles)
    .bind(scope_ids(scope))
    .fetch_all(db)
    .await
}

/// The ids of the issues `keys` (project key, number) in the projects of `scope`.
pub async fn issue_ids_by_keys(
    db: impl PgExecutor<'_>,
    scope: &ListScope,
    keys: &[(String, i64)],
) -> sqlx::Result<Vec<(String, i64, Uuid)>> {
    let (projects, numbers): (Vec<String>, Vec<i64>) = keys.iter().cloned().unzip();
    sqlx::query_as(
        "SELECT p.key, i.number, i.id
         FROM unnest($1::text[], $2::bigint[]) AS k(key, number)
         JOIN projects p ON p.key = k.key
         JOIN issues i ON i.project_id = p.id AND i.number = k.number
         WHERE $3::uuid[] IS NULL OR p.id = ANY($3)",
    )
    .bind(projects)
    .bind(numbers)
    .bind(scope_ids(scope))
    .fetch_all(db)
    .await
}

/// The statuses of done work, the only ones with a resolution.
const DONE: &[IssueStatus] = &[IssueStatus::Resolved, IssueStatus::Closed];

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
pub async fn apply_query(
    db: &PgPool,
    scope: &ListScope,
    me: Uuid,
    query: Query,
    filter: &mut IssueFilter,
) -> sqlx::Result<bool> {
    let names = Names::resolve(db, scope, &query).await?;
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
            Predicate::Resolution(values) => {
                let none = values.iter().any(Option::is_none);
                if !negated && !none {
                    // Only resolved and closed issues have a resolution (reopening clears it):
                    // the list reads only those.
                    filter.statuses = narrow(&filter.statuses, IssueStatus::ALL, DONE, false);
                    if filter.statuses.is_empty() {
                        return Ok(false);
                    }
                }
                Condition::Resolution {
                    values: values.iter().flatten().copied().collect(),
                    none,
                }
            }
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
    async fn resolve(db: &PgPool, scope: &ListScope, query: &Query) -> sqlx::Result<Names> {
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
            names.members = member_ids_by_usernames(db, scope, &usernames).await?;
        }
        if !titles.is_empty() {
            names.milestones = milestone_ids_by_titles(db, scope, &titles).await?;
        }
        if !keys.is_empty() {
            names.issues = issue_ids_by_keys(db, scope, &keys).await?;
        }
        Ok(names)
    }

    /// The ids of `people`, and whether they include nobody.
    fn people(&self, people: &[Person], me: Uuid) -> (Vec<Uuid>, bool) {
        let mut ids = BTreeSet::new();
        let mut nobody = false;
        for person in people {
            match person {
                Person::Me => {
                    ids.insert(me);
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
