//! No list query may read every issue of a project to answer one page: the plans of the list
//! query, on 10,000 issues, under every supported filter and order, use indexes and read a bounded
//! number of rows.

use serde_json::Value;
use swatter_issues::{
    domain::{IssueSort, IssueStatus, Priority},
    store::{AssigneeFilter, IssueCursor, IssueFilter, list_issues, list_issues_query},
};
use uuid::Uuid;

const ISSUES: i64 = 10_000;

/// Scan nodes of a plan on `issues` (alias `i`): (node type, rows read incl. filtered out).
fn issue_scans(plan: &Value, out: &mut Vec<(String, f64)>) {
    let node = plan["Node Type"].as_str().unwrap_or_default();
    if plan["Relation Name"] == "issues" {
        let loops = plan["Actual Loops"].as_f64().unwrap_or(1.0);
        let rows = plan["Actual Rows"].as_f64().unwrap_or(0.0)
            + plan["Rows Removed by Filter"].as_f64().unwrap_or(0.0)
            + plan["Rows Removed by Index Recheck"]
                .as_f64()
                .unwrap_or(0.0);
        out.push((node.to_owned(), rows * loops));
    }
    if let Some(children) = plan["Plans"].as_array() {
        for child in children {
            issue_scans(child, out);
        }
    }
}

#[tokio::test]
async fn every_list_query_uses_an_index_and_reads_far_fewer_rows_than_the_project_has() {
    let app = crate::support::TestApp::spawn().await;
    let owner = app.user("owner").await;
    app.create_project(&owner, "BIG").await.unwrap();
    app.create_project(&owner, "OTHER").await.unwrap();
    let pool = &app.db.pool;
    let project: Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = 'BIG'")
        .fetch_one(pool)
        .await
        .unwrap();
    let owner_id: Uuid = owner.id.parse().unwrap();
    let assignees: Vec<Uuid> = (0..8).map(|_| Uuid::new_v4()).collect();
    sqlx::query(
        "INSERT INTO issues (id, project_id, number, title, description, status, priority, labels,
                             author_id, assignee_id, created_at, updated_at)
         SELECT gen_random_uuid(), $1, n, 'issue ' || n || ' word' || (n % 100), 'text ' || n,
                (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4], 1 + (n / 7) % 4,
                CASE WHEN n % 50 = 0 THEN ARRAY['bug'] ELSE ARRAY['chore'] END,
                $2, CASE WHEN n % 9 = 0 THEN NULL ELSE ($3::uuid[])[1 + n % 8] END,
                now() - n * interval '1 minute', now() - n * interval '1 second'
         FROM generate_series(1, $4::int) n",
    )
    .bind(project)
    .bind(owner_id)
    .bind(&assignees)
    .bind(ISSUES)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();

    let base = IssueFilter {
        project_id: Some(project),
        caller: owner_id,
        member_only: false,
        statuses: vec![],
        priorities: vec![],
        assignee: AssigneeFilter::Any,
        author: None,
        label: None,
        query: None,
    };
    let sort = |s: &str| IssueSort::parse(s).unwrap();
    let first_page = list_issues(pool, &base, sort(""), None, 21).await.unwrap();
    let cursor = IssueCursor::after(first_page.last().unwrap(), sort(""));
    let cases: Vec<(&str, IssueFilter, IssueSort, Option<IssueCursor>)> = vec![
        ("default order", base.clone(), sort(""), None),
        ("second page", base.clone(), sort(""), Some(cursor)),
        ("created_at", base.clone(), sort("created_at"), None),
        ("-priority", base.clone(), sort("-priority"), None),
        (
            "status open",
            IssueFilter {
                statuses: vec![IssueStatus::Open],
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "status open,in_progress",
            IssueFilter {
                statuses: vec![IssueStatus::Open, IssueStatus::InProgress],
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "priority urgent",
            IssueFilter {
                priorities: vec![Priority::Urgent],
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "assignee",
            IssueFilter {
                assignee: AssigneeFilter::User(assignees[3]),
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "unassigned",
            IssueFilter {
                assignee: AssigneeFilter::Unassigned,
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "author",
            IssueFilter {
                author: Some(owner_id),
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "label",
            IssueFilter {
                label: Some("bug".into()),
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "text",
            IssueFilter {
                query: Some("word42".into()),
                ..base.clone()
            },
            sort(""),
            None,
        ),
        (
            "across projects, assignee",
            IssueFilter {
                project_id: None,
                member_only: true,
                assignee: AssigneeFilter::User(assignees[1]),
                ..base.clone()
            },
            sort(""),
            None,
        ),
    ];
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (name, filter, order, cursor) in cases {
        let plan: Value = list_issues_query(
            "EXPLAIN (ANALYZE, FORMAT JSON) ",
            &filter,
            order,
            cursor.as_ref(),
            21,
        )
        .build_query_scalar()
        .fetch_one(pool)
        .await
        .unwrap();
        let mut scans = Vec::new();
        issue_scans(&plan[0]["Plan"], &mut scans);
        let read: f64 = scans.iter().map(|(_, rows)| rows).sum();
        report.push(format!("{name}: {scans:?}"));
        if scans.iter().any(|(node, _)| node == "Seq Scan") || read >= ISSUES as f64 / 2.0 {
            failures.push(format!("{name}: {scans:?}"));
        }
    }
    println!("{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "plans that read too much:\n{}",
        failures.join("\n")
    );
}
