//! Calls to other services: the request made on a caller's behalf (their credentials, the
//! request id and the trace travel with it), and what a failed call means here.

use tonic::{Code, Request, Status};
use tracing::Span;

use super::{Error, Service};
use crate::{
    propagation::{self, HeaderInjector},
    server::REQUEST_ID_HEADER,
};

/// Metadata a call on a caller's behalf carries on from the request it serves.
const FORWARDED: [&str; 2] = ["authorization", REQUEST_ID_HEADER];

/// `message` as a call on behalf of the caller of `incoming`: with their credentials, the
/// request id and the current trace context (a [`TracedChannel`](crate::client::TracedChannel)
/// replaces the latter with its own client span's).
pub fn on_behalf_of<T, U>(incoming: &Request<T>, message: U) -> Request<U> {
    let mut request = traced(message);
    for name in FORWARDED {
        if let Some(value) = incoming.metadata().get(name) {
            request.metadata_mut().insert(name, value.clone());
        }
    }
    request
}

/// `message` as a call with the access token `token`, in the current trace.
pub fn with_token<U>(message: U, token: &str) -> Request<U> {
    let mut request = traced(message);
    if let Ok(value) = format!("Bearer {token}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

fn traced<U>(message: U) -> Request<U> {
    let mut request = Request::new(message);
    propagation::inject(
        &Span::current(),
        &mut HeaderInjector(request.metadata_mut().as_mut()),
    );
    request
}

/// What a failed call to another service says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// What was asked for does not exist, or not for this caller.
    Missing,
    /// The service is out of reach: try again later.
    Unavailable,
    /// The call broke off or overloaded the service: a later try may succeed.
    Transient,
    /// The service refused the request itself: trying again will not help.
    Refused,
}

/// Classifies a failed call to another service.
pub fn classify(status: &Status) -> Failure {
    match status.code() {
        Code::NotFound | Code::PermissionDenied => Failure::Missing,
        Code::Unavailable => Failure::Unavailable,
        Code::DeadlineExceeded
        | Code::ResourceExhausted
        | Code::Aborted
        | Code::Unknown
        | Code::Internal
        | Code::Cancelled => Failure::Transient,
        _ => Failure::Refused,
    }
}

impl<S: Service> Error<S> {
    /// This service's answer when its call to `callee` for `what` failed with `status`: what is
    /// missing there is not found here, an outage there is one here, anything else is passed
    /// through.
    pub fn downstream(callee: &str, what: &'static str, status: Status) -> Self {
        match classify(&status) {
            Failure::Missing => Error::NotFound(what),
            Failure::Unavailable => Error::Unavailable(anyhow::anyhow!("{callee}: {status}")),
            Failure::Transient | Failure::Refused => Error::Status(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    #[test]
    fn a_call_on_behalf_of_a_caller_carries_their_credentials_and_request_id() {
        let mut incoming = Request::new(());
        let metadata = incoming.metadata_mut();
        metadata.insert("authorization", MetadataValue::from_static("Bearer abc"));
        metadata.insert(REQUEST_ID_HEADER, MetadataValue::from_static("req-1"));
        metadata.insert("cookie", MetadataValue::from_static("secret"));

        let outgoing = on_behalf_of(&incoming, ());

        let metadata = outgoing.metadata();
        assert_eq!(metadata.get("authorization").unwrap(), "Bearer abc");
        assert_eq!(metadata.get(REQUEST_ID_HEADER).unwrap(), "req-1");
        assert!(metadata.get("cookie").is_none());
        let with_token = with_token((), "xyz");
        assert_eq!(
            with_token.metadata().get("authorization").unwrap(),
            "Bearer xyz"
        );
    }

    #[test]
    fn failed_calls_are_missing_out_of_reach_transient_or_refused() {
        for (code, failure) in [
            (Code::NotFound, Failure::Missing),
            (Code::PermissionDenied, Failure::Missing),
            (Code::Unavailable, Failure::Unavailable),
            (Code::DeadlineExceeded, Failure::Transient),
            (Code::ResourceExhausted, Failure::Transient),
            (Code::Internal, Failure::Transient),
            (Code::InvalidArgument, Failure::Refused),
            (Code::FailedPrecondition, Failure::Refused),
            (Code::Unauthenticated, Failure::Refused),
        ] {
            assert_eq!(classify(&Status::new(code, "x")), failure, "{code:?}");
        }
    }
}
