//! The rules of scheduled reports, without I/O: the cron expression and the time zone a schedule
//! is read in, its next due time (daylight-saving changes included), and the parameters of the
//! report a due time makes.

use chrono::{DateTime, Datelike, Duration, LocalResult, Months, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use croner::{
    Cron,
    parser::{CronParser, Seconds, Year},
};
use serde::{Deserialize, Serialize};
use swatter_common::status::Violation;

use super::{DEFAULT_PERIOD_DAYS, MAX_PERIOD_DAYS, ReportParams, is_project_key};

/// Longest cron expression, in characters.
pub const MAX_CRON_LEN: usize = 100;
/// Longest schedule name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest time zone name, in characters (the longest IANA name has 32).
pub const MAX_ZONE_LEN: usize = 64;

/// What a schedule makes at each due time, as stored in `schedules.report`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduledReport {
    /// The project over the `period_days` days before the due time.
    Project {
        project_key: String,
        period_days: i32,
    },
    /// The owner's report of the last complete month before the due time, in the schedule's zone.
    UserMonthly,
}

impl ScheduledReport {
    /// A project report schedule; `period_days` 0 means the default (30).
    pub fn project(project_key: &str, period_days: i32) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        if !is_project_key(project_key) {
            violations.push(Violation::new("project_key", "is not a project key"));
        }
        let period_days = if period_days == 0 {
            DEFAULT_PERIOD_DAYS as i32
        } else {
            period_days
        };
        if !(1..=MAX_PERIOD_DAYS).contains(&i64::from(period_days)) {
            violations.push(Violation::new("period_days", "must be from 1 to 366"));
        }
        if violations.is_empty() {
            Ok(ScheduledReport::Project {
                project_key: project_key.to_owned(),
                period_days,
            })
        } else {
            Err(violations)
        }
    }

    /// The project a report of this schedule is about, if any.
    pub fn project_key(&self) -> Option<&str> {
        match self {
            ScheduledReport::Project { project_key, .. } => Some(project_key),
            ScheduledReport::UserMonthly => None,
        }
    }

    /// The parameters of the report made for the run due at `due` in `zone`.
    pub fn params_at(&self, due: DateTime<Utc>, zone: Tz) -> ReportParams {
        match self {
            ScheduledReport::Project {
                project_key,
                period_days,
            } => ReportParams::Project {
                project_key: project_key.clone(),
                from: due - Duration::days(i64::from(*period_days)),
                to: due,
            },
            ScheduledReport::UserMonthly => {
                let local = due.with_timezone(&zone).date_naive();
                let last_month = local
                    .with_day(1)
                    .and_then(|first| first.checked_sub_months(Months::new(1)))
                    .unwrap_or(local);
                ReportParams::UserMonthly {
                    month: format!("{:04}-{:02}", last_month.year(), last_month.month()),
                }
            }
        }
    }
}

/// A five-field cron expression (minute hour day-of-month month day-of-week): numbers, month and
/// weekday names, `*`, ranges, lists and steps. A day-of-month and a day-of-week both restricted
/// match either (as cron does).
#[derive(Debug, Clone)]
pub struct CronExpr {
    text: String,
    cron: Cron,
}

const CRON_SHAPE: &str = "must be five fields (minute hour day-of-month month day-of-week) of \
                          numbers, names, `*`, ranges, lists and steps";

/// One item of a field: `*`, a number or a name, a range of them, with an optional `/step`.
fn item_ok(item: &str) -> bool {
    let (range, step) = match item.split_once('/') {
        Some((range, step)) => (range, Some(step)),
        None => (item, None),
    };
    let value = |v: &str| {
        (!v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()))
            || (v.len() == 3 && v.bytes().all(|b| b.is_ascii_alphabetic()))
    };
    let range_ok = range == "*"
        || match range.split_once('-') {
            Some((low, high)) => value(low) && value(high),
            None => value(range),
        };
    let step_ok =
        step.is_none_or(|s| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit()));
    range_ok && step_ok
}

impl CronExpr {
    /// Parses `raw` (fields separated by spaces); the violation names `cron`.
    pub fn parse(raw: &str) -> Result<CronExpr, Violation> {
        let bad = |message: String| Violation::new("cron", message);
        if raw.chars().count() > MAX_CRON_LEN {
            return Err(bad(format!("must be at most {MAX_CRON_LEN} characters")));
        }
        let fields: Vec<&str> = raw.split(' ').filter(|f| !f.is_empty()).collect();
        if fields.is_empty() {
            return Err(bad("is required".into()));
        }
        if fields.len() != 5 || !fields.iter().all(|f| f.split(',').all(item_ok)) {
            return Err(bad(CRON_SHAPE.into()));
        }
        let cron = CronParser::builder()
            .seconds(Seconds::Disallowed)
            .year(Year::Disallowed)
            .build()
            .parse(&fields.join(" "))
            .map_err(|error| bad(format!("is not a valid cron expression: {error}")))?;
        Ok(CronExpr {
            text: fields.join(" "),
            cron,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first due time strictly after `after`, the expression read in `zone`: a local time
    /// that does not exist that day (the clocks jump over it) is due at the first instant after
    /// the gap; a local time that exists twice (the clocks go back) is due once, at its first
    /// occurrence. `None` when it never fires again.
    pub fn next_after(&self, zone: Tz, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut wall = after.with_timezone(&zone).naive_local();
        // Only the repeated hour of a fall-back (up to an hour of minutes, already run in its
        // first pass) makes a wall-clock match that is not after `after`.
        for _ in 0..=24 * 60 {
            let next = self
                .cron
                .find_next_occurrence(&wall.and_utc(), false)
                .ok()?
                .naive_utc();
            let due = match zone.from_local_datetime(&next) {
                LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => at,
                LocalResult::None => first_after_gap(zone, next)?,
            }
            .with_timezone(&Utc);
            if due > after {
                return Some(due);
            }
            wall = next;
        }
        None
    }
}

/// The first instant after the daylight-saving gap `wall` falls in: the first wall-clock minute
/// after it that exists (gaps start and end on whole minutes).
fn first_after_gap(zone: Tz, wall: NaiveDateTime) -> Option<DateTime<Tz>> {
    (1..=24 * 60).find_map(|minutes| {
        match zone.from_local_datetime(&(wall + Duration::minutes(minutes))) {
            LocalResult::Single(at) | LocalResult::Ambiguous(at, _) => Some(at),
            LocalResult::None => None,
        }
    })
}

/// An IANA time zone name (`Europe/Berlin`); empty means UTC. The violation names `time_zone`.
pub fn parse_zone(raw: &str) -> Result<Tz, Violation> {
    if raw.is_empty() {
        return Ok(Tz::UTC);
    }
    if raw.len() > MAX_ZONE_LEN {
        return Err(Violation::new(
            "time_zone",
            format!("must be at most {MAX_ZONE_LEN} characters"),
        ));
    }
    raw.parse::<Tz>().map_err(|_| {
        Violation::new(
            "time_zone",
            "is not an IANA time zone name (such as Europe/Berlin or UTC)",
        )
    })
}

/// A schedule as asked for, checked.
#[derive(Debug, Clone)]
pub struct ScheduleSpec {
    pub report: ScheduledReport,
    pub cron: CronExpr,
    pub zone: Tz,
    pub name: String,
    /// The first due time after the schedule was made.
    pub first_run: DateTime<Utc>,
}

impl ScheduleSpec {
    /// Checks a schedule asked for at `now`; every violation is named.
    pub fn new(
        report: Result<ScheduledReport, Vec<Violation>>,
        cron: &str,
        zone: &str,
        name: &str,
        now: DateTime<Utc>,
    ) -> Result<ScheduleSpec, Vec<Violation>> {
        let mut violations = Vec::new();
        let report = report.map_err(|v| violations.extend(v)).ok();
        let cron = CronExpr::parse(cron).map_err(|v| violations.push(v)).ok();
        let zone = parse_zone(zone).map_err(|v| violations.push(v)).ok();
        if name.chars().count() > MAX_NAME_CHARS {
            violations.push(Violation::new(
                "name",
                format!("must be at most {MAX_NAME_CHARS} characters"),
            ));
        }
        let name = name.trim();
        if name.chars().any(char::is_control) {
            violations.push(Violation::new(
                "name",
                "must not contain control characters",
            ));
        }
        let first_run = match (&cron, zone) {
            (Some(cron), Some(zone)) => {
                let first = cron.next_after(zone, now);
                if first.is_none() {
                    violations.push(Violation::new(
                        "cron",
                        "never fires (no date matches its day and month fields)",
                    ));
                }
                first
            }
            _ => None,
        };
        match (report, cron, zone, first_run) {
            (Some(report), Some(cron), Some(zone), Some(first_run)) if violations.is_empty() => {
                Ok(ScheduleSpec {
                    report,
                    cron,
                    zone,
                    name: name.to_owned(),
                    first_run,
                })
            }
            _ => Err(violations),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn cron(raw: &str) -> CronExpr {
        CronExpr::parse(raw).unwrap()
    }

    fn zone(name: &str) -> Tz {
        parse_zone(name).unwrap()
    }

    /// The due times after `from`, in UTC.
    fn dues(expr: &str, tz: &str, from: &str, count: usize) -> Vec<DateTime<Utc>> {
        let (expr, tz) = (cron(expr), zone(tz));
        let mut after = at(from);
        (0..count)
            .map(|_| {
                after = expr.next_after(tz, after).unwrap();
                after
            })
            .collect()
    }

    #[test]
    fn due_times_follow_the_zone() {
        // 08:00 on Mondays in Berlin: 07:00 UTC in winter.
        assert_eq!(
            dues("0 8 * * 1", "Europe/Berlin", "2026-12-02T07:00:00Z", 2),
            [at("2026-12-07T07:00:00Z"), at("2026-12-14T07:00:00Z")]
        );
        // Strictly after: a due time is not due again.
        assert_eq!(
            dues("0 8 * * *", "UTC", "2026-12-02T08:00:00Z", 1),
            [at("2026-12-03T08:00:00Z")]
        );
        assert_eq!(
            dues(
                "*/15 9-10 * jan mon-fri",
                "America/New_York",
                "2026-12-31T23:00:00Z",
                3
            ),
            [
                at("2027-01-01T14:00:00Z"),
                at("2027-01-01T14:15:00Z"),
                at("2027-01-01T14:30:00Z")
            ]
        );
    }

    #[test]
    fn a_time_the_clocks_skip_runs_at_the_first_instant_after_the_gap() {
        // Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC); 02:30 does not exist.
        assert_eq!(
            dues("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            [at("2026-03-29T01:00:00Z"), at("2026-03-30T00:30:00Z")]
        );
        // Two skipped times of one gap run once, at its end.
        assert_eq!(
            dues("0,30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", 2),
            [at("2026-03-29T01:00:00Z"), at("2026-03-30T00:00:00Z")]
        );
        // New York, 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
        assert_eq!(
            dues("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", 2),
            [at("2026-03-08T07:00:00Z"), at("2026-03-09T06:30:00Z")]
        );
    }

    #[test]
    fn a_time_the_clocks_repeat_runs_once_at_its_first_occurrence() {
        // Berlin, 2026-10-25: 03:00 CEST goes back to 02:00 CET; 02:30 happens at 00:30 UTC
        // (CEST) and again at 01:30 UTC (CET).
        assert_eq!(
            dues("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", 2),
            [at("2026-10-25T00:30:00Z"), at("2026-10-26T01:30:00Z")]
        );
        // Every half hour: the repeated hour is not run a second time.
        assert_eq!(
            dues("*/30 * * * *", "Europe/Berlin", "2026-10-24T23:45:00Z", 4),
            [
                at("2026-10-25T00:00:00Z"), // 02:00 CEST
                at("2026-10-25T00:30:00Z"), // 02:30 CEST
                at("2026-10-25T02:00:00Z"), // 03:00 CET
                at("2026-10-25T02:30:00Z"), // 03:30 CET
            ]
        );
        // Asked during the second pass (02:40 CET), 02:50 has already run (in CEST).
        assert_eq!(
            dues("50 2 * * *", "Europe/Berlin", "2026-10-25T01:40:00Z", 1),
            [at("2026-10-26T01:50:00Z")]
        );
        // New York, 2026-11-01: 02:00 EDT goes back to 01:00 EST; 01:30 first at 05:30 UTC.
        assert_eq!(
            dues("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", 2),
            [at("2026-11-01T05:30:00Z"), at("2026-11-02T06:30:00Z")]
        );
    }

    #[test]
    fn catch_up_jumps_to_the_first_due_time_after_now() {
        // However many due times were missed, the next one is after `now`.
        assert_eq!(
            cron("* * * * *").next_after(Tz::UTC, at("2026-12-02T10:00:30Z")),
            Some(at("2026-12-02T10:01:00Z"))
        );
    }

    #[test]
    fn expressions_are_checked() {
        let now = at("2026-12-02T07:00:00Z");
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "0\t8 * * *",
            "0 0 * * * 2026",
            "@daily",
            "60 * * * *",
            "* 24 * * *",
            "0 0 L * *",
            "0 0 ? * 1",
            "0 0 * * 1#2",
            "0 0 15W * *",
            "*/0 * * * *",
            "0 0 * * funday",
            &format!("{} * * * *", "0,".repeat(50)),
        ] {
            let violation = CronExpr::parse(bad).unwrap_err();
            assert_eq!(violation.field, "cron", "{bad:?}");
        }
        for good in [
            "0 8 * * 1-5",
            "*/5 * * * *",
            "0 0 1 jan,jul *",
            "0 12 * * sun",
            "5 4 * * 7",
        ] {
            assert_eq!(cron(good).as_str(), good);
        }
        let never = ScheduleSpec::new(Ok(ScheduledReport::UserMonthly), "0 0 30 2 *", "", "", now)
            .unwrap_err();
        assert_eq!(never[0].field, "cron");
        assert!(never[0].message.contains("never"), "{}", never[0].message);
        // 29 February comes back.
        assert!(cron("0 0 29 2 *").next_after(Tz::UTC, now).is_some());
    }

    #[test]
    fn zones_names_and_periods_are_checked() {
        let now = at("2026-12-02T07:00:00Z");
        assert_eq!(parse_zone("").unwrap(), Tz::UTC);
        assert_eq!(parse_zone("Europe/Berlin").unwrap(), Tz::Europe__Berlin);
        for bad in ["Mars/Olympus", "+02:00", "Berlin", &"A".repeat(65)] {
            assert_eq!(parse_zone(bad).unwrap_err().field, "time_zone", "{bad}");
        }
        let fields = |r: Result<ScheduleSpec, Vec<Violation>>| {
            r.unwrap_err()
                .into_iter()
                .map(|v| v.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            fields(ScheduleSpec::new(
                ScheduledReport::project("swat", 400),
                "nope",
                "Nowhere/City",
                &"n".repeat(101),
                now
            )),
            ["project_key", "period_days", "cron", "time_zone", "name"]
        );
        assert_eq!(
            ScheduledReport::project("SWAT", 0),
            Ok(ScheduledReport::Project {
                project_key: "SWAT".into(),
                period_days: 30
            })
        );
        assert!(ScheduledReport::project("SWAT", 366).is_ok());
        assert!(ScheduledReport::project("SWAT", -1).is_err());
        let spec = ScheduleSpec::new(
            ScheduledReport::project("SWAT", 7),
            " 0 8  * * 1 ",
            "Europe/Berlin",
            " Weekly ",
            now,
        )
        .unwrap();
        assert_eq!(spec.cron.as_str(), "0 8 * * 1");
        assert_eq!(spec.name, "Weekly");
        assert_eq!(spec.first_run, at("2026-12-07T07:00:00Z"));
    }

    #[test]
    fn a_due_time_makes_its_report_parameters() {
        let due = at("2026-12-07T07:00:00Z");
        assert_eq!(
            ScheduledReport::project("SWAT", 7)
                .unwrap()
                .params_at(due, Tz::UTC),
            ReportParams::Project {
                project_key: "SWAT".into(),
                from: at("2026-11-30T07:00:00Z"),
                to: due,
            }
        );
        let monthly =
            |due: &str, tz: &str| match ScheduledReport::UserMonthly.params_at(at(due), zone(tz)) {
                ReportParams::UserMonthly { month } => month,
                other => panic!("{other:?}"),
            };
        assert_eq!(monthly("2026-12-01T08:00:00Z", "UTC"), "2026-11");
        assert_eq!(monthly("2027-01-01T00:30:00Z", "UTC"), "2026-12");
        // 23:30 UTC on 31 December is already January in Berlin: December is complete there.
        assert_eq!(monthly("2026-12-31T23:30:00Z", "Europe/Berlin"), "2026-12");
        assert_eq!(monthly("2026-12-31T23:30:00Z", "UTC"), "2026-11");
    }
}
