//! PDF typesetting of reports (docs/api.md) with typst embedded as a library.
//!
//! The numbers are computed in Rust ([`summary`]), serialised to JSON and passed to a built-in
//! template as `sys.inputs.data`, which the template decodes with `json(bytes(..))`. User text is
//! therefore always a typst *string value* and never parsed as markup; the [`world`] the template
//! runs in also refuses every file access but the template itself.
//!
//! Rendering is CPU-bound and synchronous: call it from `tokio::task::spawn_blocking`.

pub mod model;
pub mod planning;
pub mod summary;
mod view;
mod world;

use std::fmt::Write as _;
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::Serialize;
use typst::WorldExt;
use typst::diag::{Severity, SourceDiagnostic};
use typst::foundations::Datetime;
use typst::syntax::Source;
use typst_layout::PagedDocument;
use typst_pdf::{PdfOptions, Timestamp};

pub use model::{
    IssueStatus, MonthlyProject, Priority, ProjectReport, ReportIssue, ReportMilestone,
    UserMonthlyReport,
};
use view::{MonthlyDocument, ProjectDocument};
use world::ReportWorld;

/// Why a report could not be typeset. Carries typst's diagnostics as text.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The report data could not be turned into the template's JSON input.
    #[error("could not encode the report data: {0}")]
    Encode(#[from] serde_json::Error),
    /// The template failed to compile or lay out.
    #[error("typesetting failed: {0}")]
    Typeset(String),
    /// The laid-out document could not be written as PDF.
    #[error("PDF export failed: {0}")]
    Export(String),
}

/// Memoised typst results unused for this many renders are dropped after each render, so the
/// process keeps the font and layout work of recent renders but does not grow without bound.
const CACHE_MAX_AGE: usize = 2;

static PROJECT_TEMPLATE: LazyLock<Source> = LazyLock::new(|| {
    world::template_source(
        "project.typ",
        concat!(
            include_str!("../../templates/common.typ"),
            include_str!("../../templates/project.typ")
        ),
    )
});

static MONTHLY_TEMPLATE: LazyLock<Source> = LazyLock::new(|| {
    world::template_source(
        "user_monthly.typ",
        concat!(
            include_str!("../../templates/common.typ"),
            include_str!("../../templates/user_monthly.typ")
        ),
    )
});

/// Typesets a project report: summary, priority × status table, per-assignee counts, weekly
/// chart and the open issues by assignee. Returns the PDF bytes.
pub fn render_project(report: &ProjectReport) -> Result<Vec<u8>, RenderError> {
    render(
        &PROJECT_TEMPLATE,
        &ProjectDocument::new(report),
        report.generated_at,
    )
}

/// Typesets a user's monthly report: per project the open, created and closed counts and the
/// open issues by assignee. Returns the PDF bytes.
pub fn render_user_monthly(report: &UserMonthlyReport) -> Result<Vec<u8>, RenderError> {
    render(
        &MONTHLY_TEMPLATE,
        &MonthlyDocument::new(report),
        report.generated_at,
    )
}

fn render(
    template: &Source,
    data: &impl Serialize,
    generated_at: DateTime<Utc>,
) -> Result<Vec<u8>, RenderError> {
    let world = ReportWorld::new(template, serde_json::to_string(data)?, generated_at);
    let pdf = typst::compile::<PagedDocument>(&world)
        .output
        .map_err(|errors| RenderError::Typeset(describe(&world, &errors)))
        .and_then(|document| {
            let options = PdfOptions {
                timestamp: pdf_timestamp(generated_at),
                ..PdfOptions::default()
            };
            typst_pdf::pdf(&document, &options)
                .map_err(|errors| RenderError::Export(describe(&world, &errors)))
        });
    comemo::evict(CACHE_MAX_AGE);
    pdf
}

/// The PDF's creation date: the report's generation time, so a report renders byte-identically.
fn pdf_timestamp(at: DateTime<Utc>) -> Option<Timestamp> {
    let datetime = Datetime::from_ymd_hms(
        at.year(),
        at.month() as u8,
        at.day() as u8,
        at.hour() as u8,
        at.minute() as u8,
        at.second() as u8,
    )?;
    Some(Timestamp::new_utc(datetime))
}

/// One line per diagnostic: severity, message, template position and hints.
fn describe(world: &ReportWorld, diagnostics: &[SourceDiagnostic]) -> String {
    let mut text = String::new();
    for diagnostic in diagnostics {
        if !text.is_empty() {
            text.push_str("; ");
        }
        let severity = match diagnostic.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = write!(text, "{severity}: {}", diagnostic.message);
        if let Some((line, column)) = world
            .range(diagnostic.span)
            .and_then(|range| world.main_source().lines().byte_to_line_column(range.start))
        {
            let _ = write!(text, " (template line {}, column {})", line + 1, column + 1);
        }
        for hint in &diagnostic.hints {
            let _ = write!(text, " hint: {}", hint.v);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_template_is_an_error_with_typsts_message_and_position() {
        let template = world::template_source("broken.typ", "= Title\n#panic(\"boom\")\n");
        let error =
            render(&template, &serde_json::json!({}), Utc::now()).expect_err("the template panics");
        let RenderError::Typeset(message) = &error else {
            panic!("not a typesetting error: {error:?}")
        };
        assert!(message.contains("panicked with: boom"), "{message}");
        assert!(message.contains("template line 2, column 2"), "{message}");
    }

    #[test]
    fn a_report_from_the_far_future_still_renders() {
        let far = DateTime::<Utc>::MAX_UTC;
        let report = ProjectReport {
            project_key: "FAR".into(),
            project_name: "Far".into(),
            from: far - chrono::TimeDelta::weeks(2),
            to: far,
            generated_at: far,
            requested_by: "time-traveller".into(),
            issues: Vec::new(),
            milestones: Vec::new(),
        };
        assert!(
            render_project(&report)
                .expect("renders")
                .starts_with(b"%PDF-")
        );
    }
}
