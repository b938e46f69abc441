//! What a template receives: the computed numbers plus the few strings formatted for reading,
//! serialised to JSON and handed to typst as `sys.inputs.data`. Templates only lay this out.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::model::{ProjectReport, UserMonthlyReport};
use super::planning::{self, MilestoneRow, Overdue};
use super::summary::{
    self, AssigneeCount, AssigneeGroup, AttachmentCounts, MonthlyProjectSummary,
    PriorityStatusMatrix, StatusCounts, WeekBucket,
};

/// The JSON document of `templates/project.typ`.
#[derive(Debug, Serialize)]
pub struct ProjectDocument<'a> {
    pub project_key: &'a str,
    pub project_name: &'a str,
    pub period: String,
    pub generated_at: String,
    pub requested_by: &'a str,
    pub status: StatusCounts,
    pub created_in_period: usize,
    pub closed_in_period: usize,
    pub matrix: PriorityStatusMatrix,
    pub open_per_assignee: Vec<AssigneeCount<'a>>,
    pub chart: WeeklyChart,
    pub open_groups: Vec<AssigneeGroup<'a>>,
    /// The bound on each group's list, for the report to state.
    pub listed_per_assignee: usize,
    pub milestones: Vec<MilestoneRow<'a>>,
    /// Open issues past their due date at the generation date.
    pub overdue: Overdue<'a>,
    /// The generation date overdue issues are measured at, `YYYY-MM-DD`.
    pub today: String,
    /// The bound on the overdue list, for the report to state.
    pub listed_overdue: usize,
    pub attachments: AttachmentCounts,
}

/// The created-vs-closed bar chart: one entry per 7-day bucket and a y axis with round ticks.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct WeeklyChart {
    pub weeks: Vec<ChartWeek>,
    /// Top of the y axis, a multiple of `y_step` at or above the largest bar.
    pub y_max: usize,
    pub y_step: usize,
    /// Label every n-th week so labels never collide on long periods.
    pub label_every: usize,
}

/// One bucket of the chart.
#[derive(Debug, PartialEq, Eq, Serialize)]
pub struct ChartWeek {
    /// Start day of the bucket, e.g. `Mar 2`.
    pub label: String,
    pub created: usize,
    pub closed: usize,
}

/// The JSON document of `templates/user_monthly.typ`.
#[derive(Debug, Serialize)]
pub struct MonthlyDocument<'a> {
    pub username: &'a str,
    /// e.g. `March 2026`.
    pub month: String,
    pub generated_at: String,
    pub projects: Vec<MonthlyProjectView<'a>>,
    /// The bound on each group's list, for the report to state.
    pub listed_per_assignee: usize,
}

/// One project of the monthly report: its key and name, then its numbers.
#[derive(Debug, Serialize)]
pub struct MonthlyProjectView<'a> {
    pub key: &'a str,
    pub name: &'a str,
    #[serde(flatten)]
    pub summary: MonthlyProjectSummary<'a>,
}

/// Most week labels a chart shows before it starts skipping some.
const MAX_WEEK_LABELS: usize = 12;
/// Most gridlines (above zero) on the chart's y axis.
const MAX_Y_TICKS: usize = 5;

impl<'a> ProjectDocument<'a> {
    /// Computes the project report's numbers and formats its header.
    pub fn new(report: &'a ProjectReport) -> Self {
        let summary =
            summary::project_summary(&report.issues, report.from, report.to, report.generated_at);
        Self {
            project_key: &report.project_key,
            project_name: &report.project_name,
            period: format_period(report.from, report.to),
            generated_at: format_instant(report.generated_at),
            requested_by: &report.requested_by,
            status: summary.status,
            created_in_period: summary.created_in_period,
            closed_in_period: summary.closed_in_period,
            matrix: summary.matrix,
            open_per_assignee: summary.open_per_assignee,
            chart: WeeklyChart::new(&summary.weeks),
            open_groups: summary.open_groups,
            listed_per_assignee: summary::LISTED_PER_ASSIGNEE,
            milestones: planning::milestone_rows(&report.milestones),
            overdue: planning::overdue(&report.issues, report.generated_at.date_naive()),
            today: report.generated_at.date_naive().to_string(),
            listed_overdue: planning::LISTED_OVERDUE,
            attachments: summary.attachments,
        }
    }
}

impl<'a> MonthlyDocument<'a> {
    /// Computes each project's numbers and formats the header.
    pub fn new(report: &'a UserMonthlyReport) -> Self {
        let projects = report
            .projects
            .iter()
            .map(|project| MonthlyProjectView {
                key: &project.key,
                name: &project.name,
                summary: summary::monthly_project_summary(
                    &project.issues,
                    report.month_start,
                    report.month_end,
                    report.generated_at,
                ),
            })
            .collect();
        Self {
            username: &report.username,
            month: report.month_start.format("%B %Y").to_string(),
            generated_at: format_instant(report.generated_at),
            projects,
            listed_per_assignee: summary::LISTED_PER_ASSIGNEE,
        }
    }
}

impl WeeklyChart {
    fn new(weeks: &[WeekBucket]) -> Self {
        let highest = weeks
            .iter()
            .map(|w| w.created.max(w.closed))
            .max()
            .unwrap_or(0);
        let (y_max, y_step) = y_axis(highest);
        Self {
            weeks: weeks
                .iter()
                .map(|w| ChartWeek {
                    label: w.start.format("%b %-d").to_string(),
                    created: w.created,
                    closed: w.closed,
                })
                .collect(),
            y_max,
            y_step,
            label_every: weeks.len().div_ceil(MAX_WEEK_LABELS).max(1),
        }
    }
}

/// A round step (1, 2 or 5 × 10ⁿ) giving at most [`MAX_Y_TICKS`] gridlines up to `highest`,
/// and the axis top: the first multiple of the step at or above `highest` (at least one step).
fn y_axis(highest: usize) -> (usize, usize) {
    let mut magnitude = 1usize;
    loop {
        for factor in [1, 2, 5] {
            let step = factor * magnitude;
            let ticks = highest.div_ceil(step).max(1);
            if ticks <= MAX_Y_TICKS {
                return (ticks * step, step);
            }
        }
        magnitude *= 10;
    }
}

/// `2026-03-03 14:05 UTC`.
fn format_instant(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The period `[from, to)` for reading: whole days when both ends are midnights (the end shown
/// inclusive, as people count days), otherwise both instants.
fn format_period(from: DateTime<Utc>, to: DateTime<Utc>) -> String {
    let midnight = chrono::NaiveTime::MIN;
    if from.time() == midnight && to.time() == midnight && to > from {
        let last_day = (to - chrono::TimeDelta::days(1)).date_naive();
        if last_day == from.date_naive() {
            return from.format("%Y-%m-%d").to_string();
        }
        return format!(
            "{} – {}",
            from.format("%Y-%m-%d"),
            last_day.format("%Y-%m-%d")
        );
    }
    format!("{} – {}", from.format("%Y-%m-%d %H:%M"), format_instant(to))
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(month: u32, day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, month, day, hour, minute, 0)
            .unwrap()
    }

    #[test]
    fn the_y_axis_uses_round_steps_and_at_most_five_gridlines() {
        let table = [
            (0, (1, 1)),
            (1, (1, 1)),
            (5, (5, 1)),
            (6, (6, 2)),
            (10, (10, 2)),
            (11, (15, 5)),
            (23, (25, 5)),
            (26, (30, 10)),
            (99, (100, 20)),
            (101, (150, 50)),
            (4321, (5000, 1000)),
        ];
        for (highest, axis) in table {
            assert_eq!(y_axis(highest), axis, "highest {highest}");
        }
    }

    #[test]
    fn periods_read_as_days_when_they_are_whole_days() {
        let table = [
            (at(2, 1, 0, 0), at(3, 1, 0, 0), "2026-02-01 – 2026-02-28"),
            (at(2, 1, 0, 0), at(2, 2, 0, 0), "2026-02-01"),
            (
                at(2, 1, 14, 5),
                at(3, 3, 14, 5),
                "2026-02-01 14:05 – 2026-03-03 14:05 UTC",
            ),
            (
                at(2, 1, 0, 0),
                at(3, 3, 9, 30),
                "2026-02-01 00:00 – 2026-03-03 09:30 UTC",
            ),
        ];
        for (from, to, text) in table {
            assert_eq!(format_period(from, to), text);
        }
    }

    #[test]
    fn chart_weeks_are_labelled_by_their_first_day_and_thinned_on_long_periods() {
        let week = |start: DateTime<Utc>| WeekBucket {
            start,
            end: start + chrono::TimeDelta::weeks(1),
            created: 3,
            closed: 7,
        };
        let chart = WeeklyChart::new(&[week(at(3, 2, 0, 0)), week(at(3, 9, 0, 0))]);
        assert_eq!(
            chart.weeks[0],
            ChartWeek {
                label: "Mar 2".into(),
                created: 3,
                closed: 7
            }
        );
        assert_eq!((chart.y_max, chart.y_step, chart.label_every), (8, 2, 1));

        let year: Vec<_> = (0..53)
            .map(|i| week(at(1, 1, 0, 0) + chrono::TimeDelta::weeks(i)))
            .collect();
        assert_eq!(WeeklyChart::new(&year).label_every, 5);
        assert_eq!(WeeklyChart::new(&[]).label_every, 1);
    }
}
