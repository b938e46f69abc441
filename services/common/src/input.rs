//! Checks every text and time input passes before it reaches storage (SPEC §2): no NUL or other
//! control characters (newlines and tabs only in texts that may span lines), a bounded length,
//! and instants within the years that both RFC 3339 and PostgreSQL can hold. Each service's
//! request parsing uses them, so callers that reach the gRPC ports directly meet the same rules
//! as the REST gateway.

use chrono::{DateTime, Datelike, Utc};

use crate::status::Violation;

/// Longest `Idempotency-Key` (`request_id` over gRPC) a create operation accepts.
pub const MAX_IDEMPOTENCY_KEY_LEN: usize = 200;

/// Whether a text may span lines. Descriptions and comments may (`\n`, `\r` and `\t` are
/// allowed in them); every other text is one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    One,
    Many,
}

/// Whether `c` is refused in a text of this kind: every control character, except line breaks
/// and tabs in texts that may span lines.
pub fn is_forbidden(c: char, lines: Lines) -> bool {
    c.is_control() && !(lines == Lines::Many && matches!(c, '\n' | '\r' | '\t'))
}

/// Refuses a text of more than `max` characters or with a character [`is_forbidden`] in it,
/// naming `field`.
pub fn check_text(field: &str, raw: &str, max: usize, lines: Lines) -> Result<(), Violation> {
    check_length(field, raw, max)?;
    if raw.chars().any(|c| is_forbidden(c, lines)) {
        return Err(Violation::new(field, "must not contain control characters"));
    }
    Ok(())
}

/// Refuses a text of more than `max` characters, naming `field`. Texts that are trimmed are
/// measured as sent, before trimming: the limit is then one a schema can state (`maxLength`).
pub fn check_length(field: &str, raw: &str, max: usize) -> Result<(), Violation> {
    // Counting stops past the limit, so a huge input costs no more than a long valid one.
    if raw.chars().nth(max).is_some() {
        return Err(Violation::new(
            field,
            format!("must be at most {max} characters long"),
        ));
    }
    Ok(())
}

/// A text as sent, trimmed, once it is at most `max` characters long as sent and has no
/// character [`is_forbidden`] between its ends (line breaks and tabs at the ends are trimmed
/// away, whatever `lines` says).
pub fn trimmed_text<'a>(
    field: &str,
    raw: &'a str,
    max: usize,
    lines: Lines,
) -> Result<&'a str, Violation> {
    check_length(field, raw, max)?;
    let text = raw.trim();
    check_text(field, text, max, lines)?;
    Ok(text)
}

/// An `Idempotency-Key` (`request_id` over gRPC), trimmed: not blank, and at most
/// [`MAX_IDEMPOTENCY_KEY_LEN`] printable characters. The one rule of the gateway and the
/// services.
pub fn idempotency_key(raw: &str) -> Result<&str, Violation> {
    let key = raw.trim();
    if key.is_empty() {
        return Err(Violation::new("Idempotency-Key", "must not be empty"));
    }
    check_text("Idempotency-Key", key, MAX_IDEMPOTENCY_KEY_LEN, Lines::One).map_err(|v| {
        Violation::new(
            v.field,
            format!("must be at most {MAX_IDEMPOTENCY_KEY_LEN} printable characters"),
        )
    })?;
    Ok(key)
}

/// First year an instant input may fall in.
pub const MIN_YEAR: i32 = 1;
/// Last year an instant input may fall in (RFC 3339 writes four-digit years).
pub const MAX_YEAR: i32 = 9999;

/// Refuses an instant outside the years [`MIN_YEAR`]–[`MAX_YEAR`], naming `field`. chrono
/// holds years up to ±262,143, which PostgreSQL refuses with an error rather than an answer.
pub fn check_time(field: &str, at: DateTime<Utc>) -> Result<DateTime<Utc>, Violation> {
    if (MIN_YEAR..=MAX_YEAR).contains(&at.year()) {
        Ok(at)
    } else {
        Err(Violation::new(
            field,
            format!("must be between the years {MIN_YEAR} and {MAX_YEAR}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_refused_but_line_breaks_in_multi_line_texts() {
        let cases = [
            ("plain words", Lines::One, true),
            ("ünïcödé ✓", Lines::One, true),
            ("a\u{0}b", Lines::One, false),
            ("a\u{0}b", Lines::Many, false),
            ("two\nlines", Lines::One, false),
            ("two\nlines\r\n\tindented", Lines::Many, true),
            ("bell\u{7}", Lines::Many, false),
            ("escape\u{1b}[31m", Lines::Many, false),
            ("delete\u{7f}", Lines::One, false),
            ("c1\u{85}", Lines::Many, false),
        ];
        for (text, lines, ok) in cases {
            assert_eq!(
                check_text("f", text, 100, lines).is_ok(),
                ok,
                "{text:?} {lines:?}"
            );
        }
        let error = check_text("title", "a\u{0}", 10, Lines::One).unwrap_err();
        assert_eq!(error.field, "title");
    }

    #[test]
    fn trimmed_texts_are_measured_as_sent_and_checked_between_their_ends() {
        assert_eq!(trimmed_text("t", " \tab\n", 5, Lines::One), Ok("ab"));
        assert!(trimmed_text("t", "  abcd", 5, Lines::One).is_err());
        assert!(trimmed_text("t", "a\tb", 5, Lines::One).is_err());
        assert_eq!(trimmed_text("t", "a\tb\n", 5, Lines::Many), Ok("a\tb"));
    }

    #[test]
    fn texts_are_bounded_in_characters_not_bytes() {
        assert!(check_text("q", &"é".repeat(5), 5, Lines::One).is_ok());
        let error = check_text("q", &"x".repeat(10_000), 200, Lines::One).unwrap_err();
        assert_eq!(
            (error.field.as_str(), error.message.as_str()),
            ("q", "must be at most 200 characters long")
        );
    }

    #[test]
    fn idempotency_keys_are_short_and_printable() {
        assert_eq!(idempotency_key(" key-1 "), Ok("key-1"));
        assert!(idempotency_key(&"k".repeat(201)).is_err());
        assert!(idempotency_key("  ").is_err());
        let error = idempotency_key("a\tb").unwrap_err();
        assert_eq!(error.field, "Idempotency-Key");
    }

    #[test]
    fn instants_outside_years_one_to_9999_are_refused() {
        let at = |micros: i64| DateTime::from_timestamp_micros(micros).unwrap();
        assert!(check_time("from", at(0)).is_ok());
        assert!(check_time("from", at(253_402_300_799_999_999)).is_ok());
        assert!(check_time("from", at(253_402_300_800_000_000)).is_err());
        let year_minus_100000 = at(-3_217_862_419_200_000_000);
        assert!(year_minus_100000.year() < -99_000);
        let error = check_time("to", year_minus_100000).unwrap_err();
        assert_eq!(error.field, "to");
    }
}
