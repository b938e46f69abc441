//! Settings: declared once as clap arguments, read from environment variables (or the command
//! line). A missing or malformed value is an error that names the variable, so a misconfigured
//! program stops at start with a message that says why.
//!
//! A secret setting (declared with `hide_env_values = true`) can instead be read from a file:
//! `NAME_FILE` names it (a mounted Kubernetes Secret, a Docker secret), so the secret need not sit
//! in the process environment, where `/proc/PID/environ`, crash reports and `docker inspect` show
//! it. Setting both `NAME` and `NAME_FILE` is an error.

use std::{
    collections::{HashMap, HashSet},
    ffi::OsString,
    fmt::Display,
    num::ParseIntError,
    str::FromStr,
    time::Duration,
};

use clap::{
    Args, Command, FromArgMatches, Parser,
    error::{ContextKind, ContextValue, ErrorKind},
};

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

impl Source for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        self.get(name).cloned().filter(|v| !v.trim().is_empty())
    }
}

/// Raw values of a [`Source`].
pub struct Env<S: Source = ProcessEnv>(pub S);

impl Env<ProcessEnv> {
    /// Settings from the process environment.
    pub fn process() -> Self {
        Env(ProcessEnv)
    }
}

impl Env<HashMap<String, String>> {
    /// Settings from `(name, value)` pairs, as tests give them.
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Env(pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect())
    }
}

impl<S: Source> Env<S> {
    /// The raw value, if set.
    pub fn raw(&self, name: &str) -> Option<String> {
        self.0.get(name)
    }
}

// ------------------------------------------------------------------------------------------------
// Settings are clap arguments: each field of an `Args` struct names its variable (`env`), its
// default and its help (the doc comment) once. They are read from a `Source`, not by clap itself,
// so that empty values count as unset, values are trimmed, tests need no process environment, and
// errors name the variable without echoing a secret.
// ------------------------------------------------------------------------------------------------

/// Parses the command line `args` of `C`, each setting not given there read from `env`. A usage
/// error (unknown subcommand, `--help`) is printed and ends the process, as clap does.
pub fn parse<C: Parser>(
    env: &Env<impl Source>,
    args: impl IntoIterator<Item = OsString>,
) -> Result<C, ConfigError> {
    parse_command(C::command(), env, args)
}

/// The settings block `A`, read from `env` alone.
pub fn from_env<A: Args>(env: &Env<impl Source>) -> Result<A, ConfigError> {
    parse_command(
        A::augment_args(Command::new("settings")),
        env,
        [OsString::from("settings")],
    )
}

fn parse_command<T: FromArgMatches, S: Source>(
    command: Command,
    env: &Env<S>,
    args: impl IntoIterator<Item = OsString>,
) -> Result<T, ConfigError> {
    let mut names = HashMap::new();
    let declared = declared_variables(&command);
    let mut error = None;
    let mut command = with_values_from(command, env, &declared, &mut names, &mut error);
    if let Some(error) = error {
        return Err(error);
    }
    command.build();
    let mut variables = HashMap::new();
    variables_of(&command, &names, &mut variables);
    command
        .try_get_matches_from(args)
        .and_then(|matches| T::from_arg_matches(&matches))
        .map_err(|error| config_error(error, &variables).unwrap_or_else(|error| error.exit()))
}

/// `command` with each setting's value from `env` (as its default: the command line wins), and
/// `names` mapping each setting's argument id to its variable. A secret's value may come from
/// the file its `NAME_FILE` names; `error` gets the first one that cannot be read.
fn with_values_from<S: Source>(
    command: Command,
    env: &Env<S>,
    declared: &HashSet<String>,
    names: &mut HashMap<String, String>,
    error: &mut Option<ConfigError>,
) -> Command {
    let mut command = command.mut_args(|arg| {
        let Some(name) = arg
            .get_env()
            .and_then(|name| name.to_str())
            .map(str::to_owned)
        else {
            return arg;
        };
        names.insert(arg.get_id().to_string(), name.clone());
        let file_variant = file_variant(&arg, &name, declared);
        // clap shows the variable in `--help` only when it reads it itself.
        let help = arg.get_help().map(ToString::to_string).unwrap_or_default();
        let variables = match &file_variant {
            Some(file_name) => format!("{name} or {file_name}"),
            None => name.clone(),
        };
        let arg = arg
            .env(None::<&'static str>)
            .help(format!("{help} [env: {variables}]"));
        let value = match file_variant {
            Some(file_name) => value_or_file(env, &name, &file_name).unwrap_or_else(|e| {
                error.get_or_insert(e);
                None
            }),
            None => env.raw(&name),
        };
        match value {
            Some(value) => arg
                .default_value(value.trim().to_owned())
                .hide_default_value(true)
                .required(false),
            None => arg,
        }
    });
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in subcommands {
        command = command.mut_subcommand(name, |sub| {
            with_values_from(sub, env, declared, &mut *names, &mut *error)
        });
    }
    command
}

/// Every variable `command` and its subcommands declare.
fn declared_variables(command: &Command) -> HashSet<String> {
    let mut variables: HashSet<String> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env()?.to_str().map(str::to_owned))
        .collect();
    for sub in command.get_subcommands() {
        variables.extend(declared_variables(sub));
    }
    variables
}

/// `NAME_FILE` for a secret setting `name` (declared `hide_env_values`), unless that variable is
/// a setting of its own (`SWATTER_JWT_PRIVATE_KEY_FILE` has its own meaning).
fn file_variant(arg: &clap::Arg, name: &str, declared: &HashSet<String>) -> Option<String> {
    let file_name = format!("{name}_FILE");
    (arg.is_hide_env_values_set() && !declared.contains(&file_name)).then_some(file_name)
}

/// The value of `name`, or the contents of the file `file_name` names (trailing newline and all
/// surrounding whitespace dropped); neither set: `None`.
fn value_or_file<S: Source>(
    env: &Env<S>,
    name: &str,
    file_name: &str,
) -> Result<Option<String>, ConfigError> {
    match (env.raw(name), env.raw(file_name)) {
        (Some(_), Some(path)) => Err(ConfigError::malformed(
            file_name,
            &path,
            format!("{name} is set too; set one of them"),
        )),
        (value, None) => Ok(value),
        (None, Some(path)) => match std::fs::read_to_string(path.trim()) {
            Ok(contents) => Ok(Some(contents).filter(|value| !value.trim().is_empty())),
            Err(e) => Err(ConfigError::malformed(
                file_name,
                &path,
                format!("cannot read it: {e}"),
            )),
        },
    }
}

/// Maps each setting's argument of the built `command`, as clap names it in errors, to its
/// variable.
fn variables_of(
    command: &Command,
    names: &HashMap<String, String>,
    variables: &mut HashMap<String, String>,
) {
    for arg in command.get_arguments() {
        if let Some(name) = names.get(arg.get_id().as_str()) {
            variables.insert(arg.to_string(), name.clone());
        }
    }
    for sub in command.get_subcommands() {
        variables_of(sub, names, variables);
    }
}

/// The configuration error a clap error stands for, if it is about a setting.
fn config_error(
    error: clap::Error,
    variables: &HashMap<String, String>,
) -> Result<ConfigError, clap::Error> {
    let argument = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(argument)) => Some(argument),
        Some(ContextValue::Strings(arguments)) => arguments.first(),
        _ => None,
    };
    let Some(name) = argument.and_then(|argument| variables.get(argument)) else {
        return Err(error);
    };
    match error.kind() {
        ErrorKind::MissingRequiredArgument => Ok(ConfigError::Missing { name: name.clone() }),
        ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
            let value = match error.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(value)) => value.as_str(),
                _ => "",
            };
            let reason = std::error::Error::source(&error)
                .map_or_else(|| "invalid value".to_owned(), ToString::to_string);
            Ok(ConfigError::malformed(name, value, reason))
        }
        _ => Err(error),
    }
}

// ------------------------------------------------------------------------------------------------
// Value parsers: one for each kind of setting that is more than `FromStr`.
// ------------------------------------------------------------------------------------------------

/// A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (use with `action = ArgAction::Set`).
pub fn flag(raw: &str) -> Result<bool, String> {
    match raw.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err("expected true or false".to_owned()),
    }
}

/// A duration in whole seconds.
pub fn seconds(raw: &str) -> Result<Duration, String> {
    raw.parse()
        .map(Duration::from_secs)
        .map_err(|e| format!("{e}"))
}

/// A duration in whole milliseconds.
pub fn millis(raw: &str) -> Result<Duration, String> {
    raw.parse()
        .map(Duration::from_millis)
        .map_err(|e| format!("{e}"))
}

/// A duration of at least one second.
pub fn positive_seconds(raw: &str) -> Result<Duration, String> {
    match seconds(raw)? {
        Duration::ZERO => Err("must be at least 1 second".to_owned()),
        duration => Ok(duration),
    }
}

/// A count of at least one.
pub fn at_least_one<T: FromStr<Err = ParseIntError> + PartialOrd + From<u8>>(
    raw: &str,
) -> Result<T, String> {
    match raw.parse::<T>() {
        Ok(n) if n >= T::from(1) => Ok(n),
        Ok(_) => Err("must be at least 1".to_owned()),
        Err(e) => Err(e.to_string()),
    }
}

/// The `http://` or `https://` address of a service, as given.
pub fn http_url(raw: &str) -> Result<String, String> {
    url(raw, &["http", "https"])
}

/// The `amqp://` or `amqps://` address of a broker, as given.
pub fn amqp_url(raw: &str) -> Result<String, String> {
    url(raw, &["amqp", "amqps"])
}

/// `raw` if it is a URL with a host and one of `schemes`.
pub fn url(raw: &str, schemes: &[&str]) -> Result<String, String> {
    let uri: http::Uri = raw.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some(scheme) if schemes.contains(&scheme) && uri.authority().is_some() => {
            Ok(raw.to_owned())
        }
        _ => Err(format!(
            "expected a URL starting with {}",
            schemes
                .iter()
                .map(|scheme| format!("{scheme}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        )),
    }
}

/// A secret of at least [`MIN_SECRET_LEN`] characters.
pub fn secret(raw: &str) -> Result<String, String> {
    if raw.chars().count() < MIN_SECRET_LEN {
        return Err(format!("must be at least {MIN_SECRET_LEN} characters"));
    }
    Ok(raw.to_owned())
}

/// Shortest secret accepted where one is shared between processes (page-token key, service
/// client secrets): a guessable one would let a caller forge what it protects.
pub const MIN_SECRET_LEN: usize = 32;

// ------------------------------------------------------------------------------------------------
// The configuration reference: the README's tables are generated from the clap definitions.
// ------------------------------------------------------------------------------------------------

/// The Markdown table of the settings `command` (and its subcommands) reads: variable, default
/// and meaning, in declaration order.
pub fn reference(command: &Command) -> String {
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    collect_rows(command, &declared_variables(command), &mut seen, &mut rows);
    let mut table = "| variable | default | meaning |\n|---|---|---|\n".to_owned();
    for row in rows {
        table.push_str(&row);
    }
    table
}

fn collect_rows(
    command: &Command,
    declared: &HashSet<String>,
    seen: &mut HashSet<String>,
    rows: &mut Vec<String>,
) {
    for arg in command.get_arguments() {
        let Some(name) = arg.get_env().and_then(|name| name.to_str()) else {
            continue;
        };
        if !seen.insert(name.to_owned()) {
            continue;
        }
        let defaults: Vec<String> = arg
            .get_default_values()
            .iter()
            .map(|value| value.to_string_lossy().into_owned())
            .filter(|value| !value.is_empty())
            .collect();
        let default = if arg.is_required_set() {
            "— (required)".to_owned()
        } else if defaults.is_empty() || arg.is_hide_default_value_set() {
            "—".to_owned()
        } else {
            format!("`{}`", defaults.join(","))
        };
        let help = arg
            .get_long_help()
            .or(arg.get_help())
            .map(|help| help.to_string())
            .unwrap_or_default();
        let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
        let variables = match file_variant(arg, name, declared) {
            Some(file_name) => format!("`{name}` or `{file_name}`"),
            None => format!("`{name}`"),
        };
        rows.push(format!(
            "| {variables} | {default} | {} |\n",
            help.replace('|', "\\|")
        ));
    }
    for sub in command.get_subcommands() {
        collect_rows(sub, declared, seen, rows);
    }
}

/// Whether `readme` shows the table of `command` (named after it) that [`reference`] makes.
pub fn readme_is_current(readme: &str, command: &Command) -> bool {
    readme_region(readme, command.get_name()) == Some(reference(command).as_str())
}

/// The test each binary's settings module runs: `readme` shows the current table of `C`.
pub fn assert_readme_lists<C: clap::CommandFactory>(readme: &str) {
    let command = C::command();
    assert!(
        readme_is_current(readme, &command),
        "the README's settings table of {} is stale: run `make config-reference`",
        command.get_name()
    );
}

/// The region of `readme` between `<!-- config-reference NAME -->` and
/// `<!-- end config-reference NAME -->` (`make config-reference` writes it).
pub fn readme_region<'a>(readme: &'a str, name: &str) -> Option<&'a str> {
    let begin = format!("<!-- config-reference {name} -->\n");
    let end = format!("<!-- end config-reference {name} -->");
    let start = readme.find(&begin)? + begin.len();
    let len = readme[start..].find(&end)?;
    Some(&readme[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgMatches, builder::ValueParser};

    /// The matches themselves, for settings built without derive.
    struct Matches(ArgMatches);

    impl FromArgMatches for Matches {
        fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
            Ok(Matches(matches.clone()))
        }

        fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
            self.0 = matches.clone();
            Ok(())
        }
    }

    /// Reads one setting `name` with `parser` (and `default`) from `pairs`.
    fn read<T: Clone + Send + Sync + 'static>(
        pairs: &[(&str, &str)],
        name: &'static str,
        parser: impl Into<ValueParser>,
        default: Option<&'static str>,
    ) -> Result<T, ConfigError> {
        let mut arg = Arg::new("value")
            .long("value")
            .env(name)
            .value_parser(parser)
            .required(default.is_none());
        if let Some(default) = default {
            arg = arg.default_value(default);
        }
        let Matches(matches) = parse_command(
            Command::new("test").arg(arg),
            &Env::from_pairs(pairs),
            [OsString::from("test")],
        )?;
        Ok(matches.get_one::<T>("value").unwrap().clone())
    }

    #[test]
    fn a_malformed_value_names_the_variable() {
        let err = read::<u16>(
            &[("PORT", "eighty")],
            "PORT",
            clap::value_parser!(u16),
            Some("80"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("PORT=\"eighty\" is malformed"),
            "{err}"
        );
    }

    #[test]
    fn malformed_values_never_echo_a_url_password() {
        let err = read::<String>(
            &[("SWATTER_AMQP_URL", "amqp://swatter:hunter2@rabbit:5672/%2f")],
            "SWATTER_AMQP_URL",
            http_url,
            Some("http://127.0.0.1:1"),
        )
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
            let err = read::<u16>(
                &[(name, "s3cr3t-value")],
                name,
                clap::value_parser!(u16),
                Some("1"),
            )
            .unwrap_err();
            let shown = err.to_string();
            assert!(!shown.contains("s3cr3t"), "{shown}");
            assert!(shown.contains(&format!("{name}=\"<redacted>\"")), "{shown}");
        }
        // A file setting names a path, which is worth showing.
        let err = ConfigError::malformed("SWATTER_JWT_PRIVATE_KEY_FILE", "/etc/key.pem", "gone");
        assert!(err.to_string().contains("/etc/key.pem"), "{err}");
    }

    /// Reads the secret setting `name` (and, when given, a setting `NAME_FILE` of its own)
    /// from `pairs`.
    fn read_secret(
        pairs: &[(&str, &str)],
        name: &'static str,
        own_file_setting: Option<&'static str>,
    ) -> Result<Option<String>, ConfigError> {
        let mut command = Command::new("test").arg(
            Arg::new("value")
                .long("value")
                .env(name)
                .hide_env_values(true),
        );
        if let Some(file_name) = own_file_setting {
            command = command.arg(Arg::new("file").long("file").env(file_name));
        }
        let Matches(matches) =
            parse_command(command, &Env::from_pairs(pairs), [OsString::from("test")])?;
        Ok(matches.get_one::<String>("value").cloned())
    }

    /// A file under the temporary directory holding `contents`, named after `test`.
    fn secret_file(test: &str, contents: &str) -> String {
        let path =
            std::env::temp_dir().join(format!("swatter-config-{test}-{}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path.to_str().unwrap().to_owned()
    }

    #[test]
    fn a_secret_is_read_from_the_file_its_file_variable_names() {
        let path = secret_file("read", "postgres://u:pw@db/x\n");

        let value = read_secret(&[("DB_URL_FILE", &path)], "DB_URL", None).unwrap();
        let inline = read_secret(&[("DB_URL", "postgres://db/y")], "DB_URL", None).unwrap();

        assert_eq!(value.as_deref(), Some("postgres://u:pw@db/x"));
        assert_eq!(inline.as_deref(), Some("postgres://db/y"));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_secret_set_both_ways_or_in_an_unreadable_file_is_refused_naming_the_file_variable() {
        let path = secret_file("both", "s3cr3t-from-file");
        let missing = "/nonexistent/swatter/secret";

        let both = read_secret(
            &[("TOKEN", "s3cr3t-inline"), ("TOKEN_FILE", &path)],
            "TOKEN",
            None,
        )
        .unwrap_err();
        let unreadable = read_secret(&[("TOKEN_FILE", missing)], "TOKEN", None).unwrap_err();

        let both = both.to_string();
        assert!(
            both.contains("TOKEN_FILE") && both.contains("TOKEN is set too"),
            "{both}"
        );
        assert!(!both.contains("s3cr3t"), "{both}");
        let unreadable = unreadable.to_string();
        assert!(
            unreadable.contains(&format!("TOKEN_FILE=\"{missing}\"")),
            "{unreadable}"
        );
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_variable_that_is_a_setting_of_its_own_or_names_no_secret_is_not_read_as_a_file() {
        let path = secret_file("own", "from the file");

        let own = read_secret(&[("KEY_FILE", &path)], "KEY", Some("KEY_FILE")).unwrap();
        let plain = read::<String>(
            &[("PORT_FILE", &path)],
            "PORT",
            ValueParser::string(),
            Some("80"),
        )
        .unwrap();

        assert_eq!(own, None);
        assert_eq!(plain, "80");
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_missing_required_value_names_the_variable() {
        let err = read::<String>(&[], "SECRET", ValueParser::string(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: SECRET is required but not set"
        );
    }

    #[test]
    fn unset_and_empty_values_fall_back_to_the_default() {
        let pairs = [("EMPTY", "  "), ("PADDED", " 9 ")];
        let parser = || clap::value_parser!(u32);
        assert_eq!(
            read::<u32>(&pairs, "EMPTY", parser(), Some("7")).unwrap(),
            7
        );
        assert_eq!(
            read::<u32>(&pairs, "UNSET", parser(), Some("8")).unwrap(),
            8
        );
        assert_eq!(
            read::<u32>(&pairs, "PADDED", parser(), Some("8")).unwrap(),
            9
        );
    }

    #[test]
    fn flags_accept_the_usual_spellings_and_refuse_others() {
        let pairs = [("A", "yes"), ("B", "0"), ("C", "maybe")];
        assert!(read::<bool>(&pairs, "A", flag, Some("false")).unwrap());
        assert!(!read::<bool>(&pairs, "B", flag, Some("true")).unwrap());
        assert!(read::<bool>(&pairs, "C", flag, Some("true")).is_err());
    }

    #[test]
    fn urls_need_a_host_and_one_of_the_schemes() {
        assert!(http_url("https://identity:50051").is_ok());
        assert!(amqp_url("amqps://rabbit/%2f").is_ok());
        for bad in ["identity:50051", "ftp://identity", "http://", "not a url"] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
        assert!(amqp_url("http://rabbit").is_err());
    }

    #[test]
    fn the_readme_region_is_found_between_its_markers() {
        let readme = "x\n<!-- config-reference a -->\n| t |\n<!-- end config-reference a -->\n";
        assert_eq!(readme_region(readme, "a"), Some("| t |\n"));
        assert_eq!(readme_region(readme, "b"), None);
    }
}
