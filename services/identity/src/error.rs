//! The errors of the identity service: the shared ones ([`swatter_common::rpc::Error`]), the
//! meaning of its named constraints, and none of its own.

use swatter_common::rpc;
use tonic::Status;

/// Identity has no errors beyond the shared ones.
#[derive(Debug, thiserror::Error)]
pub enum IdentityOnly {}

impl rpc::Service for IdentityOnly {
    const NAME: &'static str = "identity";

    fn constraint(name: &str) -> Option<IdentityError> {
        let (field, message) = match name {
            "users_username_key" => ("username", "this username is taken"),
            "users_email_key" => ("email", "this email address is already registered"),
            "personal_access_tokens_live_name_key" => (
                "name",
                "you have a personal access token with this name; revoke it or choose another",
            ),
            _ => return None,
        };
        Some(IdentityError::Conflict { field, message })
    }

    fn status(self) -> Status {
        match self {}
    }
}

pub type IdentityError = rpc::Error<IdentityOnly>;

/// Result of identity operations.
pub type Result<T, E = IdentityError> = std::result::Result<T, E>;
