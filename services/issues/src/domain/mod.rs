//! The rules of the issues context, without I/O: valid values, roles and who may do what, and the
//! status workflow.

pub mod attachments;
mod bulk;
mod inbox;
mod mentions;
mod patch;
mod permissions;
mod planning;
pub mod query;
mod relations;
mod values;
pub mod views;

pub use bulk::{BulkEdit, BulkRefusal, MAX_BULK_ISSUES, issue_numbers, label_list};
pub use inbox::NotificationReason;
pub use mentions::{MAX_MENTIONS, added_mentions, mentions, one_line};
pub use patch::{Change, IssueFields, Patch};
pub use permissions::{
    Access, Action, IssueChange, authorize, authorize_issue_change, roles_allowed,
};
pub use planning::*;
pub use query::{Attribute, Cmp, Person, Predicate, Query, QueryError, Term};
pub use relations::*;
pub use values::*;
