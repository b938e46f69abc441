//! The issues context's storage: one function per query against `swatter_issues`.

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, PgPool, Postgres, QueryBuilder, Transaction};
use swatter_common::{
    pagination::{self, CursorTime},
    status::Violation,
};
use uuid::Uuid;

use crate::domain::{IssueSort, IssueStatus, Priority, Role, SortField};

/// A row of `projects`, with the caller's role when asked for.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ProjectRow {
    pub id: Uuid,
    pub key: String,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub my_role: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: Uuid,
    pub username: String,
    pub role: String,
    pub added_at: DateTime<Utc>,
}

/// An issue with its project's key and the caller's role in that project.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub number: i64,
    pub title: String,
    pub description: String,
    pub status: String,
    pub priority: i16,
    pub labels: Vec<String>,
    pub author_id: Uuid,
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub my_role: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommentRow {
    pub id: Uuid,
    pub issue_id: Uuid,
    pub issue_key: String,
    pub project_id: Uuid,
    pub project_key: String,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub my_role: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct EventRow {
    pub id: Uuid,
    pub actor_id: Uuid,
    pub kind: String,
    pub field: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub created_at: DateTime<Utc>,
}

pub fn role(raw: Option<&str>) -> Option<Role> {
    raw.and_then(|r| r.parse().ok())
}

// ---------------------------------------------------------------------------------------------
// Projects and members

const PROJECT_COLUMNS: &str =
    "p.id, p.key, p.name, p.description, p.created_at, p.updated_at, m.role AS my_role";

pub async fn insert_project(
    db: impl PgExecutor<'_>,
    id: Uuid,
    key: &str,
    name: &str,
    description: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO projects (id, key, name, description) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(key)
        .bind(name)
        .bind(description)
        .execute(db)
        .await?;
    Ok(())
}

/// The project with this key and the caller's role in it (`None` when not a member).
pub async fn project_by_key(
    db: impl PgExecutor<'_>,
    key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE p.key = $1"
    ))
    .bind(key)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// Like [`project_by_key`], locking the project row until the transaction ends: serialises the
/// project's membership changes and edits. `FOR NO KEY UPDATE`, so that issue writes (whose
/// foreign keys take `FOR KEY SHARE` on it) are not blocked. The returned `my_role` is not
/// authoritative: read it with [`lock_role`] after this lock is held.
pub async fn lock_project_by_key(
    tx: &mut Transaction<'_, Postgres>,
    key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<ProjectRow>> {
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE p.key = $1
         FOR NO KEY UPDATE OF p"
    ))
    .bind(key)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Projects ordered by key after `after_key`; only those `member_id` belongs to, unless `None`.
pub async fn list_projects(
    db: impl PgExecutor<'_>,
    caller: Uuid,
    member_only: bool,
    after_key: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<ProjectRow>> {
    let join = if member_only { "JOIN" } else { "LEFT JOIN" };
    sqlx::query_as(&format!(
        "SELECT {PROJECT_COLUMNS} FROM projects p
         {join} members m ON m.project_id = p.id AND m.user_id = $1
         WHERE ($2::text IS NULL OR p.key > $2)
         ORDER BY p.key
         LIMIT $3"
    ))
    .bind(caller)
    .bind(after_key)
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn update_project(
    db: impl PgExecutor<'_>,
    id: Uuid,
    name: Option<&str>,
    description: Option<&str>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
         updated_at = now() WHERE id = $1",
    )
    .bind(id)
    .bind(name)
    .bind(description)
    .execute(db)
    .await?;
    Ok(())
}

/// Deletes the project; issues, comments, history and members go with it (cascade).
pub async fn delete_project(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM projects WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn list_members(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
) -> sqlx::Result<Vec<MemberRow>> {
    sqlx::query_as(
        "SELECT user_id, username, role, added_at FROM members
         WHERE project_id = $1 ORDER BY username",
    )
    .bind(project_id)
    .fetch_all(db)
    .await
}

pub async fn member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(
        "SELECT user_id, username, role, added_at FROM members
         WHERE project_id = $1 AND user_id = $2",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(db)
    .await
}

/// The role of `user_id` in the project `project_key` (`None`: not a member), locking their membership row
/// `FOR SHARE` (and the project row `FOR KEY SHARE`, taken first as every writer does) until the
/// transaction ends. A role change or removal of that member ([`lock_member`], `UPDATE`, `DELETE`)
/// conflicts with it: it waits for this transaction, or this read waits for it and sees its result.
pub async fn lock_role(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    user_id: Uuid,
) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar(
        "SELECT m.role FROM projects p
         JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE p.key = $1
         FOR KEY SHARE OF p FOR SHARE OF m",
    )
    .bind(project_key)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Like [`member`], locking the membership row `FOR UPDATE` before it is changed or removed, so
/// that writes holding it through [`lock_role`] finish first (or see the change).
pub async fn lock_member(
    tx: &mut Transaction<'_, Postgres>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<Option<MemberRow>> {
    sqlx::query_as(
        "SELECT user_id, username, role, added_at FROM members
         WHERE project_id = $1 AND user_id = $2
         FOR UPDATE",
    )
    .bind(project_id)
    .bind(user_id)
    .fetch_optional(&mut **tx)
    .await
}

/// Adds a member or changes their role.
pub async fn upsert_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
    username: &str,
    role: Role,
) -> sqlx::Result<MemberRow> {
    sqlx::query_as(
        "INSERT INTO members (project_id, user_id, username, role) VALUES ($1, $2, $3, $4)
         ON CONFLICT (project_id, user_id)
         DO UPDATE SET role = EXCLUDED.role, username = EXCLUDED.username
         RETURNING user_id, username, role, added_at",
    )
    .bind(project_id)
    .bind(user_id)
    .bind(username)
    .bind(role.as_str())
    .fetch_one(db)
    .await
}

pub async fn delete_member(
    db: impl PgExecutor<'_>,
    project_id: Uuid,
    user_id: Uuid,
) -> sqlx::Result<bool> {
    Ok(
        sqlx::query("DELETE FROM members WHERE project_id = $1 AND user_id = $2")
            .bind(project_id)
            .bind(user_id)
            .execute(db)
            .await?
            .rows_affected()
            > 0,
    )
}

pub async fn count_owners(db: impl PgExecutor<'_>, project_id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM members WHERE project_id = $1 AND role = 'owner'")
        .bind(project_id)
        .fetch_one(db)
        .await
}

// ---------------------------------------------------------------------------------------------
// Issues

const ISSUE_COLUMNS: &str = "i.id, i.project_id, p.key AS project_key, i.number, i.title, \
     i.description, i.status, i.priority, i.labels, i.author_id, i.assignee_id, i.created_at, \
     i.updated_at, i.closed_at, i.version, m.role AS my_role";

pub struct NewIssue<'a> {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: &'a str,
    pub description: &'a str,
    pub priority: Priority,
    pub labels: &'a [String],
    pub author_id: Uuid,
    pub assignee_id: Option<Uuid>,
}

/// Creates an issue in one statement: takes the project's next number from its sequence (never
/// repeated, never blocking), inserts the issue and its `created` event, and returns the issue as
/// its author sees it.
pub async fn create_issue(
    tx: &mut Transaction<'_, Postgres>,
    issue: &NewIssue<'_>,
) -> sqlx::Result<IssueRow> {
    sqlx::query_as(
        "WITH n AS (
             SELECT nextval(issue_number_sequence(id)::regclass) AS number, key
             FROM projects WHERE id = $1
         ), i AS (
             INSERT INTO issues (id, project_id, number, title, description, priority, labels,
                                 author_id, assignee_id)
             SELECT $2, $1, n.number, $3, $4, $5, $6, $7, $8 FROM n
             RETURNING id, project_id, number, title, description, status, priority, labels,
                       author_id, assignee_id, created_at, updated_at, closed_at, version
         ), e AS (
             INSERT INTO issue_events (id, issue_id, actor_id, kind, field, new_value, created_at)
             SELECT $9, i.id, i.author_id, 'created', '', i.title, i.created_at FROM i
         )
         SELECT i.id, i.project_id, n.key AS project_key, i.number, i.title, i.description,
                i.status, i.priority, i.labels, i.author_id, i.assignee_id, i.created_at,
                i.updated_at, i.closed_at, i.version, m.role AS my_role
         FROM i CROSS JOIN n
         LEFT JOIN members m ON m.project_id = i.project_id AND m.user_id = i.author_id",
    )
    .bind(issue.project_id)
    .bind(issue.id)
    .bind(issue.title)
    .bind(issue.description)
    .bind(issue.priority.rank())
    .bind(issue.labels)
    .bind(issue.author_id)
    .bind(issue.assignee_id)
    .bind(Uuid::now_v7())
    .fetch_one(&mut **tx)
    .await
}

/// The issue `KEY-number` with the caller's role in its project.
pub async fn issue_by_key(
    db: impl PgExecutor<'_>,
    project_key: &str,
    number: i64,
    caller: Uuid,
) -> sqlx::Result<Option<IssueRow>> {
    sqlx::query_as(&format!(
        "SELECT {ISSUE_COLUMNS} FROM issues i
         JOIN projects p ON p.id = i.project_id
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $3
         WHERE p.key = $1 AND i.number = $2"
    ))
    .bind(project_key)
    .bind(number)
    .bind(caller)
    .fetch_optional(db)
    .await
}

/// Like [`issue_by_key`], locking the issue row for an update.
pub async fn lock_issue_by_key(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    number: i64,
    caller: Uuid,
) -> sqlx::Result<Option<IssueRow>> {
    sqlx::query_as(&format!(
        "SELECT {ISSUE_COLUMNS} FROM issues i
         JOIN projects p ON p.id = i.project_id
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $3
         WHERE p.key = $1 AND i.number = $2
         FOR UPDATE OF i"
    ))
    .bind(project_key)
    .bind(number)
    .bind(caller)
    .fetch_optional(&mut **tx)
    .await
}

/// The new state of an issue after an update (every field, already merged).
pub struct IssueUpdate<'a> {
    pub title: &'a str,
    pub description: &'a str,
    pub status: IssueStatus,
    pub priority: Priority,
    pub labels: &'a [String],
    pub assignee_id: Option<Uuid>,
    pub closed_at: Option<DateTime<Utc>>,
}

pub async fn update_issue(
    db: impl PgExecutor<'_>,
    id: Uuid,
    update: &IssueUpdate<'_>,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE issues SET title = $2, description = $3, status = $4, priority = $5, labels = $6,
                assignee_id = $7, closed_at = $8, updated_at = $9, version = version + 1
         WHERE id = $1",
    )
    .bind(id)
    .bind(update.title)
    .bind(update.description)
    .bind(update.status.as_str())
    .bind(update.priority.rank())
    .bind(update.labels)
    .bind(update.assignee_id)
    .bind(update.closed_at)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

pub async fn delete_issue(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM issues WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
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

/// Filters of an issue list, already parsed.
#[derive(Debug, Clone)]
pub struct IssueFilter {
    /// One project, or (`None`) every project visible to the caller.
    pub project_id: Option<Uuid>,
    pub caller: Uuid,
    /// Across projects: only the caller's projects (false for admins).
    pub member_only: bool,
    pub statuses: Vec<IssueStatus>,
    pub priorities: Vec<Priority>,
    pub assignee: AssigneeFilter,
    pub author: Option<Uuid>,
    pub label: Option<String>,
    pub query: Option<String>,
}

/// Where the previous page ended: the sort value and the id of its last issue.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct IssueCursor {
    /// Timestamp (µs since the epoch) or priority rank, by the sort in force.
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
            SortField::Priority => i64::from(row.priority),
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
        };
        if fits {
            Ok(())
        } else {
            Err(pagination::bad_token())
        }
    }
}

/// One page of issues matching `filter` in `sort` order after `cursor`.
pub async fn list_issues(
    db: impl PgExecutor<'_>,
    filter: &IssueFilter,
    sort: IssueSort,
    cursor: Option<&IssueCursor>,
    limit: i64,
) -> sqlx::Result<Vec<IssueRow>> {
    list_issues_query("", filter, sort, cursor, limit)
        .build_query_as()
        .fetch_all(db)
        .await
}

/// The query of [`list_issues`], after `prefix` (tests put `EXPLAIN` there to check its plan).
pub fn list_issues_query<'a>(
    prefix: &str,
    filter: &IssueFilter,
    sort: IssueSort,
    cursor: Option<&IssueCursor>,
    limit: i64,
) -> QueryBuilder<'a, Postgres> {
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(format!(
        "{prefix}SELECT {ISSUE_COLUMNS} FROM issues i
         JOIN projects p ON p.id = i.project_id
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = "
    ));
    q.push_bind(filter.caller);
    q.push(" WHERE true");
    match filter.project_id {
        Some(project_id) => {
            q.push(" AND i.project_id = ").push_bind(project_id);
        }
        None if filter.member_only => {
            q.push(" AND m.user_id IS NOT NULL");
        }
        None => {}
    }
    if !filter.statuses.is_empty() {
        let statuses: Vec<&str> = filter.statuses.iter().map(|s| s.as_str()).collect();
        q.push(" AND i.status = ANY(").push_bind(statuses).push(")");
    }
    if !filter.priorities.is_empty() {
        let ranks: Vec<i16> = filter.priorities.iter().map(|p| p.rank()).collect();
        q.push(" AND i.priority = ANY(").push_bind(ranks).push(")");
    }
    match filter.assignee {
        AssigneeFilter::Any => {}
        AssigneeFilter::Unassigned => {
            q.push(" AND i.assignee_id IS NULL");
        }
        AssigneeFilter::User(id) => {
            q.push(" AND i.assignee_id = ").push_bind(id);
        }
    }
    if let Some(author) = filter.author {
        q.push(" AND i.author_id = ").push_bind(author);
    }
    if let Some(label) = &filter.label {
        q.push(" AND i.labels @> ARRAY[")
            .push_bind(label.clone())
            .push("]::text[]");
    }
    if let Some(query) = &filter.query {
        q.push(" AND i.search @@ plainto_tsquery('simple', ")
            .push_bind(query.clone())
            .push(")");
    }
    let column = match sort.field {
        SortField::CreatedAt => "i.created_at",
        SortField::UpdatedAt => "i.updated_at",
        SortField::Priority => "i.priority",
    };
    let (cmp, dir) = if sort.descending {
        ("<", "DESC")
    } else {
        (">", "ASC")
    };
    if let Some(cursor) = cursor {
        q.push(format!(" AND ({column}, i.id) {cmp} ("));
        match sort.field {
            SortField::Priority => {
                q.push_bind(cursor.value as i16);
            }
            SortField::CreatedAt | SortField::UpdatedAt => {
                q.push_bind(DateTime::<Utc>::from_timestamp_micros(cursor.value));
            }
        }
        q.push(", ").push_bind(cursor.id).push(")");
    }
    q.push(format!(" ORDER BY {column} {dir}, i.id {dir} LIMIT "))
        .push_bind(limit);
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
        "SELECT {ISSUE_COLUMNS} FROM issues i
         JOIN projects p ON p.id = i.project_id
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

// ---------------------------------------------------------------------------------------------
// History

pub struct NewEvent<'a> {
    pub issue_id: Uuid,
    pub actor_id: Uuid,
    pub kind: &'a str,
    pub field: &'a str,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
}

pub async fn insert_events(
    db: impl PgExecutor<'_>,
    events: &[NewEvent<'_>],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let mut q: QueryBuilder<Postgres> = QueryBuilder::new(
        "INSERT INTO issue_events (id, issue_id, actor_id, kind, field, old_value, new_value, created_at) ",
    );
    q.push_values(events, |mut row, event| {
        row.push_bind(Uuid::now_v7())
            .push_bind(event.issue_id)
            .push_bind(event.actor_id)
            .push_bind(event.kind)
            .push_bind(event.field)
            .push_bind(event.old_value.clone())
            .push_bind(event.new_value.clone())
            .push_bind(at);
    });
    q.build().execute(db).await?;
    Ok(())
}

/// Events of an issue, oldest first, after `(created_at, id)`.
pub async fn list_events(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<EventRow>> {
    sqlx::query_as(
        "SELECT id, actor_id, kind, field, old_value, new_value, created_at FROM issue_events
         WHERE issue_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) > ($2, $3))
         ORDER BY created_at, id
         LIMIT $4",
    )
    .bind(issue_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

// ---------------------------------------------------------------------------------------------
// Comments

const COMMENT_COLUMNS: &str = "c.id, c.issue_id, p.key || '-' || i.number AS issue_key, \
     i.project_id, p.key AS project_key, c.author_id, c.body, c.created_at, c.updated_at, m.role AS my_role";

pub async fn insert_comment(
    db: impl PgExecutor<'_>,
    id: Uuid,
    issue_id: Uuid,
    author_id: Uuid,
    body: &str,
) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO comments (id, issue_id, author_id, body) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(issue_id)
        .bind(author_id)
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

/// A comment with its issue key and the caller's role in the project.
pub async fn comment_by_id(
    db: impl PgExecutor<'_>,
    id: Uuid,
    caller: Uuid,
) -> sqlx::Result<Option<CommentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COMMENT_COLUMNS} FROM comments c
         JOIN issues i ON i.id = c.issue_id
         JOIN projects p ON p.id = i.project_id
         LEFT JOIN members m ON m.project_id = p.id AND m.user_id = $2
         WHERE c.id = $1"
    ))
    .bind(id)
    .bind(caller)
    .fetch_optional(db)
    .await
}

/// Comments of an issue, oldest first, after `(created_at, id)`.
pub async fn list_comments(
    db: impl PgExecutor<'_>,
    issue_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> sqlx::Result<Vec<CommentRow>> {
    sqlx::query_as(&format!(
        "SELECT {COMMENT_COLUMNS} FROM comments c
         JOIN issues i ON i.id = c.issue_id
         JOIN projects p ON p.id = i.project_id
         LEFT JOIN members m ON false
         WHERE c.issue_id = $1 AND ($2::timestamptz IS NULL OR (c.created_at, c.id) > ($2, $3))
         ORDER BY c.created_at, c.id
         LIMIT $4"
    ))
    .bind(issue_id)
    .bind(after.map(|a| a.0))
    .bind(after.map(|a| a.1))
    .bind(limit)
    .fetch_all(db)
    .await
}

pub async fn update_comment(db: impl PgExecutor<'_>, id: Uuid, body: &str) -> sqlx::Result<()> {
    sqlx::query("UPDATE comments SET body = $2, updated_at = now() WHERE id = $1")
        .bind(id)
        .bind(body)
        .execute(db)
        .await?;
    Ok(())
}

pub async fn delete_comment(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM comments WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Whether the database answers (readiness).
pub async fn ping(db: &PgPool) -> sqlx::Result<()> {
    sqlx::query("SELECT 1").execute(db).await?;
    Ok(())
}
