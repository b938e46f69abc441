//! The enum values of the issues and reporting APIs as they travel in JSON and query strings
//! (docs/api.md: lower snake case), and their protobuf counterparts. An unknown value is a 422 naming the field and
//! listing the values it may take.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{
    ToSchema,
    openapi::{Object, ObjectBuilder, Type, extensions::Extensions},
};

/// Declares enums as `Name("message for other values") = [Variant "wire name", …];`.
macro_rules! wire_enums {
    ($($(#[$doc:meta])* $name:ident($expected:literal) = [$($variant:ident $wire:literal),+];)+) => {
        $(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case", try_from = "String")]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            /// The message of a value that is none of these.
            pub const EXPECTED: &'static str = $expected;

            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }

            /// The protobuf value, as the services take it.
            pub fn to_pb(self) -> i32 {
                match self {
                    $($name::$variant => pb::$name::$variant as i32),+
                }
            }

            /// `None` for the unspecified value and numbers this gateway does not know.
            pub fn from_pb(raw: i32) -> Option<Self> {
                match pb::$name::try_from(raw).ok()? {
                    $(pb::$name::$variant => Some($name::$variant),)+
                    pb::$name::Unspecified => None,
                }
            }
        }

        impl FromStr for $name {
            type Err = &'static str;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                match raw {
                    $($wire => Ok($name::$variant),)+
                    _ => Err($name::EXPECTED),
                }
            }
        }

        impl TryFrom<String> for $name {
            type Error = &'static str;

            fn try_from(raw: String) -> Result<Self, Self::Error> {
                raw.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        )+
    };
}

wire_enums! {
    /// Where an issue stands. `resolved` and `closed` set `closed_at`; reopening clears it.
    IssueStatus("must be open, in_progress, resolved or closed") =
        [Open "open", InProgress "in_progress", Resolved "resolved", Closed "closed"];
    /// How urgent an issue is, from `low` to `urgent`.
    Priority("must be low, medium, high or urgent") =
        [Low "low", Medium "medium", High "high", Urgent "urgent"];
    /// A member's role in a project; each may do what the ones before it may, and more.
    Role("must be owner, maintainer, reporter or viewer") =
        [Viewer "viewer", Reporter "reporter", Maintainer "maintainer", Owner "owner"];
    /// Why an issue was resolved or closed; `null` while it is open or in progress.
    Resolution("must be fixed, wont_fix, duplicate or cannot_reproduce") =
        [Fixed "fixed", WontFix "wont_fix", Duplicate "duplicate", CannotReproduce "cannot_reproduce"];
    /// How two issues are related, seen from the first: `blocks` / `blocked_by`, `duplicates` /
    /// `duplicated_by`, `relates_to`, `parent_of` / `child_of` (sub-issues).
    RelationKind("must be blocks, blocked_by, duplicates, duplicated_by, relates_to, parent_of or child_of") = [
        Blocks "blocks", BlockedBy "blocked_by", Duplicates "duplicates", DuplicatedBy "duplicated_by",
        RelatesTo "relates_to", ParentOf "parent_of", ChildOf "child_of"
    ];
    /// Whether a milestone is still being worked towards.
    MilestoneState("must be open or closed") = [Open "open", Closed "closed"];
    /// Why a notification was sent.
    NotificationReason("must be assigned, mentioned, watching or status_changed") = [
        Assigned "assigned", Mentioned "mentioned", Watching "watching", StatusChanged "status_changed"
    ];
    /// Whether an attachment was confirmed: `pending` (asked for, not yet confirmed; seen by its
    /// uploader only) or `ready` (verified, seen by every member).
    AttachmentState("must be pending or ready") = [Pending "pending", Ready "ready"];
    /// Whether an attachment has a thumbnail: `none` (not an image of a kind that gets one),
    /// `ready`, or `refused` (an image too large to decode safely, or one that does not decode).
    ThumbnailState("must be none, ready or refused") = [None "none", Ready "ready", Refused "refused"];
}

pub use reporting::{JobState, ReportKind};
pub use webhooks::DeliveryState;

/// The reporting enums, converted to and from `swatter.reporting.v1`.
mod reporting {
    use super::*;
    use swatter_proto::reporting::v1 as pb;

    wire_enums! {
        /// Where a report job stands. `succeeded`, `failed` and `cancelled` are terminal.
        JobState("must be queued, running, retrying, succeeded, failed or cancelled") = [
            Queued "queued", Running "running", Retrying "retrying",
            Succeeded "succeeded", Failed "failed", Cancelled "cancelled"
        ];
        /// What a report covers: one project, or every project of the user for one month; or an
        /// export of the issues a list shows, as CSV or JSON.
        ReportKind("must be project, user_monthly, issues_csv or issues_json") = [
            Project "project", UserMonthly "user_monthly",
            IssuesCsv "issues_csv", IssuesJson "issues_json"
        ];
    }
}

/// The webhooks enums, converted to and from `swatter.webhooks.v1`.
mod webhooks {
    use super::*;
    use swatter_proto::webhooks::v1 as pb;

    wire_enums! {
        /// Where a webhook delivery stands. `succeeded` and `failed` are final, until a redeliver.
        DeliveryState("must be pending, retrying, succeeded or failed") = [
            Pending "pending", Retrying "retrying", Succeeded "succeeded", Failed "failed"
        ];
    }
}

impl ReportKind {
    /// The schema of a `kind` field that holds this kind and no other: a JSON Schema `const`
    /// (OpenAPI 3.1), by which generated clients tell the kinds of report apart (a one-value
    /// `enum` would make them a type per kind). utoipa has no builder for `const`; the schema's
    /// extension map is written out as it is, so it goes in there.
    fn only(self) -> Object {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .extensions(Some(Extensions::from_iter([("const", self.as_str())])))
            .build()
    }
}

/// The `kind` of a project report, request or parameters (`schema_with`).
pub fn project_kind() -> Object {
    ReportKind::Project.only()
}

/// The `kind` of a monthly user report, request or parameters (`schema_with`).
pub fn user_monthly_kind() -> Object {
    ReportKind::UserMonthly.only()
}

/// The `kind` of an export, request or parameters (`schema_with`): `issues_csv` or
/// `issues_json`.
pub fn export_kind() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([
            ReportKind::IssuesCsv.as_str(),
            ReportKind::IssuesJson.as_str(),
        ]))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_agree_with_the_wire_names() {
        fn check<T: Serialize + fmt::Display>(values: &[T]) {
            for value in values {
                assert_eq!(serde_json::to_value(value).unwrap(), value.to_string());
            }
        }
        check(IssueStatus::ALL);
        check(Priority::ALL);
        check(Role::ALL);
        check(JobState::ALL);
        check(ReportKind::ALL);
        check(DeliveryState::ALL);
    }

    #[test]
    fn wire_names_are_lower_snake_case_both_ways() {
        assert_eq!(
            serde_json::to_value(IssueStatus::InProgress).unwrap(),
            "in_progress"
        );
        assert_eq!(
            serde_json::from_value::<IssueStatus>("in_progress".into()).unwrap(),
            IssueStatus::InProgress
        );
        assert_eq!("urgent".parse::<Priority>().unwrap(), Priority::Urgent);
        assert_eq!(Role::Maintainer.to_string(), "maintainer");
    }

    #[test]
    fn an_unknown_value_lists_the_known_ones() {
        let error = serde_json::from_value::<IssueStatus>("In_Progress".into()).unwrap_err();
        assert_eq!(error.to_string(), IssueStatus::EXPECTED);
        assert_eq!("admin".parse::<Role>().unwrap_err(), Role::EXPECTED);
    }

    #[test]
    fn protobuf_values_round_trip_and_unspecified_is_none() {
        for &status in IssueStatus::ALL {
            assert_eq!(IssueStatus::from_pb(status.to_pb()), Some(status));
        }
        assert_eq!(Role::to_pb(Role::Owner), pb::Role::Owner as i32);
        assert_eq!(Role::from_pb(pb::Role::Unspecified as i32), None);
        assert_eq!(Priority::from_pb(99), None);
    }

    #[test]
    fn job_states_and_report_kinds_are_lower_snake_case() {
        assert_eq!(
            serde_json::to_value(ReportKind::UserMonthly).unwrap(),
            "user_monthly"
        );
        assert_eq!(JobState::Cancelled.as_str(), "cancelled");
        for state in [
            "queued",
            "running",
            "retrying",
            "succeeded",
            "failed",
            "cancelled",
        ] {
            let parsed: JobState = state.parse().unwrap();
            assert_eq!(JobState::from_pb(parsed.to_pb()), Some(parsed));
        }
        assert_eq!(JobState::from_pb(0), None);
    }
}
