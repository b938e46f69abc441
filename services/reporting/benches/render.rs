//! Render times of project reports of 100, 1,000 and 10,000 issues, and the process's memory
//! after many renders (the memo cache must not grow).
//! Run: `cargo bench -p swatter-reporting --bench render`.
//! Targets: 1,000 issues ≤ 300 ms, 10,000 issues ≤ 3 s (release, one core).

#[path = "../tests/render_fixtures/mod.rs"]
mod fixtures;

use std::time::{Duration, Instant};

use swatter_reporting::render::render_project;

fn main() {
    // `cargo bench` passes `--bench`; other arguments select parts: `rss`, `100`, `1000`, `10000`.
    // `cargo test --all-targets` runs this binary without `--bench`: then only a smoke render.
    if !std::env::args().any(|a| a == "--bench") {
        let pdf =
            render_project(&fixtures::project(100, 42)).expect("the synthetic report renders");
        assert!(pdf.starts_with(b"%PDF"));
        println!(
            "render benchmark: smoke run only; `cargo bench -p swatter-reporting --bench render`"
        );
        return;
    }
    let filter: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    // Memory first, while the process has only seen small reports.
    if filter.is_empty() || filter.iter().any(|f| f == "rss") {
        memory_after_many_renders();
    }
    let sizes = [(100, 10), (1_000, 7), (10_000, 3)];
    for (issues, runs) in sizes {
        if !filter.is_empty() && !filter.iter().any(|f| *f == issues.to_string()) {
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        let (mut size, mut open) = (0, 0);
        for run in 0..runs {
            // A different report each time: typst memoises, so a repeat would be a cache hit.
            let report = fixtures::project(issues, 42 + run as u64);
            open = report.issues.iter().filter(|i| i.status.is_open()).count();
            let start = Instant::now();
            let pdf = render_project(&report).expect("the synthetic report renders");
            times.push(start.elapsed());
            size = pdf.len();
        }
        times.sort();
        println!(
            "{issues:>6} issues ({open} open rows): min {:>8.1?}  median {:>8.1?}  over {runs} renders, PDF {} KiB",
            times[0],
            times[runs / 2],
            size / 1024
        );
    }
}

/// 200 different 100-issue reports: resident memory must level off, not grow with every render.
fn memory_after_many_renders() {
    let mut total = Duration::ZERO;
    for round in 1..=200 {
        let report = fixtures::project(100, round);
        let start = Instant::now();
        render_project(&report).expect("the synthetic report renders");
        total += start.elapsed();
        if [1, 50, 100, 200].contains(&round) {
            println!("after {round:>3} different 100-issue renders: {}", memory());
        }
    }
    println!("mean time of those 200 renders: {:.1?}\n", total / 200);
}

fn memory() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".into())
    };
    format!("VmRSS {}  VmHWM {}", field("VmRSS:"), field("VmHWM:"))
}
