//! The PDF reports as a reader sees them: the text `pdftotext` (poppler-utils) extracts from the
//! rendered PDFs, their page count and where their words sit on the page.

use std::collections::HashMap;
use std::io::Write;
use std::process::{Command, Stdio};

use crate::render_fixtures as fixtures;
use chrono::TimeDelta;
use swatter_reporting::render::model::{IssueStatus, Priority, ReportIssue, ReportMilestone};
use swatter_reporting::render::summary::LISTED_PER_ASSIGNEE;
use swatter_reporting::render::{render_project, render_user_monthly};

/// Runs a poppler tool on `pdf` (given on stdin) and returns what it prints.
fn poppler(tool: &str, args: &[&str], pdf: &[u8]) -> String {
    let mut child = Command::new(tool)
        .args(args)
        .args(["-", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| {
            panic!("cannot run `{tool}` ({err}): install poppler-utils (`apt-get install -y poppler-utils`)")
        });
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(pdf)
        .expect("poppler reads the PDF");
    let output = child.wait_with_output().expect("poppler finishes");
    assert!(
        output.status.success(),
        "{tool} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("poppler prints UTF-8")
}

/// The PDF's text in content order (each table cell's text stays together) and its page count.
fn pdf_text(pdf: &[u8]) -> (String, usize) {
    assert!(
        pdf.starts_with(b"%PDF-"),
        "not a PDF: {:?}",
        &pdf[..pdf.len().min(16)]
    );
    let text = poppler("pdftotext", &["-raw", "-enc", "UTF-8"], pdf);
    let pages = text.matches('\u{c}').count();
    (text, pages)
}

/// Text without any whitespace (nor the zero-width break opportunities the templates add), so
/// strings wrapped over several lines can still be found.
fn squeeze(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '\u{200B}')
        .collect()
}

fn assert_shows(text: &str, expected: &str) {
    assert!(
        squeeze(text).contains(&squeeze(expected)),
        "the PDF does not show {expected:?}; its text:\n{text}"
    );
}

/// Right edge of the text area: A4 width less the 16 mm margin, plus rounding.
const RIGHT_EDGE_PT: f64 = 595.28 - 45.35 + 0.5;

/// Every word's right edge, from `pdftotext -bbox`.
fn word_right_edges(pdf: &[u8]) -> Vec<(f64, String)> {
    poppler("pdftotext", &["-bbox"], pdf)
        .lines()
        .filter_map(|line| {
            let rest = line.trim().strip_prefix("<word ")?;
            let x_max = rest
                .split("xMax=\"")
                .nth(1)?
                .split('"')
                .next()?
                .parse()
                .ok()?;
            let word = rest.split('>').nth(1)?.split("</word").next()?.to_owned();
            Some((x_max, word))
        })
        .collect()
}

fn issue(
    key: &str,
    title: &str,
    status: IssueStatus,
    priority: Priority,
    assignee: Option<&str>,
) -> ReportIssue {
    let now = fixtures::generated_at();
    ReportIssue {
        key: key.into(),
        title: title.into(),
        status,
        priority,
        assignee: assignee.map(Into::into),
        author: "frank".into(),
        created_at: now - TimeDelta::days(10),
        closed_at: status.is_done().then(|| now - TimeDelta::days(2)),
        due_on: None,
        attachments: 0,
    }
}

#[test]
fn a_project_report_shows_milestones_with_progress_and_open_issues_past_their_due_date() {
    let mut report = fixtures::project(0, 3);
    let today = fixtures::generated_at().date_naive();
    let days_ago = |n: i64| Some(today - TimeDelta::days(n));
    report.milestones = vec![
        ReportMilestone {
            title: "Spring release".into(),
            due_on: "2026-04-01".parse().ok(),
            closed: false,
            done: 3,
            total: 4,
            percent_done: 75,
        },
        ReportMilestone {
            title: r#"#read("/etc/passwd") $x^2$"#.into(),
            due_on: None,
            closed: true,
            done: 0,
            total: 0,
            percent_done: 0,
        },
    ];
    report.issues = vec![
        ReportIssue {
            due_on: days_ago(12),
            ..issue(
                "SWAT-1",
                "Refunds fail",
                IssueStatus::Open,
                Priority::Urgent,
                Some("olga"),
            )
        },
        ReportIssue {
            due_on: days_ago(3),
            ..issue(
                "SWAT-2",
                "Slow sync",
                IssueStatus::InProgress,
                Priority::Low,
                None,
            )
        },
        // Done, or due today or later: not overdue.
        ReportIssue {
            due_on: days_ago(30),
            ..issue(
                "SWAT-3",
                "Old crash",
                IssueStatus::Closed,
                Priority::High,
                None,
            )
        },
        ReportIssue {
            due_on: days_ago(0),
            ..issue(
                "SWAT-4",
                "Due today",
                IssueStatus::Open,
                Priority::High,
                None,
            )
        },
    ];

    let (text, _) = pdf_text(&render_project(&report).expect("renders"));

    for expected in [
        "Milestones",
        "Spring release",
        "2026-04-01",
        "3 / 4",
        "75%",
        r#"#read("/etc/passwd") $x^2$"#,
        "Closed",
        "Overdue issues",
        "2 open or in progress with a due date before 2026-03-16",
        "SWAT-1 Refunds fail 2026-03-04 12 olga",
        "SWAT-2 Slow sync 2026-03-13 3 Unassigned",
    ] {
        assert_shows(&text, expected);
    }
    let overdue = text
        .split("Overdue issues")
        .nth(1)
        .and_then(|rest| rest.split("Open issues by assignee").next())
        .expect("an overdue section before the open issues");
    assert!(
        !overdue.contains("SWAT-3") && !overdue.contains("SWAT-4"),
        "{overdue}"
    );
}

#[test]
fn a_project_without_milestones_or_overdue_issues_has_no_planning_sections() {
    let (text, _) = pdf_text(&render_project(&fixtures::project(20, 5)).expect("renders"));
    assert!(!text.contains("Milestones"), "{text}");
    assert!(!text.contains("Overdue issues"), "{text}");
    assert!(
        !text.contains("attachment"),
        "no attachments, no line: {text}"
    );
}

#[test]
fn a_project_report_counts_the_attachments_of_its_issues() {
    let mut report = fixtures::project(0, 1);
    report.issues = vec![
        ReportIssue {
            attachments: 3,
            ..issue(
                "ATT-1",
                "Crash dump attached",
                IssueStatus::Open,
                Priority::High,
                None,
            )
        },
        ReportIssue {
            attachments: 1,
            ..issue(
                "ATT-2",
                "Screenshot",
                IssueStatus::Closed,
                Priority::Low,
                None,
            )
        },
        issue(
            "ATT-3",
            "Nothing attached",
            IssueStatus::Open,
            Priority::Low,
            None,
        ),
    ];

    let (text, _) = pdf_text(&render_project(&report).expect("the report renders"));

    assert_shows(&text, "4 attachments on 2 issues");
}

#[test]
fn a_small_project_report_shows_its_header_every_issue_and_the_summary_numbers() {
    let mut report = fixtures::project(0, 1);
    report.project_name = "Payments Gateway".into();
    report.project_key = "PAY".into();
    report.requested_by = "ingrid".into();
    report.issues = vec![
        issue(
            "PAY-1",
            "Refunds fail for amounts over 10k",
            IssueStatus::Open,
            Priority::Urgent,
            Some("olga"),
        ),
        issue(
            "PAY-2",
            "Currency symbol missing on receipts",
            IssueStatus::InProgress,
            Priority::Low,
            None,
        ),
        issue(
            "PAY-3",
            "Webhook signature uses SHA-1",
            IssueStatus::Open,
            Priority::High,
            Some("olga"),
        ),
        issue(
            "PAY-4",
            "Old checkout page removed",
            IssueStatus::Resolved,
            Priority::Medium,
            Some("piet"),
        ),
        issue(
            "PAY-5",
            "Typo in the invoice footer",
            IssueStatus::Closed,
            Priority::Low,
            Some("piet"),
        ),
    ];

    let pdf = render_project(&report).expect("the report renders");
    let (text, pages) = pdf_text(&pdf);

    assert_eq!(pages, 1);
    for expected in [
        "Payments Gateway",
        "PAY",
        "ingrid",
        "2026-02-02 09:30 – 2026-03-16 09:30 UTC",
        "swatter · generated 2026-03-16 09:30 UTC for ingrid",
        "Page 1 of 1",
    ] {
        assert_shows(&text, expected);
    }
    // Open issues are listed with their key and title; done issues are only counted.
    for (key, title) in [
        ("PAY-1", "Refunds fail for amounts over 10k"),
        ("PAY-2", "Currency symbol missing on receipts"),
        ("PAY-3", "Webhook signature uses SHA-1"),
    ] {
        assert_shows(&text, &format!("{key} {title}"));
    }
    assert!(
        !text.contains("PAY-4") && !text.contains("PAY-5"),
        "only open issues are listed"
    );
    // Tiles: open, in progress, resolved, closed, created in period, closed in period.
    assert_shows(
        &text,
        "2 Open 1 In progress 1 Resolved 1 Closed 5 Created in period 2 Closed in period",
    );
    // Priority × status rows and totals; open issues per assignee.
    assert_shows(&text, "Urgent 1 0 0 0 1");
    assert_shows(&text, "Low 0 1 0 1 2");
    assert_shows(&text, "Total 2 1 1 1 5");
    assert_shows(&text, "olga 2");
    assert_shows(&text, "Unassigned 1");
    assert_shows(
        &text,
        "PAY-1 Refunds fail for amounts over 10k Urgent Open 10 frank",
    );
}

#[test]
fn hostile_user_text_prints_literally_and_never_runs() {
    let long_word = "W".repeat(300);
    let titles = [
        r#"#read("/etc/passwd")"#.to_owned(),
        r#"#panic("x")"#.to_owned(),
        "$ x $".to_owned(),
        "<tag>".to_owned(),
        r"\".to_owned(),
        "*bold* _emph_ $x$ <label> @ref `raw` = heading".to_owned(),
        "#set page(width: 1cm) #{ unbalanced [ ] // comment /* open".to_owned(),
        r#"#include "/etc/hosts" #image("/etc/passwd") #json("data.json")"#.to_owned(),
        format!("before {long_word} after"),
    ];
    let mut report = fixtures::project(0, 1);
    report.project_name = r#"#read("/etc/hostname") *Project*"#.into();
    report.requested_by = "#panic(\"requester\")".into();
    report.issues = titles
        .iter()
        .enumerate()
        .map(|(i, title)| {
            let mut issue = issue(
                &format!("SWAT-{}", i + 1),
                title,
                IssueStatus::Open,
                Priority::High,
                Some("mallory"),
            );
            issue.author = format!("author-{}", "x".repeat(60));
            issue
        })
        .collect();

    let pdf = render_project(&report).expect("hostile text still renders");
    let (text, _) = pdf_text(&pdf);

    for title in &titles {
        assert_shows(&text, title);
    }
    assert_shows(&text, r#"#read("/etc/hostname") *Project*"#);
    assert_shows(&text, "for #panic(\"requester\")");
    assert!(!text.contains("root:"), "nothing was read from /etc/passwd");
    let words = word_right_edges(&pdf);
    assert!(
        words.len() > 50,
        "pdftotext -bbox found too few words: {words:?}"
    );
    let overflowing: Vec<_> = words
        .into_iter()
        .filter(|(x, _)| *x > RIGHT_EDGE_PT)
        .collect();
    assert!(
        overflowing.is_empty(),
        "words run past the right margin: {overflowing:?}"
    );
}

#[test]
fn hostile_text_in_a_monthly_report_prints_literally() {
    let mut report = fixtures::monthly(&[2], 3);
    report.username = "<script>#panic()</script>".into();
    report.projects[0].name = "$ #emph[x] $".into();
    report.projects[0].issues[0].title = "#read(\"/etc/passwd\")".into();
    report.projects[0].issues[0].status = IssueStatus::Open;

    let (text, _) = pdf_text(&render_user_monthly(&report).expect("hostile text still renders"));

    for expected in [
        "<script>#panic()</script>",
        "$ #emph[x] $",
        "#read(\"/etc/passwd\")",
    ] {
        assert_shows(&text, expected);
    }
}

/// Open issues per assignee (`None`: unassigned) of `issues`.
fn open_per_assignee(issues: &[ReportIssue]) -> HashMap<Option<&str>, usize> {
    let mut open = HashMap::new();
    for issue in issues.iter().filter(|i| i.status.is_open()) {
        *open.entry(issue.assignee.as_deref()).or_default() += 1;
    }
    open
}

#[test]
fn a_backlog_of_twenty_thousand_issues_lists_a_few_per_assignee_and_counts_the_rest() {
    let report = fixtures::backlog(20_000, 5);
    let open = open_per_assignee(&report.issues);
    assert!(
        open.values().all(|&n| n > LISTED_PER_ASSIGNEE),
        "every group is bounded: {open:?}"
    );

    let pdf = render_project(&report).expect("a 20,000-issue report renders");
    let (text, pages) = pdf_text(&pdf);

    // Six groups of 25 rows fit on a handful of pages, not hundreds.
    assert!(pages <= 8, "{pages} pages");
    assert!(
        pdf.len() <= 5 * 1024 * 1024,
        "{} bytes for 20,000 issues",
        pdf.len()
    );
    assert_shows(&text, &format!("Page {pages} of {pages}"));
    assert_eq!(
        text.matches("SWAT-").count(),
        open.len() * LISTED_PER_ASSIGNEE,
        "{LISTED_PER_ASSIGNEE} rows per assignee"
    );
    assert_shows(
        &text,
        &format!("at most {LISTED_PER_ASSIGNEE} listed per assignee"),
    );
    for (assignee, &n) in &open {
        let more = n - LISTED_PER_ASSIGNEE;
        match assignee {
            Some(name) => {
                assert_shows(&text, &format!("{name} · {n} open"));
                assert_shows(
                    &text,
                    &format!("… and {more} more open issues of {name} not listed here"),
                );
            }
            None => {
                assert_shows(&text, &format!("Unassigned · {n} open"));
                assert_shows(
                    &text,
                    &format!("… and {more} more unassigned open issues not listed here"),
                );
            }
        }
    }
    assert_shows(
        &text,
        "The project's issue list has them all: GET /v1/projects/SWAT/issues?status=open,in_progress.",
    );
    // The counts still cover every issue.
    let total_open: usize = open.values().sum();
    let (in_progress, resolved_or_closed) = report.issues.iter().fold((0, 0), |(p, d), i| {
        (
            p + usize::from(i.status == IssueStatus::InProgress),
            d + usize::from(i.status.is_done()),
        )
    });
    assert_shows(
        &text,
        &format!(
            "{} Open {in_progress} In progress",
            total_open - in_progress
        ),
    );
    assert_eq!(total_open + resolved_or_closed, 20_000);
}

#[test]
fn a_monthly_report_bounds_each_projects_groups_too() {
    let report = fixtures::monthly(&[600, 4], 11);
    let open = open_per_assignee(&report.projects[0].issues);
    let alice = open[&Some("alice")];
    assert!(alice > LISTED_PER_ASSIGNEE, "{open:?}");

    let (text, _) = pdf_text(&render_user_monthly(&report).expect("renders"));

    assert_shows(&text, &format!("alice · {alice} open"));
    assert_shows(
        &text,
        &format!(
            "… and {} more open issues of alice not listed here",
            alice - LISTED_PER_ASSIGNEE
        ),
    );
    assert_shows(
        &text,
        "GET /v1/projects/SWAT/issues?status=open,in_progress",
    );
    // The small project lists all its open issues and has nothing more to say.
    assert!(
        !text.contains("/v1/projects/MOB/"),
        "no note for a group listed in full"
    );
}

#[test]
fn a_monthly_report_without_projects_says_so_kindly() {
    let (text, pages) =
        pdf_text(&render_user_monthly(&fixtures::monthly(&[], 1)).expect("renders"));

    assert_eq!(pages, 1);
    assert_shows(&text, "alice");
    assert_shows(&text, "March 2026");
    assert_shows(&text, "Nothing to report for March 2026.");
    assert_shows(&text, "You are not a member of any project yet.");
}

#[test]
fn a_monthly_report_shows_each_project_with_its_three_numbers_and_open_issues() {
    let mut report = fixtures::monthly(&[6, 3, 0], 9);
    let month_start = report.month_start;
    let at = |days: i64| month_start + TimeDelta::days(days);
    report.projects[1].issues = vec![
        // Created and closed in March.
        ReportIssue {
            created_at: at(2),
            closed_at: Some(at(5)),
            ..issue(
                "MOB-1",
                "Crash on launch",
                IssueStatus::Closed,
                Priority::Urgent,
                None,
            )
        },
        // Created before March, resolved in March.
        ReportIssue {
            created_at: at(-20),
            closed_at: Some(at(1)),
            ..issue(
                "MOB-2",
                "Slow sync",
                IssueStatus::Resolved,
                Priority::High,
                None,
            )
        },
        // Created in March, still open.
        ReportIssue {
            created_at: at(3),
            ..issue(
                "MOB-3",
                "Dark mode contrast",
                IssueStatus::InProgress,
                Priority::Low,
                Some("bob"),
            )
        },
        // Created before March, open.
        ReportIssue {
            created_at: at(-40),
            ..issue(
                "MOB-4",
                "Offline banner flickers",
                IssueStatus::Open,
                Priority::Medium,
                None,
            )
        },
    ];

    let (text, _) = pdf_text(&render_user_monthly(&report).expect("renders"));

    for expected in [
        "Swatter Web App",
        "Mobile Client",
        "Operations & Infrastructure",
        "SWAT",
        "MOB",
        "OPS",
    ] {
        assert_shows(&text, expected);
    }
    assert_shows(
        &text,
        "2 Open now (open + in progress) 2 Created in March 2026 2 Closed in March 2026 (resolved + closed)",
    );
    assert_shows(&text, "MOB-3 Dark mode contrast Low In progress");
    assert_shows(&text, "MOB-4 Offline banner flickers Medium Open");
    assert!(
        !text.contains("MOB-1 ") && !text.contains("MOB-2 "),
        "done issues are not listed"
    );
    assert_shows(
        &text,
        "0 Open now (open + in progress) 0 Created in March 2026 0 Closed",
    );
    assert_shows(&text, "No open issues.");
}

#[test]
fn the_same_report_renders_to_the_same_bytes() {
    let report = fixtures::project(30, 2);
    assert_eq!(
        render_project(&report).expect("renders"),
        render_project(&report).expect("renders")
    );
}
