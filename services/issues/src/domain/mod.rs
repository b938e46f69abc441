//! The rules of the issues context, without I/O: valid values, roles and who may do what, and the
//! status workflow.

mod permissions;
mod values;

pub use permissions::{Access, Action, IssueChange, authorize, authorize_issue_change};
pub use values::*;
