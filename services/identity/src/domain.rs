//! Identity's rules, without I/O: what a valid username, email, password and full name are.
//! Parse, don't validate: once a value has one of these types it is known to be valid.

use std::fmt;

use swatter_common::{
    auth::Scope,
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

/// Most projects one personal access token may be limited to.
pub const MAX_TOKEN_PROJECTS: usize = 100;
/// Days a personal access token lives unless asked otherwise.
pub const DEFAULT_TOKEN_DAYS: i32 = 90;
/// Most days a personal access token may live.
pub const MAX_TOKEN_DAYS: i32 = 365;

/// A valid request for a personal access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// 1–100 characters, trimmed, one line.
    pub name: String,
    /// Sorted, without repeats, at least one.
    pub scopes: Vec<Scope>,
    /// Project keys, sorted, without repeats; `None`: no limit.
    pub projects: Option<Vec<String>>,
    /// `None`: never expires.
    pub lifetime_days: Option<i32>,
}

/// What a request for a personal access token asks for, as sent.
pub struct RawTokenRequest<'a> {
    pub name: &'a str,
    pub scopes: &'a [String],
    pub projects: Option<&'a [String]>,
    pub expires_in_days: Option<i32>,
    pub never_expires: bool,
}

/// Whether a project key has the form of one (issues decides whether it names a project).
fn project_key_form(raw: &str) -> bool {
    (2..=10).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_uppercase())
        && raw
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

impl TokenRequest {
    /// Checks every field, naming each invalid one: `admin` only for an admin (`caller_is_admin`),
    /// no expiry only where `allow_no_expiry`.
    pub fn parse(
        raw: &RawTokenRequest<'_>,
        caller_is_admin: bool,
        allow_no_expiry: bool,
    ) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        let name = match input::trimmed_text("name", raw.name, 100, Lines::One) {
            Ok("") => {
                violations.push(Violation::new("name", "must not be empty"));
                String::new()
            }
            Ok(name) => name.to_owned(),
            Err(violation) => {
                violations.push(violation);
                String::new()
            }
        };
        if raw.scopes.is_empty() {
            violations.push(Violation::new(
                "scopes",
                "must name at least one of read, write, admin",
            ));
        }
        let mut scopes = Vec::new();
        for (i, scope) in raw.scopes.iter().enumerate() {
            let field = format!("scopes[{i}]");
            match Scope::parse(&field, scope) {
                Ok(Scope::Admin) if !caller_is_admin => violations.push(Violation::new(
                    field,
                    "only admins may grant the admin scope",
                )),
                Ok(scope) => scopes.push(scope),
                Err(violation) => violations.push(violation),
            }
        }
        scopes.sort();
        scopes.dedup();
        if scopes == [Scope::Admin] {
            violations.push(Violation::new(
                "scopes",
                "admin adds an admin's rights to reading or writing: name read or write too",
            ));
        }
        let projects = raw.projects.map(|keys| {
            if keys.is_empty() {
                violations.push(Violation::new(
                    "projects",
                    "must name at least one project (leave it out for every project)",
                ));
            }
            if keys.len() > MAX_TOKEN_PROJECTS {
                violations.push(Violation::new(
                    "projects",
                    format!("at most {MAX_TOKEN_PROJECTS} projects"),
                ));
            }
            for (i, key) in keys.iter().enumerate() {
                if !project_key_form(key) {
                    violations.push(Violation::new(
                        format!("projects[{i}]"),
                        "is not a project key",
                    ));
                }
            }
            let mut keys = keys.to_vec();
            keys.sort();
            keys.dedup();
            keys
        });
        let lifetime_days = match (raw.never_expires, raw.expires_in_days) {
            (true, Some(_)) => {
                violations.push(Violation::new(
                    "expires_in_days",
                    "must be left out when the token never expires",
                ));
                None
            }
            (true, None) if !allow_no_expiry => {
                violations.push(Violation::new(
                    "never_expires",
                    "this server does not allow tokens that never expire",
                ));
                None
            }
            (true, None) => None,
            (false, days) => {
                let days = days.unwrap_or(DEFAULT_TOKEN_DAYS);
                if !(1..=MAX_TOKEN_DAYS).contains(&days) {
                    violations.push(Violation::new(
                        "expires_in_days",
                        format!("must be 1 to {MAX_TOKEN_DAYS} days"),
                    ));
                }
                Some(days)
            }
        };
        if !violations.is_empty() {
            return Err(violations);
        }
        Ok(TokenRequest {
            name,
            scopes,
            projects,
            lifetime_days,
        })
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

    fn token_request(scopes: &[&str], days: Option<i32>, never: bool) -> RawTokenRequest<'static> {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        RawTokenRequest {
            name: "ci",
            scopes: Vec::leak(scopes),
            projects: None,
            expires_in_days: days,
            never_expires: never,
        }
    }

    fn fields(result: Result<TokenRequest, Vec<Violation>>) -> Vec<String> {
        result.unwrap_err().into_iter().map(|v| v.field).collect()
    }

    #[test]
    fn token_requests_name_each_invalid_field() {
        let ok = TokenRequest::parse(
            &token_request(&["write", "read", "read"], None, false),
            false,
            false,
        )
        .unwrap();
        assert_eq!(ok.scopes, vec![Scope::Read, Scope::Write]);
        assert_eq!(ok.lifetime_days, Some(DEFAULT_TOKEN_DAYS));

        let cases: [(RawTokenRequest<'static>, bool, bool, &[&str]); 7] = [
            (token_request(&[], None, false), false, false, &["scopes"]),
            (
                token_request(&["read", "delete"], None, false),
                false,
                false,
                &["scopes[1]"],
            ),
            (
                token_request(&["admin"], None, false),
                false,
                false,
                &["scopes[0]"],
            ),
            (
                token_request(&["read"], Some(366), false),
                false,
                false,
                &["expires_in_days"],
            ),
            (
                token_request(&["read"], Some(0), false),
                false,
                false,
                &["expires_in_days"],
            ),
            (
                token_request(&["read"], None, true),
                false,
                false,
                &["never_expires"],
            ),
            (
                token_request(&["read"], Some(5), true),
                false,
                true,
                &["expires_in_days"],
            ),
        ];
        for (raw, admin, allow, expected) in cases {
            assert_eq!(fields(TokenRequest::parse(&raw, admin, allow)), expected);
        }
        assert!(
            TokenRequest::parse(&token_request(&["read", "admin"], None, false), true, false)
                .is_ok()
        );
        assert_eq!(
            fields(TokenRequest::parse(
                &token_request(&["admin"], None, false),
                true,
                false
            )),
            ["scopes"]
        );
        let forever =
            TokenRequest::parse(&token_request(&["read"], None, true), false, true).unwrap();
        assert_eq!(forever.lifetime_days, None);

        let keys = ["ABC".to_owned(), "abc".to_owned()];
        let mut limited = token_request(&["read"], None, false);
        limited.projects = Some(&keys);
        assert_eq!(
            fields(TokenRequest::parse(&limited, false, false)),
            ["projects[1]"]
        );
        let none: [String; 0] = [];
        limited.projects = Some(&none);
        assert_eq!(
            fields(TokenRequest::parse(&limited, false, false)),
            ["projects"]
        );
        let mut unnamed = token_request(&["read"], None, false);
        unnamed.name = "  ";
        assert_eq!(
            fields(TokenRequest::parse(&unnamed, false, false)),
            ["name"]
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
