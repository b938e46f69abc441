//! Keyset pagination: page sizes of docs/api.md and opaque, tamper-proof page tokens.
//!
//! A token is `base64url(json ‖ HMAC-SHA256(key, json))`: a client cannot forge or alter one,
//! so a cursor that decodes is one this service made. Its fields are still checked after
//! decoding ([`CursorTime`] keeps timestamps within what PostgreSQL stores), so that a leaked key
//! or an old token gives 422, never a database error.
//!
//! The key is process-wide, installed once at start by [`init`] from `SWATTER_PAGE_TOKEN_SECRET`.
//! Unset, each process draws a random key: tokens then only work against the process that made
//! them, so replicas behind one address must share the secret.

use std::sync::OnceLock;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{input, status::Violation};

/// Page size when the client asks for none.
pub const DEFAULT_PAGE_SIZE: i64 = 20;
/// Largest page a client may ask for.
pub const MAX_PAGE_SIZE: i64 = 100;
/// Longest page token accepted; the tokens this code makes are far shorter.
pub const MAX_TOKEN_LEN: usize = 512;

/// Length of the MAC at the end of a token.
const TAG_LEN: usize = 32;

type PageMac = Hmac<Sha256>;

static KEY: OnceLock<[u8; 32]> = OnceLock::new();

/// Signs this process's page tokens with `secret` (`SWATTER_PAGE_TOKEN_SECRET`, checked by
/// [`crate::config::secret`]); without one, a random key is drawn on first use. Call once, at start.
pub fn init(secret: Option<&str>) {
    let Some(secret) = secret else {
        return;
    };
    let key: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
    if KEY.set(key).is_err() && KEY.get() != Some(&key) {
        tracing::warn!("page tokens already have another key in this process; keeping it");
    }
}

fn key() -> &'static [u8; 32] {
    KEY.get_or_init(rand::random)
}

fn mac() -> PageMac {
    PageMac::new_from_slice(key()).expect("HMAC takes keys of any length")
}

/// `page_size` from a request: 0 means the default; 1–100 are accepted.
pub fn page_size(requested: i32) -> Result<i64, Violation> {
    match i64::from(requested) {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n @ 1..=MAX_PAGE_SIZE => Ok(n),
        _ => Err(Violation::new("page_size", "must be between 1 and 100")),
    }
}

/// Encodes a cursor as an opaque, signed token.
pub fn encode_token<T: Serialize>(cursor: &T) -> String {
    let mut bytes = serde_json::to_vec(cursor).expect("cursors serialize");
    let mut mac = mac();
    mac.update(&bytes);
    bytes.extend_from_slice(&mac.finalize().into_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes a token made by [`encode_token`]; empty means the first page. A token that was not
/// made here (with this key), was altered, or whose cursor does not decode into `T` is refused
/// naming `page_token`.
pub fn decode_token<T: DeserializeOwned>(token: &str) -> Result<Option<T>, Violation> {
    if token.is_empty() {
        return Ok(None);
    }
    if token.len() > MAX_TOKEN_LEN {
        return Err(bad_token());
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad_token())?;
    let split = bytes.len().checked_sub(TAG_LEN).ok_or_else(bad_token)?;
    let (cursor, tag) = bytes.split_at(split);
    let mut mac = mac();
    mac.update(cursor);
    mac.verify_slice(tag).map_err(|_| bad_token())?;
    serde_json::from_slice(cursor)
        .map(Some)
        .map_err(|_| bad_token())
}

/// `page_size` and `page_token` of a list request: the rows to fetch, and where to start.
pub fn page<C: DeserializeOwned>(
    page_size: i32,
    page_token: &str,
) -> Result<(i64, Option<C>), Violation> {
    Ok((self::page_size(page_size)?, decode_token(page_token)?))
}

/// Cuts `rows`, fetched with one more than `limit`, to `limit` and returns the token of the next
/// page (empty on the last one), made from the cursor of the last row kept.
pub fn next_token<R, C: Serialize>(
    rows: &mut Vec<R>,
    limit: i64,
    cursor: impl Fn(&R) -> C,
) -> String {
    if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last()
            .map(|last| encode_token(&cursor(last)))
            .unwrap_or_default()
    } else {
        String::new()
    }
}

/// Where a page of a list in time order starts: after this instant and id.
pub type TimeKey = (DateTime<Utc>, Uuid);

/// [`page`] of a list in time order (its tokens hold a [`TimeKey`]).
pub fn time_page(page_size: i32, page_token: &str) -> Result<(i64, Option<TimeKey>), Violation> {
    let (limit, after) = page::<(CursorTime, Uuid)>(page_size, page_token)?;
    Ok((limit, after.map(|(at, id)| (at.get(), id))))
}

/// [`next_token`] of a list in time order: `key` gives each row's instant and id.
pub fn next_time_token<R>(rows: &mut Vec<R>, limit: i64, key: impl Fn(&R) -> TimeKey) -> String {
    next_token(rows, limit, |row| {
        let (at, id) = key(row);
        (CursorTime::from(at), id)
    })
}

/// The violation of a token that is not one this list gave out.
pub fn bad_token() -> Violation {
    Violation::new("page_token", "is not a token this list gave out")
}

/// A cursor's timestamp: microseconds since the epoch in the token, and once decoded an instant
/// known to lie within the years PostgreSQL and RFC 3339 both hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct CursorTime(DateTime<Utc>);

impl CursorTime {
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for CursorTime {
    fn from(at: DateTime<Utc>) -> Self {
        CursorTime(at)
    }
}

impl From<CursorTime> for i64 {
    fn from(at: CursorTime) -> i64 {
        at.0.timestamp_micros()
    }
}

impl TryFrom<i64> for CursorTime {
    type Error = String;

    fn try_from(micros: i64) -> Result<Self, String> {
        let at = DateTime::from_timestamp_micros(micros).ok_or("out of range")?;
        input::check_time("page_token", at)
            .map(CursorTime)
            .map_err(|v| v.message)
    }
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
        for garbage in ["not-a-token!", "AAAA", &"A".repeat(MAX_TOKEN_LEN + 1)] {
            let error = decode_token::<(String, i32)>(garbage).unwrap_err();
            assert_eq!(error.field, "page_token", "{garbage}");
        }
    }

    #[test]
    fn a_page_is_cut_to_its_size_and_names_the_last_row_kept() {
        let mut rows = vec![1, 2, 3];
        let token = next_token(&mut rows, 2, |row| *row);
        assert_eq!(rows, [1, 2]);
        assert_eq!(decode_token::<i32>(&token).unwrap(), Some(2));
        let mut last = vec![1, 2];
        assert_eq!(next_token(&mut last, 2, |row| *row), "");
        assert_eq!(last, [1, 2]);
    }

    #[test]
    fn an_altered_or_unsigned_token_is_refused() {
        let token = encode_token(&("alice", 3));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for at in [0, bytes.len() / 2, bytes.len() - 1] {
            bytes[at] ^= 0x01;
            let flipped = URL_SAFE_NO_PAD.encode(&bytes);
            bytes[at] ^= 0x01;
            assert!(
                decode_token::<(String, i32)>(&flipped).is_err(),
                "byte {at}"
            );
        }
        let unsigned = URL_SAFE_NO_PAD.encode(br#"["mallory",3]"#);
        assert!(decode_token::<(String, i32)>(&unsigned).is_err());
        let unsigned_but_long_enough =
            URL_SAFE_NO_PAD.encode(format!(r#"["mallory",3]{}"#, " ".repeat(TAG_LEN)));
        assert!(decode_token::<(String, i32)>(&unsigned_but_long_enough).is_err());
    }

    #[test]
    fn cursor_times_round_trip_and_out_of_range_ones_are_refused_even_when_signed() {
        let id = Uuid::now_v7();
        let now = CursorTime::from(DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap());
        let token = encode_token(&(now, id));
        assert_eq!(
            decode_token::<(CursorTime, Uuid)>(&token).unwrap(),
            Some((now, id))
        );
        let year_minus_100000 = encode_token(&(-3_217_862_419_200_000_000_i64, id));
        let past_i64 = encode_token(&(i64::MIN, id));
        for token in [year_minus_100000, past_i64] {
            let error = decode_token::<(CursorTime, Uuid)>(&token).unwrap_err();
            assert_eq!(error.field, "page_token");
        }
    }
}
