//! Exports (`issues_csv`, `issues_json`) end to end: the real issues service lists, the worker
//! streams the file into s3s-fs part by part, and what is downloaded is read back with a real CSV
//! parser and serde_json.

use std::time::Duration;

use swatter_common::status::violations;
use swatter_proto::{
    issues::v1 as ipb,
    reporting::v1::{self as pb, JobState, report_params::Params},
};
use tonic::Code;

use swatter_reporting::startup::Mode;

use crate::support::{Options, TestApp, User, req};

const LIMIT: Duration = Duration::from_secs(90);

/// Titles a spreadsheet or a naive CSV writer would get wrong.
const TRICKY: [&str; 6] = [
    "=cmd|'/c calc'!A0",
    "+1 for this",
    "-2 degrees breaks the sensor",
    "@channel: the build is red",
    "Comma, \"quotes\" and an emoji 🐛",
    "Plain title",
];

fn export_params(csv: bool, filter: ipb::ListIssuesRequest) -> pb::ReportParams {
    let params = pb::IssueExportParams {
        filter: Some(filter),
    };
    pb::ReportParams {
        params: Some(if csv {
            Params::IssuesCsv(params)
        } else {
            Params::IssuesJson(params)
        }),
    }
}

async fn try_export(
    app: &TestApp,
    user: &User,
    csv: bool,
    filter: ipb::ListIssuesRequest,
) -> Result<pb::Job, tonic::Status> {
    app.api()
        .create_report(req(
            pb::CreateReportRequest {
                params: Some(export_params(csv, filter)),
                request_id: String::new(),
            },
            user,
        ))
        .await
        .map(|r| r.into_inner())
}

/// Every issue key the list shows, page after page.
async fn listed(app: &TestApp, user: &User, list: ipb::ListIssuesRequest) -> Vec<String> {
    swatter_testkit::listed_keys(&app.issues, user, list).await
}

/// Project `EXP` with the tricky titles (the first with a description over several lines) and
/// `seeded` more issues.
async fn project_with_tricky_issues(options: Options, seeded: i64) -> (TestApp, User) {
    let (app, owner) = TestApp::spawn_with_project(options, "EXP", &TRICKY).await;
    app.issues
        .clone()
        .update_issue(req(
            ipb::UpdateIssueRequest {
                issue_key: "EXP-1".into(),
                description: Some("line one\r\nline \"two\", with a comma\n=SUM(A1:A9)".into()),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    if seeded > 0 {
        app.seed_issues(&owner, "EXP", seeded).await;
    }
    (app, owner)
}

fn open_issues_of_exp() -> ipb::ListIssuesRequest {
    ipb::ListIssuesRequest {
        project_key: "EXP".into(),
        statuses: vec![ipb::IssueStatus::Open as i32],
        sort: "created_at".into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_csv_export_lists_the_filtered_issues_in_order_with_safe_cells() {
    let (app, owner) = project_with_tricky_issues(Options::default(), 300).await;

    let job = try_export(&app, &owner, true, open_issues_of_exp())
        .await
        .unwrap();
    assert_eq!(job.kind, pb::ReportKind::IssuesCsv as i32);
    let Some(Params::IssuesCsv(params)) = job.params.clone().and_then(|p| p.params) else {
        panic!("the job shows its export filter: {job:?}");
    };
    assert_eq!(params.filter.unwrap(), open_issues_of_exp());
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let artifact = done.artifact.unwrap();
    assert_eq!(artifact.content_type, "text/csv; charset=utf-8");
    assert_eq!(done.progress, 100);

    let bytes = app.download(&owner, &job.id).await;
    assert_eq!(bytes.len() as i64, artifact.size_bytes);
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
        artifact.sha256
    );
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let body = text.strip_prefix('\u{feff}').expect("a byte order mark");
    assert!(body.split("\r\n").count() > 300 / 4, "rows end with CRLF");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(header[..4], ["key", "title", "status", "priority"]);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let keys: Vec<&str> = rows.iter().map(|row| &row[0]).collect();
    assert_eq!(keys, listed(&app, &owner, open_issues_of_exp()).await);
    assert!(
        rows.iter()
            .all(|row| &row[column("status")] == "open" && row.len() == header.len())
    );
    let title_of = |key: &str| {
        rows.iter()
            .find(|row| &row[0] == key)
            .map(|row| row[column("title")].to_owned())
            .unwrap()
    };
    // A cell a spreadsheet would run as a formula starts with `'`; the rest are as written.
    assert_eq!(title_of("EXP-1"), "'=cmd|'/c calc'!A0");
    assert_eq!(title_of("EXP-2"), "'+1 for this");
    assert_eq!(title_of("EXP-3"), "'-2 degrees breaks the sensor");
    assert_eq!(title_of("EXP-4"), "'@channel: the build is red");
    assert_eq!(title_of("EXP-5"), "Comma, \"quotes\" and an emoji 🐛");
    let first = rows.iter().find(|row| &row[0] == "EXP-1").unwrap();
    assert_eq!(
        &first[column("description")],
        "line one\r\nline \"two\", with a comma\n=SUM(A1:A9)"
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_json_export_is_the_list_as_the_rest_api_shows_it() {
    let (app, owner) = project_with_tricky_issues(Options::default(), 50).await;
    let filter = ipb::ListIssuesRequest {
        project_key: "EXP".into(),
        query: "title".into(),
        ..Default::default()
    };

    let job = try_export(&app, &owner, false, filter.clone())
        .await
        .unwrap();
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    assert_eq!(done.artifact.unwrap().content_type, "application/json");

    let issues: Vec<serde_json::Value> =
        serde_json::from_slice(&app.download(&owner, &job.id).await).unwrap();
    let keys: Vec<&str> = issues.iter().map(|i| i["key"].as_str().unwrap()).collect();
    assert_eq!(keys, listed(&app, &owner, filter).await);
    assert_eq!(keys, ["EXP-6"], "free text finds the one plain title");
    let issue = &issues[0];
    assert_eq!(issue["title"], "Plain title");
    assert_eq!(issue["status"], "open");
    assert_eq!(issue["project_key"], "EXP");
    assert_eq!(issue["assignee_id"], serde_json::Value::Null);
    assert_eq!(
        issue["sub_issues"],
        serde_json::json!({"total": 0, "done": 0})
    );
    assert!(issue["created_at"].as_str().unwrap().ends_with('Z'));
    app.cleanup_broker().await;
}

#[tokio::test]
async fn an_export_larger_than_a_part_is_uploaded_in_parts_and_reads_back_whole() {
    let (app, owner) = project_with_long_issues(Options::default(), "BIG", 3000).await;
    let filter = whole_project("BIG");

    let job = try_export(&app, &owner, true, filter.clone())
        .await
        .unwrap();
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let size = done.artifact.unwrap().size_bytes;
    assert!(size > 6 * 1024 * 1024 + 4096, "more than a part: {size}");

    let bytes = app.download(&owner, &job.id).await;
    assert_eq!(bytes.len() as i64, size);
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let keys: Vec<String> = reader
        .records()
        .map(|row| row.unwrap()[0].to_owned())
        .collect();
    assert_eq!(keys, listed(&app, &owner, filter).await);
    assert_eq!(keys.len(), 3000);
    assert_eq!(
        app.storage.list("exports/").await.unwrap(),
        [format!("exports/{}.csv", job.id)]
    );
    assert_eq!(app.s3.pending_uploads(), 0);
    app.cleanup_broker().await;
}

/// Project `key` with `count` seeded issues of about 2.5 KB of description each (5,000 make
/// some 12 MB: the first part is sent after about 2,500 of them).
async fn project_with_long_issues(options: Options, key: &str, count: i64) -> (TestApp, User) {
    let (app, owner) = TestApp::spawn_with_project(options, key, &[]).await;
    app.seed_issues(&owner, key, count).await;
    sqlx::query("UPDATE issues SET description = repeat('Long description, \"quoted\". ', 90)")
        .execute(&app.issues_db.pool)
        .await
        .unwrap();
    (app, owner)
}

fn whole_project(key: &str) -> ipb::ListIssuesRequest {
    ipb::ListIssuesRequest {
        project_key: key.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn an_export_that_fails_midway_leaves_nothing_then_its_retry_writes_the_one_object() {
    let (app, owner) = project_with_long_issues(Options::default(), "MID", 5000).await;
    // The last issue in the list's order holds a priority the issues service cannot read: its
    // batch, the last, fails after the first part was sent.
    sqlx::query("ALTER TABLE issues DROP CONSTRAINT issues_priority_check")
        .execute(&app.issues_db.pool)
        .await
        .unwrap();
    let last = "(SELECT id FROM issues ORDER BY updated_at, id LIMIT 1)";
    sqlx::query(&format!("UPDATE issues SET priority = 9 WHERE id = {last}"))
        .execute(&app.issues_db.pool)
        .await
        .unwrap();

    let job = try_export(&app, &owner, true, whole_project("MID"))
        .await
        .unwrap();
    let retrying = app
        .wait_for_state(&owner, &job.id, JobState::Retrying, LIMIT)
        .await;
    assert_eq!(retrying.error.unwrap().kind, "transient");
    assert_eq!(app.storage.list("exports/").await.unwrap().len(), 0);
    assert_eq!(app.s3.pending_uploads(), 0, "the parts sent were dropped");

    sqlx::query("UPDATE issues SET priority = 2 WHERE priority = 9")
        .execute(&app.issues_db.pool)
        .await
        .unwrap();
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    assert!(done.attempts >= 2);
    assert_eq!(
        app.storage.list("exports/").await.unwrap(),
        [format!("exports/{}.csv", job.id)]
    );
    assert_eq!(app.s3.pending_uploads(), 0);
    let bytes = app.download(&owner, &job.id).await;
    assert_eq!(
        csv::Reader::from_reader(&bytes[3..]).records().count(),
        5000
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn an_export_cancelled_midway_leaves_no_object_and_no_parts() {
    let (app, owner) = project_with_long_issues(Options::without_worker(), "CAN", 6000).await;
    let job = try_export(&app, &owner, false, whole_project("CAN"))
        .await
        .unwrap();
    // Hold the export at its first batch (the relations it reads are locked) until the cancel
    // is in; it then sees the cancel at its first checkpoint, after the first part was sent.
    let mut lock = app.issues_db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE issue_relations IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let _worker = app.start_another_reporting(Mode::WithWorker).await;
    app.wait_for_state(&owner, &job.id, JobState::Running, LIMIT)
        .await;
    app.api()
        .cancel_job(req(pb::CancelJobRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap();
    lock.commit().await.unwrap();

    app.wait_for_state(&owner, &job.id, JobState::Cancelled, LIMIT)
        .await;
    assert_eq!(app.storage.list("exports/").await.unwrap().len(), 0);
    assert_eq!(app.s3.pending_uploads(), 0);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn an_export_the_issues_service_would_refuse_is_refused_when_asked_for() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "REF", &["one"]).await;
    let outsider = app.user("outsider").await;

    let bad_query = try_export(
        &app,
        &owner,
        true,
        ipb::ListIssuesRequest {
            project_key: "REF".into(),
            query: "status:".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(bad_query.code(), Code::InvalidArgument);
    assert_eq!(violations(&bad_query)[0].field, "q");

    let bad_status = try_export(
        &app,
        &owner,
        false,
        ipb::ListIssuesRequest {
            statuses: vec![42],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(violations(&bad_status)[0].field, "status");

    let hidden = try_export(
        &app,
        &outsider,
        true,
        ipb::ListIssuesRequest {
            project_key: "REF".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    // Nothing was queued for the refused ones; an export across projects is fine.
    let across = try_export(&app, &outsider, true, ipb::ListIssuesRequest::default()).await;
    assert_eq!(across.unwrap().state, JobState::Queued as i32);
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs")
        .fetch_one(&app.reporting_db.pool)
        .await
        .unwrap();
    assert_eq!(jobs, 1);
    app.cleanup_broker().await;
}
