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

/// `FAILED_PRECONDITION` as [`etag_mismatch`] (REST 412), naming each item that moved since the
/// client read it (a bulk edit's expected versions).
pub fn etag_mismatch_of(message: &str, moved: &[Violation]) -> Status {
    let mut details = ErrorDetails::with_error_info(
        REASON_ETAG_MISMATCH,
        ERROR_DOMAIN,
        std::collections::HashMap::<String, String>::new(),
    );
    for v in moved {
        details.add_bad_request_violation(v.field.clone(), v.message.clone());
    }
    Status::with_error_details(Code::FailedPrecondition, message, details)
}

/// `PERMISSION_DENIED` naming each item the caller may not change (a `google.rpc.BadRequest`,
/// so the gateway lists them in the problem's `errors`).
pub fn permission_denied_for(message: &str, refused: &[Violation]) -> Status {
    with_violations(Code::PermissionDenied, message, refused)
}

/// Whether a status is an etag mismatch (as opposed to another failed precondition).
pub fn is_etag_mismatch(status: &Status) -> bool {
    status
        .get_details_error_info()
        .is_some_and(|info| info.reason == REASON_ETAG_MISMATCH)
}

/// `google.rpc.ErrorInfo` reason of a change-feed cursor older than the retention horizon
/// (REST 410): the client resynchronises, then follows the feed from its head.
pub const REASON_CURSOR_EXPIRED: &str = "CURSOR_EXPIRED";
/// `google.rpc.ErrorInfo` reason that ends a change stream whose client fell behind; its
/// metadata `cursor` is the last change sent, to resume after.
pub const REASON_RESUME_REQUIRED: &str = "RESUME_REQUIRED";

/// `OUT_OF_RANGE`: the change-feed cursor `after` is older than the oldest retained change.
pub fn cursor_expired(after: i64, oldest_after: i64) -> Status {
    Status::with_error_details(
        Code::OutOfRange,
        format!(
            "changes after cursor {after} are no longer kept; resynchronise, then follow the feed \
             from its head (the oldest cursor that can be resumed is {oldest_after})"
        ),
        ErrorDetails::with_error_info(
            REASON_CURSOR_EXPIRED,
            ERROR_DOMAIN,
            std::collections::HashMap::from([(
                "oldest_after".to_owned(),
                oldest_after.to_string(),
            )]),
        ),
    )
}

/// Whether a status is [`cursor_expired`].
pub fn is_cursor_expired(status: &Status) -> bool {
    status
        .get_details_error_info()
        .is_some_and(|info| info.reason == REASON_CURSOR_EXPIRED)
}

/// `ABORTED`: a change stream ends (`why`: its client fell behind, the server is stopping);
/// resume after `cursor`.
pub fn resume_required(why: &str, cursor: i64) -> Status {
    Status::with_error_details(
        Code::Aborted,
        format!("{why}; resume after cursor {cursor}"),
        ErrorDetails::with_error_info(
            REASON_RESUME_REQUIRED,
            ERROR_DOMAIN,
            std::collections::HashMap::from([("cursor".to_owned(), cursor.to_string())]),
        ),
    )
}

/// The cursor to resume after, when a status is [`resume_required`].
pub fn resume_cursor(status: &Status) -> Option<i64> {
    let info = status.get_details_error_info()?;
    if info.reason != REASON_RESUME_REQUIRED {
        return None;
    }
    info.metadata.get("cursor")?.parse().ok()
}

/// `google.rpc.ErrorInfo` reason of a relation refused because it would close a cycle of
/// `blocks` or of parents; its metadata `cycle` lists the issue keys around it, comma-separated
/// (`SWAT-1,SWAT-2,SWAT-1`; an issue the caller may not see is `(hidden)`).
pub const REASON_RELATION_CYCLE: &str = "RELATION_CYCLE";

/// `FAILED_PRECONDITION`: the relation would close the cycle `keys` (first and last the same).
pub fn relation_cycle(keys: &[String]) -> Status {
    Status::with_error_details(
        Code::FailedPrecondition,
        format!(
            "adding this relation would close a cycle: {}",
            keys.join(" → ")
        ),
        ErrorDetails::with_error_info(
            REASON_RELATION_CYCLE,
            ERROR_DOMAIN,
            std::collections::HashMap::from([("cycle".to_owned(), keys.join(","))]),
        ),
    )
}

/// The keys around the cycle, when a status is [`relation_cycle`].
pub fn relation_cycle_keys(status: &Status) -> Option<Vec<String>> {
    let info = status.get_details_error_info()?;
    if info.reason != REASON_RELATION_CYCLE {
        return None;
    }
    let cycle = info.metadata.get("cycle")?;
    Some(cycle.split(',').map(str::to_owned).collect())
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
    fn items_that_moved_or_are_forbidden_survive_the_round_trip_through_a_status() {
        let named = vec![Violation::new("issue_keys[1]", "SWAT-2 moved")];
        let moved = etag_mismatch_of("moved", &named);
        assert!(is_etag_mismatch(&moved));
        assert_eq!(violations(&moved), named);
        let refused = permission_denied_for("no", &named);
        assert_eq!(refused.code(), Code::PermissionDenied);
        assert_eq!(violations(&refused), named);
    }

    #[test]
    fn a_relation_cycle_carries_its_keys_through_a_status() {
        let keys = [
            "SWAT-1".to_owned(),
            "SWAT-2".to_owned(),
            "SWAT-1".to_owned(),
        ];
        let status = relation_cycle(&keys);
        assert_eq!(status.code(), Code::FailedPrecondition);
        assert_eq!(relation_cycle_keys(&status), Some(keys.to_vec()));
        assert!(status.message().contains("SWAT-1 → SWAT-2 → SWAT-1"));
        assert_eq!(relation_cycle_keys(&etag_mismatch()), None);
    }

    #[test]
    fn an_etag_mismatch_is_told_apart_from_other_failed_preconditions() {
        assert!(is_etag_mismatch(&etag_mismatch()));
        assert!(!is_etag_mismatch(&Status::failed_precondition(
            "last owner"
        )));
    }
}
