//! Relations between issues: add, remove, list; cycles refused; sub-issue progress and blocked
//! state on every issue the service returns ([`with_relations`]).

use std::collections::HashMap;

use chrono::Utc;
use sqlx::{Postgres, Transaction};
use swatter_common::{auth::UserPrincipal, rpc::timestamp, status::Violation};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Issues, caller, check, convert, issues::visible_issue, locked_role, within_token};
use crate::{
    domain::{
        Access, Action, Change, EdgeKind, IssueKey, Link, MAX_SUB_ISSUE_DEPTH, MAX_SUB_ISSUES,
        RelationKind, authorize, authorize_relation_change, cycle_text, depth_allows, path_to,
    },
    error::{IssuesError, IssuesOnly, Result},
    store::{self, Graph, IssueRef, IssueRow, Viewer},
};

/// Most rows of `issue_relations` one issue may be part of (sub-issues are bounded apart).
pub const MAX_RELATIONS_PER_ISSUE: i64 = 500;

const TRIAGE_ONLY: &str = "only maintainers and owners change the relations of an issue";

/// Who is asking, as the relation queries decide visibility.
pub(super) fn viewer(me: &UserPrincipal) -> Viewer {
    Viewer {
        id: me.id,
        admin: me.admin,
        projects: me.project_limit().map(<[String]>::to_vec),
    }
}

pub(super) fn kind_from_pb(raw: i32) -> Option<RelationKind> {
    Some(match pb::RelationKind::try_from(raw).ok()? {
        pb::RelationKind::Unspecified => return None,
        pb::RelationKind::Blocks => RelationKind::Blocks,
        pb::RelationKind::BlockedBy => RelationKind::BlockedBy,
        pb::RelationKind::Duplicates => RelationKind::Duplicates,
        pb::RelationKind::DuplicatedBy => RelationKind::DuplicatedBy,
        pb::RelationKind::RelatesTo => RelationKind::RelatesTo,
        pb::RelationKind::ParentOf => RelationKind::ParentOf,
        pb::RelationKind::ChildOf => RelationKind::ChildOf,
    })
}

fn kind_to_pb(kind: RelationKind) -> pb::RelationKind {
    match kind {
        RelationKind::Blocks => pb::RelationKind::Blocks,
        RelationKind::BlockedBy => pb::RelationKind::BlockedBy,
        RelationKind::Duplicates => pb::RelationKind::Duplicates,
        RelationKind::DuplicatedBy => pb::RelationKind::DuplicatedBy,
        RelationKind::RelatesTo => pb::RelationKind::RelatesTo,
        RelationKind::ParentOf => pb::RelationKind::ParentOf,
        RelationKind::ChildOf => pb::RelationKind::ChildOf,
    }
}

/// A request's kind, target and issue, checked before anything is read.
struct Parsed {
    key: IssueKey,
    kind: RelationKind,
    target: IssueKey,
}

fn parse(issue_key: &str, kind: i32, target_key: &str) -> Result<Parsed> {
    // The issue of the URL names nothing when malformed (404); the body's fields are invalid.
    let key = IssueKey::parse(issue_key).ok_or(IssuesError::NotFound("issue"))?;
    let mut violations = Vec::new();
    let kind = kind_from_pb(kind);
    if kind.is_none() {
        violations.push(Violation::new(
            "kind",
            "must be blocks, blocked_by, duplicates, duplicated_by, relates_to, parent_of or child_of",
        ));
    }
    let target = IssueKey::parse(target_key);
    match &target {
        None => violations.push(Violation::new("target_key", "must be an issue key (KEY-n)")),
        Some(target) if *target == key => violations.push(Violation::new(
            "target_key",
            "an issue cannot be related to itself",
        )),
        Some(_) => {}
    }
    match (kind, target) {
        (Some(kind), Some(target)) if violations.is_empty() => Ok(Parsed { key, kind, target }),
        _ => Err(IssuesError::Invalid(violations)),
    }
}

/// The graph whose lock `kind` needs (see [`store::lock_graph`]).
fn graph_of(kind: RelationKind) -> Option<Graph> {
    match kind {
        RelationKind::Blocks | RelationKind::BlockedBy => Some(Graph::Blocks),
        RelationKind::ParentOf | RelationKind::ChildOf => Some(Graph::Parents),
        RelationKind::Duplicates | RelationKind::DuplicatedBy | RelationKind::RelatesTo => None,
    }
}

/// The issue of the URL, locked, when the caller may change its relations.
async fn locked_subject(
    tx: &mut Transaction<'_, Postgres>,
    key: &IssueKey,
    me: &UserPrincipal,
) -> Result<IssueRef> {
    within_token(me, key.project.as_str(), "issue")?;
    let role = locked_role(tx, key.project.as_str(), me).await?;
    check(
        authorize_relation_change(role, me.admin),
        "issue",
        TRIAGE_ONLY,
    )?;
    store::lock_issue_ref(tx, key.project.as_str(), key.number)
        .await?
        .ok_or(IssuesError::NotFound("issue"))
}

/// The other issue of a relation, if the caller may see it (its membership read under lock, as
/// writes decide). `None` otherwise: unknown and invisible are the same.
pub(super) async fn visible_other(
    tx: &mut Transaction<'_, Postgres>,
    key: &IssueKey,
    me: &UserPrincipal,
) -> Result<Option<IssueRef>> {
    if !me.may_access_project(key.project.as_str()) {
        return Ok(None);
    }
    let role = locked_role(tx, key.project.as_str(), me).await?;
    if authorize(role, me.admin, Action::View) != Access::Allowed {
        return Ok(None);
    }
    Ok(store::share_issue_ref(&mut **tx, key.project.as_str(), key.number).await?)
}

fn unknown_target(field: &'static str) -> IssuesError {
    IssuesError::invalid(Violation::new(field, "names no issue you can see"))
}

pub(super) async fn add_relation(
    issues: &Issues,
    request: Request<pb::AddRelationRequest>,
) -> Result<pb::Relation> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let Parsed { key, kind, target } = parse(&req.issue_key, req.kind, &req.target_key)?;

    let mut tx = issues.db.begin().await?;
    if let Some(graph) = graph_of(kind) {
        store::lock_graph(&mut tx, graph).await?;
    }
    let this = locked_subject(&mut tx, &key, &me).await?;
    let other = visible_other(&mut tx, &target, &me)
        .await?
        .ok_or_else(|| unknown_target("target_key"))?;
    let created_at = link(&mut tx, &me, &this, kind, &other).await?;
    record(&mut tx, &me, &this, kind, &other, true).await?;
    tx.commit().await?;
    issues.feed.changed(this.project_id);
    issues.feed.changed(other.project_id);
    Ok(pb::Relation {
        kind: kind_to_pb(kind) as i32,
        issue_key: other.key(),
        hidden: false,
        title: other.title,
        status: convert::status_to_pb(other.status) as i32,
        created_at: Some(timestamp(created_at)),
    })
}

/// Stores "`this` <kind> `other`" after checking every rule; returns when it was made.
async fn link(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    this: &IssueRef,
    kind: RelationKind,
    other: &IssueRef,
) -> Result<chrono::DateTime<Utc>> {
    match kind.link(this.id, other.id) {
        Link::Edge {
            kind: edge,
            source,
            target,
        } => {
            if edge == EdgeKind::Blocks {
                refuse_blocks_cycle(tx, me, source, target).await?;
            }
            for end in [this.id, other.id] {
                if store::count_edges(&mut **tx, end).await? >= MAX_RELATIONS_PER_ISSUE {
                    return Err(IssuesError::FailedPrecondition(
                        format!(
                            "an issue may have at most {MAX_RELATIONS_PER_ISSUE} relations \
                             (sub-issues aside)"
                        )
                        .into(),
                    ));
                }
            }
            store::insert_edge(&mut **tx, edge, source, target, me.id)
                .await?
                .ok_or(IssuesError::Conflict {
                    field: "target_key",
                    message: "the issues are already related this way",
                })
        }
        Link::Parent { parent, child } => {
            let (parent_ref, child_ref) = if parent == this.id {
                (this, other)
            } else {
                (other, this)
            };
            match child_ref.parent_id {
                Some(current) if current == parent => {
                    return Err(IssuesError::Conflict {
                        field: "target_key",
                        message: "the issues are already related this way",
                    });
                }
                Some(_) => {
                    return Err(IssuesError::FailedPrecondition(
                        format!(
                            "{} already has a parent; remove that relation first (an issue has \
                             at most one parent)",
                            child_ref.key()
                        )
                        .into(),
                    ));
                }
                None => {}
            }
            // `parent` and its ancestors, nearest first: the child among them closes a cycle.
            let up = store::ancestors(&mut **tx, parent, 64).await?;
            if let Some(at) = up.iter().position(|id| *id == child) {
                // parent → child → … → parent, by "parent of".
                let mut cycle = vec![parent];
                cycle.extend(up[..=at].iter().rev());
                return Err(cycle_error(tx, me, &cycle).await);
            }
            let height =
                store::subtree_height(&mut **tx, child, MAX_SUB_ISSUE_DEPTH as i32).await?;
            if !depth_allows(up.len() - 1, height as usize) {
                return Err(IssuesError::FailedPrecondition(
                    format!(
                        "sub-issues nest at most {MAX_SUB_ISSUE_DEPTH} levels below a top-level \
                         issue; making {} a sub-issue of {} would nest deeper",
                        child_ref.key(),
                        parent_ref.key()
                    )
                    .into(),
                ));
            }
            if store::count_children(&mut **tx, parent).await? >= MAX_SUB_ISSUES {
                return Err(IssuesError::FailedPrecondition(
                    format!(
                        "{} already has {MAX_SUB_ISSUES} sub-issues, the most an issue may have",
                        parent_ref.key()
                    )
                    .into(),
                ));
            }
            // A child deleted meanwhile is gone.
            store::set_parent(&mut **tx, child, parent)
                .await?
                .ok_or(IssuesError::NotFound("issue"))
        }
    }
}

/// Refuses `source` blocks `target` when `target` already (transitively) blocks `source`.
async fn refuse_blocks_cycle(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    source: Uuid,
    target: Uuid,
) -> Result<()> {
    let edges = store::blocks_reachable_from(&mut **tx, target).await?;
    let mut next: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (from, to) in edges {
        next.entry(from).or_default().push(to);
    }
    // Breadth first from `target`, so that the cycle named is a shortest one.
    let mut reached = HashMap::from([(target, None)]);
    let mut frontier = vec![target];
    while !frontier.is_empty() && !reached.contains_key(&source) {
        let mut following = Vec::new();
        for from in frontier {
            for to in next.get(&from).into_iter().flatten() {
                if let std::collections::hash_map::Entry::Vacant(entry) = reached.entry(*to) {
                    entry.insert(Some(from));
                    following.push(*to);
                }
            }
        }
        frontier = following;
    }
    match path_to(&reached, target, source) {
        Some(path) => {
            let mut cycle = vec![source];
            cycle.extend(path);
            Err(cycle_error(tx, me, &cycle).await)
        }
        None => Ok(()),
    }
}

/// The error naming the cycle `ids` (first and last the same), issues the caller may not see
/// shown as `(hidden)`.
async fn cycle_error(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    ids: &[Uuid],
) -> IssuesError {
    let keys = match store::keys_of(&mut **tx, ids, &viewer(me)).await {
        Ok(keys) => keys,
        Err(error) => return error.into(),
    };
    let named: Vec<String> = ids
        .iter()
        .map(|id| match keys.get(id) {
            Some((key, true)) => key.clone(),
            _ => "(hidden)".to_owned(),
        })
        .collect();
    tracing::debug!(cycle = %cycle_text(&named), "relation refused: cycle");
    IssuesError::Own(IssuesOnly::RelationCycle(named))
}

/// The history entries of both issues and the change-feed events of both projects.
async fn record(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    this: &IssueRef,
    kind: RelationKind,
    other: &IssueRef,
    added: bool,
) -> Result<()> {
    let now = Utc::now();
    for (issue, kind, other) in [(this, kind, other), (other, kind.inverse(), this)] {
        let key = Some(other.key());
        let (old, new) = if added { (None, key) } else { (key, None) };
        let change = Change {
            kind: "relation",
            field: kind.as_str(),
            old,
            new,
        };
        store::insert_events(&mut **tx, issue.id, me.id, &[change], now).await?;
    }
    let event = if added {
        "relation.added"
    } else {
        "relation.removed"
    };
    let projects = if this.project_id == other.project_id {
        vec![(this, kind, other)]
    } else {
        vec![(this, kind, other), (other, kind.inverse(), this)]
    };
    for (issue, kind, target) in projects {
        // Readers of one project's feed may not see another project: its keys stay out.
        let target_key = (target.project_id == issue.project_id).then(|| target.key());
        let data = serde_json::json!({
            "issue_key": issue.key(),
            "kind": kind.as_str(),
            "target_key": target_key,
        });
        store::append_change(tx, issue.project_id, event, &data).await?;
    }
    Ok(())
}

pub(super) async fn remove_relation(
    issues: &Issues,
    request: Request<pb::RemoveRelationRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let req = request.into_inner();
    // A relation is named like a resource: a malformed other key names none (404).
    let Parsed { key, kind, target } =
        parse(&req.issue_key, req.kind, &req.target_key).map_err(|error| match error {
            IssuesError::Invalid(v) if v.iter().all(|v| v.field == "target_key") => {
                IssuesError::NotFound("relation")
            }
            other => other,
        })?;

    let mut tx = issues.db.begin().await?;
    let this = locked_subject(&mut tx, &key, &me).await?;
    let other = visible_other(&mut tx, &target, &me)
        .await?
        .ok_or(IssuesError::NotFound("relation"))?;
    let removed = match kind.link(this.id, other.id) {
        Link::Edge {
            kind,
            source,
            target,
        } => store::delete_edge(&mut *tx, kind, source, target).await?,
        Link::Parent { parent, child } => store::clear_parent(&mut *tx, child, parent).await?,
    };
    if !removed {
        return Err(IssuesError::NotFound("relation"));
    }
    record(&mut tx, &me, &this, kind, &other, false).await?;
    tx.commit().await?;
    issues.feed.changed(this.project_id);
    issues.feed.changed(other.project_id);
    Ok(())
}

pub(super) async fn list_relations(
    issues: &Issues,
    request: Request<pb::ListRelationsRequest>,
) -> Result<pb::ListRelationsResponse> {
    let me = caller(&request)?;
    let issue = visible_issue(issues, &request.get_ref().issue_key, &me).await?;
    let rows = store::list_relations(&issues.db, issue.id, &viewer(&me)).await?;
    let mut relations = Vec::with_capacity(rows.len());
    for row in rows {
        let kind: RelationKind = row
            .kind
            .parse()
            .map_err(|()| anyhow::anyhow!("unknown relation kind {:?}", row.kind))?;
        relations.push(if row.visible {
            pb::Relation {
                kind: kind_to_pb(kind) as i32,
                issue_key: format!("{}-{}", row.project_key, row.number),
                hidden: false,
                title: row.title,
                status: convert::status_to_pb(row.status) as i32,
                created_at: row.created_at.map(timestamp),
            }
        } else {
            pb::Relation {
                kind: kind_to_pb(kind) as i32,
                hidden: true,
                ..Default::default()
            }
        });
    }
    // Hidden ones last, so that what can be read comes first.
    relations.sort_by_key(|r| r.hidden);
    Ok(pb::ListRelationsResponse { relations })
}

/// Issues as the caller sees them, with what their relations add (parent, sub-issue progress,
/// blocked, duplicate of), read for the whole page in one query.
pub(super) async fn with_relations(
    db: impl sqlx::PgExecutor<'_>,
    me: &UserPrincipal,
    rows: Vec<IssueRow>,
) -> Result<Vec<pb::Issue>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let derived: HashMap<Uuid, store::Derived> = store::derived(db, &ids, &viewer(me))
        .await?
        .into_iter()
        .map(|d| (d.id, d))
        .collect();
    Ok(rows
        .into_iter()
        .map(|row| {
            let found = derived.get(&row.id).cloned();
            let mut issue = convert::issue(row);
            if let Some(d) = found {
                issue.parent_key = d.parent_key.unwrap_or_default();
                issue.parent_hidden = d.parent_hidden;
                issue.sub_issues_total = d.sub_issues_total as i32;
                issue.sub_issues_done = d.sub_issues_done as i32;
                issue.blocked = d.blocked;
                issue.duplicate_of = d.duplicate_of.unwrap_or_default();
            }
            issue
        })
        .collect())
}

/// One issue with its relations' derived fields ([`with_relations`]).
pub(super) async fn with_relations_one(
    db: impl sqlx::PgExecutor<'_>,
    me: &UserPrincipal,
    row: IssueRow,
) -> Result<pb::Issue> {
    let mut issues = with_relations(db, me, vec![row]).await?;
    issues
        .pop()
        .ok_or_else(|| anyhow::anyhow!("an issue went missing").into())
}

/// `duplicate_of` of an issue update: the key of another issue.
pub(super) fn duplicate_key(
    raw: &str,
    this: &IssueKey,
) -> std::result::Result<IssueKey, Violation> {
    match IssueKey::parse(raw) {
        None => Err(Violation::new(
            "duplicate_of",
            "must be an issue key (KEY-n)",
        )),
        Some(target) if target == *this => Err(Violation::new(
            "duplicate_of",
            "an issue cannot duplicate itself",
        )),
        Some(target) => Ok(target),
    }
}

/// Closing as a duplicate (`duplicate_of` of an update, inside its transaction): records
/// "`issue` duplicates `target`" with its history and events. Needs the resolution after the
/// update to be `duplicate`. Whether a relation was added (not when it already existed).
pub(super) async fn close_as_duplicate(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    issue: &IssueRow,
    resolution: Option<crate::domain::Resolution>,
    target: Option<&IssueKey>,
) -> Result<bool> {
    let Some(target) = target else {
        return Ok(false);
    };
    if resolution != Some(crate::domain::Resolution::Duplicate) {
        return Err(IssuesError::invalid(Violation::new(
            "duplicate_of",
            "is only for an issue resolved or closed with resolution duplicate",
        )));
    }
    let other = visible_other(tx, target, me)
        .await?
        .ok_or_else(|| unknown_target("duplicate_of"))?;
    let this = IssueRef {
        id: issue.id,
        project_id: issue.project_id,
        project_key: issue.project_key.clone(),
        number: issue.number,
        title: issue.fields.title.clone(),
        status: issue.fields.status,
        parent_id: None,
    };
    let link = RelationKind::Duplicates.link(this.id, other.id);
    let Link::Edge {
        kind,
        source,
        target,
    } = link
    else {
        unreachable!("duplicates is an edge");
    };
    if store::insert_edge(&mut **tx, kind, source, target, me.id)
        .await?
        .is_none()
    {
        return Ok(false);
    }
    record(tx, me, &this, RelationKind::Duplicates, &other, true).await?;
    Ok(true)
}

/// History entries of relations name the other issue: one in a project the caller may not see
/// loses its key (the value becomes `(hidden)`), as the relation list hides it.
pub(super) async fn hide_in_history(
    db: impl sqlx::PgExecutor<'_>,
    me: &UserPrincipal,
    events: &mut [pb::IssueEvent],
) -> Result<()> {
    let project_of = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(IssueKey::parse)
            .map(|key| key.project.as_str().to_owned())
    };
    let mut projects: Vec<String> = events
        .iter()
        .filter(|e| e.kind == "relation")
        .flat_map(|e| [project_of(&e.old_value), project_of(&e.new_value)])
        .flatten()
        .collect();
    if projects.is_empty() {
        return Ok(());
    }
    projects.sort();
    projects.dedup();
    let visible = store::visible_project_keys(db, &projects, &viewer(me)).await?;
    for event in events.iter_mut().filter(|e| e.kind == "relation") {
        for value in [&mut event.old_value, &mut event.new_value] {
            if project_of(value).is_some_and(|p| !visible.contains(&p)) {
                *value = Some("(hidden)".to_owned());
            }
        }
    }
    Ok(())
}
