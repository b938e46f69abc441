//! The issue query language of `q` (docs/api.md, "Searching issues"), parsed without I/O.
//!
//! A query is whitespace-separated terms: `field:value`, `field:v1,v2` (any of), `-field:value`
//! (not), comparisons `field:>=value` on ordered fields, quoted values `milestone:"v1.0"`, and
//! free text (bare words and "quoted phrases", full-text over title and description). There is
//! no nesting, and the size of a query is bounded ([`MAX_QUERY_LEN`], [`MAX_TERMS`],
//! [`MAX_VALUES`]) so that no query can blow up the plan. Errors name the 1-based character
//! position and what was expected there.

use std::fmt;

use chrono::NaiveDate;
use swatter_common::status::Violation;
use uuid::Uuid;

use super::{IssueKey, IssueStatus, Labels, Priority, Resolution};

/// Longest query, in characters.
pub const MAX_QUERY_LEN: usize = 1000;
/// Most terms (predicates, words and phrases) in one query.
pub const MAX_TERMS: usize = 30;
/// Most values of one term (`status:a,b,…`).
pub const MAX_VALUES: usize = 20;
/// Longest milestone title a query names (as milestones hold them).
const MAX_TITLE_LEN: usize = 200;
/// Longest estimate a query compares with (the column is a 32-bit integer).
const MAX_ESTIMATE: i64 = i32::MAX as i64;

/// The fields a query knows, as the error for an unknown one lists them.
pub const FIELDS: &str = "status, priority, assignee, author, label, milestone, due, created, \
     updated, estimate, resolution, is, has, no, parent";

/// A parse error: where (1-based character index) and what was expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    pub at: usize,
    pub message: String,
}

impl QueryError {
    fn new(at: usize, message: impl Into<String>) -> Self {
        QueryError {
            at,
            message: message.into(),
        }
    }

    /// The violation of `field` (`q` in lists, `query` in saved views).
    pub fn violation(&self, field: &str) -> Violation {
        Violation::new(field, self.to_string())
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}: {}", self.at, self.message)
    }
}

/// How a value compares: `field:v` is `Eq`, `field:>=v` is `Ge`, …
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    pub fn as_sql(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Lt => "<",
            Cmp::Le => "<=",
            Cmp::Gt => ">",
            Cmp::Ge => ">=",
        }
    }

    /// Whether `left self right` holds.
    pub fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
        }
    }
}

/// A person a query names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Person {
    Me,
    /// Nobody (`assignee:none`).
    Nobody,
    Id(Uuid),
    /// A username, resolved through the members of the projects listed.
    Name(String),
}

/// What `has:` and `no:` ask about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attribute {
    Assignee,
    Milestone,
    Due,
    Estimate,
    Label,
    Parent,
}

/// One predicate of a query, before names (usernames, milestone titles, issue keys) are
/// resolved. Lists of values mean "any of".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Predicate {
    /// `status:`, `is:open`, `is:closed`.
    Status(Vec<IssueStatus>),
    /// `priority:` with comparisons expanded: `priority:>=high` is high or urgent.
    Priority(Vec<Priority>),
    Assignee(Vec<Person>),
    Author(Vec<Person>),
    Label(Vec<String>),
    /// Titles, `None` for `milestone:none`.
    Milestone(Vec<Option<String>>),
    Due(Vec<(Cmp, NaiveDate)>),
    Created(Vec<(Cmp, NaiveDate)>),
    Updated(Vec<(Cmp, NaiveDate)>),
    Estimate(Vec<(Cmp, i32)>),
    /// Resolutions, `None` for `resolution:none`.
    Resolution(Vec<Option<Resolution>>),
    /// `is:blocked`: blocked by an issue that is neither resolved nor closed.
    Blocked,
    /// `has:` (`no:` is its negation).
    Has(Vec<Attribute>),
    Parent(Vec<IssueKey>),
    /// Bare words, full-text.
    Words(String),
    /// A "quoted phrase", full-text, its words in this order.
    Phrase(String),
}

/// A predicate, possibly negated, and where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub negated: bool,
    pub predicate: Predicate,
    pub at: usize,
}

/// A parsed query: its terms, all of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// One value of a field term as written.
#[derive(Debug, Clone)]
struct RawValue {
    cmp: Cmp,
    text: String,
    quoted: bool,
    /// Where the value starts, after its comparison.
    at: usize,
    /// Where the comparison starts (`at` when there is none).
    cmp_at: usize,
}

/// The characters of a query with their 1-based positions.
struct Cursor {
    chars: Vec<char>,
    pos: usize,
}

impl Cursor {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.pos + ahead).copied()
    }

    /// The 1-based position of the next character.
    fn at(&self) -> usize {
        self.pos + 1
    }

    fn at_term_end(&self) -> bool {
        self.peek().is_none_or(char::is_whitespace)
    }

    /// A `"…"` string starting at the cursor (on its opening quote).
    fn quoted(&mut self) -> Result<String, QueryError> {
        let open = self.at();
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
                None => {
                    return Err(QueryError::new(
                        open,
                        "expected a closing quote for the quote opened here",
                    ));
                }
            }
        }
    }
}

impl Query {
    /// Parses `raw` (already trimmed and checked for control characters by the caller, or not:
    /// control characters are refused here too).
    pub fn parse(raw: &str) -> Result<Query, QueryError> {
        let chars: Vec<char> = raw.chars().collect();
        if chars.len() > MAX_QUERY_LEN {
            return Err(QueryError::new(
                MAX_QUERY_LEN + 1,
                format!("expected the end: a query is at most {MAX_QUERY_LEN} characters"),
            ));
        }
        if let Some(i) = chars
            .iter()
            .position(|c| c.is_control() && !c.is_whitespace())
        {
            return Err(QueryError::new(
                i + 1,
                "expected a printable character, not a control character",
            ));
        }
        let mut cursor = Cursor { chars, pos: 0 };
        let mut terms = Vec::new();
        loop {
            while cursor.peek().is_some_and(char::is_whitespace) {
                cursor.pos += 1;
            }
            if cursor.peek().is_none() {
                break;
            }
            if terms.len() == MAX_TERMS {
                return Err(QueryError::new(
                    cursor.at(),
                    format!("expected the end: a query has at most {MAX_TERMS} terms"),
                ));
            }
            terms.push(term(&mut cursor)?);
        }
        Ok(Query { terms })
    }

    /// Whether the query has no terms (a blank `q`).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// One term, from its first character.
fn term(cursor: &mut Cursor) -> Result<Term, QueryError> {
    let at = cursor.at();
    let negated = cursor.peek() == Some('-')
        && cursor
            .peek_at(1)
            .is_some_and(|c| !c.is_whitespace() && c != '-');
    if negated {
        cursor.pos += 1;
    }
    if cursor.peek() == Some('"') {
        let phrase = cursor.quoted()?;
        if !cursor.at_term_end() {
            return Err(QueryError::new(
                cursor.at(),
                "expected a space after the closing quote",
            ));
        }
        return Ok(Term {
            negated,
            predicate: Predicate::Phrase(phrase),
            at,
        });
    }
    let start = cursor.pos;
    while cursor
        .peek()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
    {
        cursor.pos += 1;
    }
    if cursor.pos > start && cursor.peek() == Some(':') {
        let field: String = cursor.chars[start..cursor.pos].iter().collect();
        let field_at = start + 1;
        cursor.pos += 1;
        let values = values(cursor, &field)?;
        let (negated, predicate) = predicate(&field, field_at, negated, values)?;
        return Ok(Term {
            negated,
            predicate,
            at,
        });
    }
    while !cursor.at_term_end() {
        cursor.pos += 1;
    }
    let word: String = cursor.chars[start..cursor.pos].iter().collect();
    Ok(Term {
        negated,
        predicate: Predicate::Words(word),
        at,
    })
}

/// The values after `field:`, separated by commas.
fn values(cursor: &mut Cursor, field: &str) -> Result<Vec<RawValue>, QueryError> {
    let mut values = Vec::new();
    let mut after = format!("\"{field}:\"");
    loop {
        let at = cursor.at();
        let cmp = match (cursor.peek(), cursor.peek_at(1)) {
            (Some('>'), Some('=')) => Cmp::Ge,
            (Some('<'), Some('=')) => Cmp::Le,
            (Some('>'), _) => Cmp::Gt,
            (Some('<'), _) => Cmp::Lt,
            _ => Cmp::Eq,
        };
        cursor.pos += match cmp {
            Cmp::Eq => 0,
            Cmp::Gt | Cmp::Lt => 1,
            Cmp::Ge | Cmp::Le => 2,
        };
        let value_at = cursor.at();
        let (text, quoted) = match cursor.peek() {
            Some('"') => (cursor.quoted()?, true),
            _ => {
                let start = cursor.pos;
                while cursor
                    .peek()
                    .is_some_and(|c| !c.is_whitespace() && c != ',' && c != '"')
                {
                    cursor.pos += 1;
                }
                let text: String = cursor.chars[start..cursor.pos].iter().collect();
                if text.is_empty() {
                    let what = if cmp == Cmp::Eq {
                        after.clone()
                    } else {
                        format!(
                            "\"{}\"",
                            cursor.chars[at - 1..cursor.pos].iter().collect::<String>()
                        )
                    };
                    return Err(QueryError::new(
                        cursor.at(),
                        format!("expected a value after {what}"),
                    ));
                }
                (text, false)
            }
        };
        if values.len() == MAX_VALUES {
            return Err(QueryError::new(
                at,
                format!("expected at most {MAX_VALUES} values for {field}"),
            ));
        }
        values.push(RawValue {
            cmp,
            text,
            quoted,
            at: value_at,
            cmp_at: at,
        });
        match cursor.peek() {
            Some(',') => {
                cursor.pos += 1;
                after = "\",\"".to_owned();
            }
            None => return Ok(values),
            Some(c) if c.is_whitespace() => return Ok(values),
            Some(_) => {
                return Err(QueryError::new(
                    cursor.at(),
                    "expected a comma or a space after a value",
                ));
            }
        }
    }
}

/// The predicate of `field` with `values`; `negated` as written (`is:unblocked` and `no:` turn
/// it over).
fn predicate(
    field: &str,
    field_at: usize,
    negated: bool,
    values: Vec<RawValue>,
) -> Result<(bool, Predicate), QueryError> {
    let predicate = match field {
        "status" => Predicate::Status(each(&values, field, |v| {
            enum_value(
                v,
                IssueStatus::ALL,
                "a status (open, in_progress, resolved, closed)",
            )
        })?),
        "priority" => {
            let mut set: Vec<Priority> = Vec::new();
            for value in &values {
                let bound: Priority = enum_value(
                    value,
                    Priority::ALL,
                    "a priority (low, medium, high, urgent)",
                )?;
                set.extend(
                    Priority::ALL
                        .iter()
                        .filter(|p| value.cmp.holds(p.rank(), bound.rank())),
                );
            }
            Predicate::Priority(set)
        }
        "assignee" => Predicate::Assignee(each(&values, field, |v| {
            person(v, true, "me, none, a username or a user id")
        })?),
        "author" => Predicate::Author(each(&values, field, |v| {
            person(v, false, "me, a username or a user id")
        })?),
        "label" => Predicate::Label(each(&values, field, |v| {
            let text = v.text.trim();
            if text.is_empty() || text.chars().count() > Labels::MAX_LEN {
                Err(QueryError::new(
                    v.at,
                    format!("expected a label of 1 to {} characters", Labels::MAX_LEN),
                ))
            } else {
                Ok(text.to_owned())
            }
        })?),
        "milestone" => Predicate::Milestone(each(&values, field, |v| {
            let text = v.text.trim();
            if !v.quoted && text == "none" {
                Ok(None)
            } else if text.is_empty() || text.chars().count() > MAX_TITLE_LEN {
                Err(QueryError::new(
                    v.at,
                    format!(
                        "expected a milestone title of 1 to {MAX_TITLE_LEN} characters or none"
                    ),
                ))
            } else {
                Ok(Some(text.to_owned()))
            }
        })?),
        "due" => Predicate::Due(compared(&values, date)?),
        "created" => Predicate::Created(compared(&values, date)?),
        "updated" => Predicate::Updated(compared(&values, date)?),
        "estimate" => Predicate::Estimate(compared(&values, estimate)?),
        "resolution" => Predicate::Resolution(each(&values, field, |v| {
            if !v.quoted && v.text == "none" {
                Ok(None)
            } else {
                enum_value(
                    v,
                    Resolution::ALL,
                    "a resolution (fixed, wont_fix, duplicate, cannot_reproduce) or none",
                )
                .map(Some)
            }
        })?),
        "is" => {
            if values.len() != 1 {
                return Err(QueryError::new(
                    values[1].at,
                    "expected one value for is: (open, closed, blocked or unblocked)",
                ));
            }
            let value = &values[0];
            no_comparison(value, field)?;
            return match value.text.to_ascii_lowercase().as_str() {
                "open" => Ok((
                    negated,
                    Predicate::Status(vec![IssueStatus::Open, IssueStatus::InProgress]),
                )),
                "closed" => Ok((
                    negated,
                    Predicate::Status(vec![IssueStatus::Resolved, IssueStatus::Closed]),
                )),
                "blocked" => Ok((negated, Predicate::Blocked)),
                "unblocked" => Ok((!negated, Predicate::Blocked)),
                _ => Err(QueryError::new(
                    value.at,
                    "expected open, closed, blocked or unblocked after \"is:\"",
                )),
            };
        }
        "has" | "no" => {
            let attributes = each(&values, field, |v| {
                Ok(match v.text.to_ascii_lowercase().as_str() {
                    "assignee" => Attribute::Assignee,
                    "milestone" => Attribute::Milestone,
                    "due" => Attribute::Due,
                    "estimate" => Attribute::Estimate,
                    "label" => Attribute::Label,
                    "parent" => Attribute::Parent,
                    _ => {
                        return Err(QueryError::new(
                            v.at,
                            "expected assignee, milestone, due, estimate, label or parent",
                        ));
                    }
                })
            })?;
            return Ok((negated ^ (field == "no"), Predicate::Has(attributes)));
        }
        "parent" => Predicate::Parent(each(&values, field, |v| {
            IssueKey::parse(v.text.trim())
                .ok_or_else(|| QueryError::new(v.at, "expected an issue key such as SWAT-12"))
        })?),
        _ => {
            return Err(QueryError::new(
                field_at,
                format!("expected a known field ({FIELDS}), not \"{field}\""),
            ));
        }
    };
    Ok((negated, predicate))
}

/// Each value parsed by `parse`, none with a comparison (only ordered fields compare).
fn each<T>(
    values: &[RawValue],
    field: &str,
    parse: impl Fn(&RawValue) -> Result<T, QueryError>,
) -> Result<Vec<T>, QueryError> {
    values
        .iter()
        .map(|value| {
            no_comparison(value, field)?;
            parse(value)
        })
        .collect()
}

fn no_comparison(value: &RawValue, field: &str) -> Result<(), QueryError> {
    if value.cmp == Cmp::Eq {
        Ok(())
    } else {
        Err(QueryError::new(
            value.cmp_at,
            format!(
                "expected a value without a comparison: {field} is not ordered \
                 (priority, due, created, updated and estimate are)"
            ),
        ))
    }
}

/// Each value with its comparison, parsed by `parse`.
fn compared<T>(
    values: &[RawValue],
    parse: impl Fn(&RawValue) -> Result<T, QueryError>,
) -> Result<Vec<(Cmp, T)>, QueryError> {
    values
        .iter()
        .map(|value| Ok((value.cmp, parse(value)?)))
        .collect()
}

/// One of `all`, by its wire name (any case).
fn enum_value<T: Copy + fmt::Display>(
    value: &RawValue,
    all: &[T],
    expected: &str,
) -> Result<T, QueryError> {
    let text = value.text.trim().to_ascii_lowercase();
    all.iter()
        .copied()
        .find(|v| v.to_string() == text)
        .ok_or_else(|| QueryError::new(value.at, format!("expected {expected}")))
}

fn person(value: &RawValue, nobody: bool, expected: &str) -> Result<Person, QueryError> {
    let text = value.text.trim();
    if !value.quoted {
        match text {
            "me" => return Ok(Person::Me),
            "none" if nobody => return Ok(Person::Nobody),
            "none" => return Err(QueryError::new(value.at, format!("expected {expected}"))),
            _ => {}
        }
    }
    if let Ok(id) = Uuid::parse_str(text) {
        return Ok(Person::Id(id));
    }
    let username = text.len() >= 3
        && text.len() <= 32
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
    if username {
        Ok(Person::Name(text.to_owned()))
    } else {
        Err(QueryError::new(value.at, format!("expected {expected}")))
    }
}

/// A date `YYYY-MM-DD` from 1900 to 9999.
fn date(value: &RawValue) -> Result<NaiveDate, QueryError> {
    let text = value.text.trim();
    let well_formed = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let parsed = well_formed
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten();
    match parsed {
        Some(date) if (1900..=9999).contains(&chrono::Datelike::year(&date)) => Ok(date),
        Some(_) => Err(QueryError::new(
            value.at,
            "expected a date from 1900-01-01 to 9999-12-31",
        )),
        None => Err(QueryError::new(value.at, "expected a date as YYYY-MM-DD")),
    }
}

/// A whole number of points, 0 or more.
fn estimate(value: &RawValue) -> Result<i32, QueryError> {
    let text = value.text.trim();
    match text.parse::<i64>() {
        Ok(n) if (0..=MAX_ESTIMATE).contains(&n) => Ok(n as i32),
        Ok(_) => Err(QueryError::new(
            value.at,
            format!("expected an estimate from 0 to {MAX_ESTIMATE}"),
        )),
        Err(_) => Err(QueryError::new(
            value.at,
            "expected an estimate as a whole number of points",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Vec<(bool, Predicate)> {
        Query::parse(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .terms
            .into_iter()
            .map(|t| (t.negated, t.predicate))
            .collect()
    }

    fn day(raw: &str) -> NaiveDate {
        raw.parse().unwrap()
    }

    #[test]
    fn the_example_of_the_issue_parses_into_its_eleven_terms() {
        let query = "status:open,in_progress assignee:me -label:wontfix priority:>=high \
             milestone:\"v1.0\" due:<2026-12-31 updated:>=2026-11-01 is:blocked has:assignee \
             no:milestone parent:SWAT-12 \"free text\"";
        assert_eq!(
            parse(query),
            vec![
                (
                    false,
                    Predicate::Status(vec![IssueStatus::Open, IssueStatus::InProgress])
                ),
                (false, Predicate::Assignee(vec![Person::Me])),
                (true, Predicate::Label(vec!["wontfix".into()])),
                (
                    false,
                    Predicate::Priority(vec![Priority::High, Priority::Urgent])
                ),
                (false, Predicate::Milestone(vec![Some("v1.0".into())])),
                (false, Predicate::Due(vec![(Cmp::Lt, day("2026-12-31"))])),
                (
                    false,
                    Predicate::Updated(vec![(Cmp::Ge, day("2026-11-01"))])
                ),
                (false, Predicate::Blocked),
                (false, Predicate::Has(vec![Attribute::Assignee])),
                (true, Predicate::Has(vec![Attribute::Milestone])),
                (
                    false,
                    Predicate::Parent(vec![IssueKey::parse("SWAT-12").unwrap()])
                ),
                (false, Predicate::Phrase("free text".into())),
            ]
        );
    }

    #[test]
    fn each_predicate_parses_as_documented() {
        let id = Uuid::nil();
        for (raw, expected) in [
            ("crash", (false, Predicate::Words("crash".into()))),
            ("-crash", (true, Predicate::Words("crash".into()))),
            ("-", (false, Predicate::Words("-".into()))),
            ("--x", (false, Predicate::Words("--x".into()))),
            (
                "\"two words\"",
                (false, Predicate::Phrase("two words".into())),
            ),
            (
                "-\"two words\"",
                (true, Predicate::Phrase("two words".into())),
            ),
            (
                "status:Closed",
                (false, Predicate::Status(vec![IssueStatus::Closed])),
            ),
            (
                "priority:<medium",
                (false, Predicate::Priority(vec![Priority::Low])),
            ),
            (
                "priority:<=medium",
                (
                    false,
                    Predicate::Priority(vec![Priority::Low, Priority::Medium]),
                ),
            ),
            (
                "priority:>high",
                (false, Predicate::Priority(vec![Priority::Urgent])),
            ),
            (
                "priority:low,urgent",
                (
                    false,
                    Predicate::Priority(vec![Priority::Low, Priority::Urgent]),
                ),
            ),
            (
                "assignee:none",
                (false, Predicate::Assignee(vec![Person::Nobody])),
            ),
            (
                "assignee:\"none\"",
                (
                    false,
                    Predicate::Assignee(vec![Person::Name("none".into())]),
                ),
            ),
            (
                "assignee:alice,me",
                (
                    false,
                    Predicate::Assignee(vec![Person::Name("alice".into()), Person::Me]),
                ),
            ),
            (
                "author:00000000-0000-0000-0000-000000000000",
                (false, Predicate::Author(vec![Person::Id(id)])),
            ),
            (
                "label:\"needs design\"",
                (false, Predicate::Label(vec!["needs design".into()])),
            ),
            ("milestone:none", (false, Predicate::Milestone(vec![None]))),
            (
                "milestone:\"none\"",
                (false, Predicate::Milestone(vec![Some("none".into())])),
            ),
            (
                "milestone:v2",
                (false, Predicate::Milestone(vec![Some("v2".into())])),
            ),
            (
                "due:2026-12-31",
                (false, Predicate::Due(vec![(Cmp::Eq, day("2026-12-31"))])),
            ),
            (
                "created:>2026-01-01",
                (
                    false,
                    Predicate::Created(vec![(Cmp::Gt, day("2026-01-01"))]),
                ),
            ),
            (
                "estimate:<=3,>=13",
                (
                    false,
                    Predicate::Estimate(vec![(Cmp::Le, 3), (Cmp::Ge, 13)]),
                ),
            ),
            (
                "resolution:wont_fix,none",
                (
                    false,
                    Predicate::Resolution(vec![Some(Resolution::WontFix), None]),
                ),
            ),
            (
                "is:open",
                (
                    false,
                    Predicate::Status(vec![IssueStatus::Open, IssueStatus::InProgress]),
                ),
            ),
            (
                "-is:closed",
                (
                    true,
                    Predicate::Status(vec![IssueStatus::Resolved, IssueStatus::Closed]),
                ),
            ),
            ("is:unblocked", (true, Predicate::Blocked)),
            ("-is:unblocked", (false, Predicate::Blocked)),
            (
                "no:due,estimate",
                (
                    true,
                    Predicate::Has(vec![Attribute::Due, Attribute::Estimate]),
                ),
            ),
            ("-no:label", (false, Predicate::Has(vec![Attribute::Label]))),
            (
                "has:parent",
                (false, Predicate::Has(vec![Attribute::Parent])),
            ),
        ] {
            assert_eq!(parse(raw), vec![expected], "{raw}");
        }
    }

    #[test]
    fn plain_text_searches_keep_working() {
        assert_eq!(
            parse("  login   page crash "),
            vec![
                (false, Predicate::Words("login".into())),
                (false, Predicate::Words("page".into())),
                (false, Predicate::Words("crash".into())),
            ]
        );
        assert_eq!(parse(""), vec![]);
        assert_eq!(
            parse("C++ 3.14 don't"),
            vec![
                (false, Predicate::Words("C++".into())),
                (false, Predicate::Words("3.14".into())),
                (false, Predicate::Words("don't".into())),
            ]
        );
    }

    #[test]
    fn errors_name_the_position_and_what_was_expected() {
        for (raw, expected) in [
            ("status:", "at 8: expected a value after \"status:\""),
            (
                "priority:high status:",
                "at 22: expected a value after \"status:\"",
            ),
            ("status:open,", "at 13: expected a value after \",\""),
            ("status:open, closed", "at 13: expected a value after \",\""),
            ("priority:>=", "at 12: expected a value after \">=\""),
            (
                "status:opened",
                "at 8: expected a status (open, in_progress, resolved, closed)",
            ),
            (
                "colour:red",
                "at 1: expected a known field (status, priority, assignee, author, label, milestone, due, created, updated, estimate, resolution, is, has, no, parent), not \"colour\"",
            ),
            (
                "x -colour:red",
                "at 4: expected a known field (status, priority, assignee, author, label, milestone, due, created, updated, estimate, resolution, is, has, no, parent), not \"colour\"",
            ),
            (
                "milestone:\"v1.0",
                "at 11: expected a closing quote for the quote opened here",
            ),
            (
                "\"free text",
                "at 1: expected a closing quote for the quote opened here",
            ),
            ("\"a\"b", "at 4: expected a space after the closing quote"),
            (
                "label:\"a\"b",
                "at 10: expected a comma or a space after a value",
            ),
            ("due:2026-02-30", "at 5: expected a date as YYYY-MM-DD"),
            ("due:26-1-1", "at 5: expected a date as YYYY-MM-DD"),
            (
                "due:1899-12-31",
                "at 5: expected a date from 1900-01-01 to 9999-12-31",
            ),
            (
                "estimate:-1",
                "at 10: expected an estimate from 0 to 2147483647",
            ),
            (
                "estimate:>=2147483648",
                "at 12: expected an estimate from 0 to 2147483647",
            ),
            (
                "estimate:lots",
                "at 10: expected an estimate as a whole number of points",
            ),
            (
                "status:>open",
                "at 8: expected a value without a comparison: status is not ordered (priority, due, created, updated and estimate are)",
            ),
            (
                "is:blocked,open",
                "at 12: expected one value for is: (open, closed, blocked or unblocked)",
            ),
            (
                "is:stuck",
                "at 4: expected open, closed, blocked or unblocked after \"is:\"",
            ),
            (
                "has:title",
                "at 5: expected assignee, milestone, due, estimate, label or parent",
            ),
            (
                "parent:SWAT-0",
                "at 8: expected an issue key such as SWAT-12",
            ),
            (
                "assignee:A!",
                "at 10: expected me, none, a username or a user id",
            ),
            ("author:none", "at 8: expected me, a username or a user id"),
            ("label:\"\"", "at 7: expected a label of 1 to 50 characters"),
            (
                "a\u{0}b",
                "at 2: expected a printable character, not a control character",
            ),
        ] {
            let error = Query::parse(raw).expect_err(raw);
            assert_eq!(error.to_string(), expected, "{raw}");
        }
    }

    #[test]
    fn the_size_of_a_query_is_bounded() {
        let long = "a".repeat(MAX_QUERY_LEN + 1);
        assert_eq!(Query::parse(&long).unwrap_err().at, MAX_QUERY_LEN + 1);
        assert!(
            Query::parse(&"é".repeat(MAX_QUERY_LEN)).is_ok(),
            "characters, not bytes"
        );
        let terms = vec!["x"; MAX_TERMS].join(" ");
        assert_eq!(Query::parse(&terms).unwrap().terms.len(), MAX_TERMS);
        let error = Query::parse(&format!("{terms} y")).unwrap_err();
        assert_eq!(error.at, 2 * MAX_TERMS + 1);
        let values = vec!["bug"; MAX_VALUES].join(",");
        assert!(Query::parse(&format!("label:{values}")).is_ok());
        let error = Query::parse(&format!("label:{values},x")).unwrap_err();
        assert_eq!(
            error.message,
            format!("expected at most {MAX_VALUES} values for label")
        );
    }

    #[test]
    fn random_queries_never_panic_and_errors_point_inside_the_query() {
        // A deterministic xorshift over the characters the grammar cares about, and others.
        let alphabet: Vec<char> = "ab:,\"-<>= \t\u{a0}éß状1-9SWAT_.,é\u{202e}"
            .chars()
            .chain(FIELDS.chars())
            .collect();
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let raw: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Err(error) = Query::parse(&raw) {
                let chars = raw.chars().count();
                assert!(
                    (1..=chars + 1).contains(&error.at),
                    "{raw:?}: {error} (of {chars} characters)"
                );
            }
        }
    }

    #[test]
    fn hostile_queries_are_refused_or_taken_as_text_never_panic() {
        for raw in [
            "'; DROP TABLE issues; --",
            "status:open) OR (1=1",
            "\u{202e}status:open",
            "::::",
            ":status",
            "label:,,,",
            "\"\"\"",
            "priority:>>high",
            "due:<<2026-01-01",
            "estimate:99999999999999999999999",
            "-\"",
            "-:",
            "a:b:c",
            "状態:開",
        ] {
            let _ = Query::parse(raw);
        }
        assert_eq!(
            parse("'; DROP TABLE issues; --")[0],
            (false, Predicate::Words("';".into()))
        );
    }
}
