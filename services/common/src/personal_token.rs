//! Personal access tokens (PATs): their recognisable form, their scopes, and the limits a token
//! puts on what its holder may do.
//!
//! A token is `swt_pat_`, 32 random base62 characters, and 6 base62 characters of the CRC32 of
//! the random part: secret scanners find leaked tokens by the prefix and tell them from look-alikes
//! by the checksum, and every service refuses a mistyped token without asking identity. Only the
//! SHA-256 of a token is stored (it has 190 random bits: nothing to guess, so no slow hash).

use std::sync::Arc;

use rand::Rng;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::status::Violation;

/// What every personal access token starts with.
pub const PREFIX: &str = "swt_pat_";
/// Random base62 characters after the prefix.
const RANDOM_LEN: usize = 32;
/// Base62 characters of the checksum at the end.
const CHECKSUM_LEN: usize = 6;
/// Length of a whole token.
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Whether a bearer value is meant as a personal access token (rather than a JWT): it then goes to
/// identity, never to signature verification.
pub fn looks_personal(token: &str) -> bool {
    token.starts_with("swt_")
}

/// A new token.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let random: String = (0..RANDOM_LEN)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect();
    format!("{PREFIX}{random}{}", checksum(&random))
}

/// Whether `token` has the form of a token and its checksum matches (a typo or a truncated copy
/// does not).
pub fn well_formed(token: &str) -> bool {
    let Some(rest) = token.strip_prefix(PREFIX) else {
        return false;
    };
    if rest.len() != RANDOM_LEN + CHECKSUM_LEN || !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (random, sum) = rest.split_at(RANDOM_LEN);
    checksum(random) == sum
}

/// The SHA-256 of a token, as stored and looked up.
pub fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The first characters of a token, safe to show in lists and logs to tell tokens apart.
pub fn display_prefix(token: &str) -> String {
    token.chars().take(PREFIX.len() + 4).collect()
}

/// The CRC32 of `random` as 6 base62 digits (zero-padded, most significant first).
fn checksum(random: &str) -> String {
    let mut value = crc32(random.as_bytes());
    let mut digits = [b'0'; CHECKSUM_LEN];
    for digit in digits.iter_mut().rev() {
        *digit = BASE62[(value % 62) as usize];
        value /= 62;
    }
    String::from_utf8_lossy(&digits).into_owned()
}

/// CRC-32/ISO-HDLC (the zip and PNG one), bit by bit: a token is 32 bytes.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// Reads: every method a service lists as reading.
    Read,
    /// Changes too (implies `read`).
    Write,
    /// The admin rights of an admin (only admins may grant it; it ends when they stop being one).
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 3] = [Scope::Read, Scope::Write, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }

    /// A scope by name; `field` names the input in the violation.
    pub fn parse(field: &str, raw: &str) -> Result<Scope, Violation> {
        Scope::ALL
            .into_iter()
            .find(|scope| scope.as_str() == raw)
            .ok_or_else(|| {
                Violation::new(
                    field,
                    format!("unknown scope {raw:?}; the scopes are read, write and admin"),
                )
            })
    }
}

/// The limits of a personal access token on its holder. A password login has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenLimits {
    /// The token's id (as listed to its owner).
    pub token_id: Uuid,
    /// Sorted, without repeats.
    pub scopes: Vec<Scope>,
    /// The only projects the token may see (their keys); `None`: every project its user may see.
    pub projects: Option<Arc<[String]>>,
    /// When the token expires (Unix seconds); `None`: never.
    pub expires_at: Option<i64>,
}

impl TokenLimits {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&scope)
    }

    /// Whether the token may read (`read` or `write`).
    pub fn may_read(&self) -> bool {
        self.has(Scope::Read) || self.has(Scope::Write)
    }

    /// Whether the token may change things (`write`).
    pub fn may_write(&self) -> bool {
        self.has(Scope::Write)
    }

    /// Whether the token may see the project `key` at all.
    pub fn may_access_project(&self, key: &str) -> bool {
        self.projects
            .as_ref()
            .is_none_or(|keys| keys.iter().any(|k| k == key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_is_the_standard_one() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn generated_tokens_have_the_prefix_the_length_and_a_matching_checksum() {
        let token = generate();
        assert!(token.starts_with("swt_pat_"), "{token}");
        assert_eq!(token.len(), TOKEN_LEN);
        assert!(well_formed(&token));
        assert!(looks_personal(&token));
        assert_ne!(generate(), token);
    }

    #[test]
    fn a_changed_or_truncated_token_is_not_well_formed() {
        let token = generate();
        let mut typo = token.clone().into_bytes();
        typo[12] = if typo[12] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();

        assert!(!well_formed(&typo));
        assert!(!well_formed(&token[..token.len() - 1]));
        assert!(!well_formed(&format!("{token}x")));
        assert!(!well_formed(&token.replace("swt_pat_", "swt_xyz_")));
        assert!(!well_formed("swt_pat_"));
    }

    #[test]
    fn scopes_parse_by_name_and_unknown_ones_name_the_field() {
        assert_eq!(Scope::parse("scopes", "read"), Ok(Scope::Read));
        assert_eq!(Scope::parse("scopes", "admin"), Ok(Scope::Admin));
        let unknown = Scope::parse("scopes[1]", "delete").unwrap_err();
        assert_eq!(unknown.field, "scopes[1]");
    }

    #[test]
    fn limits_say_what_a_token_may_do() {
        let limits = |scopes: Vec<Scope>, projects: Option<Vec<&str>>| TokenLimits {
            token_id: Uuid::nil(),
            scopes,
            projects: projects.map(|p| p.into_iter().map(str::to_owned).collect()),
            expires_at: None,
        };
        let read_one = limits(vec![Scope::Read], Some(vec!["ABC"]));
        let write_all = limits(vec![Scope::Write], None);

        assert!(read_one.may_read() && !read_one.may_write());
        assert!(read_one.may_access_project("ABC") && !read_one.may_access_project("XYZ"));
        assert!(write_all.may_read() && write_all.may_write());
        assert!(write_all.may_access_project("XYZ"));
        assert!(!limits(vec![Scope::Admin], None).may_read());
    }
}
