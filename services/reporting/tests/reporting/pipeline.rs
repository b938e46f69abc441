//! The job pipeline's guarantees, against real PostgreSQL, RabbitMQ and an S3 server: every
//! accepted job reaches a terminal state, whatever crashes; nothing is duplicated.

use std::{process::Command, time::Duration};

use crate::support::{Options, TestApp, req};
use swatter_common::status;
use swatter_proto::reporting::v1::{self as pb, JobState};
use swatter_reporting::startup::Mode;
use swatter_testkit::metrics as scrape;
use swatter_testkit::{
    YEAR_MINUS_100000_MICROS, altered_page_token, hand_made_page_token, pdf_text,
};
use tokio_stream::StreamExt;
use tonic::Code;

const LIMIT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_project_report_becomes_a_downloadable_pdf_that_lists_the_issues() {
    let (app, owner) = TestApp::spawn_with_project(
        Options::default(),
        "SWAT",
        &["Login button does nothing", "Crash when saving a draft"],
    )
    .await;

    let job = app.request_project_report(&owner, "SWAT").await;
    assert_eq!(job.state, JobState::Queued as i32);
    assert_eq!(job.max_attempts, 5);
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    assert_eq!(done.progress, 100);
    assert_eq!(done.attempts, 1);
    let artifact = done
        .artifact
        .clone()
        .expect("a succeeded job has an artifact");
    assert_eq!(artifact.content_type, "application/pdf");

    let pdf = app.download(&owner, &job.id).await;
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(pdf.len() as i64, artifact.size_bytes);
    assert_eq!(
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pdf)),
        artifact.sha256
    );
    let text = pdf_text(&pdf);
    for expected in [
        "Project SWAT",
        "SWAT-1",
        "Login button does nothing",
        "SWAT-2",
        "Crash when saving a draft",
        "owner",
    ] {
        assert!(
            text.contains(expected),
            "the report lacks {expected:?}:\n{text}"
        );
    }

    // The presigned URL works from outside, without credentials.
    let presigned = app
        .api()
        .get_artifact(req(pb::GetArtifactRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap()
        .into_inner();
    assert!(
        presigned.url.contains("X-Amz-Signature"),
        "{}",
        presigned.url
    );
    let fetched = reqwest::get(&presigned.url).await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), pdf.as_slice());

    assert_eq!(
        app.storage.list("reports/").await.unwrap(),
        [format!("reports/{}.pdf", job.id)]
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_project_report_reads_milestones_and_due_dates_from_the_issues_service() {
    use swatter_proto::issues::v1 as ipb;
    let (app, owner) =
        TestApp::spawn_with_project(Options::default(), "PLAN", &["Ship the installer"]).await;
    let milestone = app
        .issues
        .clone()
        .create_milestone(req(
            ipb::CreateMilestoneRequest {
                project_key: "PLAN".into(),
                title: "Beta <script>".into(),
                due_on: Some("2026-12-24".into()),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    app.issues
        .clone()
        .update_issue(req(
            ipb::UpdateIssueRequest {
                issue_key: "PLAN-1".into(),
                due_on: Some("2001-01-01".into()),
                milestone_id: Some(milestone.id.clone()),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();

    let job = app.request_project_report(&owner, "PLAN").await;
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let text = pdf_text(&app.download(&owner, &job.id).await);
    for expected in [
        "Beta <script>",
        "2026-12-24",
        "Overdue issues",
        "PLAN-1",
        "2001-01-01",
    ] {
        assert!(
            text.contains(expected),
            "the report lacks {expected:?}:\n{text}"
        );
    }
    let squeezed: String = text.split_whitespace().collect();
    assert!(
        squeezed.contains("0/1"),
        "the milestone's progress:\n{text}"
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn user_text_in_a_report_is_printed_literally_never_run_as_markup() {
    let (app, owner) = TestApp::spawn_with_project(
        Options::default(),
        "EVIL",
        &[r#"#read("/etc/passwd")"#, "*bold* $x^2$ <label> @ref"],
    )
    .await;
    let job = app.request_project_report(&owner, "EVIL").await;
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let text = pdf_text(&app.download(&owner, &job.id).await);
    assert!(text.contains(r#"#read("/etc/passwd")"#), "{text}");
    assert!(text.contains("*bold* $x^2$ <label> @ref"), "{text}");
    assert!(
        !text.contains("root:x:0:0"),
        "file contents leaked into the report"
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_monthly_report_covers_the_users_projects() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::default(), "ONE", &["First thing"]).await;
    app.project(&owner, "TWO", &["Second thing"]).await;
    let job = app
        .api()
        .create_report(req(
            pb::CreateReportRequest {
                params: Some(pb::ReportParams {
                    params: Some(pb::report_params::Params::UserMonthly(
                        pb::UserMonthlyReportParams {
                            month: String::new(),
                        },
                    )),
                }),
                request_id: String::new(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(job.kind, pb::ReportKind::UserMonthly as i32);
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    let text = pdf_text(&app.download(&owner, &job.id).await);
    for expected in ["ONE", "TWO", "First thing", "Second thing"] {
        assert!(
            text.contains(expected),
            "the report lacks {expected:?}:\n{text}"
        );
    }
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_worker_killed_mid_job_leaves_a_job_that_still_succeeds_with_exactly_one_object() {
    let (mut app, owner) = TestApp::spawn_with_project(
        Options {
            lease: Duration::from_secs(2),
            ..Options::without_worker()
        },
        "KILL",
        &["first"],
    )
    .await;
    app.seed_issues(&owner, "KILL", 3000).await;

    let mut doomed = app.spawn_worker();
    let job = app.request_project_report(&owner, "KILL").await;
    app.wait_for(&owner, &job.id, LIMIT, |j| {
        j.state == JobState::Running as i32 && j.progress >= 10
    })
    .await;
    // SIGKILL: no chance to release the job or ack the message.
    doomed.kill().unwrap();
    doomed.wait().unwrap();

    let mut survivor = app.spawn_worker();
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT * 2)
        .await;
    survivor.kill().unwrap();
    survivor.wait().unwrap();
    assert!(done.attempts >= 2, "the killed attempt counts: {done:?}");
    assert_eq!(
        app.storage.list("reports/").await.unwrap(),
        [format!("reports/{}.pdf", job.id)]
    );
    app.stop_reporting();
    app.cleanup_broker().await;
}

#[tokio::test]
async fn with_the_object_store_down_a_job_retries_and_succeeds_once_it_is_back() {
    let (mut app, owner) =
        TestApp::spawn_with_project(Options::default(), "S3", &["needs storage"]).await;
    app.s3.stop();

    let job = app.request_project_report(&owner, "S3").await;
    let retrying = app
        .wait_for_state(&owner, &job.id, JobState::Retrying, LIMIT)
        .await;
    assert!(retrying.next_attempt_at.is_some());
    let error = retrying.error.expect("a retrying job shows its last error");
    assert_eq!(error.kind, "transient");
    assert!(!error.message.contains("password"), "{error:?}");

    app.s3.resume().await;
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    assert!(done.attempts >= 2);
    assert!(done.error.is_none());
    assert_eq!(app.storage.list("reports/").await.unwrap().len(), 1);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn jobs_complete_when_the_broker_drops_every_connection() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "RMQ", &["one"]).await;
    let first = app.request_project_report(&owner, "RMQ").await;
    app.wait_for_state(&owner, &first.id, JobState::Succeeded, LIMIT)
        .await;

    let closed = Command::new("rabbitmqctl")
        .args(["close_all_connections", "swatter test: broker restart"])
        .output()
        .expect("rabbitmqctl is part of RabbitMQ");
    assert!(
        closed.status.success(),
        "{}",
        String::from_utf8_lossy(&closed.stderr)
    );

    let second = app.request_project_report(&owner, "RMQ").await;
    let third = app.request_project_report(&owner, "RMQ").await;
    for job in [&second, &third] {
        app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
            .await;
    }
    assert_eq!(app.storage.list("reports/").await.unwrap().len(), 3);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_duplicate_delivery_creates_no_second_artifact() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "DUP", &["one"]).await;
    let job = app.request_project_report(&owner, "DUP").await;
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;

    // The same message again, as a broker redelivery would bring it.
    let publisher = swatter_reporting::broker::Publisher::new(
        &app.config.amqp_url,
        swatter_reporting::broker::Topology::new(&app.config.queue_prefix),
    );
    let message = swatter_reporting::broker::JobMessage {
        job_id: job.id.parse().unwrap(),
        attempt: 1,
    };
    for _ in 0..3 {
        publisher
            .publish(
                swatter_reporting::store::Destination::Work,
                &message,
                &Default::default(),
            )
            .await
            .unwrap();
    }
    // Wait until the work queue is drained, so the duplicates were really consumed.
    let topology = swatter_reporting::broker::Topology::new(&app.config.queue_prefix);
    for _ in 0..100 {
        if app.queue_depth(&topology.work_queue).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = app.job(&owner, &job.id).await;
    assert_eq!(after.state, JobState::Succeeded as i32);
    assert_eq!(after.attempts, 1, "duplicates claimed nothing");
    assert_eq!(
        app.storage.list("reports/").await.unwrap(),
        [format!("reports/{}.pdf", job.id)]
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn exhausted_retries_fail_the_job_and_leave_one_dead_letter() {
    let (mut app, owner) = TestApp::spawn_with_project(
        Options {
            max_attempts: 2,
            ..Default::default()
        },
        "DEAD",
        &["one"],
    )
    .await;
    app.s3.stop();
    let job = app.request_project_report(&owner, "DEAD").await;
    let failed = app
        .wait_for_state(&owner, &job.id, JobState::Failed, LIMIT)
        .await;
    assert_eq!(failed.attempts, 2);
    assert_eq!(failed.error.unwrap().kind, "exhausted");
    // The dead letter is moved from the dead-letter queue into the database (dashboard.rs
    // follows it further).
    let admin = app.admin().await;
    let mut dead = 0;
    for _ in 0..50 {
        dead = app
            .api()
            .get_job_stats(req(pb::GetJobStatsRequest {}, &admin))
            .await
            .unwrap()
            .into_inner()
            .dead_lettered;
        if dead > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(dead, 1);
    let text = scrape::text(app.metrics_addr).await;
    let counter =
        |name: &str, labels: &[(&str, &str)]| scrape::value(&text, name, labels).unwrap_or(0.0);
    assert!(
        counter("swatter_job_retries_total", &[("kind", "project")]) >= 1.0,
        "{text}"
    );
    assert!(
        counter("swatter_jobs_dead_lettered_total", &[]) >= 1.0,
        "{text}"
    );
    assert!(
        counter(
            "swatter_jobs_finished_total",
            &[("kind", "project"), ("state", "failed")]
        ) >= 1.0,
        "{text}"
    );

    // A retry grants a fresh budget and, with the store back, succeeds.
    app.s3.resume().await;
    let retried = app
        .api()
        .retry_job(req(pb::RetryJobRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.state, JobState::Queued as i32);
    assert!(retried.error.is_none());
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_permanent_failure_fails_at_once_without_retrying() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "GONE", &["one"]).await;
    // Stop the worker from seeing the project: delete it right after the request is accepted.
    let job = app.request_project_report(&owner, "GONE").await;
    app.issues
        .clone()
        .delete_project(req(
            swatter_proto::issues::v1::DeleteProjectRequest { key: "GONE".into() },
            &owner,
        ))
        .await
        .unwrap();
    let done = app
        .wait_for(&owner, &job.id, LIMIT, |j| {
            matches!(
                JobState::try_from(j.state),
                Ok(JobState::Failed | JobState::Succeeded)
            )
        })
        .await;
    // The race between the delete and the worker can go either way; when it failed, it did so
    // at once and for good.
    if done.state == JobState::Failed as i32 {
        assert_eq!(done.attempts, 1);
        assert_eq!(done.error.unwrap().kind, "permanent");
    }
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_queued_job_can_be_cancelled_and_a_late_message_does_not_revive_it() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "CAN", &["one"]).await;
    let job = app.request_project_report(&owner, "CAN").await;
    let cancelled = app
        .api()
        .cancel_job(req(pb::CancelJobRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(cancelled.state, JobState::Cancelled as i32);
    assert!(cancelled.finished_at.is_some());
    let again = app
        .api()
        .cancel_job(req(pb::CancelJobRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    let artifact = app
        .api()
        .get_artifact(req(pb::GetArtifactRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap_err();
    assert_eq!(artifact.code(), Code::FailedPrecondition);

    // A worker now consumes the job's message: it must claim nothing.
    let stop = app.start_another_reporting(Mode::WithWorker).await;
    let topology = swatter_reporting::broker::Topology::new(&app.config.queue_prefix);
    for _ in 0..100 {
        if app.queue_depth(&topology.work_queue).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.job(&owner, &job.id).await.state,
        JobState::Cancelled as i32
    );
    assert!(
        app.storage
            .list("reports/")
            .await
            .unwrap_or_default()
            .is_empty()
    );
    let _ = stop.send(());
    app.cleanup_broker().await;
}

#[tokio::test]
async fn watching_a_job_streams_its_changes_until_it_is_done() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "WATCH", &["one"]).await;
    let job = app.request_project_report(&owner, "WATCH").await;
    let mut stream = app.watch(&owner, &job.id).await;
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.state, JobState::Queued as i32);
    let stop = app.start_another_reporting(Mode::WithWorker).await;
    let mut states = vec![first.state];
    let mut progress = vec![first.progress];
    while let Some(update) = tokio::time::timeout(LIMIT, stream.next()).await.unwrap() {
        let update = update.unwrap();
        states.push(update.state);
        progress.push(update.progress);
    }
    assert_eq!(
        *states.last().unwrap(),
        JobState::Succeeded as i32,
        "{states:?}"
    );
    assert!(states.contains(&(JobState::Running as i32)), "{states:?}");
    assert!(
        progress.windows(2).all(|w| w[0] <= w[1]),
        "progress only grows: {progress:?}"
    );
    assert_eq!(*progress.last().unwrap(), 100);
    let _ = stop.send(());
    app.cleanup_broker().await;
}

#[tokio::test]
async fn idempotent_requests_and_visibility_rules_hold() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let stranger = app.user("stranger").await;
    app.project(&owner, "VIS", &["one"]).await;
    let request = |key: &str, project: &str| pb::CreateReportRequest {
        params: Some(pb::ReportParams {
            params: Some(pb::report_params::Params::Project(
                pb::ProjectReportParams {
                    project_key: project.into(),
                    from: None,
                    to: None,
                },
            )),
        }),
        request_id: key.into(),
    };
    let a = app
        .api()
        .create_report(req(request("k1", "VIS"), &owner))
        .await
        .unwrap()
        .into_inner();
    let b = app
        .api()
        .create_report(req(request("k1", "VIS"), &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.id, b.id);
    let other_body = app
        .api()
        .create_report(req(request("k1", "NOPE"), &owner))
        .await
        .unwrap_err();
    assert_eq!(other_body.code(), Code::InvalidArgument);

    let hidden = app
        .api()
        .create_report(req(request("", "VIS"), &stranger))
        .await
        .unwrap_err();
    assert_eq!(
        hidden.code(),
        Code::NotFound,
        "a project the caller cannot see"
    );
    let not_theirs = app
        .api()
        .get_job(req(pb::GetJobRequest { id: a.id.clone() }, &stranger))
        .await
        .unwrap_err();
    assert_eq!(not_theirs.code(), Code::NotFound);
    let bad_month = app
        .api()
        .create_report(req(
            pb::CreateReportRequest {
                params: Some(pb::ReportParams {
                    params: Some(pb::report_params::Params::UserMonthly(
                        pb::UserMonthlyReportParams {
                            month: "2026-13".into(),
                        },
                    )),
                }),
                request_id: String::new(),
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad_month.code(), Code::InvalidArgument);

    let mine = app
        .api()
        .list_jobs(req(pb::ListJobsRequest::default(), &owner))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(mine.jobs.len(), 1);
    assert!(
        app.reporting
            .clone()
            .list_jobs(req(
                pb::ListJobsRequest {
                    all: true,
                    ..Default::default()
                },
                &owner
            ))
            .await
            .is_err()
    );
    let admin = app.admin().await;
    let all = app
        .api()
        .list_jobs(req(
            pb::ListJobsRequest {
                all: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.jobs.len(), 1);
    let stats = app
        .api()
        .get_job_stats(req(pb::GetJobStatsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.jobs_by_state["queued"], 1);
    assert_eq!(stats.queue_depth, 1, "the API-only stack consumes nothing");
    assert_eq!(stats.dead_lettered, 0);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn the_metrics_endpoint_shows_the_pipeline_and_the_rpcs() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::default(), "METR", &["one", "two"]).await;
    // Before any job: the counters are there at 0 (registered at start), only what is observed
    // per call or per job stage is not yet.
    scrape::assert_operator_ready(
        &scrape::text(app.metrics_addr).await,
        "reporting",
        &[
            "swatter_grpc_requests_total",
            "swatter_grpc_request_duration_seconds",
            "swatter_fetch_duration_seconds",
            "swatter_render_duration_seconds",
            "swatter_upload_duration_seconds",
            "swatter_scheduled_run_delay_seconds",
        ],
    );
    let job = app.request_project_report(&owner, "METR").await;
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    assert!(app.download(&owner, &job.id).await.starts_with(b"%PDF-"));
    let missing = app
        .api()
        .get_job(req(
            pb::GetJobRequest {
                id: uuid::Uuid::new_v4().to_string(),
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);

    // Gauges are read at scrape time from this test's database and queues (tests running at the
    // same time share the process's recorder, so read until ours show).
    let mut text = String::new();
    for _ in 0..20 {
        text = scrape::text(app.metrics_addr).await;
        if scrape::value(&text, "swatter_jobs", &[("state", "succeeded")]) == Some(1.0)
            && scrape::value(&text, "swatter_queue_depth", &[("queue", "work")]) == Some(0.0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let value = |name: &str, labels: &[(&str, &str)]| scrape::value(&text, name, labels);
    assert_eq!(
        value("swatter_jobs", &[("state", "succeeded")]),
        Some(1.0),
        "{text}"
    );
    for state in ["queued", "running", "retrying", "failed", "cancelled"] {
        assert_eq!(
            value("swatter_jobs", &[("state", state)]),
            Some(0.0),
            "{state}: {text}"
        );
    }
    assert_eq!(
        value("swatter_queue_depth", &[("queue", "work")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value("swatter_queue_depth", &[("queue", "dead")]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(value("swatter_outbox_pending", &[]), Some(0.0), "{text}");
    assert_eq!(
        value("swatter_outbox_lag_seconds", &[]),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value("swatter_jobs_oldest_queued_age_seconds", &[]),
        Some(0.0),
        "{text}"
    );
    let at_least_one = |name: &str, labels: &[(&str, &str)]| {
        assert!(
            value(name, labels).unwrap_or(0.0) >= 1.0,
            "{name} {labels:?}:\n{text}"
        );
    };
    at_least_one(
        "swatter_fetch_duration_seconds_count",
        &[("kind", "project")],
    );
    at_least_one(
        "swatter_render_duration_seconds_count",
        &[("kind", "project")],
    );
    at_least_one("swatter_upload_duration_seconds_count", &[]);
    at_least_one(
        "swatter_jobs_finished_total",
        &[("kind", "project"), ("state", "succeeded")],
    );
    let reporting = "swatter.reporting.v1.ReportingService";
    for (method, code) in [
        ("CreateReport", "OK"),
        ("GetJob", "OK"),
        ("GetJob", "NOT_FOUND"),
        // A server stream, counted when it ends.
        ("DownloadArtifact", "OK"),
    ] {
        at_least_one(
            "swatter_grpc_requests_total",
            &[("service", reporting), ("method", method), ("code", code)],
        );
    }
    at_least_one(
        "swatter_grpc_request_duration_seconds_count",
        &[("service", reporting), ("method", "CreateReport")],
    );
    // No schedule ran here (schedules.rs checks the delay histogram once one has).
    scrape::assert_operator_ready(&text, "reporting", &["swatter_scheduled_run_delay_seconds"]);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn health_follows_the_database_and_the_broker() {
    use swatter_testkit::{allow_connections, health_status, wait_for_health};
    use tonic_health::pb::health_check_response::ServingStatus;
    const SERVICE: &str = "swatter.reporting.v1.ReportingService";
    fn channel(addr: std::net::SocketAddr) -> tonic::transport::Channel {
        tonic::transport::Channel::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy()
    }

    let app = TestApp::spawn_with(Options::without_worker()).await;

    // A replica whose broker cannot be reached is not ready.
    let mut config = app.config.clone();
    config.amqp_url = "amqp://guest:guest@127.0.0.1:1/%2f".into();
    config.metrics_addr = None;
    let lonely = swatter_reporting::startup::Application::build(config, Mode::Api)
        .await
        .unwrap();
    let lonely_addr = lonely.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(lonely.run_until(async move {
        let _ = stopped.await;
    }));
    assert_eq!(
        health_status(channel(lonely_addr), SERVICE).await,
        ServingStatus::NotServing
    );
    let _ = stop.send(());

    // One whose database goes away stops being ready, and is ready again when it is back.
    let health = channel(app.reporting_addr);
    assert_eq!(
        health_status(health.clone(), SERVICE).await,
        ServingStatus::Serving
    );
    allow_connections(&app.reporting_db.name, false).await;
    wait_for_health(health.clone(), SERVICE, ServingStatus::NotServing).await;
    allow_connections(&app.reporting_db.name, true).await;
    wait_for_health(health, SERVICE, ServingStatus::Serving).await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn sigterm_during_a_render_finishes_or_releases_the_job_and_a_new_worker_completes_it() {
    // Kubernetes' default grace period.
    const GRACE: Duration = Duration::from_secs(30);
    let (mut app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "TERM", &["first"]).await;
    app.seed_issues(&owner, "TERM", 3000).await;
    let mut worker = app.spawn_worker();
    let job = app.request_project_report(&owner, "TERM").await;
    // Progress 40: the data is fetched and the typesetting has begun.
    let rendering = app
        .wait_for(&owner, &job.id, LIMIT, |j| {
            j.progress >= 40 || j.state == JobState::Succeeded as i32
        })
        .await;
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(worker.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    let deadline = tokio::time::Instant::now() + GRACE;
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker did not stop within the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "the worker exited with {status}");

    // Finished, or given back at once: never left running for a lease to lapse.
    let after = app.job(&owner, &job.id).await;
    let released = match JobState::try_from(after.state) {
        Ok(JobState::Succeeded) => false,
        Ok(JobState::Retrying | JobState::Queued) => true,
        _ => panic!("after SIGTERM the job is {after:?} (it was {rendering:?})"),
    };

    let mut next = app.spawn_worker();
    let done = app
        .wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT * 2)
        .await;
    next.kill().unwrap();
    next.wait().unwrap();
    if released {
        assert_eq!(
            done.attempts, 2,
            "the released attempt counts once: {done:?}"
        );
    } else {
        assert_eq!(done.attempts, 1, "{done:?}");
    }
    assert_eq!(
        app.storage.list("reports/").await.unwrap(),
        [format!("reports/{}.pdf", job.id)]
    );
    app.stop_reporting();
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_job_the_sweeper_takes_over_stays_in_the_trace_of_its_request() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "TRACE", &["first"]).await;
    let job = app.request_project_report(&owner, "TRACE").await;
    let id: uuid::Uuid = job.id.parse().unwrap();
    let db = &app.reporting_db.pool;
    // The request's trace, as the API stores it with the message when tracing is on.
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    sqlx::query(
        "UPDATE outbox SET trace_context = jsonb_build_object('traceparent', $2::text)
         WHERE job_id = $1",
    )
    .bind(id)
    .bind(traceparent)
    .execute(db)
    .await
    .unwrap();

    // A worker claims the first attempt and dies: its lease lapses at once.
    swatter_reporting::store::claim_job(db, id, 1, Duration::ZERO)
        .await
        .unwrap()
        .expect("the job is claimable");
    app.wait_for_state(&owner, &job.id, JobState::Retrying, LIMIT)
        .await;

    let contexts: Vec<(
        i32,
        sqlx::types::Json<std::collections::HashMap<String, String>>,
    )> = sqlx::query_as("SELECT attempt, trace_context FROM outbox WHERE job_id = $1 ORDER BY id")
        .bind(id)
        .fetch_all(db)
        .await
        .unwrap();
    assert_eq!(contexts.len(), 2, "{contexts:?}");
    assert_eq!(contexts[1].0, 2);
    assert_eq!(contexts[1].1["traceparent"], traceparent);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn report_periods_and_page_tokens_beyond_the_storable_years_are_invalid_arguments() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "OLD", &["An issue"]).await;
    let at = |seconds: i64| prost_types::Timestamp { seconds, nanos: 0 };
    // The year −100000, and the day after.
    let ancient = YEAR_MINUS_100000_MICROS / 1_000_000;
    let period = |from: Option<prost_types::Timestamp>, to: Option<prost_types::Timestamp>| {
        pb::CreateReportRequest {
            params: Some(pb::ReportParams {
                params: Some(pb::report_params::Params::Project(
                    pb::ProjectReportParams {
                        project_key: "OLD".into(),
                        from,
                        to,
                    },
                )),
            }),
            request_id: String::new(),
        }
    };
    let fields = |status: &tonic::Status| -> Vec<String> {
        swatter_common::status::violations(status)
            .into_iter()
            .map(|v| v.field)
            .collect()
    };

    for (request, field) in [
        (
            period(Some(at(ancient)), Some(at(ancient + 86_400))),
            "from",
        ),
        (period(None, Some(at(ancient))), "to"),
        (period(Some(at(253_402_300_800)), None), "from"),
        (
            period(
                Some(prost_types::Timestamp {
                    seconds: 0,
                    nanos: -1,
                }),
                None,
            ),
            "from",
        ),
    ] {
        let status = app
            .api()
            .create_report(req(request, &owner))
            .await
            .unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        assert_eq!(fields(&status), [field]);
    }

    for _ in 0..2 {
        app.request_project_report(&owner, "OLD").await;
    }
    let list = |page_token: String| {
        req(
            pb::ListJobsRequest {
                page_size: 1,
                page_token,
                ..Default::default()
            },
            &owner,
        )
    };
    let real = app
        .api()
        .list_jobs(list(String::new()))
        .await
        .unwrap()
        .into_inner()
        .next_page_token;
    let hand_made = hand_made_page_token(&serde_json::json!([
        YEAR_MINUS_100000_MICROS,
        "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b"
    ]));
    for token in [altered_page_token(&real), hand_made] {
        let status = app.api().list_jobs(list(token)).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(fields(&status), ["page_token"]);
    }
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_user_may_have_only_so_many_jobs_in_flight_and_a_finished_one_frees_a_slot() {
    let app = TestApp::spawn_with(Options {
        max_active_jobs_per_user: 3,
        ..Options::without_worker()
    })
    .await;
    let owner = app.user("owner").await;
    let other = app.user("other").await;
    app.project(&owner, "LIM", &["one"]).await;
    app.project(&other, "OTH", &["one"]).await;
    let mut jobs = Vec::new();
    for _ in 0..3 {
        jobs.push(app.request_project_report(&owner, "LIM").await);
    }

    let refused = app
        .try_request_project_report(&owner, "LIM")
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert_eq!(
        status::retry_delay(&refused),
        Some(Duration::from_secs(10)),
        "the refusal says when to try again"
    );
    // The limit is per user.
    app.request_project_report(&other, "OTH").await;

    // A finished (here: cancelled) job frees its slot ...
    app.reporting
        .clone()
        .cancel_job(req(
            pb::CancelJobRequest {
                id: jobs[0].id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let fourth = app.request_project_report(&owner, "LIM").await;
    // ... and retrying a finished job takes one again.
    let retry = app
        .api()
        .retry_job(req(
            pb::RetryJobRequest {
                id: jobs[0].id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(retry.code(), Code::ResourceExhausted, "{retry:?}");
    app.reporting
        .clone()
        .cancel_job(req(
            pb::CancelJobRequest {
                id: fourth.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let retried = app
        .api()
        .retry_job(req(
            pb::RetryJobRequest {
                id: jobs[0].id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(retried.state, JobState::Queued as i32);

    // At the limit again, with one slot freed: of eight concurrent requests exactly one gets it.
    app.reporting
        .clone()
        .cancel_job(req(
            pb::CancelJobRequest {
                id: jobs[1].id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let racing =
        futures::future::join_all((0..8).map(|_| app.try_request_project_report(&owner, "LIM")))
            .await;
    let accepted = racing.iter().filter(|r| r.is_ok()).count();
    assert_eq!(accepted, 1, "{racing:?}");
    assert!(
        racing
            .iter()
            .filter_map(|r| r.as_ref().err())
            .all(|s| s.code() == Code::ResourceExhausted),
        "{racing:?}"
    );
    let in_flight: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM jobs WHERE owner_id = $1::uuid
         AND state IN ('queued', 'running', 'retrying')",
    )
    .bind(&owner.id)
    .fetch_one(&app.reporting_db.pool)
    .await
    .unwrap();
    assert_eq!(in_flight, 3);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_user_may_open_only_so_many_job_streams_and_a_closed_one_frees_a_slot() {
    let (app, owner) = TestApp::spawn_with_project(
        Options {
            max_streams_per_user: 2,
            ..Options::without_worker()
        },
        "STR",
        &["one"],
    )
    .await;
    let job = app.request_project_report(&owner, "STR").await;
    let watch = || app.try_watch(&owner, &job.id);
    // Refused streams hold no slot.
    for _ in 0..3 {
        let unknown = app
            .try_watch(&owner, &uuid::Uuid::now_v7().to_string())
            .await
            .unwrap_err();
        assert_eq!(unknown.code(), Code::NotFound);
    }
    let first = watch().await.unwrap();
    let _second = watch().await.unwrap();
    let third = watch().await.unwrap_err();
    assert_eq!(third.code(), Code::ResourceExhausted, "{third:?}");
    assert!(status::retry_delay(&third).is_some());
    // Another user has slots of their own.
    let other = app.user("other").await;
    let others = app.try_watch(&other, &job.id).await.unwrap_err();
    assert_eq!(
        others.code(),
        Code::NotFound,
        "not their job, but not refused for the limit"
    );

    drop(first);
    // The service notices the closed stream on its own.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match watch().await {
            Ok(_) => break,
            Err(status) => {
                assert_eq!(status.code(), Code::ResourceExhausted);
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the slot stays taken"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    app.cleanup_broker().await;
}

/// Changes `job`'s progress in the database, with or without the trigger's notification.
async fn set_progress(app: &TestApp, job: &pb::Job, progress: i32, notify: bool) {
    let mut tx = app.reporting_db.pool.begin().await.unwrap();
    if !notify {
        // Triggers do not fire for a replica session.
        sqlx::query("SET LOCAL session_replication_role = replica")
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    sqlx::query("UPDATE jobs SET progress = $2 WHERE id = $1::uuid")
        .bind(&job.id)
        .bind(progress)
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn job_streams_are_pushed_changes_by_notification_and_never_poll() {
    let (app, owner) =
        TestApp::spawn_with_project(Options::without_worker(), "PUSH", &["one"]).await;
    let job = app.request_project_report(&owner, "PUSH").await;
    let mut stream = app.watch(&owner, &job.id).await;
    assert_eq!(stream.next().await.unwrap().unwrap().progress, 0);

    // A change nobody announces is not seen: the stream does not poll the database.
    set_progress(&app, &job, 7, false).await;
    let silent = tokio::time::timeout(Duration::from_millis(2500), stream.next()).await;
    assert!(silent.is_err(), "the stream polled: {silent:?}");

    // An announced change arrives at once.
    let announced_at = tokio::time::Instant::now();
    set_progress(&app, &job, 9, true).await;
    let update = tokio::time::timeout(Duration::from_secs(5), stream.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(update.progress, 9);
    assert!(
        announced_at.elapsed() < Duration::from_millis(500),
        "took {:?}",
        announced_at.elapsed()
    );

    // When the listener's connection is lost, notifications may have been missed: once it is
    // back, watched jobs are read again.
    set_progress(&app, &job, 11, false).await;
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE datname = current_database() AND pid <> pg_backend_pid()
           AND query ILIKE '%LISTEN%swatter_jobs%'",
    )
    .fetch_all(&app.reporting_db.pool)
    .await
    .unwrap();
    assert_eq!(killed, [true], "one listener connection per process");
    let update = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("the change is read again after reconnecting")
        .unwrap()
        .unwrap();
    assert_eq!(update.progress, 11);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_stored_job_state_the_service_does_not_know_is_an_internal_error() {
    let app = TestApp::spawn_with(Options {
        mode: Mode::Api,
        ..Default::default()
    })
    .await;
    let owner = app.user("owner").await;
    app.project(&owner, "ODD", &["one"]).await;
    let job = app.request_project_report(&owner, "ODD").await;
    let db = &app.reporting_db.pool;
    sqlx::query("ALTER TABLE jobs DROP CONSTRAINT jobs_state_check")
        .execute(db)
        .await
        .unwrap();
    sqlx::query("UPDATE jobs SET state = 'paused'")
        .execute(db)
        .await
        .unwrap();
    let get = app
        .api()
        .get_job(req(pb::GetJobRequest { id: job.id.clone() }, &owner))
        .await
        .unwrap_err();
    assert_eq!(get.code(), Code::Internal, "{get:?}");
    let list = app
        .api()
        .list_jobs(req(pb::ListJobsRequest::default(), &owner))
        .await
        .unwrap_err();
    assert_eq!(list.code(), Code::Internal, "{list:?}");
    app.cleanup_broker().await;
}
