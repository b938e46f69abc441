//! Bulk edits of up to 500 issues of a project: all or nothing, with a dry run
//! (docs/api.md, "Bulk edits").

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal,
    rpc::{
        Violations,
        idempotency::{self, Begin},
    },
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{
    Issues, authorize_locked, caller, convert,
    projects::{key_or_not_found, visible_project},
    relations,
};
use crate::{
    domain::{
        Access, Action, BulkEdit, Change, IssueChange, IssueFields, IssueKey, ProjectKey,
        authorize_issue_change, calendar_date, issue_numbers, label_list,
    },
    error::{IssuesError, IssuesOnly, Result},
    feed::data,
    store::{self, IssueRow},
};

/// A bulk edit request, parsed.
struct Parsed {
    project: ProjectKey,
    numbers: Vec<i64>,
    edit: BulkEdit,
    /// Issue number → the version the client expects it at.
    expected: HashMap<i64, i64>,
}

fn uuid_field(field: &str, raw: &str) -> std::result::Result<Uuid, Violation> {
    raw.parse()
        .map_err(|_| Violation::new(field, "is not a UUID"))
}

/// A field that is unset (`None`), cleared (empty: `Some(None)`) or set.
fn clearable<T>(
    raw: Option<&str>,
    parse: impl FnOnce(&str) -> std::result::Result<T, Violation>,
) -> std::result::Result<Option<Option<T>>, Violation> {
    match raw {
        None => Ok(None),
        Some("") => Ok(Some(None)),
        Some(raw) => parse(raw).map(|value| Some(Some(value))),
    }
}

/// Whether `changes` sets anything (valid or not).
fn asks_for_a_change(changes: &pb::BulkChanges) -> bool {
    changes.status != 0
        || changes.resolution != 0
        || changes.priority != 0
        || changes.assignee_id.is_some()
        || changes.milestone_id.is_some()
        || changes.due_on.is_some()
        || !changes.add_labels.is_empty()
        || !changes.remove_labels.is_empty()
}

fn parse(req: &pb::BulkUpdateIssuesRequest) -> Result<Parsed> {
    let project = key_or_not_found(&req.project_key)?;
    let mut v = Violations::default();
    let numbers = issue_numbers(&project, &req.issue_keys).unwrap_or_else(|violations| {
        violations.into_iter().for_each(|x| v.push(x));
        Vec::new()
    });
    let changes = req.changes.clone().unwrap_or_default();
    let edit = BulkEdit {
        status: v
            .check(convert::status_from_pb(changes.status).map_err(|_| {
                Violation::new(
                    "changes.status",
                    "must be open, in_progress, resolved or closed",
                )
            }))
            .flatten(),
        resolution: v
            .check(
                convert::resolution_from_pb(changes.resolution).map_err(|_| {
                    Violation::new(
                        "changes.resolution",
                        "must be fixed, wont_fix, duplicate or cannot_reproduce",
                    )
                }),
            )
            .flatten(),
        priority: v
            .check(convert::priority_from_pb(changes.priority).map_err(|_| {
                Violation::new("changes.priority", "must be low, medium, high or urgent")
            }))
            .flatten(),
        assignee: v
            .check(clearable(changes.assignee_id.as_deref(), |raw| {
                uuid_field("changes.assignee_id", raw)
            }))
            .flatten(),
        milestone: v
            .check(clearable(changes.milestone_id.as_deref(), |raw| {
                uuid_field("changes.milestone_id", raw)
            }))
            .flatten(),
        due_on: v
            .check(clearable(changes.due_on.as_deref(), |raw| {
                calendar_date("changes.due_on", raw)
            }))
            .flatten(),
        add_labels: v
            .check(label_list("changes.add_labels", &changes.add_labels))
            .unwrap_or_default(),
        remove_labels: v
            .check(label_list("changes.remove_labels", &changes.remove_labels))
            .unwrap_or_default(),
    };
    if let Some(both) = edit
        .remove_labels
        .iter()
        .find(|l| edit.add_labels.contains(l))
    {
        v.push(Violation::new(
            "changes.remove_labels",
            format!("{both:?} is also in add_labels"),
        ));
    }
    match &req.changes {
        None => v.push(Violation::new("changes", "is required")),
        Some(c) if !asks_for_a_change(c) => {
            v.push(Violation::new("changes", "asks for no change"));
        }
        Some(_) => {}
    }
    let expected = expected_versions(&project, &numbers, &req.expected_versions, &mut v);
    v.finish()?;
    Ok(Parsed {
        project,
        numbers,
        edit,
        expected,
    })
}

/// The expected versions, by issue number: each of an issue the request lists, once, from 1.
fn expected_versions(
    project: &ProjectKey,
    numbers: &[i64],
    raw: &[pb::ExpectedVersion],
    v: &mut Violations,
) -> HashMap<i64, i64> {
    let mut expected = HashMap::with_capacity(raw.len());
    for item in raw {
        let key = IssueKey::parse(&item.issue_key).filter(|key| key.project == *project);
        let Some(key) = key.filter(|key| numbers.contains(&key.number)) else {
            let quoted: String = item.issue_key.chars().take(40).collect();
            v.push(Violation::new(
                "expected_versions",
                format!("{quoted:?} is not one of issue_keys"),
            ));
            continue;
        };
        let field = format!("expected_versions.{key}");
        if item.version < 1 {
            v.push(Violation::new(field, "must be a version, from 1"));
        } else if expected.insert(key.number, item.version).is_some() {
            v.push(Violation::new(field, "is given twice"));
        }
    }
    expected
}

/// One issue's outcome: the issue as it is (or will be) and what changed.
struct Outcome {
    index: usize,
    current: IssueRow,
    updated: IssueFields,
    changes: Vec<Change>,
}

/// Works out every issue's outcome, or the refusal of the whole edit: unknown issues (422),
/// issues the caller may not change this way (403), expected versions that moved (412), values
/// an issue cannot take (422). Each names every issue concerned, not just the first.
fn outcomes(
    parsed: &Parsed,
    mut rows: HashMap<i64, IssueRow>,
    role: Option<crate::domain::Role>,
    me: &UserPrincipal,
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>> {
    let mut unknown = Vec::new();
    let mut forbidden = Vec::new();
    let mut moved = Vec::new();
    let mut refused = Vec::new();
    let mut outcomes = Vec::with_capacity(parsed.numbers.len());
    for (index, number) in parsed.numbers.iter().enumerate() {
        let key = format!("{}-{number}", parsed.project);
        let Some(current) = rows.remove(number) else {
            unknown.push(Violation::new(
                format!("issue_keys[{index}]"),
                format!("{key}: no such issue in this project"),
            ));
            continue;
        };
        let (updated, changes) = match parsed.edit.apply(&current.fields, now) {
            Ok(outcome) => outcome,
            Err(refusal) => {
                refused.push(refusal.violation(&key));
                continue;
            }
        };
        let verdict = authorize_issue_change(
            role,
            me.admin,
            IssueChange::of(&changes),
            current.author_id == me.id,
            current.fields.assignee_id == Some(me.id),
        );
        match verdict {
            Access::Allowed => {}
            Access::Hidden => return Err(IssuesError::NotFound("project")),
            Access::Forbidden => forbidden.push(Violation::new(
                format!("issue_keys[{index}]"),
                format!("{key}: your role does not allow this change to this issue"),
            )),
        }
        if let Some(expected) = parsed.expected.get(number)
            && *expected != current.version
        {
            moved.push(Violation::new(
                format!("expected_versions.{key}"),
                format!("{key} is at version {}, not {expected}", current.version),
            ));
        }
        outcomes.push(Outcome {
            index,
            current,
            updated,
            changes,
        });
    }
    if !unknown.is_empty() {
        return Err(IssuesError::Invalid(unknown));
    }
    if !forbidden.is_empty() {
        return Err(IssuesError::Own(IssuesOnly::BulkForbidden(forbidden)));
    }
    if !moved.is_empty() {
        return Err(IssuesError::Own(IssuesOnly::BulkVersionsMoved(moved)));
    }
    if !refused.is_empty() {
        return Err(IssuesError::Invalid(refused));
    }
    Ok(outcomes)
}

/// The issue after its edit at `now` (unchanged issues as they are).
fn row_after(outcome: &Outcome, now: DateTime<Utc>) -> IssueRow {
    let mut row = outcome.current.clone();
    if !outcome.changes.is_empty() {
        row.fields = outcome.updated.clone();
        row.updated_at = now;
        row.version += 1;
    }
    row
}

/// Each issue's result, with what its relations derive for the caller (read inside `tx`: after
/// the edit's writes, what the edit changes is seen; a dry run sees the other issues as they are).
async fn results(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    keys: &[String],
    outcomes: &[Outcome],
    now: DateTime<Utc>,
) -> Result<Vec<pb::BulkIssueResult>> {
    let rows = outcomes.iter().map(|o| row_after(o, now)).collect();
    let issues = relations::with_relations(&mut **tx, me, rows).await?;
    Ok(outcomes
        .iter()
        .zip(issues)
        .map(|(outcome, issue)| pb::BulkIssueResult {
            issue_key: keys[outcome.index].clone(),
            changes: outcome.changes.iter().map(field_change).collect(),
            issue: Some(issue),
        })
        .collect())
}

fn field_change(change: &Change) -> pb::FieldChange {
    pb::FieldChange {
        field: change.field.to_owned(),
        old_value: change.old.clone(),
        new_value: change.new.clone(),
    }
}

/// Now, to the microsecond the database keeps, so that the answer shows what is stored.
fn stored_now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

pub(super) async fn bulk_update_issues(
    issues: &Issues,
    request: Request<pb::BulkUpdateIssuesRequest>,
) -> Result<pb::BulkUpdateIssuesResponse> {
    let me = caller(&request)?;
    let mut req = request.into_inner();
    // Early answer (a replay needs the right too); the check that counts is under lock below.
    let project = visible_project(issues, &req.project_key, &me).await?;
    let parsed = parse(&req)?;

    // A dry run writes nothing, not even its Idempotency-Key: it can be repeated freely, and
    // the real edit may then use the key.
    let request_id = std::mem::take(&mut req.request_id);
    let key = if req.dry_run { "" } else { request_id.as_str() };
    let (mut tx, claim) =
        match idempotency::begin(&issues.db, me.id, "bulk_update_issues", key, &req).await? {
            Begin::Replay(response) => return Ok(response),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    let role = authorize_locked(
        &mut tx,
        project.key.as_str(),
        &me,
        Action::View,
        "project",
        "",
    )
    .await?;

    // Locked before the issues: deleting a milestone locks it, then its issues.
    let mut invalid = Vec::new();
    if let Some(Some(milestone)) = parsed.edit.milestone
        && !store::lock_milestone_of_project(&mut tx, project.id, milestone).await?
    {
        invalid.push(Violation::new(
            "changes.milestone_id",
            "is not a milestone of this project",
        ));
    }
    if let Some(Some(assignee)) = parsed.edit.assignee
        && store::member(&mut *tx, project.id, assignee)
            .await?
            .is_none()
    {
        invalid.push(Violation::new(
            "changes.assignee_id",
            "must be a member of the project",
        ));
    }
    if !invalid.is_empty() {
        return Err(IssuesError::Invalid(invalid));
    }

    let rows = store::lock_issues_by_numbers(&mut tx, project.id, &parsed.numbers, me.id).await?;
    let rows = rows.into_iter().map(|row| (row.number, row)).collect();
    let now = stored_now();
    let outcomes = outcomes(&parsed, rows, role, &me, now)?;

    let changed: Vec<&Outcome> = outcomes.iter().filter(|o| !o.changes.is_empty()).collect();
    if req.dry_run {
        let results = results(&mut tx, &me, &req.issue_keys, &outcomes, now).await?;
        tx.rollback().await?;
        return Ok(pb::BulkUpdateIssuesResponse {
            dry_run: true,
            changed: changed.len() as i32,
            results,
        });
    }
    if !changed.is_empty() {
        let updates: Vec<(Uuid, &IssueFields)> =
            changed.iter().map(|o| (o.current.id, &o.updated)).collect();
        store::bulk_update_issues(&mut tx, &updates, now).await?;
        let history: Vec<(Uuid, &[Change])> = changed
            .iter()
            .map(|o| (o.current.id, o.changes.as_slice()))
            .collect();
        store::insert_bulk_events(&mut tx, me.id, &history, now).await?;
    }
    let response = pb::BulkUpdateIssuesResponse {
        dry_run: false,
        changed: changed.len() as i32,
        results: results(&mut tx, &me, &req.issue_keys, &outcomes, now).await?,
    };
    if !changed.is_empty() {
        let feed: Vec<serde_json::Value> = response
            .results
            .iter()
            .filter(|r| !r.changes.is_empty())
            .filter_map(|r| r.issue.as_ref().map(data::issue))
            .collect();
        store::append_changes(&mut tx, project.id, "issue.updated", &feed).await?;
    }
    claim.complete(&mut tx, &response).await?;
    tx.commit().await?;
    if !changed.is_empty() {
        issues.feed.changed(project.id);
    }
    tracing::info!(
        project = %project.key,
        issues = response.results.len(),
        changed = response.changed,
        by = %me.id,
        "bulk edit"
    );
    Ok(response)
}
