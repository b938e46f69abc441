//! `@username` mentions in issue descriptions and comments: who a text names, found without I/O.
//! Whether a name is a member of the project (and so is notified) is decided by storage.

/// At most this many distinct users are mentioned by one text; later ones are ignored, so a
/// hostile text of thousands of `@names` costs one bounded lookup.
pub const MAX_MENTIONS: usize = 50;

const MIN_LEN: usize = 3;
const MAX_LEN: usize = 32;

/// A character a username may hold (SPEC: 3–32 of `[a-z0-9_.-]`; mentions are case-insensitive).
fn username_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

/// A character after which `@` does not start a mention: `email@example.com`, `a@@b`,
/// `https://host/@user` and `` `@x` `` are not mentions.
fn joins_previous(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '.' | '-' | '@' | '/' | '`')
}

/// The usernames `text` mentions, lower-cased, each once, in order of first mention, at most
/// [`MAX_MENTIONS`]. Text in code (`` `inline` `` or fenced with three backticks) mentions nobody.
pub fn mentions(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<String> = Vec::new();
    let mut i = 0;
    while i < chars.len() && found.len() < MAX_MENTIONS {
        match chars[i] {
            '`' => i = after_code(&chars, i),
            '@' if i == 0 || !joins_previous(chars[i - 1]) => {
                let start = i + 1;
                let mut end = start;
                while end < chars.len() && username_char(chars[end]) {
                    end += 1;
                }
                i = end;
                // A sentence's full stop is not part of the name.
                while end > start && chars[end - 1] == '.' {
                    end -= 1;
                }
                // `@alice@host` is an address, not a mention.
                if chars.get(i) == Some(&'@') {
                    continue;
                }
                let name: String = chars[start..end].iter().collect::<String>().to_lowercase();
                if (MIN_LEN..=MAX_LEN).contains(&name.len()) && !found.contains(&name) {
                    found.push(name);
                }
            }
            _ => i += 1,
        }
    }
    found
}

/// Where text continues after the backticks at `start`: after the code span they open (closed by
/// a run of as many backticks, CommonMark's rule), or just after them when nothing closes it.
fn after_code(chars: &[char], start: usize) -> usize {
    let run = |from: usize| chars[from..].iter().take_while(|&&c| c == '`').count();
    let opening = run(start);
    let mut i = start + opening;
    while i < chars.len() {
        if chars[i] == '`' {
            let closing = run(i);
            if closing == opening {
                return i + closing;
            }
            i += closing;
        } else {
            i += 1;
        }
    }
    start + opening
}

/// The users `new` mentions that `old` did not: editing a text notifies only those it adds.
pub fn added_mentions(old: &str, new: &str) -> Vec<String> {
    let before = mentions(old);
    mentions(new)
        .into_iter()
        .filter(|name| !before.contains(name))
        .collect()
}

/// `text` as one line (runs of whitespace become one space) of at most `width` characters, cut
/// with an ellipsis: what a notification quotes.
pub fn one_line(text: &str, width: usize) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= width {
        return line;
    }
    let mut cut: String = line.chars().take(width.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_are_found_where_people_write_them_and_nowhere_else() {
        let cases: &[(&str, &[&str])] = &[
            ("@alice", &["alice"]),
            ("hi @alice, see this", &["alice"]),
            ("(@bob)", &["bob"]),
            ("thanks @carol.", &["carol"]),
            ("@dave: please look", &["dave"]),
            ("@Alice and @ALICE", &["alice"]),
            ("@bob and @alice and @bob", &["bob", "alice"]),
            ("first.last @first.last", &["first.last"]),
            ("@a_b-c.d", &["a_b-c.d"]),
            ("line one\n@erin\tand @frank", &["erin", "frank"]),
            ("email@example.com", &[]),
            ("write to alice@example.com", &[]),
            ("@alice@example.com", &[]),
            ("@@alice", &[]),
            ("https://example.com/@alice", &[]),
            ("@al", &[]),
            ("@", &[]),
            ("@ alice", &[]),
            ("@abcdefghijabcdefghijabcdefghijabc", &[]),
            (
                "@abcdefghijabcdefghijabcdefghijab",
                &["abcdefghijabcdefghijabcdefghijab"],
            ),
            ("`@alice` but @bob", &["bob"]),
            ("```\n@alice\n``` @bob", &["bob"]),
            ("``code with ` @alice`` @carol", &["carol"]),
            ("unclosed ` @alice", &["alice"]),
            ("ünïcode@alice", &[]),
            ("«@alice»", &["alice"]),
            ("@ålice", &[]),
        ];
        for (text, expected) in cases {
            assert_eq!(mentions(text), *expected, "{text:?}");
        }
    }

    #[test]
    fn a_text_mentions_at_most_fifty_users() {
        let text: String = (0..200).map(|n| format!("@user{n:03} ")).collect();
        let found = mentions(&text);
        assert_eq!(found.len(), MAX_MENTIONS);
        assert_eq!(found[0], "user000");
        assert_eq!(found[49], "user049");
    }

    #[test]
    fn a_huge_text_of_at_signs_is_read_in_one_pass() {
        let text = "@".repeat(20_000) + &"`".repeat(10_000);
        assert!(mentions(&text).is_empty());
    }

    #[test]
    fn a_quote_is_one_line_cut_to_its_width() {
        assert_eq!(one_line("  a\n\tb  c ", 10), "a b c");
        assert_eq!(one_line("abcdef", 4), "abc…");
        assert_eq!(one_line("abcd", 4), "abcd");
        assert_eq!(one_line("ééééé", 3), "éé…");
    }

    #[test]
    fn an_edit_notifies_only_the_mentions_it_adds() {
        let cases: &[(&str, &str, &[&str])] = &[
            ("", "@alice", &["alice"]),
            ("@alice", "@alice again", &[]),
            ("@alice", "@alice and @bob", &["bob"]),
            ("@alice and @bob", "@bob", &[]),
            ("`@alice`", "@alice", &["alice"]),
        ];
        for (old, new, expected) in cases {
            assert_eq!(added_mentions(old, new), *expected, "{old:?} → {new:?}");
        }
    }
}
