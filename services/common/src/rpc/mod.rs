//! One way to write an RPC handler, shared by every service: each service's `rpc/mod.rs` holds
//! its state and a trait impl whose methods only forward, `respond(group::handler(&state,
//! request).await)`, to one function per RPC in a file per group. Those functions parse their
//! request with [`Violations`] and [`pagination`](crate::pagination), answer with [`Error`],
//! convert times with [`timestamp`], call other services through [`downstream`], make create
//! operations replayable with [`idempotency`] and read which fields an update changes with
//! [`update_mask`].

pub mod downstream;
mod error;
#[cfg(feature = "db")]
pub mod idempotency;
pub mod update_mask;

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};

use crate::{
    auth::{self, UserPrincipal},
    status::Violation,
};

pub use error::{Error, Service};
pub use update_mask::UpdateMask;

/// What a generated service trait method returns.
pub type RpcResult<T> = Result<Response<T>, Status>;

/// The answer of one handler as the trait method returns it.
pub fn respond<T, E: Into<Status>>(result: Result<T, E>) -> RpcResult<T> {
    result.map(Response::new).map_err(Into::into)
}

/// The calling user (services act through delegated user tokens).
pub fn caller<T>(request: &Request<T>) -> Result<UserPrincipal, Status> {
    Ok(auth::user(request)?.clone())
}

/// Collects every violation of a request instead of stopping at the first, so a form shows all
/// its errors at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<Violation>);

impl Violations {
    /// Keeps the value, or records its violation.
    pub fn check<T>(&mut self, result: Result<T, Violation>) -> Option<T> {
        result.map_err(|violation| self.0.push(violation)).ok()
    }

    /// Records a violation.
    pub fn push(&mut self, violation: Violation) {
        self.0.push(violation);
    }

    /// `INVALID_ARGUMENT` with every violation recorded, if any.
    pub fn finish<S: Service>(self) -> Result<(), Error<S>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// An instant as protobuf carries it.
pub fn timestamp(at: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: at.timestamp(),
        nanos: at.timestamp_subsec_nanos() as i32,
    }
}

/// A protobuf instant, if chrono can hold it (`None` for negative or excess nanoseconds).
pub fn datetime(at: &prost_types::Timestamp) -> Option<DateTime<Utc>> {
    let nanos = u32::try_from(at.nanos).ok()?;
    DateTime::from_timestamp(at.seconds, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Nothing {}

    impl Service for Nothing {
        const NAME: &'static str = "test";

        fn status(self) -> Status {
            match self {}
        }
    }

    #[test]
    fn violations_are_all_reported_together() {
        let mut violations = Violations::default();
        assert_eq!(violations.check::<u8>(Ok(1)), Some(1));
        assert!(Violations::default().finish::<Nothing>().is_ok());
        violations.check::<u8>(Err(Violation::new("a", "is wrong")));
        violations.push(Violation::new("b", "is wrong too"));
        let status = Status::from(violations.finish::<Nothing>().unwrap_err());
        let fields: Vec<String> = crate::status::violations(&status)
            .into_iter()
            .map(|v| v.field)
            .collect();
        assert_eq!(fields, ["a", "b"]);
    }

    #[test]
    fn instants_survive_the_round_trip_through_protobuf() {
        let at = DateTime::from_timestamp(1_700_000_000, 123_456_789).unwrap();
        assert_eq!(datetime(&timestamp(at)), Some(at));
        let negative = prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        };
        assert_eq!(datetime(&negative), None);
    }
}
