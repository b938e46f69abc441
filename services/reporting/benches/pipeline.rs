//! End-to-end benchmark of the report pipeline (release): the whole stack with real PostgreSQL,
//! RabbitMQ and s3s-fs, and one worker as a separate process.
//! - latency: `CreateReport` → `succeeded` (seen on the `WatchJob` stream) for a 100-issue project,
//!   one request at a time on an idle stack;
//! - big projects: the same for a 1,000-issue project (45 % open) and a 20,000-issue backlog
//!   (94 % open, 8 assignees), with the PDF's size and pages and where the time went (the
//!   worker's fetch, render and upload histograms);
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

/// Seconds the worker spent so far fetching, rendering and uploading (its histograms' sums).
async fn stage_sums(metrics_addr: std::net::SocketAddr) -> [f64; 3] {
    let text = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await
        .expect("the worker serves its metrics")
        .text()
        .await
        .unwrap();
    ["fetch", "render", "upload"].map(|stage| {
        let name = format!("swatter_{stage}_duration_seconds_sum");
        text.lines()
            .filter(|line| line.starts_with(&name))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    })
}

/// Pages of a PDF typst wrote: its page objects (typst writes no object streams).
fn page_count(pdf: &[u8]) -> usize {
    let needle = b"/Type/Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && !w[needle.len()].is_ascii_alphabetic())
        .count()
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
    // The throughput part keeps hundreds of jobs in flight for one user.
    let app = TestApp::spawn_with(Options {
        max_active_jobs_per_user: 2_000,
        ..Options::without_worker()
    })
    .await;
    let owner = app.user("owner").await;
    let admin = app.admin().await;
    app.project(&owner, "E2E", &["first"]).await;
    app.seed_issues(&owner, "E2E", 99).await;
    app.project(&owner, "SMALL", &["one", "two", "three"]).await;
    app.seed_issues(&owner, "SMALL", 7).await;

    let mut people = Vec::new();
    for i in 1..=8 {
        people.push(app.user(&format!("dev{i}")).await);
    }
    let people: Vec<&support::User> = people.iter().collect();
    let big = [("K1", 1_000, 45), ("K20", 20_000, 94)];
    for (key, issues, open_percent) in big {
        app.project(&owner, key, &[]).await;
        app.seed_backlog(&owner, key, issues, open_percent, &people)
            .await;
    }

    let metrics_addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port for the worker's metrics");
    let mut worker = app
        .worker_command()
        .env("SWATTER_WORKER_CONCURRENCY", "2")
        .env("SWATTER_METRICS_ADDR", metrics_addr.to_string())
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

    let mut big_rows = Vec::new();
    for (key, issues, open_percent) in big {
        let runs = if issues > 10_000 { 3 } else { 10 };
        let mut times = Vec::new();
        let before = stage_sums(metrics_addr).await;
        let mut pdf = Vec::new();
        for _ in 0..runs {
            let started = Instant::now();
            let job = create(&app, &owner, key).await;
            let mut stream = app.watch(&owner, &job.id).await;
            while let Some(update) = stream.next().await {
                if update.unwrap().state == JobState::Succeeded as i32 {
                    break;
                }
            }
            times.push(started.elapsed());
            pdf = app.download(&owner, &job.id).await;
        }
        done += runs as i64;
        times.sort();
        let after = stage_sums(metrics_addr).await;
        let mean_ms = |i: usize| (after[i] - before[i]) / runs as f64 * 1000.0;
        big_rows.push(format!(
            "| POST report → succeeded, {issues}-issue project ({open_percent} % open), idle stack ({runs} runs) | p50 {:.0} ms, max {:.0} ms; mean fetch {:.0} ms, render {:.0} ms, upload {:.0} ms; PDF {:.0} KiB, {} pages |",
            percentile(&times, 0.5).as_secs_f64() * 1000.0,
            times.last().unwrap().as_secs_f64() * 1000.0,
            mean_ms(0),
            mean_ms(1),
            mean_ms(2),
            pdf.len() as f64 / 1024.0,
            page_count(&pdf),
        ));
        eprintln!("{}", big_rows.last().unwrap());
    }

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
    for row in &big_rows {
        println!("{row}");
    }
    println!(
        "| small reports (10 issues) per minute, one worker, concurrency 2 | {per_minute:.0} |"
    );
    println!(
        "| worker RSS after 300 / after {done} reports (peak) | {rss_after_300:.1} MiB / {rss:.1} MiB ({peak:.1} MiB) |"
    );
    app.cleanup_broker().await;
}
