//! The standard `process_*` metrics of a Prometheus client (the names, types and meanings the
//! official clients give them), read from `/proc` at each scrape and rendered after the
//! recorder's series.
//!
//! They bypass the `metrics` recorder because its counters hold whole numbers: CPU time counted
//! in whole seconds is too coarse to take a rate of. Only Linux has `/proc`; elsewhere there are
//! none.

use std::fmt::Write;

/// Ticks per second of the times in `/proc/<pid>/stat`: USER_HZ, which the kernel's interface
/// to user space fixes at 100 (the Prometheus clients' procfs readers assume the same).
const USER_HZ: f64 = 100.0;

/// The process metrics in the Prometheus text format; a value that cannot be read is left out.
pub fn render() -> String {
    let mut text = String::new();
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|raw| Stat::parse(&raw));
    if let Some(stat) = &stat {
        family(
            &mut text,
            "process_cpu_seconds_total",
            "counter",
            "Total user and system CPU time spent in seconds.",
            (stat.user_ticks + stat.system_ticks) / USER_HZ,
        );
        if let Some(boot) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|raw| boot_time(&raw))
        {
            family(
                &mut text,
                "process_start_time_seconds",
                "gauge",
                "Start time of the process since unix epoch in seconds.",
                boot + stat.start_ticks / USER_HZ,
            );
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        if let Some(kib) = status_kib(&status, "VmSize") {
            family(
                &mut text,
                "process_virtual_memory_bytes",
                "gauge",
                "Virtual memory size in bytes.",
                kib * 1024.0,
            );
        }
        if let Some(kib) = status_kib(&status, "VmRSS") {
            family(
                &mut text,
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory size in bytes.",
                kib * 1024.0,
            );
        }
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        family(
            &mut text,
            "process_open_fds",
            "gauge",
            "Number of open file descriptors.",
            entries.count() as f64,
        );
    }
    if let Some(max) = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|raw| max_open_files(&raw))
    {
        family(
            &mut text,
            "process_max_fds",
            "gauge",
            "Maximum number of open file descriptors.",
            max,
        );
    }
    text
}

fn family(text: &mut String, name: &str, kind: &str, help: &str, value: f64) {
    let _ = write!(
        text,
        "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n\n"
    );
}

/// The fields of `/proc/self/stat` that matter here, in clock ticks.
struct Stat {
    user_ticks: f64,
    system_ticks: f64,
    start_ticks: f64,
}

impl Stat {
    /// Fields 14 (utime), 15 (stime) and 22 (starttime) of proc(5); they are counted after the
    /// command name, which may itself hold spaces and parentheses.
    fn parse(raw: &str) -> Option<Stat> {
        let (_, after_name) = raw.rsplit_once(')')?;
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let field = |number: usize| fields.get(number - 3)?.parse::<f64>().ok();
        Some(Stat {
            user_ticks: field(14)?,
            system_ticks: field(15)?,
            start_ticks: field(22)?,
        })
    }
}

/// `btime` of `/proc/stat`: when the system booted, in seconds since the epoch.
fn boot_time(raw: &str) -> Option<f64> {
    raw.lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()
}

/// A `Name:   1234 kB` line of `/proc/self/status`, in KiB.
fn status_kib(raw: &str, name: &str) -> Option<f64> {
    raw.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The soft limit of `Max open files` in `/proc/self/limits` (none when unlimited).
fn max_open_files(raw: &str) -> Option<f64> {
    raw.lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_name_with_spaces_and_parentheses_does_not_shift_the_stat_fields() {
        let raw = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 1869 0 0 0 \
                   250 75 0 0 20 0 9 0 123456 123456789 4321 18446744073709551615";
        let stat = Stat::parse(raw).unwrap();
        assert_eq!(stat.user_ticks, 250.0);
        assert_eq!(stat.system_ticks, 75.0);
        assert_eq!(stat.start_ticks, 123456.0);
    }

    #[test]
    fn status_limits_and_boot_time_lines_are_read() {
        let status = "Name:\tswatter\nVmSize:\t  123456 kB\nVmRSS:\t    2048 kB\nThreads:\t9\n";
        assert_eq!(status_kib(status, "VmSize"), Some(123456.0));
        assert_eq!(status_kib(status, "VmRSS"), Some(2048.0));
        assert_eq!(status_kib(status, "Threads"), None);
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        assert_eq!(max_open_files(limits), Some(1024.0));
        let unlimited =
            "Max open files            unlimited            unlimited            files\n";
        assert_eq!(max_open_files(unlimited), None);
        assert_eq!(
            boot_time("cpu  1 2 3\nbtime 1764540000\n"),
            Some(1764540000.0)
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_reports_every_process_metric_with_a_plausible_value() {
        let text = render();
        let value = |name: &str| -> f64 {
            let line = text
                .lines()
                .find(|line| line.starts_with(&format!("{name} ")))
                .unwrap_or_else(|| panic!("{name} missing:\n{text}"));
            line.rsplit_once(' ').unwrap().1.parse().unwrap()
        };
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        let started = value("process_start_time_seconds");
        assert!(
            started <= now + 1.0 && started > now - 86_400.0,
            "{started} vs {now}"
        );
        assert!(value("process_cpu_seconds_total") >= 0.0);
        assert!(value("process_resident_memory_bytes") > 1024.0 * 1024.0);
        assert!(value("process_virtual_memory_bytes") >= value("process_resident_memory_bytes"));
        assert!(value("process_open_fds") >= 3.0);
        assert!(value("process_max_fds") >= value("process_open_fds"));
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
    }
}
