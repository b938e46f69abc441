//! Reading settings from environment variables. A missing or malformed value is an error that
//! names the variable, so a misconfigured program stops at start with a message that says why.

use std::{fmt::Display, str::FromStr, time::Duration};

/// Why a setting could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration: {name} is required but not set")]
    Missing { name: String },
    #[error("configuration: {name}={value:?} is malformed: {reason}")]
    Malformed {
        name: String,
        value: String,
        reason: String,
    },
}

impl ConfigError {
    /// A malformed-value error for `name`. The value it echoes never carries a credential: the
    /// value of a secret setting (see [`is_secret_setting`]) is replaced by `<redacted>`, and the
    /// password of a URL's userinfo by `***`, since start-up errors end up in logs.
    pub fn malformed(name: &str, value: &str, reason: impl Display) -> Self {
        let value = if is_secret_setting(name) {
            REDACTED.to_owned()
        } else {
            redact_url_password(value)
        };
        ConfigError::Malformed {
            name: name.to_owned(),
            value,
            reason: reason.to_string(),
        }
    }
}

/// What a configuration error shows instead of a secret value.
pub const REDACTED: &str = "<redacted>";

/// Whether the value of setting `name` is a credential that errors must not echo: its name has a
/// word SECRET, PASSWORD, KEY, TOKEN or CLIENTS (`SWATTER_SERVICE_CLIENTS` holds secrets), unless
/// it names a file (`…_FILE`: the path is not the secret).
pub fn is_secret_setting(name: &str) -> bool {
    let name = name.to_ascii_uppercase();
    !name.ends_with("_FILE")
        && ["SECRET", "PASSWORD", "KEY", "TOKEN", "CLIENTS"]
            .iter()
            .any(|word| name.contains(word))
}

/// `value` with the password of a URL's userinfo (`scheme://user:password@host`) replaced by
/// `***`; anything else unchanged.
pub fn redact_url_password(value: &str) -> String {
    let Some(scheme_end) = value.find("://") else {
        return value.to_owned();
    };
    let authority_start = scheme_end + 3;
    let authority_end = value[authority_start..]
        .find(['/', '?', '#'])
        .map_or(value.len(), |i| authority_start + i);
    let authority = &value[authority_start..authority_end];
    // The userinfo ends at the last '@' of the authority (a password may contain '@').
    let Some(at) = authority.rfind('@') else {
        return value.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return value.to_owned();
    };
    format!(
        "{}***{}",
        &value[..authority_start + colon + 1],
        &value[authority_start + at..]
    )
}

/// Source of raw values; the process environment in production, a map in tests.
pub trait Source {
    fn get(&self, name: &str) -> Option<String>;
}

/// The process environment. Empty values count as unset.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Source for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Source for std::collections::HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// Typed access to a [`Source`].
pub struct Env<S: Source = ProcessEnv>(pub S);

impl Env<ProcessEnv> {
    /// Settings from the process environment.
    pub fn process() -> Self {
        Env(ProcessEnv)
    }
}

impl<S: Source> Env<S> {
    /// The raw value, if set.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.0.get(name)
    }

    /// A value parsed with `FromStr`, if set.
    pub fn optional<T>(&self, name: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        match self.0.get(name) {
            None => Ok(None),
            Some(raw) => raw
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| ConfigError::malformed(name, &raw, e)),
        }
    }

    /// A value parsed with `FromStr`, or `default` when unset.
    pub fn or<T>(&self, name: &str, default: T) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        Ok(self.optional(name)?.unwrap_or(default))
    }

    /// A value that must be set.
    pub fn required<T>(&self, name: &str) -> Result<T, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.optional(name)?.ok_or_else(|| ConfigError::Missing {
            name: name.to_owned(),
        })
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ConfigError> {
        match self.0.get(name) {
            None => Ok(default),
            Some(raw) => match raw.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(ConfigError::malformed(name, &raw, "expected true or false")),
            },
        }
    }

    /// A duration given in whole seconds.
    pub fn seconds(&self, name: &str, default: Duration) -> Result<Duration, ConfigError> {
        Ok(self
            .optional::<u64>(name)?
            .map(Duration::from_secs)
            .unwrap_or(default))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Env<HashMap<String, String>> {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }

    #[test]
    fn a_malformed_value_names_the_variable() {
        let err = env(&[("PORT", "eighty")])
            .or::<u16>("PORT", 80)
            .unwrap_err();
        assert!(
            err.to_string().contains("PORT=\"eighty\" is malformed"),
            "{err}"
        );
    }

    #[test]
    fn malformed_values_never_echo_a_url_password() {
        let err = env(&[("SWATTER_AMQP_URL", "amqp://swatter:hunter2@rabbit:5672/%2f")])
            .or::<std::net::SocketAddr>("SWATTER_AMQP_URL", ([127, 0, 0, 1], 1).into())
            .unwrap_err();
        let shown = err.to_string();
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(
            shown.contains(r#"SWATTER_AMQP_URL="amqp://swatter:***@rabbit:5672/%2f""#),
            "{shown}"
        );
        for (raw, redacted) in [
            (
                "postgres://u:p@ss:w@db:5432/x",
                "postgres://u:***@db:5432/x",
            ),
            (
                "postgres://u:pw@db?sslmode=require",
                "postgres://u:***@db?sslmode=require",
            ),
            ("amqp://user-only@rabbit/%2f", "amqp://user-only@rabbit/%2f"),
            ("http://host:9000/path@x", "http://host:9000/path@x"),
            ("not a url: user:pw@host", "not a url: user:pw@host"),
        ] {
            assert_eq!(redact_url_password(raw), redacted, "{raw}");
        }
    }

    #[test]
    fn malformed_values_of_secret_settings_are_not_echoed() {
        for name in [
            "SWATTER_S3_SECRET_KEY",
            "SWATTER_S3_ACCESS_KEY",
            "SWATTER_ADMIN_PASSWORD",
            "SWATTER_JWT_PRIVATE_KEY",
            "SWATTER_SERVICE_CLIENTS",
            "SOME_TOKEN",
        ] {
            let err = env(&[(name, "s3cr3t-value")])
                .or::<u16>(name, 1)
                .unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains(&format!("{name}=\"<redacted>\"")), "{shown}");
        }
        // A file setting names a path, which is worth showing.
        let err = ConfigError::malformed("SWATTER_JWT_PRIVATE_KEY_FILE", "/etc/key.pem", "gone");
        assert!(err.to_string().contains("/etc/key.pem"), "{err}");
    }

    #[test]
    fn a_missing_required_value_names_the_variable() {
        let err = env(&[]).required::<String>("SECRET").unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: SECRET is required but not set"
        );
    }

    #[test]
    fn unset_and_empty_values_fall_back_to_the_default() {
        let e = env(&[("EMPTY", "  ")]);
        assert_eq!(e.or("EMPTY", 7u32).unwrap(), 7);
        assert_eq!(e.or("UNSET", 8u32).unwrap(), 8);
    }

    #[test]
    fn flags_accept_the_usual_spellings_and_refuse_others() {
        let e = env(&[("A", "yes"), ("B", "0"), ("C", "maybe")]);
        assert!(e.flag("A", false).unwrap());
        assert!(!e.flag("B", true).unwrap());
        assert!(e.flag("C", true).is_err());
    }
}
