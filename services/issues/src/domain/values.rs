//! Parsed values. Once constructed they are known to be valid; the rest of the code never re-checks.

use std::{fmt, str::FromStr};

use swatter_common::{
    input::{self, Lines},
    status::Violation,
};

/// `[A-Z][A-Z0-9]*`, 2 to 10 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectKey(String);

impl ProjectKey {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let valid = (2..=10).contains(&raw.len())
            && raw.starts_with(|c: char| c.is_ascii_uppercase())
            && raw
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if valid {
            Ok(ProjectKey(raw.to_owned()))
        } else {
            Err(Violation::new(
                "key",
                "must be 2 to 10 characters: an upper-case letter, then upper-case letters or digits",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `KEY-n`: a project key and a positive issue number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssueKey {
    pub project: ProjectKey,
    pub number: i64,
}

impl IssueKey {
    /// `None` when `raw` is not of the form: such a key names no issue (404, not 422).
    pub fn parse(raw: &str) -> Option<Self> {
        let (project, number) = raw.rsplit_once('-')?;
        let project = ProjectKey::parse(project).ok()?;
        if number.is_empty()
            || number.starts_with('0')
            || !number.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let number = number.parse().ok().filter(|n| *n >= 1)?;
        Some(IssueKey { project, number })
    }
}

impl fmt::Display for IssueKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.project, self.number)
    }
}

fn bounded_text(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
    lines: Lines,
) -> Result<String, Violation> {
    let text = input::trimmed_text(field, raw, max, lines)?;
    if text.chars().count() < min {
        return Err(Violation::new(field, "must not be empty"));
    }
    Ok(text.to_owned())
}

macro_rules! text_type {
    ($(#[$doc:meta])* $name:ident, $min:expr, $max:expr, $lines:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(String);

        impl $name {
            pub fn parse(field: &str, raw: &str) -> Result<Self, Violation> {
                bounded_text(field, raw, $min, $max, $lines).map($name)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

text_type!(
    /// A project name: 1–200 characters on one line.
    ProjectName, 1, 200, Lines::One
);
text_type!(
    /// An issue title: 1–200 characters on one line.
    IssueTitle, 1, 200, Lines::One
);
text_type!(
    /// A project or issue description: up to 20,000 characters, may be empty.
    Description, 0, 20_000, Lines::Many
);
text_type!(
    /// A comment: 1–10,000 characters.
    CommentBody, 1, 10_000, Lines::Many
);

/// The labels of an issue: at most 20, each 1–50 characters, without duplicates, sorted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Labels(Vec<String>);

impl Labels {
    pub const MAX: usize = 20;
    /// Longest label, in characters.
    pub const MAX_LEN: usize = 50;

    pub fn parse(raw: &[String]) -> Result<Self, Violation> {
        if raw.len() > Self::MAX {
            return Err(Violation::new("labels", "at most 20 labels per issue"));
        }
        let mut labels = Vec::with_capacity(raw.len());
        for label in raw {
            let label = bounded_text("labels", label, 1, Self::MAX_LEN, Lines::One)
                .map_err(|v| Violation::new("labels", format!("each label {}", v.message)))?;
            labels.push(label);
        }
        labels.sort();
        labels.dedup();
        Ok(Labels(labels))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The lower snake case wire and database name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }
        }

        impl FromStr for $name {
            type Err = ();
            fn from_str(s: &str) -> Result<Self, ()> {
                match s { $($wire => Ok($name::$variant),)+ _ => Err(()) }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// A member's role; later variants may do more.
    #[derive(sqlx::Type)]
    #[sqlx(type_name = "text", rename_all = "snake_case")]
    Role { Viewer = "viewer", Reporter = "reporter", Maintainer = "maintainer", Owner = "owner" }
);
wire_enum!(
    /// Where an issue stands.
    #[derive(sqlx::Type)]
    #[sqlx(type_name = "text", rename_all = "snake_case")]
    IssueStatus { Open = "open", InProgress = "in_progress", Resolved = "resolved", Closed = "closed" }
);
wire_enum!(
    /// Why an issue was resolved or closed; kept only while it is.
    #[derive(sqlx::Type)]
    #[sqlx(type_name = "text", rename_all = "snake_case")]
    Resolution { Fixed = "fixed", WontFix = "wont_fix", Duplicate = "duplicate", CannotReproduce = "cannot_reproduce" }
);
wire_enum!(
    /// How urgent an issue is; later variants are more urgent.
    Priority { Low = "low", Medium = "medium", High = "high", Urgent = "urgent" }
);

impl IssueStatus {
    /// Resolved and closed issues are done; their `closed_at` is set.
    pub fn is_done(self) -> bool {
        matches!(self, IssueStatus::Resolved | IssueStatus::Closed)
    }

    /// `closed_at` after moving from `self` to `to`: set when work becomes done, kept when it
    /// moves between resolved and closed, cleared when it is reopened.
    pub fn closed_at_after<T: Copy>(
        self,
        to: IssueStatus,
        current: Option<T>,
        now: T,
    ) -> Option<T> {
        match (self.is_done(), to.is_done()) {
            (false, true) => Some(now),
            (true, true) => current.or(Some(now)),
            (_, false) => None,
        }
    }
}

impl Priority {
    /// The rank stored in the database (1 = low … 4 = urgent), so that sorting is by urgency.
    pub fn rank(self) -> i16 {
        match self {
            Priority::Low => 1,
            Priority::Medium => 2,
            Priority::High => 3,
            Priority::Urgent => 4,
        }
    }

    pub fn from_rank(rank: i16) -> Option<Self> {
        Priority::ALL.iter().copied().find(|p| p.rank() == rank)
    }
}

/// A stored rank: one outside 1 to 4 is an error, never a default.
impl TryFrom<i16> for Priority {
    type Error = String;
    fn try_from(rank: i16) -> Result<Self, String> {
        Priority::from_rank(rank).ok_or_else(|| format!("unknown priority rank {rank}"))
    }
}

/// How a list of issues is ordered. Every order ends with the issue id, so it is total and keyset
/// pagination never skips or repeats a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssueSort {
    pub field: SortField,
    pub descending: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    Priority,
    /// By due date; issues without one last in both directions.
    DueOn,
    /// By estimate; issues without one last in both directions.
    Estimate,
}

impl SortField {
    /// Whether issues without a value come last (keyed by [`IssueSort::missing_last_key`]).
    pub fn is_optional(self) -> bool {
        matches!(self, SortField::DueOn | SortField::Estimate)
    }
}

impl Default for IssueSort {
    fn default() -> Self {
        IssueSort {
            field: SortField::UpdatedAt,
            descending: true,
        }
    }
}

impl IssueSort {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        if raw.is_empty() {
            return Ok(IssueSort::default());
        }
        let (descending, name) = match raw.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, raw),
        };
        let field = match name {
            "created_at" => SortField::CreatedAt,
            "updated_at" => SortField::UpdatedAt,
            "priority" => SortField::Priority,
            "due_on" => SortField::DueOn,
            "estimate" => SortField::Estimate,
            _ => {
                return Err(Violation::new(
                    "sort",
                    "must be created_at, updated_at, priority, due_on or estimate, optionally \
                     with a leading '-'",
                ));
            }
        };
        Ok(IssueSort { field, descending })
    }

    /// The key of an optional sort value (a due date as days since 1970-01-01, or an estimate)
    /// under which issues without one come last in this direction: past the end of it.
    pub fn missing_last_key(self, value: Option<i32>) -> i32 {
        match (value, self.descending) {
            (Some(value), _) => value,
            (None, false) => i32::MAX,
            (None, true) => i32::MIN,
        }
    }

    pub fn as_string(self) -> String {
        let name = match self.field {
            SortField::CreatedAt => "created_at",
            SortField::UpdatedAt => "updated_at",
            SortField::Priority => "priority",
            SortField::DueOn => "due_on",
            SortField::Estimate => "estimate",
        };
        if self.descending {
            format!("-{name}")
        } else {
            name.to_owned()
        }
    }
}

/// The query of an issue list (`q`, docs/api.md "Searching issues"): at most
/// [`query::MAX_QUERY_LEN`] characters on one line, parsed; errors name the field as `field`
/// with the position in the query.
pub fn search_query(field: &str, raw: &str) -> Result<super::Query, Violation> {
    input::trimmed_text(field, raw, super::query::MAX_QUERY_LEN, Lines::One)?;
    // Positions count from the start of the query as sent.
    super::Query::parse(raw).map_err(|e| e.violation(field))
}

/// The label filter of an issue list: empty for none, else one label as [`Labels`] holds them.
pub fn label_filter(raw: &str) -> Result<Option<String>, Violation> {
    let text = input::trimmed_text("label", raw, Labels::MAX_LEN, Lines::One)?;
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn project_keys_follow_the_spec() {
        for ok in ["AB", "SWAT", "A1", "X123456789"] {
            assert!(ProjectKey::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["A", "ab", "1AB", "A-B", "ABCDEFGHIJK", "", "ÄB", "A B"] {
            assert!(ProjectKey::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn issue_keys_are_key_dash_positive_number() {
        let key = IssueKey::parse("SWAT-42").unwrap();
        assert_eq!((key.project.as_str(), key.number), ("SWAT", 42));
        assert_eq!(key.to_string(), "SWAT-42");
        for bad in [
            "SWAT",
            "SWAT-",
            "SWAT-0",
            "SWAT-01",
            "swat-1",
            "SWAT--1",
            "SWAT-1a",
            "SWAT-99999999999999999999",
        ] {
            assert!(IssueKey::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn texts_are_trimmed_and_bounded() {
        assert_eq!(
            IssueTitle::parse("title", "  Crash  ").unwrap().as_str(),
            "Crash"
        );
        assert!(IssueTitle::parse("title", "   ").is_err());
        assert!(IssueTitle::parse("title", &"t".repeat(200)).is_ok());
        assert!(IssueTitle::parse("title", &"t".repeat(201)).is_err());
        // Measured as sent, as the OpenAPI schema's maxLength says.
        assert!(IssueTitle::parse("title", &format!(" {}", "t".repeat(200))).is_err());
        assert!(IssueTitle::parse("title", "\ttab at the ends\n").is_ok());
        assert!(IssueTitle::parse("title", "two\nlines").is_err());
        assert!(Description::parse("description", "").is_ok());
        assert!(Description::parse("description", "line\nline").is_ok());
        assert!(Description::parse("description", &"d".repeat(20_001)).is_err());
        assert!(CommentBody::parse("body", &"c".repeat(10_000)).is_ok());
        assert!(CommentBody::parse("body", &"c".repeat(10_001)).is_err());
        assert_eq!(CommentBody::parse("body", "x").unwrap().as_str(), "x");
    }

    #[test]
    fn labels_are_bounded_deduplicated_and_sorted() {
        let labels = Labels::parse(&["ui".into(), " bug ".into(), "ui".into()]).unwrap();
        assert_eq!(labels.as_slice(), ["bug", "ui"]);
        assert!(Labels::parse(&vec!["x".to_owned(); 21]).is_err());
        assert!(Labels::parse(&["".into()]).is_err());
        assert!(Labels::parse(&["l".repeat(51)]).is_err());
        assert!(Labels::parse(&["x".repeat(10_000)]).is_err());
        assert!(Labels::parse(&["nul\u{0}".into()]).is_err());
    }

    #[test]
    fn list_filters_refuse_control_characters_and_long_values() {
        assert_eq!(search_query("q", " crash ").unwrap().terms.len(), 1);
        assert!(search_query("q", "").unwrap().is_empty());
        assert_eq!(label_filter("ui").unwrap().as_deref(), Some("ui"));
        for (result, field) in [
            (search_query("q", "a\u{0}b").map(|_| None), "q"),
            (search_query("q", &"q".repeat(1001)).map(|_| None), "q"),
            (search_query("query", "status:").map(|_| None), "query"),
            (label_filter("\u{0}"), "label"),
            (label_filter(&"l".repeat(51)), "label"),
            (label_filter("two\nlines"), "label"),
        ] {
            assert_eq!(result.unwrap_err().field, field);
        }
    }

    #[test]
    fn wire_names_round_trip() {
        for status in IssueStatus::ALL {
            assert_eq!(status.as_str().parse::<IssueStatus>(), Ok(*status));
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::from_rank(priority.rank()), Some(*priority));
        }
        assert!("Open".parse::<IssueStatus>().is_err());
        assert!(Role::Owner > Role::Maintainer && Role::Reporter > Role::Viewer);
    }

    #[test]
    fn closed_at_is_set_on_done_kept_between_done_states_and_cleared_on_reopen() {
        use IssueStatus::*;
        let cases = [
            (Open, Resolved, None, Some(9)),
            (InProgress, Closed, None, Some(9)),
            (Resolved, Closed, Some(5), Some(5)),
            (Closed, Resolved, Some(5), Some(5)),
            (Closed, Open, Some(5), None),
            (Resolved, InProgress, Some(5), None),
            (Open, InProgress, None, None),
        ];
        for (from, to, current, expected) in cases {
            assert_eq!(
                from.closed_at_after(to, current, 9),
                expected,
                "{from} -> {to}"
            );
        }
    }

    #[test]
    fn sorts_parse_with_an_optional_minus() {
        assert_eq!(IssueSort::parse("").unwrap(), IssueSort::default());
        assert_eq!(
            IssueSort::parse("-updated_at").unwrap(),
            IssueSort::default()
        );
        let priority = IssueSort::parse("priority").unwrap();
        assert_eq!(
            (priority.field, priority.descending),
            (SortField::Priority, false)
        );
        assert_eq!(priority.as_string(), "priority");
        let due = IssueSort::parse("-due_on").unwrap();
        assert_eq!((due.field, due.descending), (SortField::DueOn, true));
        assert_eq!(due.as_string(), "-due_on");
        assert_eq!(
            IssueSort::parse("estimate").unwrap().as_string(),
            "estimate"
        );
        for (sort, value, key) in [
            ("due_on", Some(5), 5),
            ("due_on", None, i32::MAX),
            ("-due_on", None, i32::MIN),
            ("-estimate", Some(0), 0),
        ] {
            assert_eq!(
                IssueSort::parse(sort).unwrap().missing_last_key(value),
                key,
                "{sort}"
            );
        }
        for bad in [
            "title",
            "--created_at",
            "+priority",
            "1; DROP TABLE issues",
            "due",
        ] {
            assert!(IssueSort::parse(bad).is_err(), "{bad}");
        }
    }
}
