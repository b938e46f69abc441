//! Identity's rules, without I/O: what a valid username, email, password and full name are.
//! Parse, don't validate: once a value has one of these types it is known to be valid.

use std::fmt;

use swatter_common::{
    input::{self, Lines},
    status::Violation,
};

/// A username: 3–32 characters of `[a-z0-9_.-]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let len = raw.chars().count();
        if !(3..=32).contains(&len) {
            return Err(Violation::new(
                "username",
                "must be 3 to 32 characters long",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
        {
            return Err(Violation::new(
                "username",
                "may contain only a-z, 0-9, '_', '.' and '-'",
            ));
        }
        Ok(Username(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address with a plausible syntax (`local@domain.tld`), at most 254 characters,
/// kept as given; uniqueness is case-insensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let invalid = || Violation::new("email", "is not a valid email address");
        let raw = raw.trim();
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        if local_ok && domain_ok {
            Ok(Email(raw.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8–128 characters. Never logged or printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Violation> {
        let len = raw.chars().count();
        if !(8..=128).contains(&len) {
            return Err(Violation::new(field, "must be 8 to 128 characters long"));
        }
        input::check_text(field, raw, 128, Lines::One)?;
        Ok(Password(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A display name: at most 100 characters as sent, no control characters, trimmed. May be empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FullName(String);

impl FullName {
    pub fn parse(raw: &str) -> Result<Self, Violation> {
        let trimmed = input::trimmed_text("full_name", raw, 100, Lines::One)?;
        Ok(FullName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_spec() {
        for ok in ["abc", "a.b-c_d", "user123", &"x".repeat(32)] {
            assert!(Username::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "ab",
            &"x".repeat(33),
            "Alice",
            "al ice",
            "al@ce",
            "ålice",
            "",
            "a/b",
        ] {
            assert!(Username::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        for ok in [
            "a@b.io",
            "first.last+tag@example.co.uk",
            "x@sub-domain.example.org",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok} should be accepted");
        }
        for bad in [
            "",
            "plain",
            "@example.com",
            "a@",
            "a@localhost",
            "a b@example.com",
            "a@exa mple.com",
            "a@@example.com",
            "a@-x.com",
            ".a@example.com",
            "a..b@example.com",
            "a@example..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }

    #[test]
    fn passwords_are_8_to_128_characters_and_never_printed() {
        assert!(Password::parse("password", "1234567").is_err());
        assert!(Password::parse("password", "12345678").is_ok());
        assert!(Password::parse("password", &"p".repeat(128)).is_ok());
        assert!(Password::parse("password", &"p".repeat(129)).is_err());
        assert!(Password::parse("password", "nul\u{0}in-the-middle").is_err());
        assert!(Password::parse("password", "tab\tin-the-middle").is_err());
        let err = Password::parse("new_password", "short").unwrap_err();
        assert_eq!(err.field, "new_password");
        assert_eq!(
            format!("{:?}", Password::parse("p", "hunter2hunter2").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn full_names_are_trimmed_and_bounded() {
        assert_eq!(
            FullName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(FullName::parse(&"n".repeat(101)).is_err());
        assert!(FullName::parse(&format!("{}  ", "n".repeat(99))).is_err());
        assert!(FullName::parse("bad\u{0007}name").is_err());
        assert!(FullName::parse("nul\u{0}name").is_err());
    }
}
