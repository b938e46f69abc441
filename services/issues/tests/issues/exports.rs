//! `ExportIssues`: every issue a list would show, across all its pages, in its order, with the
//! list's checks.

use futures::StreamExt;
use swatter_common::status::violations;
use swatter_proto::issues::v1 as pb;
use tonic::{Code, Status};

use crate::support::{TestApp, User, req};

/// Project `EXP` with `n` issues inserted in bulk: statuses and priorities cycle, creation times
/// spread over minutes (so the orders differ from the numbers), every seventh labelled `bug`.
async fn seeded(n: i64) -> (TestApp, User) {
    let app = TestApp::spawn().await;
    let owner = app.user("exp-owner").await;
    app.create_project(&owner, "EXP").await.unwrap();
    sqlx::query(
        "INSERT INTO issues (id, project_id, number, title, description, status, priority,
                             labels, author_id, created_at, updated_at)
         SELECT gen_random_uuid(), p.id, n, 'issue ' || n, 'needle ' || (n % 3),
                (ARRAY['open','in_progress','resolved','closed'])[1 + n % 4], 1 + (n * 7) % 4,
                CASE WHEN n % 7 = 0 THEN ARRAY['bug'] ELSE '{}'::text[] END, $2,
                now() - make_interval(secs => (n * 37) % 1000), now() - make_interval(secs => n)
         FROM projects p, generate_series(1, $1) n WHERE p.key = 'EXP'",
    )
    .bind(n)
    .bind(uuid::Uuid::parse_str(&owner.id).unwrap())
    .execute(&app.db.pool)
    .await
    .unwrap();
    (app, owner)
}

async fn export(
    app: &TestApp,
    user: &User,
    list: pb::ListIssuesRequest,
) -> Result<Vec<String>, Status> {
    let mut stream = app
        .client()
        .export_issues(req(list, user))
        .await?
        .into_inner();
    let mut keys = Vec::new();
    while let Some(issue) = stream.next().await {
        keys.push(issue?.key);
    }
    Ok(keys)
}

/// Every page of the list, as a client pages through it.
async fn listed(app: &TestApp, user: &User, list: pb::ListIssuesRequest) -> Vec<String> {
    swatter_testkit::listed_keys(&app.issues, user, list).await
}

#[tokio::test]
async fn an_export_streams_every_page_of_the_list_in_its_order() {
    let (app, owner) = seeded(1234).await;
    let lists = [
        pb::ListIssuesRequest {
            project_key: "EXP".into(),
            ..Default::default()
        },
        pb::ListIssuesRequest {
            project_key: "EXP".into(),
            statuses: vec![pb::IssueStatus::Open as i32, pb::IssueStatus::Closed as i32],
            sort: "created_at".into(),
            ..Default::default()
        },
        pb::ListIssuesRequest {
            query: "priority:>=high label:bug".into(),
            sort: "-priority".into(),
            ..Default::default()
        },
        pb::ListIssuesRequest {
            project_key: "EXP".into(),
            query: "needle 2".into(),
            ..Default::default()
        },
    ];
    for list in lists {
        let expected = listed(&app, &owner, list.clone()).await;
        assert!(!expected.is_empty(), "{list:?}");
        for batch in [0, 7, 1000] {
            let exported = export(
                &app,
                &owner,
                pb::ListIssuesRequest {
                    page_size: batch,
                    ..list.clone()
                },
            )
            .await
            .unwrap();
            assert_eq!(exported, expected, "{list:?} in batches of {batch}");
        }
    }
    let all = export(&app, &owner, pb::ListIssuesRequest::default()).await;
    assert_eq!(all.unwrap().len(), 1234);
}

#[tokio::test]
async fn an_export_refuses_what_the_list_refuses() {
    let (app, owner) = seeded(3).await;
    let outsider = app.user("exp-outsider").await;

    let bad_query = export(
        &app,
        &owner,
        pb::ListIssuesRequest {
            project_key: "EXP".into(),
            query: "status:".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_query.code(), Code::InvalidArgument);
    assert_eq!(violations(&bad_query)[0].field, "q");

    let bad_batch = export(
        &app,
        &owner,
        pb::ListIssuesRequest {
            page_size: 1001,
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(violations(&bad_batch)[0].field, "page_size");

    let hidden = export(
        &app,
        &outsider,
        pb::ListIssuesRequest {
            project_key: "EXP".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    // Across projects an outsider sees none of them: an empty export, as an empty list.
    let nothing = export(&app, &outsider, pb::ListIssuesRequest::default()).await;
    assert_eq!(nothing.unwrap(), Vec::<String>::new());
}

#[tokio::test]
async fn an_export_batch_reads_the_lists_indexes_in_order_never_the_whole_table() {
    use swatter_issues::{
        domain::IssueSort,
        store::{AssigneeFilter, IssueFilter, ListScope, list_issues_query},
    };
    let (app, _owner) = seeded(20_000).await;
    sqlx::query("ANALYZE issues")
        .execute(&app.db.pool)
        .await
        .unwrap();
    let project: uuid::Uuid = sqlx::query_scalar("SELECT id FROM projects WHERE key = 'EXP'")
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
    let scope = ListScope::Project {
        id: project,
        key: "EXP".into(),
    };
    let filter = IssueFilter {
        statuses: Vec::new(),
        priorities: Vec::new(),
        assignee: AssigneeFilter::Any,
        author: None,
        label: None,
        query: None,
        phrases: Vec::new(),
        clauses: Vec::new(),
    };
    for sort in ["-updated_at", "created_at", "-priority", "due_on"] {
        let sort = IssueSort::parse(sort).unwrap();
        let plan: (serde_json::Value,) = list_issues_query(
            "EXPLAIN (ANALYZE, FORMAT JSON) ",
            &scope,
            &filter,
            sort,
            None,
            1000,
        )
        .build_query_as()
        .fetch_one(&app.db.pool)
        .await
        .unwrap();
        let mut scans = Vec::new();
        issue_scans(&plan.0, &mut scans);
        assert!(!scans.is_empty(), "{sort:?}: {}", plan.0);
        assert!(
            scans.iter().all(|(node, _)| node.starts_with("Index")),
            "{sort:?}: {scans:?}"
        );
        // Each of the four status arms stops after a batch: at most 4,000 of the 20,000 rows.
        let read: f64 = scans.iter().map(|(_, rows)| rows).sum();
        assert!(read <= 4_000.0, "{sort:?} read {read} rows: {}", plan.0);
    }
}

/// The scans of `issues` in a JSON plan: node type and rows read (rows × loops).
fn issue_scans(plan: &serde_json::Value, out: &mut Vec<(String, f64)>) {
    match plan {
        serde_json::Value::Array(items) => items.iter().for_each(|item| issue_scans(item, out)),
        serde_json::Value::Object(node) => {
            if node.get("Relation Name").and_then(|r| r.as_str()) == Some("issues") {
                let number = |key: &str| node.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0);
                out.push((
                    node["Node Type"].as_str().unwrap_or_default().to_owned(),
                    number("Actual Rows") * number("Actual Loops"),
                ));
            }
            node.values().for_each(|value| issue_scans(value, out));
        }
        _ => {}
    }
}
