//! Keyset pagination: page sizes of docs/api.md and opaque page tokens.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Serialize, de::DeserializeOwned};

use crate::status::Violation;

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;

/// `page_size` from a request: 0 means the default; 1–100 are accepted.
pub fn page_size(requested: i32) -> Result<i64, Violation> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n @ 1..=MAX_PAGE_SIZE => Ok(n),
        _ => Err(Violation::new("page_size", "must be between 1 and 100")),
    }
}

/// Encodes a cursor as an opaque token.
pub fn encode_token<T: Serialize>(cursor: &T) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(cursor).expect("cursors serialize"))
}

/// Decodes a token made by [`encode_token`]; empty means the first page.
pub fn decode_token<T: DeserializeOwned>(token: &str) -> Result<Option<T>, Violation> {
    if token.is_empty() {
        return Ok(None);
    }
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .map(Some)
        .ok_or_else(|| Violation::new("page_token", "is not a token this list gave out"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_sizes_outside_one_to_a_hundred_are_refused() {
        assert_eq!(page_size(0).unwrap(), 20);
        assert_eq!(page_size(1).unwrap(), 1);
        assert_eq!(page_size(100).unwrap(), 100);
        assert!(page_size(101).is_err());
        assert!(page_size(-1).is_err());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = encode_token(&("alice", 3));
        assert_eq!(
            decode_token::<(String, i32)>(&token).unwrap(),
            Some(("alice".into(), 3))
        );
        assert_eq!(decode_token::<(String, i32)>("").unwrap(), None);
        assert!(decode_token::<(String, i32)>("not-a-token!").is_err());
    }
}
