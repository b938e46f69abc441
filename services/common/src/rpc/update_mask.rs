//! Update masks (AIP-134): which fields an `Update*` request changes.
//!
//! Every `Update*` request carries an optional `google.protobuf.FieldMask update_mask`. With
//! one, exactly the named fields change, and a named field the request leaves unset takes its
//! empty value (that is how a client clears a field). Without one (or with an empty one) the
//! fields the request sets change: what every client did before masks existed, so they keep
//! working. `*` names every updatable field (a full replacement).

use std::collections::BTreeSet;

use prost_types::FieldMask;

use crate::status::Violation;

/// The request field that holds the mask, named by its violations.
pub const FIELD: &str = "update_mask";

/// The paths one `Update*` request accepts.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// The fields it can change.
    pub updatable: &'static [&'static str],
    /// Fields of the resource it cannot change (output only or immutable): named apart from
    /// unknown paths, so the client learns the field exists but is not theirs to set.
    pub fixed: &'static [&'static str],
}

/// The fields an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateMask {
    /// No mask, or an empty one: the fields the request sets.
    Populated,
    /// Exactly these fields.
    Paths(BTreeSet<&'static str>),
}

impl UpdateMask {
    /// The mask of a request, every path checked against `fields`: an unknown or unchangeable
    /// path is a violation of [`FIELD`] naming all such paths.
    pub fn parse(mask: Option<&FieldMask>, fields: Fields) -> Result<Self, Violation> {
        let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
        if paths.is_empty() {
            return Ok(UpdateMask::Populated);
        }
        let mut named = BTreeSet::new();
        let mut fixed = Vec::new();
        let mut unknown = Vec::new();
        for path in paths {
            if path == "*" {
                named.extend(fields.updatable);
            } else if let Some(field) = fields.updatable.iter().find(|f| **f == path) {
                named.insert(*field);
            } else if fields.fixed.contains(&path.as_str()) {
                fixed.push(path.as_str());
            } else {
                unknown.push(path.as_str());
            }
        }
        let mut problems = Vec::new();
        if !fixed.is_empty() {
            problems.push(format!("cannot change {}", fixed.join(", ")));
        }
        if !unknown.is_empty() {
            problems.push(format!("has no field {}", unknown.join(", ")));
        }
        if problems.is_empty() {
            Ok(UpdateMask::Paths(named))
        } else {
            Err(Violation::new(
                FIELD,
                format!(
                    "{}; the updatable fields are {}",
                    problems.join(" and "),
                    fields.updatable.join(", ")
                ),
            ))
        }
    }

    /// The new value of the field `path`, or `None` when the update leaves it: without a mask,
    /// `value` itself; with a mask that names `path`, `value` or, unset, the field's empty value;
    /// with a mask that does not, `None` whatever the request set.
    pub fn value<T: Default>(&self, path: &str, value: Option<T>) -> Option<T> {
        match self {
            UpdateMask::Populated => value,
            UpdateMask::Paths(paths) if paths.contains(path) => Some(value.unwrap_or_default()),
            UpdateMask::Paths(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ISSUE: Fields = Fields {
        updatable: &["title", "description", "labels"],
        fixed: &["key", "created_at"],
    };

    fn mask(paths: &[&str]) -> Option<FieldMask> {
        Some(FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    fn parse(paths: &[&str]) -> Result<UpdateMask, Violation> {
        UpdateMask::parse(mask(paths).as_ref(), ISSUE)
    }

    #[test]
    fn no_mask_or_an_empty_one_changes_the_fields_that_are_set() {
        for absent in [UpdateMask::parse(None, ISSUE), parse(&[])] {
            let mask = absent.unwrap();
            assert_eq!(mask, UpdateMask::Populated);
            assert_eq!(mask.value("title", Some("new")), Some("new"));
            assert_eq!(mask.value::<&str>("description", None), None);
        }
    }

    #[test]
    fn a_mask_changes_only_the_named_fields_and_clears_the_unset_ones() {
        let mask = parse(&["description", "labels"]).unwrap();
        assert_eq!(mask.value("title", Some("ignored")), None);
        assert_eq!(mask.value("description", Some("new")), Some("new"));
        assert_eq!(mask.value::<Vec<String>>("labels", None), Some(Vec::new()));
    }

    #[test]
    fn a_star_names_every_updatable_field() {
        assert_eq!(
            parse(&["*"]).unwrap(),
            UpdateMask::Paths(BTreeSet::from(["title", "description", "labels"]))
        );
    }

    #[test]
    fn unknown_and_unchangeable_paths_are_violations_of_the_mask() {
        let violation = parse(&["title", "key", "bogus"]).unwrap_err();
        assert_eq!(violation.field, "update_mask");
        assert!(violation.message.contains("cannot change key"));
        assert!(violation.message.contains("has no field bogus"));
        let unknown = parse(&["Title"]).unwrap_err();
        assert!(unknown.message.starts_with("has no field Title"));
    }
}
