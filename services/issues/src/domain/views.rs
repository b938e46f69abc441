//! Saved views: what a user may name and save.

use swatter_common::{
    input::{self, Lines},
    status::Violation,
};

use super::{IssueSort, Query, values::search_query};

/// Most views one user may save in one project.
pub const MAX_SAVED_VIEWS: i64 = 100;
/// Longest view name, in characters.
pub const MAX_VIEW_NAME_LEN: usize = 100;

/// A saved view as asked for: a name of 1–100 characters on one line (trimmed), a query that
/// parses, and a sort issue lists know (empty: their default).
#[derive(Debug, Clone)]
pub struct ViewSpec {
    pub name: String,
    pub query: String,
    pub sort: String,
}

impl ViewSpec {
    /// Checks every field, and names each that is wrong.
    pub fn parse(name: &str, query: &str, sort: &str) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        let name = match input::trimmed_text("name", name, MAX_VIEW_NAME_LEN, Lines::One) {
            Ok("") => {
                violations.push(Violation::new("name", "must not be empty"));
                String::new()
            }
            Ok(name) => name.to_owned(),
            Err(violation) => {
                violations.push(violation);
                String::new()
            }
        };
        if let Err(violation) = search_query("query", query).map(|_: Query| ()) {
            violations.push(violation);
        }
        let sort = sort.trim();
        if let Err(violation) = IssueSort::parse(sort) {
            violations.push(violation);
        }
        if violations.is_empty() {
            Ok(ViewSpec {
                name,
                query: query.trim().to_owned(),
                sort: sort.to_owned(),
            })
        } else {
            Err(violations)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_view_needs_a_name_a_query_that_parses_and_a_known_sort() {
        let view = ViewSpec::parse(" My work ", " assignee:me is:open ", "-due_on").unwrap();
        assert_eq!(
            (view.name.as_str(), view.query.as_str(), view.sort.as_str()),
            ("My work", "assignee:me is:open", "-due_on")
        );
        assert!(
            ViewSpec::parse("All", "", "").is_ok(),
            "an empty query lists everything"
        );
        for (name, query, sort, fields) in [
            ("", "x", "", vec!["name"]),
            ("   ", "x", "", vec!["name"]),
            (&*"n".repeat(101), "x", "", vec!["name"]),
            ("a\u{7}b", "x", "", vec!["name"]),
            ("ok", "status:", "", vec!["query"]),
            ("ok", "x", "title", vec!["sort"]),
            ("", "colour:red", "due", vec!["name", "query", "sort"]),
        ] {
            let violations = ViewSpec::parse(name, query, sort).unwrap_err();
            let named: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(named, fields, "{name:?} {query:?} {sort:?}");
        }
        let violations = ViewSpec::parse("ok", "is:open status:", "").unwrap_err();
        assert_eq!(
            violations[0].message,
            "at 16: expected a value after \"status:\""
        );
    }
}
