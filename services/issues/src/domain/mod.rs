//! The rules of the issues context, without I/O: valid values, roles and who may do what, and the
//! status workflow.

mod patch;
mod permissions;
mod relations;
mod values;

pub use patch::{Change, IssueFields, Patch};
pub use permissions::{
    Access, Action, IssueChange, authorize, authorize_issue_change, roles_allowed,
};
pub use relations::*;
pub use values::*;
