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
    /// A malformed-value error for `name`.
    pub fn malformed(name: &str, value: &str, reason: impl Display) -> Self {
        ConfigError::Malformed {
            name: name.to_owned(),
            value: value.to_owned(),
            reason: reason.to_string(),
        }
    }
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
