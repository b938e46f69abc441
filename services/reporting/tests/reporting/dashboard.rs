//! The operator dashboard's data against the real stack: dead letters moved from the broker into
//! the database and requeued, worker heartbeats, and the dashboard's snapshots and stream.

use std::time::Duration;

use lapin::{
    BasicProperties,
    options::{BasicPublishOptions, ConfirmSelectOptions},
};
use swatter_proto::reporting::v1::{self as pb, JobState};
use swatter_reporting::{
    broker::{JobMessage, Publisher, Topology},
    store::Destination,
};
use tokio_stream::StreamExt;
use tonic::Code;

use crate::support::{Options, TestApp, User, req};

const LIMIT: Duration = Duration::from_secs(60);

impl TestApp {
    async fn dead_letters(&self, admin: &User) -> Vec<pb::DeadLetter> {
        self.api()
            .list_dead_letters(req(pb::ListDeadLettersRequest::default(), admin))
            .await
            .unwrap()
            .into_inner()
            .dead_letters
    }

    /// Waits until the dead letters as `admin` lists them satisfy `done`.
    async fn wait_for_dead_letters(
        &self,
        admin: &User,
        done: impl Fn(&[pb::DeadLetter]) -> bool,
    ) -> Vec<pb::DeadLetter> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let letters = self.dead_letters(admin).await;
            if done(&letters) {
                return letters;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting; the dead letters are {letters:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn dashboard(&self, user: &User) -> Result<pb::Dashboard, tonic::Status> {
        self.api()
            .get_dashboard(req(pb::GetDashboardRequest {}, user))
            .await
            .map(|r| r.into_inner())
    }

    /// Waits until the dashboard's workers satisfy `done`.
    async fn wait_for_workers(
        &self,
        admin: &User,
        done: impl Fn(&[pb::WorkerStatus]) -> bool,
    ) -> Vec<pb::WorkerStatus> {
        let deadline = tokio::time::Instant::now() + LIMIT;
        loop {
            let workers = self.dashboard(admin).await.unwrap().workers;
            if done(&workers) {
                return workers;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "gave up waiting; the workers are {workers:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn requeue(&self, user: &User, id: &str) -> Result<pb::Job, tonic::Status> {
        self.api()
            .requeue_dead_letter(req(pb::RequeueDeadLetterRequest { id: id.into() }, user))
            .await
            .map(|r| r.into_inner())
    }

    async fn discard(&self, user: &User, id: &str) -> Result<(), tonic::Status> {
        self.api()
            .discard_dead_letter(req(pb::DiscardDeadLetterRequest { id: id.into() }, user))
            .await
            .map(|_| ())
    }

    fn topology(&self) -> Topology {
        Topology::new(&self.config.queue_prefix)
    }
}

#[tokio::test]
async fn an_exhausted_job_becomes_one_dead_letter_in_the_database_and_requeueing_it_runs_it_again()
{
    let (mut app, owner) = TestApp::spawn_with_project(
        Options {
            max_attempts: 2,
            ..Default::default()
        },
        "DLQ",
        &["one"],
    )
    .await;
    let admin = app.admin().await;
    app.s3.stop();
    let job = app.request_project_report(&owner, "DLQ").await;
    app.wait_for_state(&owner, &job.id, JobState::Failed, LIMIT)
        .await;

    // Moved out of the broker into the table, with why.
    let letters = app.wait_for_dead_letters(&admin, |l| !l.is_empty()).await;
    assert_eq!(letters.len(), 1, "{letters:?}");
    let letter = &letters[0];
    assert_eq!(letter.job_id, job.id);
    assert_eq!(letter.reason, "exhausted");
    assert_eq!(
        letter.job.as_ref().map(|j| j.state),
        Some(JobState::Failed as i32)
    );
    let topology = app.topology();
    assert_eq!(app.queue_depth(&topology.dead_queue).await, 0);

    // The same message again (a redelivery after a crash between commit and ack) adds nothing.
    let message = JobMessage {
        job_id: job.id.parse().unwrap(),
        attempt: 2,
    };
    Publisher::new(&app.config.amqp_url, topology.clone())
        .publish(Destination::Dead, &message, &Default::default())
        .await
        .unwrap();
    for _ in 0..50 {
        if app.queue_depth(&topology.dead_queue).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.dead_letters(&admin).await.len(), 1);
    let stats = app
        .api()
        .get_job_stats(req(pb::GetJobStatsRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stats.dead_lettered, 1, "stored, and none left in the queue");

    // Only admins see or requeue them.
    for status in [
        app.api()
            .list_dead_letters(req(pb::ListDeadLettersRequest::default(), &owner))
            .await
            .unwrap_err(),
        app.requeue(&owner, &letter.id).await.unwrap_err(),
    ] {
        assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    }

    app.s3.resume().await;
    let requeued = app.requeue(&admin, &letter.id).await.unwrap();
    assert_eq!(requeued.id, job.id);
    assert_eq!(requeued.state, JobState::Queued as i32);
    assert!(app.dead_letters(&admin).await.is_empty(), "removed with it");
    let again = app.requeue(&admin, &letter.id).await.unwrap_err();
    assert_eq!(again.code(), Code::NotFound);
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_poison_message_becomes_a_dead_letter_that_names_no_job_and_cannot_be_requeued() {
    let app = TestApp::spawn().await;
    let admin = app.admin().await;
    let topology = app.topology();
    let connection = swatter_reporting::broker::connect(&app.config.amqp_url)
        .await
        .unwrap();
    // Declared here too: the stack's worker may not have done it yet.
    swatter_reporting::broker::declare(&connection, &topology)
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let confirm = channel
        .basic_publish(
            topology.exchange.as_str().into(),
            "work".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            b"{not a job message",
            BasicProperties::default().with_delivery_mode(2),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(
        confirm.is_ack() && confirm.take_message().is_none(),
        "routed"
    );
    let letters = app.wait_for_dead_letters(&admin, |l| !l.is_empty()).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].job_id, "");
    assert_eq!(letters[0].reason, "rejected", "the worker rejected it");
    assert!(letters[0].job.is_none());
    let refused = app.requeue(&admin, &letters[0].id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(app.dead_letters(&admin).await.len(), 1, "still there");
    let bad_id = app.requeue(&admin, "not-an-id").await.unwrap_err();
    assert_eq!(bad_id.code(), Code::NotFound);
    // It can only be discarded: by an admin, once.
    let user = app.user("someone").await;
    let refused = app.discard(&user, &letters[0].id).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused:?}");
    app.discard(&admin, &letters[0].id).await.unwrap();
    assert!(app.dead_letters(&admin).await.is_empty());
    for id in [letters[0].id.as_str(), "not-an-id"] {
        let gone = app.discard(&admin, id).await.unwrap_err();
        assert_eq!(gone.code(), Code::NotFound, "{id}: {gone:?}");
    }
    let _ = connection.close(200, "done".into()).await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn requeueing_the_dead_letter_of_a_job_already_queued_again_is_a_failed_precondition() {
    let (app, owner) = TestApp::spawn_with_project(Options::without_worker(), "DUP", &[]).await;
    let admin = app.admin().await;
    let job = app.request_project_report(&owner, "DUP").await;
    // A dead letter of a job that is queued (say the sweeper sent it again meanwhile).
    Publisher::new(&app.config.amqp_url, app.topology())
        .publish(
            Destination::Dead,
            &JobMessage {
                job_id: job.id.parse().unwrap(),
                attempt: 1,
            },
            &Default::default(),
        )
        .await
        .unwrap();
    let letters = app.wait_for_dead_letters(&admin, |l| !l.is_empty()).await;
    let refused = app.requeue(&admin, &letters[0].id).await.unwrap_err();
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused:?}");
    assert_eq!(
        app.dead_letters(&admin).await.len(),
        1,
        "the dead letter stays when its job cannot be queued"
    );
    // Discarding it leaves the job as it is.
    app.discard(&admin, &letters[0].id).await.unwrap();
    assert!(app.dead_letters(&admin).await.is_empty());
    let still = app.job(&owner, &job.id).await;
    assert_eq!(still.state, JobState::Queued as i32);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn workers_send_heartbeats_and_leave_the_list_on_a_clean_stop_but_not_when_killed() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let admin = app.admin().await;
    assert!(app.dashboard(&admin).await.unwrap().workers.is_empty());

    let mut clean = app.spawn_worker();
    let workers = app
        .wait_for_workers(&admin, |w| w.len() == 1 && w[0].alive)
        .await;
    assert_eq!(workers[0].concurrency, 2);
    assert!(!workers[0].hostname.is_empty());
    let first_beat = workers[0].last_heartbeat_at.unwrap();
    let later = app
        .wait_for_workers(&admin, |w| {
            w.len() == 1 && w[0].last_heartbeat_at.as_ref().unwrap().seconds > first_beat.seconds
        })
        .await;
    assert!(later[0].alive, "heartbeats keep coming");
    // SAFETY: kill(2) on our own child's pid.
    assert_eq!(
        unsafe { libc::kill(clean.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    assert!(clean.wait().unwrap().success());
    app.wait_for_workers(&admin, |w| w.is_empty()).await;

    let mut killed = app.spawn_worker();
    app.wait_for_workers(&admin, |w| w.len() == 1 && w[0].alive)
        .await;
    killed.kill().unwrap();
    let _ = killed.wait();
    // Three heartbeat intervals (500 ms in tests) without one: not alive, but still listed.
    let silent = app
        .wait_for_workers(&admin, |w| w.len() == 1 && !w[0].alive)
        .await;
    assert!(silent[0].job_ids.is_empty());
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_worker_lists_the_job_it_runs_in_its_heartbeat() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "BEAT", &["one"]).await;
    let admin = app.admin().await;
    // The job's fetch waits on this lock of the issues table, so the job runs for as long as the
    // test needs to see it in a heartbeat (a report of a small project takes less than one).
    let mut hold = app.issues_db.pool.begin().await.unwrap();
    sqlx::query("LOCK TABLE issues IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .unwrap();
    let job = app.request_project_report(&owner, "BEAT").await;
    let workers = app
        .wait_for_workers(&admin, |w| w.iter().any(|w| w.job_ids.contains(&job.id)))
        .await;
    assert!(workers.iter().all(|w| w.alive));
    hold.rollback().await.unwrap();
    app.wait_for_state(&owner, &job.id, JobState::Succeeded, LIMIT)
        .await;
    app.wait_for_workers(&admin, |w| w.iter().all(|w| w.job_ids.is_empty()))
        .await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn the_dashboard_is_for_admins_and_its_stream_sends_a_coalesced_snapshot_per_change() {
    let (app, owner) = TestApp::spawn_with_project(Options::without_worker(), "DASH", &[]).await;
    let admin = app.admin().await;
    let refused = app.dashboard(&owner).await.unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let refused = app
        .api()
        .watch_dashboard(req(pb::WatchDashboardRequest {}, &owner))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);

    let mut stream = app
        .api()
        .watch_dashboard(req(pb::WatchDashboardRequest {}, &admin))
        .await
        .unwrap()
        .into_inner();
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.active_jobs.is_empty());
    assert!(first.schedules.is_empty());

    // Five jobs at once: their changes make few snapshots, the last one showing them all.
    let started = tokio::time::Instant::now();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(app.request_project_report(&owner, "DASH").await.id);
    }
    let all_created = tokio::time::Instant::now();
    let mut snapshots = 0;
    let seen = loop {
        let next = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a snapshot within 10 s")
            .unwrap()
            .unwrap();
        snapshots += 1;
        if next.active_jobs.len() == 5 {
            break next;
        }
    };
    let elapsed = started.elapsed();
    assert!(
        snapshots as f64 <= elapsed.as_secs_f64() * 2.0 + 1.0,
        "{snapshots} snapshots in {elapsed:?}: at most two a second"
    );
    let after_last = all_created.elapsed();
    assert!(
        after_last < Duration::from_secs(3),
        "pushed, not on the 5 s tick: {after_last:?} after the last change"
    );
    let mut active: Vec<_> = seen.active_jobs.iter().map(|j| j.id.clone()).collect();
    active.sort();
    ids.sort();
    assert_eq!(active, ids);
    assert_eq!(seen.stats.as_ref().unwrap().jobs_by_state["queued"], 5);
    let created: i64 = seen
        .activity
        .iter()
        .filter(|a| a.kind == "project")
        .map(|a| a.counts["created"])
        .sum();
    assert_eq!(created, 5);

    // Without changes, a snapshot still comes every 5 seconds.
    let quiet = tokio::time::Instant::now();
    tokio::time::timeout(Duration::from_secs(7), stream.next())
        .await
        .expect("a snapshot within 5 s without changes")
        .unwrap()
        .unwrap();
    assert!(quiet.elapsed() >= Duration::from_millis(400));

    // A cancelled job leaves the active list; the failed list holds failed jobs only.
    app.api()
        .cancel_job(req(pb::CancelJobRequest { id: ids[0].clone() }, &owner))
        .await
        .unwrap();
    let after = app.dashboard(&admin).await.unwrap();
    assert_eq!(after.active_jobs.len(), 4);
    assert!(after.failed_jobs.is_empty());

    // Schedules are listed, due soonest first, with their next run.
    app.api()
        .create_schedule(req(
            pb::CreateScheduleRequest {
                report: Some(pb::ScheduledReport {
                    report: Some(pb::scheduled_report::Report::UserMonthly(
                        pb::ScheduledUserMonthlyReport {},
                    )),
                }),
                cron: "0 8 1 * *".into(),
                name: "Monthly".into(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap();
    let listed = app.dashboard(&admin).await.unwrap().schedules;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].name, "Monthly");
    assert!(listed[0].next_run_at.is_some());
    app.cleanup_broker().await;
}
