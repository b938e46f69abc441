//! Scheduled reports: each due time makes exactly one job, whichever replica's scheduler claims
//! it and whichever replica dies meanwhile; missed due times are caught up once; paused
//! schedules make nothing; runs of schedules that deliver events publish them once.

use std::{
    collections::{HashMap, HashSet},
    time::Duration,
};

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use swatter_common::events::Envelope;
use swatter_proto::reporting::v1::{self as pb, JobState, scheduled_report::Report};
use swatter_reporting::domain::schedule::CronExpr;
use swatter_testkit::{bind_events_queue, metrics as scrape};
use uuid::Uuid;

use crate::support::{Options, TestApp, User, read_events, req};

const LIMIT: Duration = Duration::from_secs(60);

fn project_report(key: &str, period_days: i32) -> pb::ScheduledReport {
    pb::ScheduledReport {
        report: Some(Report::Project(pb::ScheduledProjectReport {
            project_key: key.into(),
            period_days,
        })),
    }
}

fn monthly_report() -> pb::ScheduledReport {
    pb::ScheduledReport {
        report: Some(Report::UserMonthly(pb::ScheduledUserMonthlyReport {})),
    }
}

fn request(
    report: pb::ScheduledReport,
    cron: &str,
    deliver_event: bool,
) -> pb::CreateScheduleRequest {
    pb::CreateScheduleRequest {
        report: Some(report),
        cron: cron.into(),
        time_zone: "Europe/Berlin".into(),
        deliver_event,
        name: String::new(),
        request_id: String::new(),
    }
}

async fn try_create(
    app: &TestApp,
    user: &User,
    request: pb::CreateScheduleRequest,
) -> Result<pb::Schedule, tonic::Status> {
    app.api()
        .create_schedule(req(request, user))
        .await
        .map(tonic::Response::into_inner)
}

async fn create(
    app: &TestApp,
    user: &User,
    report: pb::ScheduledReport,
    cron: &str,
    deliver_event: bool,
) -> pb::Schedule {
    try_create(app, user, request(report, cron, deliver_event))
        .await
        .unwrap()
}

async fn pause(app: &TestApp, user: &User, id: &str) -> pb::Schedule {
    let request = pb::PauseScheduleRequest { id: id.into() };
    app.api()
        .pause_schedule(req(request, user))
        .await
        .unwrap()
        .into_inner()
}

async fn resume(app: &TestApp, user: &User, id: &str) -> pb::Schedule {
    let request = pb::ResumeScheduleRequest { id: id.into() };
    app.api()
        .resume_schedule(req(request, user))
        .await
        .unwrap()
        .into_inner()
}

async fn get(app: &TestApp, user: &User, id: &str) -> pb::Schedule {
    app.api()
        .get_schedule(req(pb::GetScheduleRequest { id: id.into() }, user))
        .await
        .unwrap()
        .into_inner()
}

fn time(t: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    t.and_then(|t| DateTime::from_timestamp(t.seconds, t.nanos as u32))
}

/// Makes the schedule due `ago` before the database's now (microsecond precision, as stored);
/// returns the due time.
async fn make_due(db: &PgPool, id: &str, ago: &str) -> DateTime<Utc> {
    sqlx::query_scalar(
        "UPDATE schedules SET next_run_at = now() - $2::interval WHERE id = $1 RETURNING next_run_at",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .bind(ago)
    .fetch_one(db)
    .await
    .unwrap()
}

/// The jobs of a schedule: (job id, due time), by due time.
async fn runs(db: &PgPool, id: &str) -> Vec<(Uuid, DateTime<Utc>)> {
    sqlx::query_as(
        "SELECT id, scheduled_for FROM jobs WHERE schedule_id = $1 ORDER BY scheduled_for",
    )
    .bind(Uuid::parse_str(id).unwrap())
    .fetch_all(db)
    .await
    .unwrap()
}

/// Polls the schedule until its last run is `due` (the scheduler has no fixed timing).
async fn wait_for_run(app: &TestApp, user: &User, id: &str, due: DateTime<Utc>) -> pb::Schedule {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let schedule = get(app, user, id).await;
        if time(schedule.last_run_at.as_ref()) == Some(due) {
            return schedule;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "gave up waiting for the run; the schedule is {schedule:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Some ticks of the scheduler (50 ms in tests).
async fn a_few_ticks() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_due_schedule_makes_exactly_one_job_and_moves_to_its_next_due_time() {
    let (app, owner) = TestApp::spawn_with_project(Options::without_worker(), "SCH", &["a"]).await;
    let db = &app.reporting_db.pool;
    let schedule = create(&app, &owner, project_report("SCH", 7), "0 8 * * 1", false).await;
    let cron = CronExpr::parse("0 8 * * 1").unwrap();
    let berlin = chrono_tz::Tz::Europe__Berlin;
    let first = time(schedule.next_run_at.as_ref()).unwrap();
    assert!(first > Utc::now());
    assert_eq!(cron.next_after(berlin, Utc::now()), Some(first));
    assert!(runs(db, &schedule.id).await.is_empty());

    let due = make_due(db, &schedule.id, "1 second").await;
    let ran = wait_for_run(&app, &owner, &schedule.id, due).await;
    a_few_ticks().await;

    let made = runs(db, &schedule.id).await;
    assert_eq!(made.len(), 1, "{made:?}");
    assert_eq!(made[0].1, due);
    assert_eq!(ran.last_job_id, made[0].0.to_string());
    let next = time(ran.next_run_at.as_ref()).unwrap();
    assert!(next > Utc::now());
    assert_eq!(cron.next_after(berlin, Utc::now()), Some(next));
    // The job is the owner's, over the 7 days before the due time, queued with its message.
    let job = app.job(&owner, &ran.last_job_id).await;
    assert_eq!(job.owner_id, owner.id);
    assert_eq!(job.state, JobState::Queued as i32);
    let Some(pb::report_params::Params::Project(params)) = job.params.unwrap().params else {
        panic!("a project report");
    };
    assert_eq!(params.project_key, "SCH");
    assert_eq!(time(params.to.as_ref()), Some(due));
    assert_eq!(
        time(params.from.as_ref()),
        Some(due - chrono::Duration::days(7))
    );
    let messages: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE job_id = $1")
        .bind(made[0].0)
        .fetch_one(db)
        .await
        .unwrap();
    assert_eq!(messages, 1, "the job's message is in the outbox");
    app.cleanup_broker().await;
}

#[tokio::test]
async fn due_times_missed_for_hours_are_caught_up_with_one_job() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let db = &app.reporting_db.pool;
    let schedule = create(&app, &owner, monthly_report(), "*/10 * * * *", false).await;

    // The lag gauge's query: nothing overdue, then (seen inside a transaction the scheduler
    // cannot see yet) five hours.
    let lag = swatter_reporting::store::schedules::schedule_lag(db)
        .await
        .unwrap();
    assert_eq!(lag, 0.0);
    let mut tx = db.begin().await.unwrap();
    sqlx::query("UPDATE schedules SET next_run_at = now() - interval '5 hours' WHERE id = $1")
        .bind(Uuid::parse_str(&schedule.id).unwrap())
        .execute(&mut *tx)
        .await
        .unwrap();
    let lag = swatter_reporting::store::schedules::schedule_lag(&mut *tx)
        .await
        .unwrap();
    assert!((lag - 5.0 * 3600.0).abs() < 1.0, "{lag}");
    tx.rollback().await.unwrap();

    // Down for five hours: thirty due times passed.
    let due = make_due(db, &schedule.id, "5 hours").await;
    let ran = wait_for_run(&app, &owner, &schedule.id, due).await;
    a_few_ticks().await;

    let made = runs(db, &schedule.id).await;
    assert_eq!(made.len(), 1, "one job for the missed due times: {made:?}");
    assert_eq!(made[0].1, due);
    let next = time(ran.next_run_at.as_ref()).unwrap();
    let now = Utc::now();
    assert!(
        next > now && next <= now + chrono::Duration::minutes(10),
        "{next}"
    );
    // Counted, with its delay from the due time (other tests' runs share the process's
    // recorder: theirs are late by milliseconds, this one by five hours).
    let text = scrape::text(app.metrics_addr).await;
    let value = |name: &str, labels: &[(&str, &str)]| scrape::value(&text, name, labels);
    assert!(
        value("swatter_scheduled_runs_total", &[("outcome", "queued")]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert!(
        value("swatter_scheduled_run_delay_seconds_sum", &[]).unwrap_or(0.0) >= 5.0 * 3600.0,
        "{text}"
    );
    for outcome in ["refused", "already_made", "failed"] {
        assert!(
            value("swatter_scheduled_runs_total", &[("outcome", outcome)]).is_some(),
            "{outcome} is registered at 0 from the start: {text}"
        );
    }
    assert!(
        value("swatter_schedule_lag_seconds", &[]).is_some(),
        "{text}"
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_paused_schedule_makes_nothing_and_resumes_from_now() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let db = &app.reporting_db.pool;
    let schedule = create(&app, &owner, monthly_report(), "* * * * *", false).await;
    // Due an hour ago (nothing ran it yet: the scheduler is about to), and paused.
    let missed = make_due(db, &schedule.id, "1 hour").await;
    let paused = pause(&app, &owner, &schedule.id).await;
    assert!(paused.paused);
    assert_eq!(paused.next_run_at, None);
    let before_pause = runs(db, &schedule.id).await;
    a_few_ticks().await;
    assert_eq!(
        runs(db, &schedule.id).await,
        before_pause,
        "no run while paused"
    );
    // Pausing again changes nothing.
    assert_eq!(pause(&app, &owner, &schedule.id).await, paused);

    let resumed = resume(&app, &owner, &schedule.id).await;
    assert!(!resumed.paused);
    let next = time(resumed.next_run_at.as_ref()).unwrap();
    let now = Utc::now();
    assert!(
        next > now && next <= now + chrono::Duration::minutes(1),
        "{next}"
    );
    a_few_ticks().await;
    let after_resume = runs(db, &schedule.id).await;
    // At most the run the scheduler may have made before the pause, then only due times from
    // the resumed schedule's next one on: the skipped ones are not caught up.
    assert!(
        after_resume
            .iter()
            .all(|(_, due)| *due == missed || *due >= next),
        "{after_resume:?}"
    );
    assert_eq!(
        after_resume.iter().filter(|(_, due)| *due < next).count(),
        before_pause.len()
    );
    app.cleanup_broker().await;
}

/// Arms every schedule of `ids` whose last due time has been run (its next one is far away: a
/// yearly cron) to be due `ahead` from now; returns the due times armed.
async fn arm_consumed(db: &PgPool, ids: &[Uuid], ahead: &str) -> Vec<(Uuid, DateTime<Utc>)> {
    sqlx::query_as(
        "UPDATE schedules SET next_run_at = date_trunc('milliseconds', clock_timestamp()) + $2::interval
         WHERE id = ANY($1) AND next_run_at > now() + interval '1 day'
         RETURNING id, next_run_at",
    )
    .bind(ids)
    .bind(ahead)
    .fetch_all(db)
    .await
    .unwrap()
}

/// The jobs made per due time.
async fn jobs_per_run(db: &PgPool) -> HashMap<(Uuid, DateTime<Utc>), i64> {
    let rows: Vec<(Uuid, DateTime<Utc>, i64)> = sqlx::query_as(
        "SELECT schedule_id, scheduled_for, count(*) FROM jobs
         WHERE schedule_id IS NOT NULL GROUP BY 1, 2",
    )
    .fetch_all(db)
    .await
    .unwrap();
    rows.into_iter().map(|(id, at, n)| ((id, at), n)).collect()
}

/// A `swatter-reporting api` process, killed (SIGKILL) when dropped, also when the test fails.
struct Replica(std::process::Child);

impl Replica {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn two_replicas_make_every_due_run_once_and_the_survivor_of_a_sigkill_misses_none() {
    let mut app = TestApp::spawn_with(Options {
        max_active_jobs_per_user: 100_000,
        ..Options::without_worker()
    })
    .await;
    let owner = app.user("owner").await;
    let db = app.reporting_db.pool.clone();
    let mut ids = Vec::new();
    for _ in 0..40 {
        // Yearly: once run, a schedule is not due again until the test arms it.
        let schedule = create(&app, &owner, monthly_report(), "0 0 1 1 *", false).await;
        ids.push(Uuid::parse_str(&schedule.id).unwrap());
    }
    // Only the two `swatter-reporting api` processes schedule from here on.
    app.stop_reporting();
    let mut doomed = Replica(app.spawn_api());
    let survivor = Replica(app.spawn_api());

    let mut armed: HashSet<(Uuid, DateTime<Utc>)> = HashSet::new();
    let mut armed_after_kill = 0;
    let started = tokio::time::Instant::now();
    let mut killed = false;
    while started.elapsed() < Duration::from_secs(10) {
        let new = arm_consumed(&db, &ids, "300 milliseconds").await;
        if killed {
            armed_after_kill += new.len();
        }
        armed.extend(new);
        if !killed && started.elapsed() > Duration::from_secs(4) {
            // SIGKILL, likely mid-tick: its transaction dies with its connection.
            doomed.kill();
            killed = true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every armed due time gets run (by the survivor) …
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let pending: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM schedules WHERE next_run_at < now() + interval '1 day'",
        )
        .fetch_one(&db)
        .await
        .unwrap();
        if pending == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{pending} runs never made"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(survivor);

    // … exactly once: one job per due time, none skipped, none twice.
    let made = jobs_per_run(&db).await;
    let twice: Vec<_> = made.iter().filter(|(_, n)| **n != 1).collect();
    assert!(
        twice.is_empty(),
        "due times with more than one job: {twice:?}"
    );
    let made: HashSet<(Uuid, DateTime<Utc>)> = made.into_keys().collect();
    assert_eq!(
        made.difference(&armed).count(),
        0,
        "jobs for due times never armed"
    );
    assert_eq!(armed.difference(&made).count(), 0, "due times skipped");
    assert!(
        armed.len() > 200,
        "too few runs to mean much: {}",
        armed.len()
    );
    assert!(
        armed_after_kill > 50,
        "the survivor ran alone: {armed_after_kill}"
    );
    // How late after its due time each job was made (a tick is 50 ms in tests).
    let (median, worst): (f64, f64) = sqlx::query_as(
        "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY lateness), max(lateness)
         FROM (SELECT EXTRACT(EPOCH FROM created_at - scheduled_for)::float8 AS lateness
               FROM jobs WHERE schedule_id IS NOT NULL) l",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    eprintln!(
        "{} due times armed ({armed_after_kill} after the SIGKILL), each made exactly one job; \
         made {:.0} ms after the due time (median), {:.0} ms at worst",
        armed.len(),
        median * 1000.0,
        worst * 1000.0
    );
    app.cleanup_broker().await;
}

/// Schedule events read from `queue` until `settle` after the first one of `event_type` (or
/// until the limit passes), in arrival order.
async fn schedule_events(queue: &str, event_type: &str, settle: Duration) -> Vec<Envelope> {
    let mut seen: Option<tokio::time::Instant> = None;
    read_events(
        queue,
        |key| key.starts_with("schedule."),
        LIMIT,
        |events| {
            if seen.is_none() && events.iter().any(|e| e.event_type == event_type) {
                seen = Some(tokio::time::Instant::now());
            }
            seen.is_some_and(|at| at.elapsed() >= settle)
        },
    )
    .await
}

#[tokio::test]
async fn a_run_that_succeeds_publishes_report_ready_once_with_the_schedule_and_the_job() {
    let (app, owner) = TestApp::spawn_with_project(Options::default(), "DLV", &["one"]).await;
    let db = &app.reporting_db.pool;
    let queue = bind_events_queue(&app.broker.events_exchange()).await;
    let silent = create(&app, &owner, project_report("DLV", 3), "0 0 1 1 *", false).await;
    let delivering = create(&app, &owner, project_report("DLV", 3), "0 0 1 1 *", true).await;

    let silent_due = make_due(db, &silent.id, "0 seconds").await;
    let due = make_due(db, &delivering.id, "0 seconds").await;
    let silent_run = wait_for_run(&app, &owner, &silent.id, silent_due).await;
    let run = wait_for_run(&app, &owner, &delivering.id, due).await;
    app.wait_for_state(&owner, &silent_run.last_job_id, JobState::Succeeded, LIMIT)
        .await;
    app.wait_for_state(&owner, &run.last_job_id, JobState::Succeeded, LIMIT)
        .await;
    let events = schedule_events(&queue, "schedule.report_ready", Duration::from_secs(2)).await;

    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.event_type, "schedule.report_ready");
    assert_eq!(event.project_key.as_deref(), Some("DLV"));
    assert_eq!(event.data["schedule"]["id"], delivering.id);
    assert_eq!(event.data["schedule"]["report"]["project_key"], "DLV");
    assert_eq!(event.data["schedule"]["deliver_event"], true);
    assert_eq!(event.data["job"]["id"], run.last_job_id);
    assert_eq!(event.data["job"]["state"], "succeeded");
    assert_eq!(
        event.data["job"]["artifact"]["content_type"],
        "application/pdf"
    );
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_run_due_while_its_owner_has_no_job_slot_makes_a_failed_job_and_says_so() {
    let (app, owner) = TestApp::spawn_with_project(
        Options {
            max_active_jobs_per_user: 1,
            ..Options::without_worker()
        },
        "FUL",
        &["one"],
    )
    .await;
    let db = &app.reporting_db.pool;
    let queue = bind_events_queue(&app.broker.events_exchange()).await;
    // The one slot is taken (no worker: the job stays queued).
    app.request_project_report(&owner, "FUL").await;
    let schedule = create(&app, &owner, project_report("FUL", 30), "0 0 1 1 *", true).await;

    let due = make_due(db, &schedule.id, "0 seconds").await;
    let run = wait_for_run(&app, &owner, &schedule.id, due).await;
    let job = app.job(&owner, &run.last_job_id).await;
    assert_eq!(job.state, JobState::Failed as i32);
    let error = job.error.unwrap();
    assert_eq!(error.kind, "permanent");
    assert!(error.message.contains("limit"), "{}", error.message);
    assert!(time(run.next_run_at.as_ref()).unwrap() > Utc::now());

    let events = schedule_events(&queue, "schedule.report_failed", Duration::from_secs(1)).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event_type, "schedule.report_failed");
    assert_eq!(events[0].data["job"]["id"], run.last_job_id);
    assert_eq!(events[0].data["job"]["state"], "failed");
    assert_eq!(events[0].data["schedule"]["id"], schedule.id);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_user_has_at_most_the_configured_number_of_schedules() {
    let app = TestApp::spawn_with(Options {
        max_schedules_per_user: 2,
        ..Options::without_worker()
    })
    .await;
    let owner = app.user("owner").await;
    let first = create(&app, &owner, monthly_report(), "0 6 1 * *", false).await;
    create(&app, &owner, monthly_report(), "0 6 2 * *", false).await;

    let refused = try_create(&app, &owner, request(monthly_report(), "0 6 3 * *", false))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::ResourceExhausted);
    assert!(
        refused.message().contains("SWATTER_MAX_SCHEDULES_PER_USER"),
        "{refused:?}"
    );
    // Another user has their own.
    let other = app.user("other").await;
    create(&app, &other, monthly_report(), "0 6 3 * *", false).await;
    // Deleting one makes room.
    app.api()
        .delete_schedule(req(pb::DeleteScheduleRequest { id: first.id }, &owner))
        .await
        .unwrap();
    create(&app, &owner, monthly_report(), "0 6 3 * *", false).await;
    app.cleanup_broker().await;
}

#[tokio::test]
async fn a_repeated_request_id_answers_the_first_schedule_and_a_reused_one_is_refused() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let keyed = pb::CreateScheduleRequest {
        request_id: "weekly-1".into(),
        ..request(monthly_report(), "0 6 1 * *", false)
    };
    let first = try_create(&app, &owner, keyed.clone()).await.unwrap();
    let again = try_create(&app, &owner, keyed.clone()).await.unwrap();
    assert_eq!(again, first);
    let other_body = pb::CreateScheduleRequest {
        cron: "0 7 1 * *".into(),
        ..keyed
    };
    let refused = try_create(&app, &owner, other_body).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM schedules")
        .fetch_one(&app.reporting_db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    app.cleanup_broker().await;
}

#[tokio::test]
async fn deleting_a_schedule_keeps_the_jobs_it_made() {
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let db = &app.reporting_db.pool;
    let schedule = create(&app, &owner, monthly_report(), "0 6 1 * *", false).await;
    let due = make_due(db, &schedule.id, "0 seconds").await;
    let ran = wait_for_run(&app, &owner, &schedule.id, due).await;

    app.api()
        .delete_schedule(req(
            pb::DeleteScheduleRequest {
                id: schedule.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    let gone = app
        .api()
        .get_schedule(req(pb::GetScheduleRequest { id: schedule.id }, &owner))
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    let job = app.job(&owner, &ran.last_job_id).await;
    assert_eq!(job.state, JobState::Queued as i32);
    app.cleanup_broker().await;
}
