//! Handlers for issues: create, read, list and search, update with optimistic concurrency,
//! delete, history, and the export stream for reports.

use std::sync::LazyLock;

use chrono::{NaiveDate, Utc};
use sqlx::{Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal,
    pagination,
    rpc::{
        UpdateMask, Violations,
        idempotency::{self, Begin},
        update_mask::Fields,
    },
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Status};
use uuid::Uuid;

use super::{
    IssueStream, Issues, authorize_locked, caller, check, convert, locked_role,
    notifications::{self, Mentioning},
    projects::{key_or_not_found, project_with_access, visible_project},
    relations, within_token,
};
use crate::{
    domain::{
        Action, Description, IssueChange, IssueKey, IssueSort, IssueStatus, IssueTitle, Labels,
        Patch, Priority, Query, Resolution, Role, authorize, authorize_issue_change, calendar_date,
        check_resolution, label_filter, roles_allowed, search_query,
    },
    error::{IssuesError, IssuesOnly, Result},
    feed::data,
    store::{self, AssigneeFilter, IssueCursor, IssueFilter, IssueRow, ListScope, NewIssue},
};

const REPORTERS_UP: &str = "viewers may not create issues";

/// The roles whose members may file issues, from the permission table, worked out once.
static CREATORS: LazyLock<Vec<Role>> = LazyLock::new(|| roles_allowed(Action::CreateIssue));

fn uuid_field(field: &str, raw: &str) -> std::result::Result<Uuid, Violation> {
    raw.parse()
        .map_err(|_| Violation::new(field, "is not a UUID"))
}

/// A resolution: unspecified (0) is none.
fn resolution_field(raw: i32) -> std::result::Result<Option<Resolution>, Violation> {
    convert::resolution_from_pb(raw).map_err(|_| {
        Violation::new(
            "resolution",
            "must be fixed, wont_fix, duplicate or cannot_reproduce",
        )
    })
}

fn priority_field(raw: i32) -> std::result::Result<Option<Priority>, Violation> {
    convert::priority_from_pb(raw)
        .map_err(|_| Violation::new("priority", "must be low, medium, high or urgent"))
}

fn status_field(raw: i32) -> std::result::Result<Option<IssueStatus>, Violation> {
    convert::status_from_pb(raw)
        .map_err(|_| Violation::new("status", "must be open, in_progress, resolved or closed"))
}

/// A priority that has to be given (unspecified is refused).
fn given_priority(raw: i32) -> std::result::Result<Priority, Violation> {
    priority_field(raw)?
        .ok_or_else(|| Violation::new("priority", "must be low, medium, high or urgent"))
}

/// A status that has to be given (unspecified is refused).
fn given_status(raw: i32) -> std::result::Result<IssueStatus, Violation> {
    status_field(raw)?
        .ok_or_else(|| Violation::new("status", "must be open, in_progress, resolved or closed"))
}

/// An enum field as an update reads it: unspecified (0) is unset.
fn enum_set(raw: i32) -> Option<i32> {
    (raw != 0).then_some(raw)
}

/// What `UpdateIssue`'s `update_mask` may name.
const ISSUE_FIELDS: Fields = Fields {
    updatable: &[
        "title",
        "description",
        "status",
        "priority",
        "assignee_id",
        "labels",
        "resolution",
        "due_on",
        "estimate",
        "milestone_id",
    ],
    fixed: &[
        "id",
        "key",
        "project_key",
        "number",
        "author_id",
        "created_at",
        "updated_at",
        "closed_at",
        "version",
        "etag",
    ],
};

/// An issue key from a request: malformed keys name no issue.
fn issue_key(raw: &str) -> Result<IssueKey> {
    IssueKey::parse(raw).ok_or(IssuesError::NotFound("issue"))
}

/// Loads an issue the caller may see.
pub(super) async fn visible_issue(
    issues: &Issues,
    raw_key: &str,
    me: &UserPrincipal,
) -> Result<IssueRow> {
    let key = issue_key(raw_key)?;
    within_token(me, key.project.as_str(), "issue")?;
    let issue = store::issue_by_key(&issues.db, key.project.as_str(), key.number, me.id)
        .await?
        .ok_or(IssuesError::NotFound("issue"))?;
    check(
        authorize(issue.my_role, me.admin, Action::View),
        "issue",
        "",
    )?;
    Ok(issue)
}

/// An issue locked for a change, and the caller's role read under the lock of their membership
/// ([`locked_role`], taken first: every writer locks project, then membership, then issue). The
/// caller must at least see the issue.
async fn locked_issue(
    tx: &mut Transaction<'_, Postgres>,
    key: &IssueKey,
    me: &UserPrincipal,
) -> Result<(Option<Role>, IssueRow)> {
    within_token(me, key.project.as_str(), "issue")?;
    let role = locked_role(tx, key.project.as_str(), me).await?;
    check(authorize(role, me.admin, Action::View), "issue", "")?;
    let issue = store::lock_issue_by_key(tx, key.project.as_str(), key.number, me.id)
        .await?
        .ok_or(IssuesError::NotFound("issue"))?;
    Ok((role, issue))
}

/// The planning fields of a new issue or an update, as sent: absent leaves them (`None`),
/// `Some(None)` clears them.
#[derive(Debug, Default)]
struct Planning {
    due_on: Option<Option<NaiveDate>>,
    estimate: Option<Option<i32>>,
    milestone: Option<Option<Uuid>>,
}

impl Planning {
    /// Parses what a request sends: an empty `due_on` or `milestone_id` clears it.
    fn parse(
        due_on: Option<String>,
        estimate: Option<Option<i32>>,
        milestone_id: Option<String>,
        v: &mut Violations,
    ) -> Self {
        Planning {
            due_on: match due_on.as_deref() {
                None => None,
                Some("") => Some(None),
                Some(raw) => v.check(calendar_date("due_on", raw)).map(Some),
            },
            estimate: estimate.map(|e| e.and_then(|e| v.check(crate::domain::estimate(e)))),
            milestone: match milestone_id.as_deref() {
                None => None,
                Some("") => Some(None),
                Some(raw) => v.check(uuid_field("milestone_id", raw)).map(Some),
            },
        }
    }

    fn is_empty(&self) -> bool {
        [
            self.due_on.flatten().is_some(),
            self.estimate.flatten().is_some(),
            self.milestone.flatten().is_some(),
        ]
        .iter()
        .all(|set| !set)
    }
}

/// A masked field that may be cleared: named in the mask, unset clears it.
fn clearable<T>(mask: &UpdateMask, path: &str, value: Option<T>) -> Option<Option<T>> {
    match mask {
        UpdateMask::Populated => value.map(Some),
        UpdateMask::Paths(paths) if paths.contains(path) => Some(value),
        UpdateMask::Paths(_) => None,
    }
}

/// Refuses a milestone that is not one of the project's (or no longer exists).
async fn ensure_milestone_of(
    db: impl sqlx::PgExecutor<'_>,
    project_id: Uuid,
    milestone: Uuid,
) -> Result<()> {
    match store::milestone_project(db, milestone).await? {
        Some(project) if project == project_id => Ok(()),
        _ => Err(IssuesError::invalid(Violation::new(
            "milestone_id",
            "must be a milestone of the issue's project",
        ))),
    }
}

async fn ensure_member(
    db: impl sqlx::PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> Result<()> {
    match store::member(db, project_id, user_id).await? {
        Some(_) => Ok(()),
        None => Err(IssuesError::invalid(Violation::new(
            "assignee_id",
            "must be a member of the project",
        ))),
    }
}

pub(super) async fn create_issue(
    issues: &Issues,
    request: Request<pb::CreateIssueRequest>,
) -> Result<pb::Issue> {
    let me = caller(&request)?;
    let mut req = request.into_inner();
    let mut v = Violations::default();
    let title = v.check(IssueTitle::parse("title", &req.title));
    let description = v.check(Description::parse(
        "description",
        req.description.as_deref().unwrap_or(""),
    ));
    let priority = v
        .check(priority_field(req.priority))
        .map(|p| p.unwrap_or(Priority::Medium));
    let labels = v.check(Labels::parse(&req.labels));
    let assignee = req
        .assignee_id
        .as_deref()
        .filter(|a| !a.is_empty())
        .map(|a| v.check(uuid_field("assignee_id", a)));
    let planning = Planning::parse(
        req.due_on.clone(),
        req.estimate.map(Some),
        req.milestone_id.clone(),
        &mut v,
    );
    v.finish()?;
    let (Some(title), Some(description), Some(priority), Some(labels)) =
        (title, description, priority, labels)
    else {
        unreachable!("violations were reported above");
    };
    let assignee = assignee.flatten();
    let new = NewIssue {
        id: Uuid::now_v7(),
        title: title.as_str(),
        description: description.as_str(),
        priority,
        labels: labels.as_slice(),
        author_id: me.id,
        assignee_id: assignee,
        due_on: planning.due_on.flatten(),
        estimate: planning.estimate.flatten(),
        milestone_id: planning.milestone.flatten(),
    };

    // The common case, a member filing an issue without assigning it or an Idempotency-Key, is
    // one statement: membership, role, number, issue and history, under the same locks as below.
    // Anything else (not such a member, an admin, a key, an assignee) takes the general path,
    // which also gives the right refusal.
    if req.request_id.is_empty() && assignee.is_none() && planning.is_empty() {
        let key = key_or_not_found(&req.project_key)?;
        within_token(&me, key.as_str(), "project")?;
        let mut tx = issues.db.begin().await?;
        if let Some(row) =
            store::create_issue_as_member(&mut *tx, key.as_str(), &CREATORS, &new).await?
        {
            let project_id = row.project_id;
            let issue = convert::issue(row);
            store::append_change(&mut tx, project_id, "issue.created", &data::issue(&issue))
                .await?;
            mention_in_new_issue(&mut tx, &me, project_id, &new).await?;
            tx.commit().await?;
            issues.feed.changed(project_id);
            return Ok(issue);
        }
        tx.rollback().await?;
    }

    // Early answer (and a replay needs the right too); the check that counts is the one under
    // lock inside the transaction.
    let project = project_with_access(
        issues,
        &req.project_key,
        &me,
        Action::CreateIssue,
        REPORTERS_UP,
    )
    .await?;

    let request_id = std::mem::take(&mut req.request_id);
    let (mut tx, claim) =
        match idempotency::begin(&issues.db, me.id, "create_issue", &request_id, &req).await? {
            Begin::Replay(issue) => return Ok(issue),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    let role = authorize_locked(
        &mut tx,
        &project.key,
        &me,
        Action::CreateIssue,
        "project",
        REPORTERS_UP,
    )
    .await?;
    if assignee.is_some() && !me.admin && role < Some(Role::Maintainer) {
        return Err(IssuesError::Forbidden(
            "only maintainers and owners assign issues",
        ));
    }
    if !planning.is_empty() && !me.admin && role < Some(Role::Maintainer) {
        return Err(IssuesError::Forbidden(
            "only maintainers and owners set a due date, an estimate or a milestone",
        ));
    }
    if let Some(milestone) = new.milestone_id {
        ensure_milestone_of(&mut *tx, project.id, milestone).await?;
    }
    if let Some(assignee) = assignee {
        ensure_member(&mut *tx, project.id, assignee).await?;
    }
    let row = store::create_issue(&mut tx, project.id, &new).await?;
    let issue = convert::issue(row);
    store::append_change(&mut tx, project.id, "issue.created", &data::issue(&issue)).await?;
    mention_in_new_issue(&mut tx, &me, project.id, &new).await?;
    claim.complete(&mut tx, &issue).await?;
    tx.commit().await?;
    issues.feed.changed(project.id);
    Ok(issue)
}

/// Notifies the members a new issue's description mentions.
async fn mention_in_new_issue(
    tx: &mut Transaction<'_, Postgres>,
    me: &UserPrincipal,
    project_id: Uuid,
    new: &NewIssue<'_>,
) -> Result<()> {
    let mentioning = Mentioning {
        project_id,
        issue_id: new.id,
        change_type: "issue.created",
        old: "",
        new: new.description,
    };
    notifications::notify_mentions(tx, me, mentioning).await
}

pub(super) async fn get_issue(
    issues: &Issues,
    request: Request<pb::GetIssueRequest>,
) -> Result<pb::Issue> {
    let me = caller(&request)?;
    let row = visible_issue(issues, &request.get_ref().issue_key, &me).await?;
    relations::with_relations_one(&issues.db, &me, row).await
}

pub(super) async fn update_issue(
    issues: &Issues,
    request: Request<pb::UpdateIssueRequest>,
) -> Result<pb::Issue> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let key = issue_key(&req.issue_key)?;
    let mut v = Violations::default();
    let mask = v
        .check(UpdateMask::parse(req.update_mask.as_ref(), ISSUE_FIELDS))
        .unwrap_or(UpdateMask::Populated);
    let patch = Patch {
        title: mask
            .value("title", req.title)
            .and_then(|t| v.check(IssueTitle::parse("title", &t))),
        description: mask
            .value("description", req.description)
            .and_then(|d| v.check(Description::parse("description", &d))),
        status: mask
            .value("status", enum_set(req.status))
            .and_then(|raw| v.check(given_status(raw))),
        priority: mask
            .value("priority", enum_set(req.priority))
            .and_then(|raw| v.check(given_priority(raw))),
        labels: mask
            .value("labels", req.labels)
            .and_then(|l| v.check(Labels::parse(&l.labels))),
        // Empty: unassign.
        assignee: match mask.value("assignee_id", req.assignee_id).as_deref() {
            None => None,
            Some("") => Some(None),
            Some(raw) => v.check(uuid_field("assignee_id", raw)).map(Some),
        },
        // Named in the mask but unspecified: cleared.
        resolution: mask
            .value("resolution", enum_set(req.resolution))
            .and_then(|raw| v.check(resolution_field(raw))),
        ..Patch::default()
    };
    let planning = Planning::parse(
        mask.value("due_on", req.due_on),
        clearable(&mask, "estimate", req.estimate),
        mask.value("milestone_id", req.milestone_id),
        &mut v,
    );
    let patch = Patch {
        due_on: planning.due_on,
        estimate: planning.estimate,
        milestone: planning.milestone,
        ..patch
    };
    let duplicate_of = req
        .duplicate_of
        .as_deref()
        .filter(|raw| !raw.is_empty())
        .and_then(|raw| v.check(relations::duplicate_key(raw, &key)));
    v.finish()?;

    let mut tx = issues.db.begin().await?;
    let (role, current) = locked_issue(&mut tx, &key, &me).await?;
    let now = Utc::now();
    let (updated, changes) = patch.apply(&current.fields, now);
    let is_author = current.author_id == me.id;
    let is_assignee = current.fields.assignee_id == Some(me.id);
    check(
        authorize_issue_change(
            role,
            me.admin,
            IssueChange::of(&changes),
            is_author,
            is_assignee,
        ),
        "issue",
        "your role does not allow this change to this issue",
    )?;
    if !if_match_allows(&req.if_match, &convert::etag(&current)) {
        return Err(IssuesError::Own(IssuesOnly::EtagMismatch));
    }
    check_resolution(updated.status, patch.resolution.flatten()).map_err(IssuesError::invalid)?;
    let duplicated = relations::close_as_duplicate(
        &mut tx,
        &me,
        &current,
        updated.resolution,
        duplicate_of.as_ref(),
    )
    .await?;
    if changes.is_empty() && !duplicated {
        return relations::with_relations_one(&mut *tx, &me, current).await;
    }
    if let Some(assignee) = updated
        .assignee_id
        .filter(|a| Some(*a) != current.fields.assignee_id)
    {
        ensure_member(&mut *tx, current.project_id, assignee).await?;
    }
    if let Some(milestone) = updated
        .milestone_id
        .filter(|m| Some(*m) != current.fields.milestone_id)
    {
        ensure_milestone_of(&mut *tx, current.project_id, milestone).await?;
    }
    store::update_issue(&mut *tx, current.id, &updated, now).await?;
    store::insert_events(&mut *tx, current.id, me.id, &changes, now).await?;
    let mentioning = Mentioning {
        project_id: current.project_id,
        issue_id: current.id,
        change_type: "issue.updated",
        old: &current.fields.description,
        new: &updated.description,
    };
    notifications::notify_mentions(&mut tx, &me, mentioning).await?;
    let row = store::issue_by_key(&mut *tx, key.project.as_str(), key.number, me.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("updated issue not found"))?;
    let issue = relations::with_relations_one(&mut *tx, &me, row).await?;
    store::append_change(
        &mut tx,
        current.project_id,
        "issue.updated",
        &data::issue(&issue),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(current.project_id);
    Ok(issue)
}

/// RFC 9110 `If-Match`: empty (no condition), `*`, or a list of entity tags of which one must be
/// the current one.
fn if_match_allows(if_match: &str, current: &str) -> bool {
    let if_match = if_match.trim();
    if_match.is_empty() || if_match == "*" || if_match.split(',').any(|tag| tag.trim() == current)
}

pub(super) async fn delete_issue(
    issues: &Issues,
    request: Request<pb::DeleteIssueRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let key = issue_key(&request.get_ref().issue_key)?;
    let mut tx = issues.db.begin().await?;
    let (role, issue) = locked_issue(&mut tx, &key, &me).await?;
    check(
        authorize(role, me.admin, Action::DeleteIssue),
        "issue",
        "only maintainers and owners delete issues",
    )?;
    store::delete_issue(&mut *tx, issue.id).await?;
    let issue_key = format!("{}-{}", issue.project_key, issue.number);
    store::append_change(
        &mut tx,
        issue.project_id,
        "issue.deleted",
        &data::deleted_with_key(&issue.id.to_string(), &issue_key),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(issue.project_id);
    tracing::info!(issue = %issue_key, by = %me.id, "issue deleted");
    Ok(())
}

/// Parses the filters of a list request.
fn filter_of(
    req: &pb::ListIssuesRequest,
    me: &UserPrincipal,
    page_size: fn(i32) -> std::result::Result<i64, Violation>,
) -> Result<(IssueFilter, Query, IssueSort, Option<IssueCursor>, i64)> {
    let mut v = Violations::default();
    let mut statuses = Vec::new();
    for raw in &req.statuses {
        statuses.extend(v.check(given_status(*raw)));
    }
    let mut priorities = Vec::new();
    for raw in &req.priorities {
        priorities.extend(v.check(given_priority(*raw)));
    }
    let assignee = match req.assignee.as_str() {
        "" => AssigneeFilter::Any,
        "me" => AssigneeFilter::User(me.id),
        "none" => AssigneeFilter::Unassigned,
        raw => v
            .check(
                raw.parse()
                    .map_err(|_| Violation::new("assignee", "must be me, none or a user id")),
            )
            .map_or(AssigneeFilter::Any, AssigneeFilter::User),
    };
    let author = match req.author_id.as_str() {
        "" => None,
        "me" => Some(me.id),
        raw => v.check(
            raw.parse()
                .map_err(|_| Violation::new("author", "must be me or a user id")),
        ),
    };
    let label = v.check(label_filter(&req.label)).flatten();
    let query = v.check(search_query("q", &req.query)).unwrap_or_default();
    let sort = v.check(IssueSort::parse(&req.sort)).unwrap_or_default();
    let limit = v.check(page_size(req.page_size)).unwrap_or(0);
    let cursor: Option<IssueCursor> = v.check(pagination::decode_token(&req.page_token)).flatten();
    if let Some(cursor) = &cursor {
        v.check(cursor.check(sort));
    }
    v.finish()?;
    let filter = IssueFilter {
        statuses,
        priorities,
        assignee,
        author,
        label,
        query: None,
        phrases: Vec::new(),
        clauses: Vec::new(),
    };
    Ok((filter, query, sort, cursor, limit))
}

/// What a list request reads once parsed and authorized: its projects, filters and order.
struct IssueList {
    scope: ListScope,
    filter: IssueFilter,
    sort: IssueSort,
}

/// Parses a list request and decides, once, which projects the caller may list with it (a
/// token limited to some projects lists only those, even for an admin). `None` when the list is
/// empty whatever the data. Bad filters are refused before the project is looked up.
async fn issue_list(
    issues: &Issues,
    req: &pb::ListIssuesRequest,
    me: &UserPrincipal,
    page_size: fn(i32) -> std::result::Result<i64, Violation>,
) -> Result<(Option<IssueList>, Option<IssueCursor>, i64)> {
    let (mut filter, query, sort, cursor, limit) = filter_of(req, me, page_size)?;
    let scope = if !req.project_key.is_empty() {
        let project = visible_project(issues, &req.project_key, me).await?;
        ListScope::Project {
            id: project.id,
            key: project.key,
        }
    } else if let Some(keys) = me.project_limit() {
        ListScope::Projects(store::project_ids_by_keys(&issues.db, me.id, !me.admin, keys).await?)
    } else if me.admin {
        ListScope::All
    } else {
        ListScope::Projects(store::member_project_ids(&issues.db, me.id).await?)
    };
    let list = store::apply_query(&issues.db, &scope, me.id, query, &mut filter)
        .await?
        .then_some(IssueList {
            scope,
            filter,
            sort,
        });
    Ok((list, cursor, limit))
}

pub(super) async fn list_issues(
    issues: &Issues,
    request: Request<pb::ListIssuesRequest>,
) -> Result<pb::ListIssuesResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    // The caller's right to see what is listed is checked here, once, not per row.
    let (list, cursor, limit) = issue_list(issues, &req, &me, pagination::page_size).await?;
    let Some(IssueList {
        scope,
        filter,
        sort,
    }) = list
    else {
        return Ok(pb::ListIssuesResponse::default());
    };
    let mut rows = store::list_issues(
        &issues.db,
        &scope,
        &filter,
        sort,
        cursor.as_ref(),
        limit + 1,
    )
    .await?;
    let next_page_token =
        pagination::next_token(&mut rows, limit, |row| IssueCursor::after(row, sort));
    Ok(pb::ListIssuesResponse {
        issues: relations::with_relations(&issues.db, &me, rows).await?,
        next_page_token,
    })
}

pub(super) async fn list_issue_events(
    issues: &Issues,
    request: Request<pb::ListIssueEventsRequest>,
) -> Result<pb::ListIssueEventsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(IssuesError::invalid)?;
    let issue = visible_issue(issues, &req.issue_key, &me).await?;
    let mut rows = store::list_events(&issues.db, issue.id, after, limit + 1).await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |e| (e.created_at, e.id));
    let key = format!("{}-{}", issue.project_key, issue.number);
    let mut events: Vec<_> = rows.into_iter().map(|e| convert::event(e, &key)).collect();
    relations::hide_in_history(&issues.db, &me, &mut events).await?;
    Ok(pb::ListIssueEventsResponse {
        events,
        next_page_token,
    })
}

/// Rows fetched per query while exporting a project.
const EXPORT_BATCH: i64 = 500;
/// Most rows `ExportIssues` reads per query (its `page_size`).
const MAX_EXPORT_BATCH: i64 = 1000;

/// `ExportIssues`' `page_size`: the rows read per query, 1–1000, default 500.
fn export_batch(requested: i32) -> std::result::Result<i64, Violation> {
    match i64::from(requested) {
        0 => Ok(EXPORT_BATCH),
        n @ 1..=MAX_EXPORT_BATCH => Ok(n),
        _ => Err(Violation::new("page_size", "must be between 1 and 1000")),
    }
}

/// Streams the rows that `next` yields, batch after batch, converted by `convert`, until a
/// batch comes back short or the client goes. A failed query ends the stream with its error.
fn stream_batches<S, F, C>(batch: i64, mut state: S, mut next: F) -> IssueStream
where
    S: Send + 'static,
    F: FnMut(S) -> C + Send + 'static,
    C: std::future::Future<Output = Result<(Vec<pb::Issue>, S)>> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel(batch as usize);
    tokio::spawn(async move {
        loop {
            let (issues, after) = match next(state).await {
                Ok(found) => found,
                Err(error) => {
                    let _ = tx.send(Err(Status::from(error))).await;
                    return;
                }
            };
            let done = (issues.len() as i64) < batch;
            for issue in issues {
                if tx.send(Ok(issue)).await.is_err() {
                    return;
                }
            }
            if done {
                return;
            }
            state = after;
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

pub(super) async fn export_project_issues(
    issues: &Issues,
    request: Request<pb::ExportProjectIssuesRequest>,
) -> Result<IssueStream> {
    let me = caller(&request)?;
    let project_id = visible_project(issues, &request.get_ref().project_key, &me)
        .await?
        .id;
    let db = issues.db.clone();
    Ok(stream_batches(EXPORT_BATCH, 0, move |after| {
        let db = db.clone();
        async move {
            let rows = store::export_issues(&db, project_id, after, EXPORT_BATCH).await?;
            let last = rows.last().map_or(after, |row| row.number);
            Ok((rows.into_iter().map(convert::issue).collect(), last))
        }
    }))
}

/// Every issue `ListIssues` would list for this request, page after page in its order, read
/// `page_size` rows at a time by the list's own keyset query (`page_token` is ignored). The
/// request is checked, and the caller's right to the projects decided, before the stream starts.
pub(super) async fn export_issues(
    issues: &Issues,
    request: Request<pb::ListIssuesRequest>,
) -> Result<IssueStream> {
    let me = caller(&request)?;
    let mut req = request.into_inner();
    req.page_token.clear();
    let (list, _, batch) = issue_list(issues, &req, &me, export_batch).await?;
    let Some(list) = list else {
        return Ok(Box::pin(tokio_stream::empty::<
            std::result::Result<pb::Issue, Status>,
        >()));
    };
    let db = issues.db.clone();
    let list = std::sync::Arc::new(list);
    Ok(stream_batches(
        batch,
        None,
        move |cursor: Option<IssueCursor>| {
            let (db, list, me) = (db.clone(), list.clone(), me.clone());
            async move {
                let rows = store::list_issues(
                    &db,
                    &list.scope,
                    &list.filter,
                    list.sort,
                    cursor.as_ref(),
                    batch,
                )
                .await?;
                let next = rows.last().map(|row| IssueCursor::after(row, list.sort));
                Ok((relations::with_relations(&db, &me, rows).await?, next))
            }
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::if_match_allows;

    #[test]
    fn if_match_accepts_none_star_or_a_list_containing_the_current_tag() {
        let current = "\"abc-2\"";
        for (header, allowed) in [
            ("", true),
            ("*", true),
            ("\"abc-2\"", true),
            ("\"abc-1\", \"abc-2\"", true),
            ("\"abc-1\"", false),
            ("W/\"abc-2\"", false),
            ("abc-2", false),
        ] {
            assert_eq!(if_match_allows(header, current), allowed, "{header}");
        }
    }
}
