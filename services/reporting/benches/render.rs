//! Render times, PDF sizes and page counts of project reports of 100, 1,000 and 10,000 issues
//! (45 % open) and of a 20,000-issue backlog (94 % open), and the process's memory after many
//! renders (the memo cache must not grow).
//! Run: `cargo bench -p swatter-reporting --bench render` (or with `-- 20000` for one size).
//! Targets: 1,000 issues ≤ 300 ms, 10,000 issues ≤ 3 s (release, one core); the 20,000-issue
//! backlog ≤ 5 MB.

#[path = "../tests/render_fixtures/mod.rs"]
mod fixtures;

use std::time::{Duration, Instant};

use swatter_reporting::render::render_project;

fn main() {
    // `cargo bench` passes `--bench`; other arguments select parts: `rss`, `100`, `1000`, `10000`,
    // `20000`.
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
    type Fixture = fn(usize, u64) -> swatter_reporting::render::ProjectReport;
    let sizes: [(usize, usize, Fixture); 4] = [
        (100, 10, fixtures::project),
        (1_000, 7, fixtures::project),
        (10_000, 3, fixtures::project),
        (20_000, 3, fixtures::backlog),
    ];
    for (issues, runs, fixture) in sizes {
        if !filter.is_empty() && !filter.iter().any(|f| *f == issues.to_string()) {
            continue;
        }
        let mut times = Vec::with_capacity(runs);
        let (mut pdf, mut open) = (Vec::new(), 0);
        for run in 0..runs {
            // A different report each time: typst memoises, so a repeat would be a cache hit.
            let report = fixture(issues, 42 + run as u64);
            open = report.issues.iter().filter(|i| i.status.is_open()).count();
            let start = Instant::now();
            pdf = render_project(&report).expect("the synthetic report renders");
            times.push(start.elapsed());
        }
        times.sort();
        let pages = page_count(&pdf);
        println!(
            "{issues:>6} issues ({open} open): min {:>8.1?}  median {:>8.1?}  over {runs} renders, PDF {} KiB, {pages} pages, {:.1} KiB/page",
            times[0],
            times[runs / 2],
            pdf.len() / 1024,
            pdf.len() as f64 / 1024.0 / pages.max(1) as f64
        );
    }
}

/// Pages of a PDF typst wrote: its page objects (typst writes no object streams).
fn page_count(pdf: &[u8]) -> usize {
    let needle = b"/Type/Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && !w[needle.len()].is_ascii_alphabetic())
        .count()
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
