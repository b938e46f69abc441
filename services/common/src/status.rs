//! Building `tonic::Status` values with `google.rpc` details, so the gateway can render per-field
//! validation errors.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, StatusExt};

/// One invalid field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub field: String,
    pub message: String,
}

impl Violation {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Violation {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// `code` with a `google.rpc.BadRequest` listing the violations.
pub fn with_violations(code: Code, message: &str, violations: &[Violation]) -> Status {
    let details = ErrorDetails::with_bad_request(
        violations
            .iter()
            .map(|v| FieldViolation::new(v.field.clone(), v.message.clone()))
            .collect::<Vec<_>>(),
    );
    Status::with_error_details(code, message, details)
}

/// `INVALID_ARGUMENT` listing the violations.
pub fn invalid_argument(violations: &[Violation]) -> Status {
    let message = match violations {
        [one] => format!("{}: {}", one.field, one.message),
        _ => "the request has invalid fields".to_owned(),
    };
    with_violations(Code::InvalidArgument, &message, violations)
}

/// `google.rpc.ErrorInfo` reason of a failed `If-Match` / etag precondition (REST 412).
pub const REASON_ETAG_MISMATCH: &str = "ETAG_MISMATCH";
/// `google.rpc.ErrorInfo` domain of swatter's reasons.
pub const ERROR_DOMAIN: &str = "swatter.dev";

/// `FAILED_PRECONDITION` because the resource changed since the client read it.
pub fn etag_mismatch() -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        "the resource has changed since it was read (etag mismatch)",
        ErrorDetails::with_error_info(
            REASON_ETAG_MISMATCH,
            ERROR_DOMAIN,
            std::collections::HashMap::<String, String>::new(),
        ),
    )
}

/// Whether a status is an etag mismatch (as opposed to another failed precondition).
pub fn is_etag_mismatch(status: &Status) -> bool {
    status
        .get_details_error_info()
        .is_some_and(|info| info.reason == REASON_ETAG_MISMATCH)
}

/// `RESOURCE_EXHAUSTED` with a `google.rpc.RetryInfo` saying when to try again (REST: 429 with
/// `Retry-After`).
pub fn resource_exhausted(message: &str, retry_after: std::time::Duration) -> Status {
    Status::with_error_details(
        Code::ResourceExhausted,
        message,
        ErrorDetails::with_retry_info(Some(retry_after)),
    )
}

/// The retry delay of a status's `google.rpc.RetryInfo`, if it carries one.
pub fn retry_delay(status: &Status) -> Option<std::time::Duration> {
    status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay)
}

/// The field violations carried by a status, if any.
pub fn violations(status: &Status) -> Vec<Violation> {
    status
        .get_details_bad_request()
        .map(|bad| {
            bad.field_violations
                .into_iter()
                .map(|v| Violation::new(v.field, v.description))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_survive_the_round_trip_through_a_status() {
        let sent = vec![
            Violation::new("username", "too short"),
            Violation::new("email", "not an email address"),
        ];
        let status = invalid_argument(&sent);
        assert_eq!(status.code(), Code::InvalidArgument);
        assert_eq!(violations(&status), sent);
    }

    #[test]
    fn a_retry_delay_survives_the_round_trip_through_a_status() {
        let status = resource_exhausted("slow down", std::time::Duration::from_secs(7));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(
            retry_delay(&status),
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(retry_delay(&Status::resource_exhausted("plain")), None);
    }

    #[test]
    fn an_etag_mismatch_is_told_apart_from_other_failed_preconditions() {
        assert!(is_etag_mismatch(&etag_mismatch()));
        assert!(!is_etag_mismatch(&Status::failed_precondition(
            "last owner"
        )));
    }
}
