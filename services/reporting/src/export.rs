//! Exports (`issues_csv`, `issues_json`): the issues a list shows, encoded one at a time as
//! they stream in from the issues service, and sent to the object store part by part, so the
//! whole file is never held in memory (docs/api.md, "Exports").
//!
//! CSV is RFC 4180 in UTF-8 with a byte order mark (spreadsheets then read it as UTF-8), CRLF
//! line ends, one header row ([`CSV_COLUMNS`]), and every cell that a spreadsheet would run as a
//! formula (starting with `=`, `+`, `-`, `@`, a tab or a carriage return) prefixed with `'`.
//! JSON is one array of issues shaped as the REST API shows them ([`IssueJson`]).

use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use swatter_proto::issues::v1 as pb;

use crate::storage::{MIN_PART_SIZE, MultipartUpload};

/// The file an export job writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Json,
}

/// The CSV header, in column order. People are their user ids (as in the REST API), labels are
/// joined by `, `, times are RFC 3339 in UTC, and missing values are empty cells.
pub const CSV_COLUMNS: [&str; 22] = [
    "key",
    "title",
    "status",
    "priority",
    "resolution",
    "labels",
    "assignee_id",
    "author_id",
    "milestone_id",
    "due_on",
    "estimate",
    "parent_key",
    "blocked",
    "duplicate_of",
    "sub_issues_total",
    "sub_issues_done",
    "attachment_count",
    "version",
    "created_at",
    "updated_at",
    "closed_at",
    "description",
];

/// UTF-8's byte order mark: Excel opens a CSV file as UTF-8 only with it.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Starts that a spreadsheet reads as a formula (OWASP's "CSV injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// Appends one CSV cell: `'` before a formula start, quoted (quotes doubled) when it holds a
/// comma, a quote, a CR or an LF.
pub fn csv_cell(out: &mut Vec<u8>, value: &str) {
    let quoted = value.contains([',', '"', '\r', '\n']);
    if quoted {
        out.push(b'"');
    }
    if value.starts_with(FORMULA_STARTS) {
        out.push(b'\'');
    }
    if quoted {
        for (i, piece) in value.split('"').enumerate() {
            if i > 0 {
                out.extend_from_slice(b"\"\"");
            }
            out.extend_from_slice(piece.as_bytes());
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(value.as_bytes());
    }
}

fn csv_row<'a>(out: &mut Vec<u8>, cells: impl IntoIterator<Item = &'a str>) {
    for (i, cell) in cells.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        csv_cell(out, cell);
    }
    out.extend_from_slice(b"\r\n");
}

/// The lowercase REST name of a protobuf enum value (`ISSUE_STATUS_IN_PROGRESS` → `in_progress`).
fn rest_name(full: &str, prefix: &str) -> String {
    full.strip_prefix(prefix)
        .unwrap_or(full)
        .to_ascii_lowercase()
}

fn status_name(raw: i32) -> String {
    pb::IssueStatus::try_from(raw)
        .map(|s| rest_name(s.as_str_name(), "ISSUE_STATUS_"))
        .unwrap_or_default()
}

fn priority_name(raw: i32) -> String {
    pb::Priority::try_from(raw)
        .map(|p| rest_name(p.as_str_name(), "PRIORITY_"))
        .unwrap_or_default()
}

/// `None` for no resolution.
fn resolution_name(raw: i32) -> Option<String> {
    match pb::Resolution::try_from(raw) {
        Ok(pb::Resolution::Unspecified) | Err(_) => None,
        Ok(r) => Some(rest_name(r.as_str_name(), "RESOLUTION_")),
    }
}

/// RFC 3339 in UTC as the REST API writes times (`None` for no time).
fn time(at: Option<&prost_types::Timestamp>) -> Option<String> {
    let at = at?;
    DateTime::<Utc>::from_timestamp(at.seconds, u32::try_from(at.nanos).ok()?)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
}

fn non_empty(value: &str) -> Option<&str> {
    Some(value).filter(|v| !v.is_empty())
}

/// An issue as `GET /v1/issues/{key}` shows it: the same field names and values.
#[derive(Debug, Serialize)]
pub struct IssueJson<'a> {
    id: &'a str,
    key: &'a str,
    project_key: &'a str,
    number: i64,
    title: &'a str,
    description: &'a str,
    status: String,
    priority: String,
    labels: &'a [String],
    author_id: &'a str,
    assignee_id: Option<&'a str>,
    created_at: Option<String>,
    updated_at: Option<String>,
    closed_at: Option<String>,
    version: i64,
    resolution: Option<String>,
    due_on: Option<&'a str>,
    estimate: Option<i32>,
    milestone_id: Option<&'a str>,
    parent_key: Option<&'a str>,
    parent_hidden: bool,
    sub_issues: SubIssues,
    blocked: bool,
    duplicate_of: Option<&'a str>,
    attachment_count: i32,
}

#[derive(Debug, Serialize)]
struct SubIssues {
    total: i32,
    done: i32,
}

impl<'a> From<&'a pb::Issue> for IssueJson<'a> {
    fn from(issue: &'a pb::Issue) -> Self {
        IssueJson {
            id: &issue.id,
            key: &issue.key,
            project_key: &issue.project_key,
            number: issue.number,
            title: &issue.title,
            description: &issue.description,
            status: status_name(issue.status),
            priority: priority_name(issue.priority),
            labels: &issue.labels,
            author_id: &issue.author_id,
            assignee_id: issue.assignee_id.as_deref().and_then(non_empty),
            created_at: time(issue.created_at.as_ref()),
            updated_at: time(issue.updated_at.as_ref()),
            closed_at: time(issue.closed_at.as_ref()),
            version: issue.version,
            resolution: resolution_name(issue.resolution),
            due_on: issue.due_on.as_deref().and_then(non_empty),
            estimate: issue.estimate,
            milestone_id: issue.milestone_id.as_deref().and_then(non_empty),
            parent_key: non_empty(&issue.parent_key),
            parent_hidden: issue.parent_hidden,
            sub_issues: SubIssues {
                total: issue.sub_issues_total,
                done: issue.sub_issues_done,
            },
            blocked: issue.blocked,
            duplicate_of: non_empty(&issue.duplicate_of),
            attachment_count: issue.attachment_count,
        }
    }
}

/// Writes an export's bytes one issue at a time.
#[derive(Debug)]
pub struct Encoder {
    format: Format,
    rows: u64,
}

impl Encoder {
    pub fn new(format: Format) -> Self {
        Encoder { format, rows: 0 }
    }

    /// Issues written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// What comes before the first issue: the CSV's BOM and header, the JSON array's `[`.
    pub fn start(&self, out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                out.extend_from_slice(BOM);
                csv_row(out, CSV_COLUMNS);
            }
            Format::Json => out.push(b'['),
        }
    }

    pub fn issue(&mut self, issue: &pb::Issue, out: &mut Vec<u8>) {
        match self.format {
            Format::Csv => {
                let text = |value: Option<&str>| value.unwrap_or_default().to_owned();
                let number = |n: i64| n.to_string();
                let cells = [
                    issue.key.clone(),
                    issue.title.clone(),
                    status_name(issue.status),
                    priority_name(issue.priority),
                    resolution_name(issue.resolution).unwrap_or_default(),
                    issue.labels.join(", "),
                    text(issue.assignee_id.as_deref()),
                    issue.author_id.clone(),
                    text(issue.milestone_id.as_deref()),
                    text(issue.due_on.as_deref()),
                    issue.estimate.map(|e| e.to_string()).unwrap_or_default(),
                    issue.parent_key.clone(),
                    issue.blocked.to_string(),
                    issue.duplicate_of.clone(),
                    number(issue.sub_issues_total.into()),
                    number(issue.sub_issues_done.into()),
                    number(issue.attachment_count.into()),
                    number(issue.version),
                    time(issue.created_at.as_ref()).unwrap_or_default(),
                    time(issue.updated_at.as_ref()).unwrap_or_default(),
                    time(issue.closed_at.as_ref()).unwrap_or_default(),
                    issue.description.clone(),
                ];
                csv_row(out, cells.iter().map(String::as_str));
            }
            Format::Json => {
                out.extend_from_slice(if self.rows == 0 { b"\n" } else { b",\n" });
                serde_json::to_writer(&mut *out, &IssueJson::from(issue))
                    .expect("an issue serializes");
            }
        }
        self.rows += 1;
    }

    /// What comes after the last issue: the JSON array's `]`.
    pub fn finish(&self, out: &mut Vec<u8>) {
        if self.format == Format::Json {
            out.extend_from_slice(b"\n]\n");
        }
    }
}

/// Bytes per part sent (above S3's 5 MiB minimum, so every part but the last qualifies).
pub const PART_SIZE: usize = MIN_PART_SIZE + MIN_PART_SIZE / 5;

/// A part buffer's capacity: a part, and the issue that takes it past [`PART_SIZE`].
const BUFFER_CAPACITY: usize = PART_SIZE + 64 * 1024;

/// An export's part buffers, which come back when the object store client drops a part it sent,
/// so an export fills the same two allocations from its first part to its last. A new 6 MiB
/// buffer per part made the worker's memory creep with the file's size: glibc raises its mmap
/// threshold when such a block is freed, so the next ones came from its heap and stayed there
/// (docs/performance.md, "Exports").
#[derive(Clone, Default)]
pub struct Buffers(Arc<Mutex<Vec<Vec<u8>>>>);

/// Buffers kept for reuse: the one being filled and the one being sent.
const KEPT_BUFFERS: usize = 2;

impl Buffers {
    /// An empty buffer: one that came back, else a new one.
    pub fn take(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(BUFFER_CAPACITY))
    }

    /// `part` as bytes for the client, the buffer coming back here once the last copy is dropped.
    pub fn lend(&self, part: Vec<u8>) -> Bytes {
        Bytes::from_owner(Lent {
            part,
            home: self.clone(),
        })
    }
}

/// A buffer lent out as [`Bytes`].
struct Lent {
    part: Vec<u8>,
    home: Buffers,
}

impl AsRef<[u8]> for Lent {
    fn as_ref(&self) -> &[u8] {
        &self.part
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let mut part = std::mem::take(&mut self.part);
        part.clear();
        let mut kept = self.home.0.lock().unwrap_or_else(PoisonError::into_inner);
        if kept.len() < KEPT_BUFFERS {
            kept.push(part);
        }
    }
}

/// The bytes of an export on their way to the object store: gathered into parts of
/// [`PART_SIZE`], each sent as it fills, with the size and SHA-256 of the whole worked out as
/// the parts go.
pub struct PartWriter {
    upload: MultipartUpload,
    /// The part being filled.
    pub buffer: Vec<u8>,
    buffers: Buffers,
    sha256: Sha256,
    size: u64,
}

impl PartWriter {
    pub fn new(upload: MultipartUpload) -> Self {
        let buffers = Buffers::default();
        PartWriter {
            upload,
            buffer: buffers.take(),
            buffers,
            sha256: Sha256::new(),
            size: 0,
        }
    }

    /// Sends the buffer as a part once it holds [`PART_SIZE`] bytes.
    pub async fn flush_full(&mut self) -> anyhow::Result<()> {
        if self.buffer.len() >= PART_SIZE {
            self.send().await?;
        }
        Ok(())
    }

    async fn send(&mut self) -> anyhow::Result<()> {
        let part = std::mem::replace(&mut self.buffer, self.buffers.take());
        self.sha256.update(&part);
        self.size += part.len() as u64;
        self.upload.upload_part(self.buffers.lend(part)).await
    }

    /// Sends what is left and completes the object: its size and hex SHA-256, and the parts it
    /// took. On failure nothing is left behind (the upload is aborted).
    pub async fn finish(mut self) -> anyhow::Result<(i64, String, usize)> {
        if (!self.buffer.is_empty() || self.upload.parts() == 0)
            && let Err(error) = self.send().await
        {
            self.upload.abort().await;
            return Err(error);
        }
        let parts = self.upload.parts();
        let sha256 = hex::encode(self.sha256.finalize());
        self.upload.complete().await?;
        Ok((i64::try_from(self.size)?, sha256, parts))
    }

    /// Drops what was sent: the object never appears.
    pub async fn abort(self) {
        self.upload.abort().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(value: &str) -> String {
        let mut out = Vec::new();
        csv_cell(&mut out, value);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn cells_are_quoted_when_they_must_be_and_formulas_are_defused() {
        for (value, written) in [
            ("plain", "plain"),
            ("", ""),
            ("a,b", "\"a,b\""),
            ("say \"hi\"", "\"say \"\"hi\"\"\""),
            ("two\nlines", "\"two\nlines\""),
            ("cr\rhere", "\"cr\rhere\""),
            ("crlf\r\nhere", "\"crlf\r\nhere\""),
            ("🐛 émoji ✓", "🐛 émoji ✓"),
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tindented", "'\tindented"),
            ("\rreturn", "\"'\rreturn\""),
            ("=cmd|'/c calc'!A0", "'=cmd|'/c calc'!A0"),
            (
                "=HYPERLINK(\"http://x\",\"y\")",
                "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"",
            ),
            ("a=b", "a=b"),
            ("'quoted already", "'quoted already"),
        ] {
            assert_eq!(cell(value), written, "{value:?}");
        }
    }

    fn issue(title: &str, description: &str) -> pb::Issue {
        pb::Issue {
            id: "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b".into(),
            key: "SWAT-42".into(),
            project_key: "SWAT".into(),
            number: 42,
            title: title.into(),
            description: description.into(),
            status: pb::IssueStatus::InProgress as i32,
            priority: pb::Priority::High as i32,
            labels: vec!["bug".into(), "ui".into()],
            author_id: "author".into(),
            assignee_id: Some(String::new()),
            created_at: Some(prost_types::Timestamp {
                seconds: 1_795_000_000,
                nanos: 500_000_000,
            }),
            updated_at: Some(prost_types::Timestamp {
                seconds: 1_795_000_100,
                nanos: 0,
            }),
            version: 3,
            resolution: pb::Resolution::WontFix as i32,
            due_on: Some("2026-12-24".into()),
            estimate: Some(3),
            ..Default::default()
        }
    }

    #[test]
    fn a_csv_export_is_a_header_and_one_crlf_row_per_issue() {
        let mut encoder = Encoder::new(Format::Csv);
        let mut out = Vec::new();
        encoder.start(&mut out);
        encoder.issue(&issue("=cmd|'/c calc'!A0", "line 1\nline \"2\""), &mut out);
        encoder.finish(&mut out);
        let text = String::from_utf8(out).unwrap();
        let text = text.strip_prefix('\u{feff}').expect("a BOM first");
        let mut lines = text.split("\r\n");
        assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "SWAT-42,'=cmd|'/c calc'!A0,in_progress,high,wont_fix,\"bug, ui\",,author,,\
             2026-12-24,3,,false,,0,0,0,3,2026-11-18T11:06:40.500Z,2026-11-18T11:08:20Z,,\
             \"line 1\nline \"\"2\"\"\""
        );
        assert_eq!(lines.next(), Some(""));
        assert_eq!(encoder.rows(), 1);
    }

    #[test]
    fn part_buffers_come_back_when_the_client_drops_them_and_two_are_kept() {
        let buffers = Buffers::default();
        let mut first = buffers.take();
        assert!(first.capacity() >= BUFFER_CAPACITY);
        first.extend_from_slice(b"part one");
        let at = first.as_ptr();
        let lent = buffers.lend(first);
        let copy = lent.clone();
        assert_eq!(&copy[..], b"part one");
        drop(lent);
        let second = buffers.take();
        assert_ne!(second.as_ptr(), at, "still lent: a copy is alive");
        drop(copy);
        let again = buffers.take();
        assert_eq!(again.as_ptr(), at, "the same allocation back");
        assert!(again.is_empty());
        // No more than two are kept.
        for part in [again, second, buffers.take()] {
            drop(buffers.lend(part));
        }
        assert_eq!(buffers.0.lock().unwrap().len(), KEPT_BUFFERS);
    }

    #[test]
    fn a_json_export_is_one_array_of_issues_as_the_rest_api_shows_them() {
        let mut encoder = Encoder::new(Format::Json);
        let mut out = Vec::new();
        encoder.start(&mut out);
        encoder.finish(&mut out);
        let empty: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(empty, serde_json::json!([]));

        let mut out = Vec::new();
        encoder.start(&mut out);
        encoder.issue(&issue("first", ""), &mut out);
        encoder.issue(&issue("second", "🐛"), &mut out);
        encoder.finish(&mut out);
        let issues: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(issues[1]["title"], "second");
        assert_eq!(
            issues[0],
            serde_json::json!({
                "id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b",
                "key": "SWAT-42",
                "project_key": "SWAT",
                "number": 42,
                "title": "first",
                "description": "",
                "status": "in_progress",
                "priority": "high",
                "labels": ["bug", "ui"],
                "author_id": "author",
                "assignee_id": null,
                "created_at": "2026-11-18T11:06:40.500Z",
                "updated_at": "2026-11-18T11:08:20Z",
                "closed_at": null,
                "version": 3,
                "resolution": "wont_fix",
                "due_on": "2026-12-24",
                "estimate": 3,
                "milestone_id": null,
                "parent_key": null,
                "parent_hidden": false,
                "sub_issues": {"total": 0, "done": 0},
                "blocked": false,
                "duplicate_of": null,
                "attachment_count": 0
            })
        );
    }
}
