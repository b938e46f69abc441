//! Issues: creation with the next number, reads with the caller's role, updates, lists.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgExecutor, Postgres, QueryBuilder, Transaction};
use swatter_common::{
    pagination::{self, CursorTime},
    status::Violation,
};
use uuid::Uuid;

use super::{Clause, Condition};
use crate::domain::{IssueFields, IssueSort, IssueStatus, Priority, Role, SortField};

/// An issue with its project's key and the caller's role in that project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub number: i64,
    #[sqlx(flatten)]
    pub fields: IssueFields,
    pub author_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i64,
    pub my_role: Option<Role>,
    /// Confirmed attachments of the issue and its comments (0 where a query leaves it out: a
    /// new issue has none).
    #[sqlx(default)]
    pub attachment_count: i32,
}

/// Issues with their project, before the join of the caller's membership `m`.
pub(super) const SELECT_ISSUES: &str = "SELECT i.id, i.project_id, p.key AS project_key, i.number, i.title, \
     i.description, i.status, i.priority, i.labels, i.author_id, i.assignee_id, i.created_at, \
     i.updated_at, i.closed_at, i.version, i.resolution, i.due_on, i.estimate, i.milestone_id, \
     i.attachment_count, m.role AS my_role \
     FROM issues i JOIN projects p ON p.id = i.project_id";

pub struct NewIssue<'a> {
    pub id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub priority: Priority,
    pub labels: &'a [String],
    pub author_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub due_on: Option<NaiveDate>,
    pub estimate: Option<i32>,
    pub milestone_id: Option<Uuid>,
}

/// The statement that creates an issue in the project `target` yields (a CTE of `id, key, role`):
/// takes the project's next number from its sequence (never repeated, never blocking), inserts
/// the issue and its `created` event, and returns the issue. `$2`… are the issue's values.
fn create_issue_statement(target: &str) -> String {
    format!(
        "WITH target AS ({target}), n AS (
             SELECT nextval(issue_number_sequence(id)::regclass) AS number, id, key, role
             FROM target
         ), i AS (
             INSERT INTO issues (id, project_id, number, title, description, priority, labels,
                                 author_id, assignee_id, due_on, estimate, milestone_id)
             SELECT $2, n.id, n.number, $3, $4, $5, $6, $7, $8, $11, $12, $13 FROM n
             RETURNING id, project_id, number, title, description, status, priority, labels,
                       author_id, assignee_id, created_at, updated_at, closed_at, version,
                       resolution, due_on, estimate, milestone_id
         ), e AS (
             INSERT INTO issue_events (id, issue_id, actor_id, kind, field, new_value, created_at)
             SELECT $9, i.id, i.author_id, 'created', '', i.title, i.created_at FROM i
         )
         SELECT i.id, i.project_id, n.key AS project_key, i.number, i.title, i.description,
                i.status, i.priority, i.labels, i.author_id, i.assignee_id, i.created_at,
                i.updated_at, i.closed_at, i.version, i.resolution, i.due_on, i.estimate,
                i.milestone_id, n.role AS my_role
         FROM i CROSS JOIN n"
    )
}

/// Binds `$2`… of [`create_issue_statement`] (`$10` is the caller's: the roles of
/// [`create_issue_as_member`]; `$11`… follow it).
fn bind_new_issue<'q>(
    query: sqlx::query::QueryAs<'q, Postgres, IssueRow, sqlx::postgres::PgArguments>,
    issue: &'q NewIssue<'q>,
) -> sqlx::query::QueryAs<'q, Postgres, IssueRow, sqlx::postgres::PgArguments> {
    query
        .bind(issue.id)
        .bind(issue.title)
        .bind(issue.description)
        .bind(issue.priority.rank())
        .bind(issue.labels)
        .bind(issue.author_id)
        .bind(issue.assignee_id)
        .bind(Uuid::now_v7())
}

/// Binds `$11`… of [`create_issue_statement`], after the caller's `$10`.
fn bind_planning<'q>(
    query: sqlx::query::QueryAs<'q, Postgres, IssueRow, sqlx::postgres::PgArguments>,
    issue: &'q NewIssue<'q>,
) -> sqlx::query::QueryAs<'q, Postgres, IssueRow, sqlx::postgres::PgArguments> {
    query
        .bind(issue.due_on)
        .bind(issue.estimate)
        .bind(issue.milestone_id)
}

/// Creates an issue in the project `project_id` in one statement (see [`create_issue_statement`]),
/// inside the caller's transaction, and returns it as its author sees it.
pub async fn create_issue(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    issue: &NewIssue<'_>,
) -> sqlx::Result<IssueRow> {
    let statement = create_issue_statement(
        "SELECT p.id, p.key, m.role FROM projects p
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $7
         WHERE p.id = $1 AND $10::text[] IS NULL",
    );
    let no_roles: Option<Vec<String>> = None;
    bind_planning(
        bind_new_issue(sqlx::query_as(&statement).bind(project_id), issue).bind(no_roles),
        issue,
    )
    .fetch_one(&mut **tx)
    .await
}

/// Creates an issue in the project `project_key` if its author is a member with one of `roles`,
/// all in one statement and one round trip: the membership is read under the same locks as
/// [`lock_role`] takes (project `FOR KEY SHARE`, then membership `FOR SHARE`), so a concurrent
/// removal or demotion is ordered before or after the whole creation. `None` when the author is
/// not such a member (nothing is created and no number is taken).
pub async fn create_issue_as_member(
    db: impl PgExecutor<'_>,
    project_key: &str,
    roles: &[Role],
    issue: &NewIssue<'_>,
) -> sqlx::Result<Option<IssueRow>> {
    let statement = create_issue_statement(
        "SELECT p.id, p.key, m.role FROM projects p
         JOIN members m ON m.project_id = p.id AND m.user_id = $7
         WHERE p.key = $1 AND m.role = ANY($10)
         FOR KEY SHARE OF p FOR SHARE OF m",
    );
    let roles: Vec<&str> = roles.iter().map(|role| role.as_str()).collect();
    bind_planning(
        bind_new_issue(sqlx::query_as(&statement).bind(project_key), issue).bind(roles),
        issue,
    )
    .fetch_optional(db)
    .await
}

/// The issue `KEY-number` with the role of `caller` in its project, the row locked by `lock`
/// (empty, or `FOR …`).
async fn issue_where_key(
    db: impl PgExecutor<'_>,
    project_key: &str,
    number: i64,
    caller: Uuid,
    lock: &str,
) -> sqlx::Result<Option<IssueRow>> {
    sqlx::query_as(&format!(
        "{SELECT_ISSUES}
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $3
         WHERE p.key = $1 AND i.number = $2 {lock}"
    ))
    .bind(project_key)
    .bind(number)
    .bind(caller)
    .fetch_optional(db)
    .await
}

/// The issue `KEY-number` with the caller's role in its project.
pub async fn issue_by_key(
    db: impl PgExecutor<'_>,
    project_key: &str,
    number: i64,
    caller: Uuid,
) -> sqlx::Result<Option<IssueRow>> {
    issue_where_key(db, project_key, number, caller, "").await
}

/// Like [`issue_by_key`], locking the issue row for an update.
pub async fn lock_issue_by_key(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    number: i64,
    caller: Uuid,
) -> sqlx::Result<Option<IssueRow>> {
    issue_where_key(&mut **tx, project_key, number, caller, "FOR UPDATE OF i").await
}

/// Stores the new state of an issue (every field, already merged).
pub async fn update_issue(
    db: impl PgExecutor<'_>,
    id: Uuid,
    fields: &IssueFields,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE issues SET title = $2, description = $3, status = $4, priority = $5, labels = $6,
                assignee_id = $7, closed_at = $8, updated_at = $9, version = version + 1,
                resolution = $10, due_on = $11, estimate = $12, milestone_id = $13
         WHERE id = $1",
    )
    .bind(id)
    .bind(&fields.title)
    .bind(&fields.description)
    .bind(fields.status)
    .bind(fields.priority.rank())
    .bind(&fields.labels)
    .bind(fields.assignee_id)
    .bind(fields.closed_at)
    .bind(now)
    .bind(fields.resolution)
    .bind(fields.due_on)
    .bind(fields.estimate)
    .bind(fields.milestone_id)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_issue(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    super::delete_by_id(db, "issues", id).await
}

/// Bumps `updated_at` and `version` (a comment was added or removed).
pub async fn touch_issue(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("UPDATE issues SET updated_at = now(), version = version + 1 WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Which assignee a list wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssigneeFilter {
    Any,
    Unassigned,
    User(Uuid),
}

/// Which projects a list reads.
#[derive(Debug, Clone)]
pub enum ListScope {
    /// One project the caller may see (checked before), with its key.
    Project { id: Uuid, key: String },
    /// These projects: those the caller is a member of, looked up once per request.
    Projects(Vec<Uuid>),
    /// Every project (administrators).
    All,
}

/// Filters of an issue list, already parsed.
#[derive(Debug, Clone)]
pub struct IssueFilter {
    pub statuses: Vec<IssueStatus>,
    pub priorities: Vec<Priority>,
    pub assignee: AssigneeFilter,
    pub author: Option<Uuid>,
    pub label: Option<String>,
    /// Free text: every word (full-text over title and description).
    pub query: Option<String>,
    /// Free text: each phrase, its words in order.
    pub phrases: Vec<String>,
    /// The other conditions of the query language, all of which must hold.
    pub clauses: Vec<Clause>,
}

/// Where the previous page ended: the sort value and the id of its last issue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IssueCursor {
    /// Timestamp (µs since the epoch), priority rank, or the key of an optional value
    /// ([`IssueSort::missing_last_key`]), by the sort in force.
    pub value: i64,
    pub id: Uuid,
    /// The sort the cursor belongs to; a token is refused under another sort.
    pub sort: String,
}

impl IssueCursor {
    pub fn after(row: &IssueRow, sort: IssueSort) -> Self {
        let value = match sort.field {
            SortField::CreatedAt => row.created_at.timestamp_micros(),
            SortField::UpdatedAt => row.updated_at.timestamp_micros(),
            SortField::Priority => i64::from(row.fields.priority.rank()),
            SortField::DueOn => i64::from(sort.missing_last_key(row.fields.due_on.map(days))),
            SortField::Estimate => i64::from(sort.missing_last_key(row.fields.estimate)),
        };
        IssueCursor {
            value,
            id: row.id,
            sort: sort.as_string(),
        }
    }

    /// Refuses a cursor made under another sort, or whose value that sort's column cannot hold.
    pub fn check(&self, sort: IssueSort) -> Result<(), Violation> {
        if self.sort != sort.as_string() {
            return Err(Violation::new(
                "page_token",
                "belongs to a list in another order",
            ));
        }
        let fits = match sort.field {
            SortField::Priority => i16::try_from(self.value)
                .ok()
                .and_then(Priority::from_rank)
                .is_some(),
            SortField::CreatedAt | SortField::UpdatedAt => CursorTime::try_from(self.value).is_ok(),
            SortField::DueOn | SortField::Estimate => i32::try_from(self.value).is_ok(),
        };
        if fits {
            Ok(())
        } else {
            Err(pagination::bad_token())
        }
    }
}

/// A date as days since 1970-01-01, as the due date sorts key it.
fn days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date")).num_days() as i32
}

/// The sort key of an optional column in the direction `descending`: the value, or past the end
/// of that direction. Written exactly as the indexes of migration 20261214000050 are.
fn missing_last(column: &str, descending: bool) -> String {
    let missing = if descending { i32::MIN } else { i32::MAX };
    format!("coalesce({column}, {missing})")
}

/// The columns of a listed issue (`i`).
const LIST_COLUMNS: &str = "i.id, i.project_id, i.number, i.title, i.description, i.status, \
     i.priority, i.labels, i.author_id, i.assignee_id, i.created_at, i.updated_at, i.closed_at, \
     i.version, i.resolution, i.due_on, i.estimate, i.milestone_id, i.attachment_count";

/// The projects the caller is a member of (the scope of their lists across projects).
pub async fn member_project_ids(db: impl PgExecutor<'_>, user_id: Uuid) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar("SELECT project_id FROM members WHERE user_id = $1")
        .bind(user_id)
        .fetch_all(db)
        .await
}

/// One page of issues of `scope` matching `filter` in `sort` order after `cursor`. The rows'
/// `my_role` is `None`: a list is authorized once, for its scope, before it is read.
pub async fn list_issues(
    db: impl PgExecutor<'_>,
    scope: &ListScope,
    filter: &IssueFilter,
    sort: IssueSort,
    cursor: Option<&IssueCursor>,
    limit: i64,
) -> sqlx::Result<Vec<IssueRow>> {
    list_issues_query("", scope, filter, sort, cursor, limit)
        .build_query_as()
        .fetch_all(db)
        .await
}

/// What drives a list query: the index it reads, and so how much a page costs.
#[derive(Clone, Copy, PartialEq)]
enum Drive {
    /// Ordered scans of (project, status[, priority], sort) indexes, one per combination of
    /// values (an arm), merged: about a page per arm.
    Arms,
    /// Across projects, by last update: one person's (`assignee_id` or `author_id`,
    /// `updated_at`) index in order.
    Person(&'static str, Uuid),
    /// Full-text: the GIN index's matches, sorted: cost in proportion to the issues holding
    /// the words.
    Text,
    /// The issues of some parents (`parent:`) or milestones (`milestone:`): that column's
    /// partial index, sorted: cost in proportion to the issues of those parents or milestones.
    Group(&'static str),
}

/// The query of [`list_issues`], after `prefix` (tests put `EXPLAIN` there to check its plan).
///
/// A page must cost the same in a project of 100 issues and of 100,000, whatever the planner's
/// statistics say (none right after a bulk load, wrong ones when they were taken while the table
/// was small). So the query is shaped to leave the planner one sensible plan, [`Drive`]:
///
/// - Arms: one per combination of the values of the equalities an index leads with (project,
///   status — every status when the list has no status filter — and, by priority, priority), each
///   an ordered index scan that stops after `limit` rows (`CROSS JOIN LATERAL (… ORDER BY …
///   LIMIT n)`); an outer `ORDER BY … LIMIT n` merges them. The arms are disjoint, so the first
///   `limit` rows of the union are among the first `limit` of each.
/// - The other filters are checked on the rows the driving scan reads, inside one `CASE`, which
///   no index can answer and which the planner guesses keeps half of the rows. Plain, with its
///   usual guess (0.5 % per equality) and no statistics, the planner would expect fewer rows than
///   the `LIMIT`, plan to read everything, and find a bitmap scan of the whole project and a sort
///   cheaper than the ordered scan. An arm then reads about `limit` ÷ (the share of its rows that
///   pass those filters).
/// - Full-text lists are driven by the GIN index alone (rare words are what people search for;
///   an ordered scan would read the whole project to find them), everything else in the `CASE`.
/// - The query language (docs/api.md, "Searching issues") adds no shape of its own: its status
///   and priority terms become the arms' values, one person becomes the person filter, positive
///   `parent:` and `milestone:` drive through their partial indexes ([`Drive::Group`], their
///   matches sorted, like full-text), and every other term ([`Clause`]) is one more condition in
///   the `CASE`. The due date and estimate orders read (project, status, key) indexes whose key
///   puts issues without a value last in either direction (migration 20261214000050).
pub fn list_issues_query<'a>(
    prefix: &str,
    scope: &ListScope,
    filter: &IssueFilter,
    sort: IssueSort,
    cursor: Option<&IssueCursor>,
    limit: i64,
) -> QueryBuilder<'a, Postgres> {
    let column = match sort.field {
        SortField::CreatedAt => "i.created_at".to_owned(),
        SortField::UpdatedAt => "i.updated_at".to_owned(),
        SortField::Priority => "i.priority".to_owned(),
        SortField::DueOn => missing_last("i.due_on - DATE '1970-01-01'", sort.descending),
        SortField::Estimate => missing_last("i.estimate", sort.descending),
    };
    let (cmp, dir) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    let order = format!(" ORDER BY {column} {dir}, i.id {dir}");
    let across = !matches!(scope, ListScope::Project { .. });
    // A positive `parent:` or `milestone:` (not `none`) names few issues: their index drives.
    let group = filter
        .clauses
        .iter()
        .find_map(|clause| match &clause.condition {
            _ if clause.negated => None,
            Condition::Parent(ids) => Some(("i.parent_id", ids.clone())),
            Condition::Milestone { ids, none: false } => Some(("i.milestone_id", ids.clone())),
            _ => None,
        });
    let drive = match (filter.assignee, filter.author) {
        _ if filter.query.is_some() || !filter.phrases.is_empty() => Drive::Text,
        _ if group.is_some() => Drive::Group(group.as_ref().map_or("", |(column, _)| column)),
        (AssigneeFilter::User(id), _) if across && sort.field == SortField::UpdatedAt => {
            Drive::Person("i.assignee_id", id)
        }
        (_, Some(id)) if across && sort.field == SortField::UpdatedAt => {
            Drive::Person("i.author_id", id)
        }
        _ => Drive::Arms,
    };
    let mut statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
    statuses.sort_unstable();
    statuses.dedup();
    let mut ranks: Vec<i16> = filter.priorities.iter().map(|p| p.rank()).collect();
    ranks.sort_unstable();
    ranks.dedup();
    // Arms are by project and by status. The project of an arm is a value from the arm's source
    // even in a one-project list: the planner then estimates its rows from the column's number
    // of distinct values, never from statistics taken before the project had issues (which say
    // "one row", and with one row expected every index with the right leading columns, plus a
    // sort, looks as cheap as the ordered one). Every arm is by status, all four when the list
    // is not filtered by status: then each (project, status, sort) index is the only one that
    // gives an arm's rows in order, whatever the statistics say about the status (indexes
    // without it could tie with it, and be read with a filter), and the project-wide ones need
    // not be kept up to date on every write.
    let by_arms = drive == Drive::Arms;
    let arm_statuses: Vec<&str> = if statuses.is_empty() {
        IssueStatus::ALL.iter().map(|s| s.as_str()).collect()
    } else {
        statuses.clone()
    };
    // By priority, one arm per priority value too ((project, status, priority, id) gives each
    // in order), so that a filter on priority does not read through the other priorities first.
    let priority_arms = by_arms && !ranks.is_empty() && sort.field == SortField::Priority;

    let mut q: QueryBuilder<Postgres> =
        QueryBuilder::new(format!("{prefix}SELECT {LIST_COLUMNS}, "));
    match scope {
        ListScope::Project { key, .. } => {
            q.push_bind(key.clone());
        }
        ListScope::Projects(_) | ListScope::All => {
            q.push("p.key");
        }
    }
    q.push(" AS project_key, NULL::text AS my_role FROM (SELECT i.* FROM ");
    // The arms' values, each source binding one column.
    let mut arms = Vec::new();
    if by_arms {
        match scope {
            ListScope::Project { id, .. } => {
                q.push("unnest(ARRAY[")
                    .push_bind(*id)
                    .push("]::uuid[]) AS pa(v) CROSS JOIN ");
            }
            ListScope::Projects(ids) => {
                q.push("unnest(")
                    .push_bind(ids.clone())
                    .push("::uuid[]) AS pa(v) CROSS JOIN ");
            }
            ListScope::All => {
                q.push("(SELECT id FROM projects) AS pa(v) CROSS JOIN ");
            }
        }
        arms.push("i.project_id = pa.v");
    }
    if by_arms {
        q.push("unnest(")
            .push_bind(arm_statuses)
            .push("::text[]) AS sa(v) CROSS JOIN ");
        arms.push("i.status = sa.v");
    }
    if priority_arms {
        q.push("unnest(")
            .push_bind(ranks.clone())
            .push("::smallint[]) AS ra(v) CROSS JOIN ");
        arms.push("i.priority = ra.v");
    }
    q.push(format!(
        "LATERAL (SELECT {LIST_COLUMNS} FROM issues i WHERE true"
    ));
    // What the driving index answers: equalities on its leading columns, and the cursor.
    for arm in &arms {
        q.push(format!(" AND {arm}"));
    }
    match drive {
        Drive::Person(column, id) => {
            q.push(format!(" AND {column} = ")).push_bind(id);
        }
        Drive::Text => {
            q.push(" AND i.search @@ (");
            let mut words = filter.query.iter().map(|words| ("plainto_tsquery", words));
            let phrases = filter.phrases.iter().map(|p| ("phraseto_tsquery", p));
            for (i, (function, text)) in words.by_ref().chain(phrases).enumerate() {
                if i > 0 {
                    q.push(" && ");
                }
                q.push(format!("{function}('simple', "))
                    .push_bind(text.clone())
                    .push(")");
            }
            q.push(")");
        }
        Drive::Group(column) => {
            let ids = group.map(|(_, ids)| ids).unwrap_or_default();
            q.push(format!(" AND {column} = ANY("))
                .push_bind(ids)
                .push(format!(") AND {column} IS NOT NULL"));
        }
        Drive::Arms => {}
    }
    if let Some(cursor) = cursor {
        q.push(format!(" AND ({column}, i.id) {cmp} ("));
        match sort.field {
            SortField::Priority => {
                q.push_bind(cursor.value as i16);
            }
            SortField::CreatedAt | SortField::UpdatedAt => {
                q.push_bind(DateTime::<Utc>::from_timestamp_micros(cursor.value));
            }
            SortField::DueOn | SortField::Estimate => {
                q.push_bind(cursor.value as i32);
            }
        }
        q.push(", ").push_bind(cursor.id).push(")");
    }
    // The other filters, checked on the rows the driving scan reads.
    q.push(" AND CASE WHEN true");
    match (drive, scope) {
        (Drive::Arms, _) | (_, ListScope::All) => {}
        (_, ListScope::Project { id, .. }) => {
            q.push(" AND i.project_id = ").push_bind(*id);
        }
        (_, ListScope::Projects(ids)) => {
            q.push(" AND i.project_id = ANY(")
                .push_bind(ids.clone())
                .push(")");
        }
    }
    if !by_arms && !statuses.is_empty() {
        q.push(" AND i.status = ANY(").push_bind(statuses).push(")");
    }
    if !priority_arms && !ranks.is_empty() {
        q.push(" AND i.priority = ANY(").push_bind(ranks).push(")");
    }
    match filter.assignee {
        AssigneeFilter::User(id) if drive != Drive::Person("i.assignee_id", id) => {
            q.push(" AND i.assignee_id = ").push_bind(id);
        }
        AssigneeFilter::Unassigned => {
            q.push(" AND i.assignee_id IS NULL");
        }
        AssigneeFilter::User(_) | AssigneeFilter::Any => {}
    }
    match filter.author {
        Some(id) if drive != Drive::Person("i.author_id", id) => {
            q.push(" AND i.author_id = ").push_bind(id);
        }
        Some(_) | None => {}
    }
    if let Some(label) = &filter.label {
        q.push(" AND i.labels @> ARRAY[")
            .push_bind(label.clone())
            .push("]::text[]");
    }
    for clause in &filter.clauses {
        clause.push(&mut q);
    }
    q.push(format!(" THEN true END{order} LIMIT "))
        .push_bind(limit);
    q.push(format!(") i{order} LIMIT ")).push_bind(limit);
    q.push(") i");
    if across {
        // The key of each listed issue's project, joined after the limit: once per row shown.
        q.push(" JOIN projects p ON p.id = i.project_id");
    }
    q.push(order);
    q
}

/// Every issue of a project with number above `after`, by number, at most `limit`.
pub async fn export_issues(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    after: i64,
    limit: i64,
) -> sqlx::Result<Vec<IssueRow>> {
    sqlx::query_as(&format!(
        "{SELECT_ISSUES}
         LEFT JOIN members m ON false
         WHERE i.project_id = $1 AND i.number > $2
         ORDER BY i.number
         LIMIT $3"
    ))
    .bind(project_id)
    .bind(after)
    .bind(limit)
    .fetch_all(db)
    .await
}
