//! The rules of the issues context, without I/O: valid values, roles and who may do what, and the
//! status workflow.

mod patch;
mod permissions;
pub mod query;
mod values;
pub mod views;

pub use patch::{Change, IssueFields, Patch};
pub use permissions::{
    Access, Action, IssueChange, authorize, authorize_issue_change, roles_allowed,
};
pub use query::{Attribute, Cmp, Person, Predicate, Query, QueryError, Term};
pub use values::*;
