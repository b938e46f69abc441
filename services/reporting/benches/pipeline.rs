//! End-to-end benchmark of the report pipeline (release): the whole stack with real PostgreSQL,
//! RabbitMQ and s3s-fs, and one worker as a separate process.
//! - latency: `CreateReport` → `succeeded` (seen on the `WatchJob` stream) for a 100-issue project,
//!   one request at a time on an idle stack;
//! - throughput: small reports per minute through one worker (concurrency 2);
//! - memory: the worker's resident set after 1,000 reports.
//!
//! Run with `cargo bench -p swatter-reporting --bench pipeline`; `make bench` does.

#[path = "../tests/reporting/support.rs"]
#[allow(dead_code)]
mod support;

use std::{
    process::Child,
    time::{Duration, Instant},
};

use support::{Options, TestApp, req};
use swatter_proto::reporting::v1::{self as pb, JobState};
use tokio_stream::StreamExt;

fn rss_mib(child: &Child) -> (f64, f64) {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

async fn create(app: &TestApp, user: &support::User, key: &str) -> pb::Job {
    app.request_project_report(user, key).await
}

async fn wait_all_done(app: &TestApp, admin: &support::User, total: i64) {
    loop {
        let stats = app
            .reporting
            .clone()
            .get_job_stats(req(pb::GetJobStatsRequest {}, admin))
            .await
            .unwrap()
            .into_inner();
        let done = stats.jobs_by_state["succeeded"] + stats.jobs_by_state["failed"];
        if done >= total {
            assert_eq!(stats.jobs_by_state["failed"], 0, "no report may fail");
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::main]
async fn main() {
    // `cargo test --all-targets` runs bench binaries without `--bench`: 1,000 reports are not a test.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "pipeline benchmark: run it with `cargo bench -p swatter-reporting --bench pipeline`"
        );
        return;
    }
    let app = TestApp::spawn_with(Options::without_worker()).await;
    let owner = app.user("owner").await;
    let admin = app.admin().await;
    app.project(&owner, "E2E", &["first"]).await;
    app.seed_issues(&owner, "E2E", 99).await;
    app.project(&owner, "SMALL", &["one", "two", "three"]).await;
    app.seed_issues(&owner, "SMALL", 7).await;

    let mut worker = app
        .worker_command()
        .env("SWATTER_WORKER_CONCURRENCY", "2")
        .spawn()
        .expect("start the worker");
    // Warm up: connections, JWKS, fonts.
    let warm = create(&app, &owner, "SMALL").await;
    app.wait_for_state(
        &owner,
        &warm.id,
        JobState::Succeeded,
        Duration::from_secs(60),
    )
    .await;

    let mut latencies = Vec::new();
    for _ in 0..30 {
        let started = Instant::now();
        let job = create(&app, &owner, "E2E").await;
        let mut stream = app.watch(&owner, &job.id).await;
        while let Some(update) = stream.next().await {
            if update.unwrap().state == JobState::Succeeded as i32 {
                break;
            }
        }
        latencies.push(started.elapsed());
    }
    latencies.sort();
    let mut done: i64 = 31;

    let batch = 300;
    let started = Instant::now();
    for _ in 0..batch {
        create(&app, &owner, "SMALL").await;
    }
    done += batch;
    wait_all_done(&app, &admin, done).await;
    let per_minute = batch as f64 / started.elapsed().as_secs_f64() * 60.0;
    let (rss_after_300, _) = rss_mib(&worker);

    let rest = 1000 - done;
    for _ in 0..rest {
        create(&app, &owner, "SMALL").await;
    }
    done += rest;
    wait_all_done(&app, &admin, done).await;
    let (rss, peak) = rss_mib(&worker);
    let _ = worker.kill();
    let _ = worker.wait();

    println!("| measure | value |");
    println!("|---|---|");
    println!(
        "| POST report → succeeded, 100-issue project, idle stack (30 runs) | p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms |",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.9).as_secs_f64() * 1000.0,
        latencies.last().unwrap().as_secs_f64() * 1000.0
    );
    println!(
        "| small reports (10 issues) per minute, one worker, concurrency 2 | {per_minute:.0} |"
    );
    println!(
        "| worker RSS after 300 / after {done} reports (peak) | {rss_after_300:.1} MiB / {rss:.1} MiB ({peak:.1} MiB) |"
    );
    app.cleanup_broker().await;
}
