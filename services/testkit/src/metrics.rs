//! Scraping a `GET /metrics` endpoint and reading its samples.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The body of `GET /metrics` at `addr` (panics unless it answers 200).
pub async fn text(addr: SocketAddr) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to the metrics endpoint");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: metrics\r\nConnection: close\r\n\r\n")
        .await
        .expect("send the scrape");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("read the scrape");
    let raw = String::from_utf8(raw).expect("UTF-8 metrics");
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: text/plain"),
        "{head}"
    );
    body.to_owned()
}

/// The value of the sample `name` whose labels include all of `labels`, summed over the
/// series that match (so `&[]` totals a metric).
pub fn value(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let (series_name, series_labels) = match series.split_once('{') {
            Some((n, rest)) => (n, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        if series_name != name {
            continue;
        }
        let matches = labels.iter().all(|(k, v)| {
            series_labels
                .split(',')
                .any(|pair| pair == format!("{k}=\"{v}\""))
        });
        if matches && let Ok(value) = value.parse::<f64>() {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

/// The `process_*` metrics every endpoint serves.
pub const PROCESS_METRICS: &[&str] = &[
    "process_cpu_seconds_total",
    "process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_virtual_memory_bytes",
    "process_open_fds",
    "process_max_fds",
];

/// Panics with promtool's findings unless `promtool check metrics` accepts `text` without any
/// (problems and lint warnings alike). promtool comes from Debian's prometheus package, which
/// `make test` installs (scripts/ensure-deps.sh).
pub fn assert_promtool_clean(text: &str) {
    use std::{
        io::Write,
        process::{Command, Stdio},
    };
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tests need promtool: run them with `make test` (it installs promtool)");
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("feed promtool");
    let output = child.wait_with_output().expect("run promtool");
    let findings = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && findings.trim().is_empty(),
        "promtool check metrics: {}\n{findings}\n--- the text checked:\n{text}",
        output.status
    );
}

/// A metric of the README's "Metrics" table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Documented {
    pub name: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: String,
}

/// The metrics the README's "Metrics" table says `exporter` (`identity`, `issues`, `reporting`,
/// `gateway`) serves.
pub fn documented(exporter: &str) -> Vec<Documented> {
    const README: &str = include_str!("../../../README.md");
    let section = README
        .split_once("\n## Metrics\n")
        .expect("the README has a Metrics section")
        .1;
    let section = section.split("\n## ").next().unwrap_or(section);
    let documented: Vec<Documented> = section
        .lines()
        .filter(|line| line.starts_with("| `"))
        .filter_map(|line| {
            let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
            let exporters = cells.last()?;
            exporters
                .split(',')
                .any(|e| e.split_whitespace().next() == Some(exporter))
                .then(|| Documented {
                    name: cells[0].trim_matches('`').to_owned(),
                    kind: cells[1].to_owned(),
                })
        })
        .collect();
    assert!(
        !documented.is_empty(),
        "the README documents no metric of {exporter}"
    );
    documented
}

/// Whether `text` holds a sample of metric `name` (a histogram's by its `_count`).
pub fn has_samples(text: &str, name: &str, kind: &str) -> bool {
    let sample = if kind == "histogram" {
        format!("{name}_count")
    } else {
        name.to_owned()
    };
    text.lines().any(|line| {
        line.strip_prefix(sample.as_str())
            .is_some_and(|rest| rest.starts_with(' ') || rest.starts_with('{'))
    })
}

/// The documented metrics of `exporter` that `text` has no sample of.
pub fn missing_documented(text: &str, exporter: &str) -> Vec<String> {
    documented(exporter)
        .into_iter()
        .filter(|metric| !has_samples(text, &metric.name, &metric.kind))
        .map(|metric| metric.name)
        .collect()
}

/// Checks a scrape as an operator's tools would: promtool finds nothing, every process metric is
/// there, and so is every documented metric of `exporter` except those in `not_yet` (what only
/// exists once a request or a job has been observed).
pub fn assert_operator_ready(text: &str, exporter: &str, not_yet: &[&str]) {
    assert_promtool_clean(text);
    for name in PROCESS_METRICS {
        assert!(has_samples(text, name, "gauge"), "no {name}:\n{text}");
    }
    let missing: Vec<String> = missing_documented(text, exporter)
        .into_iter()
        .filter(|name| !not_yet.contains(&name.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "documented metrics of {exporter} missing: {missing:?}\n{text}"
    );
}
