//! Relations between issues (migration `create_issue_relations`): rows of `issue_relations` for
//! blocks, duplicates and relates to, `issues.parent_id` for sub-issues; the graph walks that
//! refuse cycles, and what each listed issue shows of its relations.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{PgExecutor, Postgres, Transaction};
use uuid::Uuid;

use crate::domain::{EdgeKind, IssueStatus};

/// Who is looking: decides which other issues are shown and which are hidden.
#[derive(Debug, Clone)]
pub struct Viewer {
    pub id: Uuid,
    pub admin: bool,
    /// The projects a personal access token is limited to; `None`: no limit.
    pub projects: Option<Vec<String>>,
}

/// SQL: may the viewer (`$n` its id, `$n+1` admin, `$n+2` token projects) see an issue of the
/// project `project_id` whose key is `project_key`?
fn visible(project_id: &str, project_key: &str, n: usize) -> String {
    format!(
        "(${a} OR EXISTS (SELECT 1 FROM members vm WHERE vm.project_id = {project_id} \
         AND vm.user_id = ${n})) AND (${p}::text[] IS NULL OR {project_key} = ANY(${p}))",
        a = n + 1,
        p = n + 2,
    )
}

/// An issue as a relation names it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct IssueRef {
    pub id: Uuid,
    pub project_id: Uuid,
    pub project_key: String,
    pub number: i64,
    pub title: String,
    pub status: IssueStatus,
    pub parent_id: Option<Uuid>,
}

impl IssueRef {
    pub fn key(&self) -> String {
        format!("{}-{}", self.project_key, self.number)
    }
}

const ISSUE_REF: &str = "SELECT i.id, i.project_id, p.key AS project_key, i.number, i.title, \
     i.status, i.parent_id FROM issues i JOIN projects p ON p.id = i.project_id";

/// The issue `KEY-number`, kept from being deleted until the transaction ends (`FOR KEY
/// SHARE`: other relations and field changes go ahead, and a delete of its parent, which clears
/// its `parent_id`, does not deadlock with it).
pub async fn lock_issue_ref(
    tx: &mut Transaction<'_, Postgres>,
    project_key: &str,
    number: i64,
) -> sqlx::Result<Option<IssueRef>> {
    sqlx::query_as(&format!(
        "{ISSUE_REF} WHERE p.key = $1 AND i.number = $2 FOR KEY SHARE OF i"
    ))
    .bind(project_key)
    .bind(number)
    .fetch_optional(&mut **tx)
    .await
}

/// The issue `KEY-number`, kept from being deleted until the transaction ends (`FOR KEY
/// SHARE`, as a new row pointing at it would).
pub async fn share_issue_ref(
    db: impl PgExecutor<'_>,
    project_key: &str,
    number: i64,
) -> sqlx::Result<Option<IssueRef>> {
    sqlx::query_as(&format!(
        "{ISSUE_REF} WHERE p.key = $1 AND i.number = $2 FOR KEY SHARE OF i"
    ))
    .bind(project_key)
    .bind(number)
    .fetch_optional(db)
    .await
}

/// The graphs whose changes are made one at a time, so that two concurrent additions can never
/// close a cycle together (each checks the graph as the other left it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Graph {
    Blocks,
    Parents,
}

/// Takes the lock of `graph` until `tx` ends. Taken before any row lock of the transaction, so
/// that it never waits for it while holding one.
pub async fn lock_graph(tx: &mut Transaction<'_, Postgres>, graph: Graph) -> sqlx::Result<()> {
    let key: i64 = match graph {
        Graph::Blocks => 0x5357_4154_524c_4231,
        Graph::Parents => 0x5357_4154_524c_5031,
    };
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(key)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Every `blocks` edge reachable from `from` (following "blocks"), as (source, target), in one
/// statement: each edge is read once, however many paths lead to it.
pub async fn blocks_reachable_from(
    db: impl PgExecutor<'_>,
    from: Uuid,
) -> sqlx::Result<Vec<(Uuid, Uuid)>> {
    sqlx::query_as(
        "WITH RECURSIVE reach (source_id, target_id) AS (
             SELECT source_id, target_id FROM issue_relations
             WHERE source_id = $1 AND kind = 'blocks'
             UNION
             SELECT r.source_id, r.target_id
             FROM reach JOIN issue_relations r ON r.source_id = reach.target_id AND r.kind = 'blocks'
         )
         SELECT source_id, target_id FROM reach",
    )
    .bind(from)
    .fetch_all(db)
    .await
}

/// `id` and its ancestors, nearest first (at most `limit` + 1 of them).
pub async fn ancestors(db: impl PgExecutor<'_>, id: Uuid, limit: i32) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "WITH RECURSIVE up (id, parent_id, n) AS (
             SELECT id, parent_id, 0 FROM issues WHERE id = $1
             UNION ALL
             SELECT i.id, i.parent_id, up.n + 1 FROM up JOIN issues i ON i.id = up.parent_id
             WHERE up.n < $2
         )
         SELECT id FROM up ORDER BY n",
    )
    .bind(id)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// How many levels of sub-issues lie below `id` (0: none), counted up to `limit` + 1.
pub async fn subtree_height(db: impl PgExecutor<'_>, id: Uuid, limit: i32) -> sqlx::Result<i32> {
    sqlx::query_scalar(
        "WITH RECURSIVE down (id, n) AS (
             SELECT $1::uuid, 0
             UNION ALL
             SELECT i.id, down.n + 1 FROM down JOIN issues i ON i.parent_id = down.id
             WHERE down.n <= $2
         )
         SELECT max(n) FROM down",
    )
    .bind(id)
    .bind(limit)
    .fetch_one(db)
    .await
}

/// How many sub-issues `parent` has.
pub async fn count_children(db: impl PgExecutor<'_>, parent: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM issues WHERE parent_id = $1")
        .bind(parent)
        .fetch_one(db)
        .await
}

/// How many rows of `issue_relations` name `id` (at either end).
pub async fn count_edges(db: impl PgExecutor<'_>, id: Uuid) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM issue_relations WHERE source_id = $1)
              + (SELECT count(*) FROM issue_relations WHERE target_id = $1)",
    )
    .bind(id)
    .fetch_one(db)
    .await
}

/// Stores an edge; `None` when it already exists, else when it was made.
pub async fn insert_edge(
    db: impl PgExecutor<'_>,
    kind: EdgeKind,
    source: Uuid,
    target: Uuid,
    created_by: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "INSERT INTO issue_relations (source_id, target_id, kind, created_by)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT ON CONSTRAINT issue_relations_pkey DO NOTHING
         RETURNING created_at",
    )
    .bind(source)
    .bind(target)
    .bind(kind)
    .bind(created_by)
    .fetch_optional(db)
    .await
}

/// Removes an edge; whether there was one.
pub async fn delete_edge(
    db: impl PgExecutor<'_>,
    kind: EdgeKind,
    source: Uuid,
    target: Uuid,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "DELETE FROM issue_relations WHERE source_id = $1 AND kind = $2 AND target_id = $3",
    )
    .bind(source)
    .bind(kind)
    .bind(target)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// Makes `child` a sub-issue of `parent`; returns when.
pub async fn set_parent(
    db: impl PgExecutor<'_>,
    child: Uuid,
    parent: Uuid,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    sqlx::query_scalar(
        "UPDATE issues SET parent_id = $2, parent_set_at = now() WHERE id = $1
         RETURNING parent_set_at",
    )
    .bind(child)
    .bind(parent)
    .fetch_optional(db)
    .await
}

/// Detaches `child` from `parent`; whether it was its sub-issue.
pub async fn clear_parent(
    db: impl PgExecutor<'_>,
    child: Uuid,
    parent: Uuid,
) -> sqlx::Result<bool> {
    Ok(sqlx::query(
        "UPDATE issues SET parent_id = NULL, parent_set_at = NULL
         WHERE id = $1 AND parent_id = $2",
    )
    .bind(child)
    .bind(parent)
    .execute(db)
    .await?
    .rows_affected()
        > 0)
}

/// One relation of an issue, seen from it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RelationRow {
    /// The wire name of the kind (`blocked_by`, `parent_of`…).
    pub kind: String,
    pub created_at: Option<DateTime<Utc>>,
    pub other_id: Uuid,
    pub project_key: String,
    pub number: i64,
    pub title: String,
    pub status: IssueStatus,
    /// Whether the viewer may see the other issue.
    pub visible: bool,
}

/// Most relations a list shows: the bounds on adding keep an issue well below it.
pub const MAX_LISTED_RELATIONS: i64 = 1000;

/// Every relation of the issue `id`, by kind, then the other issue's key.
pub async fn list_relations(
    db: impl PgExecutor<'_>,
    id: Uuid,
    viewer: &Viewer,
) -> sqlx::Result<Vec<RelationRow>> {
    sqlx::query_as(&format!(
        "WITH rel (other_id, kind, created_at) AS (
             SELECT target_id, CASE kind WHEN 'blocks' THEN 'blocks'
                    WHEN 'duplicates' THEN 'duplicates' ELSE 'relates_to' END, created_at
             FROM issue_relations WHERE source_id = $1
             UNION ALL
             SELECT source_id, CASE kind WHEN 'blocks' THEN 'blocked_by'
                    WHEN 'duplicates' THEN 'duplicated_by' ELSE 'relates_to' END, created_at
             FROM issue_relations WHERE target_id = $1
             UNION ALL
             SELECT parent_id, 'child_of', parent_set_at FROM issues
             WHERE id = $1 AND parent_id IS NOT NULL
             UNION ALL
             SELECT id, 'parent_of', parent_set_at FROM issues WHERE parent_id = $1
         )
         SELECT rel.kind, rel.created_at, o.id AS other_id, p.key AS project_key, o.number,
                o.title, o.status, {visible} AS visible
         FROM rel JOIN issues o ON o.id = rel.other_id JOIN projects p ON p.id = o.project_id
         ORDER BY rel.kind, p.key, o.number
         LIMIT {MAX_LISTED_RELATIONS}",
        visible = visible("o.project_id", "p.key", 2),
    ))
    .bind(id)
    .bind(viewer.id)
    .bind(viewer.admin)
    .bind(viewer.projects.as_deref())
    .fetch_all(db)
    .await
}

/// The keys of `ids`, each with whether the viewer may see it.
pub async fn keys_of(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    viewer: &Viewer,
) -> sqlx::Result<HashMap<Uuid, (String, bool)>> {
    let rows: Vec<(Uuid, String, bool)> = sqlx::query_as(&format!(
        "SELECT i.id, p.key || '-' || i.number, {visible}
         FROM issues i JOIN projects p ON p.id = i.project_id WHERE i.id = ANY($1)",
        visible = visible("i.project_id", "p.key", 2),
    ))
    .bind(ids)
    .bind(viewer.id)
    .bind(viewer.admin)
    .bind(viewer.projects.as_deref())
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, key, visible)| (id, (key, visible)))
        .collect())
}

/// What an issue shows of its relations.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Derived {
    pub id: Uuid,
    /// The parent's key, when the viewer may see it.
    pub parent_key: Option<String>,
    pub parent_hidden: bool,
    pub sub_issues_total: i64,
    pub sub_issues_done: i64,
    pub blocked: bool,
    /// With resolution `duplicate`: the issue it duplicates (the latest such relation), when
    /// the viewer may see it.
    pub duplicate_of: Option<String>,
}

/// [`Derived`] of each of `ids` (a page of issues) in one statement.
pub async fn derived(
    db: impl PgExecutor<'_>,
    ids: &[Uuid],
    viewer: &Viewer,
) -> sqlx::Result<Vec<Derived>> {
    sqlx::query_as(&format!(
        "SELECT i.id,
                CASE WHEN {parent_visible} THEN pp.key || '-' || par.number END AS parent_key,
                par.id IS NOT NULL AND NOT ({parent_visible}) AS parent_hidden,
                sub.total AS sub_issues_total, sub.done AS sub_issues_done,
                EXISTS (SELECT 1 FROM issue_relations r JOIN issues b ON b.id = r.source_id
                        WHERE r.target_id = i.id AND r.kind = 'blocks'
                          AND b.status NOT IN ('resolved', 'closed')) AS blocked,
                dup.key AS duplicate_of
         FROM issues i
         LEFT JOIN issues par ON par.id = i.parent_id
         LEFT JOIN projects pp ON pp.id = par.project_id
         CROSS JOIN LATERAL (
             SELECT count(*) AS total,
                    count(*) FILTER (WHERE c.status IN ('resolved', 'closed')) AS done
             FROM issues c WHERE c.parent_id = i.id
         ) sub
         LEFT JOIN LATERAL (
             SELECT CASE WHEN {dup_visible} THEN dp.key || '-' || d.number END AS key
             FROM issue_relations r JOIN issues d ON d.id = r.target_id
             JOIN projects dp ON dp.id = d.project_id
             WHERE r.source_id = i.id AND r.kind = 'duplicates'
             ORDER BY r.created_at DESC LIMIT 1
         ) dup ON i.resolution = 'duplicate'
         WHERE i.id = ANY($1)",
        parent_visible = visible("par.project_id", "pp.key", 2),
        dup_visible = visible("d.project_id", "dp.key", 2),
    ))
    .bind(ids)
    .bind(viewer.id)
    .bind(viewer.admin)
    .bind(viewer.projects.as_deref())
    .fetch_all(db)
    .await
}

/// Which of the project keys `keys` name a project the viewer may see.
pub async fn visible_project_keys(
    db: impl PgExecutor<'_>,
    keys: &[String],
    viewer: &Viewer,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(&format!(
        "SELECT p.key FROM projects p WHERE p.key = ANY($1) AND {visible}",
        visible = visible("p.id", "p.key", 2),
    ))
    .bind(keys)
    .bind(viewer.id)
    .bind(viewer.admin)
    .bind(viewer.projects.as_deref())
    .fetch_all(db)
    .await
}
