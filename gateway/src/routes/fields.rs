//! Deserialisers for fields whose absence, emptiness or `null` means something: use them with
//! `#[serde(default, deserialize_with = "…")]`.

use std::{fmt::Display, str::FromStr};

use serde::{Deserialize, Deserializer, de};

/// For optional query parameters: a parameter sent empty (`?page_size=`, as HTML forms do)
/// counts as absent; otherwise it must parse as it is (`?page_size=%205` is refused, as the
/// description's integer says). Use with `#[serde(default, deserialize_with)]`.
pub fn empty_as_none<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(deserializer)?.as_deref() {
        None | Some("") => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(de::Error::custom),
    }
}

/// For optional query parameters that take several values, comma-separated
/// (`?status=open,in_progress`): absent or empty is no values; otherwise each item must parse as
/// it is, so an empty item (`open,`) or a padded one (`open, closed`) is refused, as the OpenAPI
/// description's list of enum values says. Use with `#[serde(default, deserialize_with)]`.
pub fn comma_list<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: FromStr,
    T::Err: Display,
{
    match Option::<String>::deserialize(deserializer)?.as_deref() {
        None | Some("") => Ok(Vec::new()),
        Some(list) => list
            .split(',')
            .map(|value| value.parse().map_err(de::Error::custom))
            .collect(),
    }
}

/// For fields of a `PATCH` body where `null` means something (unassign, clear): absent is
/// `None`, `null` is `Some(None)`. Use with `#[serde(default, deserialize_with)]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}

/// For optional fields of a `PATCH` body that cannot be removed (a title, a status): absent is
/// `None`, and `null` is refused naming the field rather than read as "leave it". Use with
/// `#[serde(default, deserialize_with)]`.
pub fn not_null<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::wire;

    #[derive(Debug, Deserialize)]
    struct Patch {
        #[serde(default, deserialize_with = "nullable")]
        assignee: Option<Option<String>>,
        #[serde(default, deserialize_with = "not_null")]
        title: Option<String>,
    }

    #[test]
    fn patch_fields_tell_absent_from_null() {
        let absent: Patch = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.assignee, None);
        assert_eq!(absent.title, None);
        let null: Patch = serde_json::from_str(r#"{"assignee": null}"#).unwrap();
        assert_eq!(null.assignee, Some(None));
        let set: Patch = serde_json::from_str(r#"{"assignee": "a", "title": "t"}"#).unwrap();
        assert_eq!(set.assignee, Some(Some("a".into())));
        assert_eq!(set.title.as_deref(), Some("t"));
        assert!(serde_json::from_str::<Patch>(r#"{"title": null}"#).is_err());
    }

    #[test]
    fn comma_lists_refuse_empty_and_padded_items_and_name_bad_ones() {
        #[derive(Debug, Deserialize)]
        struct Query {
            #[serde(default, deserialize_with = "comma_list")]
            status: Vec<wire::IssueStatus>,
        }
        let query: Query = crate::extract::decode_form(b"status=open,in_progress").unwrap();
        assert_eq!(
            query.status,
            [wire::IssueStatus::Open, wire::IssueStatus::InProgress]
        );
        let none: Query = crate::extract::decode_form(b"status=").unwrap();
        assert!(none.status.is_empty());
        for refused in [
            &b"status=open,done"[..],
            b"status=open,",
            b"status=,",
            b"status=open,%20closed",
        ] {
            let error = crate::extract::decode_form::<Query>(refused).unwrap_err();
            assert_eq!(error.errors()[0].field, "status");
            assert_eq!(error.errors()[0].message, wire::IssueStatus::EXPECTED);
        }
    }
}
