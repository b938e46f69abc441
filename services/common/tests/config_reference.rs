//! The README's configuration reference cannot drift from the code. The source of every crate
//! under `services/` and `gateway/` is scanned for the environment variables it reads (string
//! literals naming `SWATTER_*` or `OTEL_*`, and `RUST_LOG`, which `EnvFilter` reads by itself), with
//! the default each call site gives (`env.or("NAME", default)`, `env.flag`, `env.seconds`,
//! `url(env, "NAME", default, ..)`, or `env.required`: no default). Test-only code (`#[cfg(test)]`
//! items, the test kit `services/testkit`, `tests/`) is left out; the variables it reads belong in the
//! second, scripts-and-tests table, with those of `scripts/` and the `Makefile`.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::{Path, PathBuf},
};

const ALL: &str = "all";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

// ------------------------------------------------------------------------------------------------
// Reading Rust source: comments dropped, literals found, test-only items cut out.
// ------------------------------------------------------------------------------------------------

/// A string literal: its byte range in the source (quotes included) and its value.
#[derive(Debug, Clone)]
struct Literal {
    start: usize,
    end: usize,
    value: String,
}

/// A Rust file, lexed just enough for this test.
struct Source {
    /// The text with comments blanked out (same byte offsets as the file).
    code: String,
    /// The text with comments and the insides of string and char literals blanked out, so that
    /// brackets, commas and keywords can be found without tripping over literals.
    skeleton: Vec<u8>,
    literals: Vec<Literal>,
}

impl Source {
    fn lex(text: &str) -> Source {
        let bytes = text.as_bytes();
        let mut code = bytes.to_vec();
        let mut skeleton = bytes.to_vec();
        let mut literals = Vec::new();
        let blank = |buf: &mut Vec<u8>, from: usize, to: usize| {
            for b in &mut buf[from..to] {
                if *b != b'\n' {
                    *b = b' ';
                }
            }
        };
        let mut i = 0;
        while i < bytes.len() {
            let rest = &bytes[i..];
            if rest.starts_with(b"//") {
                let end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                blank(&mut code, i, end);
                blank(&mut skeleton, i, end);
                i = end;
            } else if rest.starts_with(b"/*") {
                let (mut depth, mut j) = (0usize, i);
                while j < bytes.len() {
                    if bytes[j..].starts_with(b"/*") {
                        depth += 1;
                        j += 2;
                    } else if bytes[j..].starts_with(b"*/") {
                        depth -= 1;
                        j += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        j += 1;
                    }
                }
                blank(&mut code, i, j);
                blank(&mut skeleton, i, j);
                i = j;
            } else if let Some((open, hashes)) = raw_string_start(rest) {
                let body = i + open;
                let closing = format!("\"{}", "#".repeat(hashes));
                let end = text[body..]
                    .find(&closing)
                    .expect("unterminated raw string")
                    + body;
                literals.push(Literal {
                    start: i,
                    end: end + closing.len(),
                    value: text[body..end].to_owned(),
                });
                blank(&mut skeleton, body, end);
                i = end + closing.len();
            } else if rest[0] == b'"' || rest.starts_with(b"b\"") {
                let body = i + if rest[0] == b'"' { 1 } else { 2 };
                let mut j = body;
                let mut value = String::new();
                while bytes[j] != b'"' {
                    if bytes[j] == b'\\' {
                        j += 1;
                        match bytes[j] {
                            b'n' => value.push('\n'),
                            b't' => value.push('\t'),
                            b'\n' => {
                                while bytes[j + 1].is_ascii_whitespace() {
                                    j += 1;
                                }
                            }
                            other => value.push(other as char),
                        }
                        j += 1;
                    } else {
                        let c = text[j..].chars().next().unwrap();
                        value.push(c);
                        j += c.len_utf8();
                    }
                }
                literals.push(Literal {
                    start: i,
                    end: j + 1,
                    value,
                });
                blank(&mut skeleton, body, j);
                i = j + 1;
            } else if rest[0] == b'\'' {
                // A char literal ('x', '\n', '\u{..}') or a lifetime ('a).
                let end = if rest.get(1) == Some(&b'\\') {
                    text[i + 3..].find('\'').map(|n| i + 3 + n)
                } else {
                    let c = text[i + 1..].chars().next().unwrap();
                    let after = i + 1 + c.len_utf8();
                    (bytes.get(after) == Some(&b'\'')).then_some(after)
                };
                match end {
                    Some(end) => {
                        blank(&mut skeleton, i + 1, end);
                        i = end + 1;
                    }
                    None => i += 1,
                }
            } else {
                i += 1;
            }
        }
        Source {
            code: String::from_utf8(code).unwrap(),
            skeleton,
            literals,
        }
    }

    /// The byte offset of the bracket that closes the one opened at `open`.
    fn matching(&self, open: usize) -> usize {
        let (left, right) = match self.skeleton[open] {
            b'(' => (b'(', b')'),
            b'[' => (b'[', b']'),
            _ => (b'{', b'}'),
        };
        let mut depth = 0;
        for (j, &b) in self.skeleton.iter().enumerate().skip(open) {
            if b == left {
                depth += 1;
            } else if b == right {
                depth -= 1;
                if depth == 0 {
                    return j;
                }
            }
        }
        panic!("unbalanced brackets");
    }

    /// Cuts out every item under a `#[cfg(..test..)]` (but not `not(test)`). Returns the names of
    /// out-of-line modules so gated (`#[cfg(feature = "test-util")] pub mod testing;`).
    fn strip_test_items(&mut self) -> Vec<String> {
        let mut gated_modules = Vec::new();
        let skeleton = String::from_utf8(self.skeleton.clone()).unwrap();
        let mut cut = Vec::new();
        let mut from = 0;
        while let Some(at) = skeleton[from..].find("#[cfg(").map(|n| from + n) {
            let close = self.matching(at + 5);
            // The attribute's condition, read from the code (feature names are in literals).
            let condition = &self.code[at + 6..close];
            from = close;
            let is_test = condition
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                .any(|word| word == "test" || word == "test-util");
            if !is_test || condition.contains("not(") {
                continue;
            }
            let item_start = close + 2;
            let brace = skeleton[item_start..].find('{').map(|n| item_start + n);
            let semi = skeleton[item_start..].find(';').map(|n| item_start + n);
            let item_end = match (brace, semi) {
                (Some(b), Some(s)) if s < b => s,
                (None, Some(s)) => s,
                (Some(b), _) => self.matching(b),
                (None, None) => panic!("a cfg attribute without an item"),
            };
            let item = skeleton[item_start..=item_end].trim();
            if let Some(name) = item
                .strip_suffix(';')
                .and_then(|i| i.trim_start_matches("pub ").strip_prefix("mod "))
            {
                gated_modules.push(name.trim().to_owned());
            }
            cut.push((at, item_end + 1));
            from = item_end;
        }
        self.literals
            .retain(|lit| !cut.iter().any(|&(a, b)| lit.start >= a && lit.end <= b));
        let mut code = std::mem::take(&mut self.code).into_bytes();
        for (a, b) in cut {
            for (c, s) in code[a..b].iter_mut().zip(&mut self.skeleton[a..b]) {
                if *c != b'\n' {
                    *c = b' ';
                    *s = b' ';
                }
            }
        }
        self.code = String::from_utf8(code).unwrap();
        gated_modules
    }

    fn line_of(&self, offset: usize) -> usize {
        self.code[..offset].matches('\n').count() + 1
    }

    /// The argument (code text) that follows the one ending at `after` in a call, if any.
    fn next_argument(&self, after: usize) -> Option<String> {
        let mut j = after;
        while self.skeleton[j].is_ascii_whitespace() {
            j += 1;
        }
        if self.skeleton[j] != b',' {
            return None;
        }
        let start = j + 1;
        let mut k = start;
        loop {
            match self.skeleton[k] {
                b'(' | b'[' | b'{' => k = self.matching(k) + 1,
                b',' | b')' => break,
                _ => k += 1,
            }
        }
        Some(self.code[start..k].trim().to_owned())
    }

    /// For a literal that is an argument of a call: the called name and the argument's position.
    fn call_of(&self, literal: &Literal) -> Option<(String, usize)> {
        let mut depth = 0i32;
        let mut commas = 0;
        let mut j = literal.start;
        while j > 0 {
            j -= 1;
            match self.skeleton[j] {
                b')' | b']' | b'}' => depth += 1,
                b'(' if depth == 0 => {
                    let name: String = self.code[..j]
                        .trim_end()
                        .chars()
                        .rev()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    return Some((name, commas));
                }
                b'(' | b'[' | b'{' if depth > 0 => depth -= 1,
                b'[' | b'{' | b';' => return None,
                b',' if depth == 0 => commas += 1,
                _ => {}
            }
        }
        None
    }
}

fn raw_string_start(rest: &[u8]) -> Option<(usize, usize)> {
    let prefix = if rest.starts_with(b"br") {
        2
    } else if rest.starts_with(b"r") {
        1
    } else {
        return None;
    };
    let hashes = rest[prefix..].iter().take_while(|&&b| b == b'#').count();
    (rest.get(prefix + hashes) == Some(&b'"')).then_some((prefix + hashes + 1, hashes))
}

/// Environment variable names in a piece of text.
fn variable_names(text: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        let rest = &text[i..];
        if boundary
            && ["SWATTER_", "OTEL_", "RUST_LOG"]
                .iter()
                .any(|p| rest.starts_with(p))
        {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            let name = name.trim_end_matches('_').to_owned();
            i += name.len().max(1);
            if !name.ends_with("_") && name != "SWATTER" && name != "OTEL" {
                names.push(name);
            }
        } else {
            i += 1;
        }
    }
    names
}

// ------------------------------------------------------------------------------------------------
// Defaults: the small set of expressions the config code uses, evaluated to their text form.
// ------------------------------------------------------------------------------------------------

fn evaluate(expr: &str, source: &Source) -> Option<String> {
    let expr = expr.trim();
    for suffix in [".to_owned()", ".to_string()", ".into()", ".unwrap()"] {
        if let Some(inner) = expr.strip_suffix(suffix) {
            return evaluate(inner, source);
        }
    }
    if let Some(inner) = expr.strip_prefix('"').and_then(|e| e.strip_suffix('"')) {
        return (!inner.is_empty() && !inner.contains('"')).then(|| inner.to_owned());
    }
    if expr == "true" || expr == "false" {
        return Some(expr.to_owned());
    }
    if !expr.is_empty()
        && expr
            .chars()
            .all(|c| c.is_ascii_digit() || "_* ".contains(c))
    {
        return expr
            .split('*')
            .map(|factor| factor.trim().replace('_', "").parse::<u64>().ok())
            .product::<Option<u64>>()
            .map(|n| n.to_string());
    }
    if let Some(inner) = expr
        .strip_prefix("SocketAddr::from((")
        .and_then(|e| e.strip_suffix("))"))
    {
        let (ip, port) = inner.rsplit_once(',')?;
        let ip = match ip.trim() {
            "Ipv4Addr::LOCALHOST" => "127.0.0.1".to_owned(),
            "Ipv4Addr::UNSPECIFIED" => "0.0.0.0".to_owned(),
            octets => octets
                .strip_prefix('[')?
                .strip_suffix(']')?
                .split(',')
                .map(|o| o.trim().parse::<u8>().ok().map(|o| o.to_string()))
                .collect::<Option<Vec<_>>>()?
                .join("."),
        };
        return Some(format!("{ip}:{}", evaluate(port, source)?));
    }
    // One-argument wrappers whose value is their argument.
    if let Some(open) = expr.find('(')
        && expr.ends_with(')')
    {
        let function = expr[..open].rsplit("::").next()?;
        let wrappers = [
            "from_secs",
            "from_millis",
            "from_static",
            "new",
            "from",
            "Some",
        ];
        let argument = &expr[open + 1..expr.len() - 1];
        return (wrappers.contains(&function) && !argument.contains(','))
            .then(|| evaluate(argument, source))
            .flatten();
    }
    // A constant of the same file.
    if expr
        .chars()
        .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
    {
        let declaration = format!("const {expr}:");
        let at = source.code.find(&declaration)?;
        let value_start = at + source.code[at..].find('=')? + 1;
        let value_end = at + source.code[at..].find(';')?;
        return evaluate(&source.code[value_start..value_end], source);
    }
    // An enum variant (`LogFormat::Pretty`): its snake_case name, as the FromStr impls spell them.
    if let Some((path, variant)) = expr.rsplit_once("::")
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == ':')
        && variant.chars().next()?.is_ascii_uppercase()
        && variant.chars().all(char::is_alphanumeric)
    {
        let mut snake = String::new();
        for (i, c) in variant.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        }
        return Some(snake);
    }
    None
}

// ------------------------------------------------------------------------------------------------
// What the code reads.
// ------------------------------------------------------------------------------------------------

/// What one call site says about a variable's default.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Given {
    Value(String),
    Required,
}

#[derive(Debug, Default)]
struct Reads {
    /// Variable → binaries (or "common") whose source names it.
    users: BTreeMap<String, BTreeSet<String>>,
    /// Variable → the defaults its call sites give, with where.
    defaults: BTreeMap<String, BTreeSet<(Given, String)>>,
    /// Variable → where test-only code reads it.
    test_uses: BTreeMap<String, BTreeSet<String>>,
    /// Test variable → its default where a test reads it with one.
    test_defaults: BTreeMap<String, BTreeSet<String>>,
    binaries: BTreeSet<String>,
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// The crates to scan: every folder of `services/` with a `src/`, and `gateway/`.
fn crates(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(root.join("services"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src").is_dir())
        .collect();
    dirs.push(root.join("gateway"));
    dirs.sort();
    dirs
}

fn scan_code(root: &Path) -> Reads {
    let mut reads = Reads::default();
    for dir in crates(root) {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        // The test kit is a dev-dependency only: all of it is test code.
        let test_kit = name == "testkit";
        // A crate with a main.rs is a binary; the others are libraries every binary uses.
        let user = if dir.join("src/main.rs").is_file() {
            reads.binaries.insert(name.clone());
            name
        } else {
            "common".to_owned()
        };
        let mut test_files: Vec<PathBuf> = rust_files(&dir.join("tests"));
        let mut gated = BTreeSet::new();
        let mut sources = Vec::new();
        for path in rust_files(&dir.join("src")) {
            let mut source = Source::lex(&std::fs::read_to_string(&path).unwrap());
            for module in source.strip_test_items() {
                let folder = path.parent().unwrap();
                gated.insert(folder.join(format!("{module}.rs")));
                gated.insert(folder.join(module).join("mod.rs"));
            }
            sources.push((path, source));
        }
        for (path, source) in sources {
            let place = |offset: usize| {
                format!(
                    "{}:{}",
                    path.strip_prefix(root).unwrap().display(),
                    source.line_of(offset)
                )
            };
            if test_kit || gated.contains(&path) {
                test_files.push(path.clone());
                continue;
            }
            for literal in &source.literals {
                for variable in variable_names(&literal.value) {
                    reads
                        .users
                        .entry(variable.clone())
                        .or_default()
                        .insert(user.clone());
                    if literal.value != variable {
                        continue;
                    }
                    let default = match source.call_of(literal) {
                        Some((f, 0)) if ["or", "flag", "seconds"].contains(&f.as_str()) => source
                            .next_argument(literal.end)
                            .and_then(|arg| evaluate(&arg, &source))
                            .map(Given::Value),
                        Some((f, 1)) if f == "url" => source
                            .next_argument(literal.end)
                            .and_then(|arg| evaluate(&arg, &source))
                            .map(Given::Value),
                        Some((f, 0)) if f == "required" => Some(Given::Required),
                        _ => None,
                    };
                    if let Some(default) = default {
                        reads
                            .defaults
                            .entry(variable)
                            .or_default()
                            .insert((default, place(literal.start)));
                    }
                }
            }
            // tracing-subscriber's EnvFilter reads RUST_LOG without naming it.
            let skeleton = String::from_utf8_lossy(&source.skeleton);
            if let Some(at) = ["from_default_env", "from_env_lossy"]
                .iter()
                .find_map(|f| skeleton.find(f))
            {
                reads
                    .users
                    .entry("RUST_LOG".into())
                    .or_default()
                    .insert(user.clone());
                if let Some(open) = skeleton.find("EnvFilter::new(").map(|n| n + 14) {
                    let argument = &source.code[open + 1..source.matching(open)];
                    if let Some(value) = evaluate(argument, &source) {
                        reads
                            .defaults
                            .entry("RUST_LOG".into())
                            .or_default()
                            .insert((Given::Value(value), place(at)));
                    }
                }
            }
        }
        for path in test_files {
            let source = Source::lex(&std::fs::read_to_string(&path).unwrap());
            for (index, literal) in source.literals.iter().enumerate() {
                for variable in variable_names(&literal.value) {
                    if literal.value != variable
                        || source.call_of(literal).is_none_or(|(f, _)| f != "var")
                    {
                        continue;
                    }
                    let place = path.strip_prefix(root).unwrap().display().to_string();
                    reads
                        .test_uses
                        .entry(variable.clone())
                        .or_default()
                        .insert(place);
                    // `env::var("X").unwrap_or_else(|_| "default"..)`: the next literal of the
                    // statement.
                    let statement_end = source.code[literal.end..]
                        .find(';')
                        .map_or(source.code.len(), |n| literal.end + n);
                    if let Some(next) = source.literals.get(index + 1)
                        && next.end <= statement_end
                        && source.code[literal.end..next.start].contains("unwrap_or")
                    {
                        reads
                            .test_defaults
                            .entry(variable)
                            .or_default()
                            .insert(next.value.clone());
                    }
                }
            }
        }
    }
    reads
}

/// What `scripts/*.sh` and the `Makefile` read, with the literal defaults they give.
fn scan_scripts(root: &Path) -> BTreeMap<String, BTreeSet<Option<String>>> {
    let mut reads: BTreeMap<String, BTreeSet<Option<String>>> = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("scripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    files.push(root.join("Makefile"));
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            // `${NAME:-default}` in shell, `NAME ?= default` in make.
            let mut rest = line;
            while let Some(at) = rest.find("${") {
                rest = &rest[at + 2..];
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if let Some(default) = rest[name.len()..].strip_prefix(":-")
                    && variable_names(&name) == [name.clone()]
                {
                    let default = &default[..default.find('}').unwrap_or(default.len())];
                    let literal = (!default.contains('$')).then(|| default.to_owned());
                    reads.entry(name).or_default().insert(literal);
                }
            }
            if let Some((name, default)) = line.split_once("?=") {
                let name = name.trim();
                if variable_names(name) == [name.to_owned()] {
                    let default = default.trim();
                    let literal = (!default.contains('$')).then(|| default.to_owned());
                    reads.entry(name.to_owned()).or_default().insert(literal);
                }
            }
        }
    }
    reads
}

// ------------------------------------------------------------------------------------------------
// What the README says.
// ------------------------------------------------------------------------------------------------

#[derive(Debug)]
struct Row {
    names: Vec<String>,
    used_by: BTreeSet<String>,
    default: String,
}

fn backticked(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The rows of the tables in the README's `## Configuration` section.
fn documented(root: &Path) -> Vec<Row> {
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme
        .find("\n## Configuration\n")
        .expect("README.md has a `## Configuration` section");
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |n| n + 3)];
    section
        .lines()
        .filter(|line| line.starts_with('|'))
        .map(|line| {
            line.trim_matches('|')
                .split('|')
                .map(str::trim)
                .collect::<Vec<_>>()
        })
        .filter(|cells| cells.len() >= 4 && cells[0] != "variable" && !cells[0].starts_with("--"))
        .map(|cells| Row {
            names: backticked(cells[0]),
            used_by: cells[1]
                .split(',')
                .map(|user| user.split('(').next().unwrap().trim().to_owned())
                .collect(),
            default: cells[2].to_owned(),
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------
// The checks.
// ------------------------------------------------------------------------------------------------

#[test]
fn the_readme_lists_every_variable_the_code_reads_with_its_users_and_default() {
    let root = repo_root();
    let reads = scan_code(&root);
    let scripts = scan_scripts(&root);
    let rows = documented(&root);
    let mut problems = Vec::new();

    let mut main_rows = BTreeMap::new();
    let mut aux_rows = BTreeMap::new();
    for row in &rows {
        let aux = row.used_by.iter().all(|u| u == "scripts" || u == "tests");
        for name in &row.names {
            let table = if aux { &mut aux_rows } else { &mut main_rows };
            if table.insert(name.clone(), row).is_some() {
                problems.push(format!("{name} has two rows"));
            }
        }
    }
    assert!(
        main_rows.len() > 20,
        "found only {} documented variables: is the README's table still in `## Configuration`?",
        main_rows.len()
    );

    // Every variable the code reads is documented, with the binaries that read it.
    for (name, users) in &reads.users {
        let Some(row) = main_rows.get(name) else {
            problems.push(format!(
                "{name} is read by {} but has no row in the README's configuration table",
                users.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
            continue;
        };
        let documented: BTreeSet<String> = if row.used_by.contains(ALL) {
            reads.binaries.clone()
        } else {
            row.used_by.clone()
        };
        for user in &documented {
            if !reads.binaries.contains(user) {
                problems.push(format!("{name}: `used by` names {user:?}, not a binary"));
            }
        }
        if !users.contains("common") {
            let actual: BTreeSet<String> = users.clone();
            if actual != documented {
                problems.push(format!(
                    "{name}: `used by` says {}, the code is read by {}",
                    documented.iter().cloned().collect::<Vec<_>>().join(", "),
                    actual.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    // Every documented variable is read by the code.
    for name in main_rows.keys() {
        if !reads.users.contains_key(name) {
            problems.push(format!(
                "{name} is in the README's configuration table but no code reads it"
            ));
        }
    }
    // Every default the code gives is the documented one.
    for (name, defaults) in &reads.defaults {
        let Some(row) = main_rows.get(name) else {
            continue;
        };
        let values = backticked(&row.default);
        for (default, place) in defaults {
            match default {
                Given::Value(value) if !values.contains(value) => problems.push(format!(
                    "{name}: the code's default is `{value}` ({place}); the README says {:?}",
                    row.default
                )),
                Given::Required if !row.default.contains("required") => problems.push(format!(
                    "{name} is required ({place}); the README's default should say so, not {:?}",
                    row.default
                )),
                _ => {}
            }
        }
    }

    // The scripts' and tests' own variables: in the second table, read where it says.
    let mut script_and_test_reads: BTreeMap<&String, BTreeSet<&str>> = BTreeMap::new();
    for name in scripts.keys() {
        script_and_test_reads
            .entry(name)
            .or_default()
            .insert("scripts");
    }
    for name in reads.test_uses.keys() {
        script_and_test_reads
            .entry(name)
            .or_default()
            .insert("tests");
    }
    for (name, readers) in &script_and_test_reads {
        if main_rows.contains_key(*name) {
            continue;
        }
        match aux_rows.get(*name) {
            None => problems.push(format!(
                "{name} is read by the {} but has no row in the README (scripts and tests table)",
                readers.iter().copied().collect::<Vec<_>>().join(" and ")
            )),
            Some(row) => {
                let documented: BTreeSet<&str> = row.used_by.iter().map(String::as_str).collect();
                if &documented != readers {
                    problems.push(format!(
                        "{name}: `used by` says {:?}, it is read by the {:?}",
                        documented, readers
                    ));
                }
                let values = backticked(&row.default);
                let defaults = scripts
                    .get(*name)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .chain(reads.test_defaults.get(*name).into_iter().flatten());
                for default in defaults {
                    if !values.contains(default) {
                        problems.push(format!(
                            "{name}: the default is `{default}`; the README says {:?}",
                            row.default
                        ));
                    }
                }
            }
        }
    }
    for name in aux_rows.keys() {
        if !script_and_test_reads.contains_key(name) {
            problems.push(format!(
                "{name} is in the README's scripts and tests table but nothing reads it"
            ));
        }
    }

    let mut message = String::new();
    for problem in &problems {
        writeln!(message, "- {problem}").unwrap();
    }
    assert!(
        problems.is_empty(),
        "README.md's configuration reference and the code disagree:\n{message}"
    );
}

// The scanner itself, on small inputs, so a change to it cannot quietly make it see nothing.

#[test]
fn the_scanner_finds_reads_and_their_defaults_and_skips_comments_and_tests() {
    let mut source = Source::lex(
        r#"
        // env.or("SWATTER_COMMENTED", 1)
        const LIMIT: NonZeroU32 = NonZeroU32::new(10).unwrap();
        fn f() {
            let a = env.or("SWATTER_A", SocketAddr::from(([127, 0, 0, 1], 9100)))?;
            let b = env.seconds("SWATTER_B", Duration::from_secs(30 * 24 * 3600))?;
            let c = env.or("SWATTER_C", LIMIT)?;
            let d = url(env, "SWATTER_D", "http://x:1", &["http://"])?;
            let e: String = env.required("SWATTER_E")?;
            let f = env.or("SWATTER_F", (cores / 2).max(1))?;
            let g = env.or("SWATTER_G", LogFormat::Pretty)?;
            let h = env.raw("SWATTER_H");
            let q = '"';
        }
        #[cfg(test)]
        mod tests {
            fn t() { env.or("SWATTER_TEST_ONLY", 3); let b = '{'; }
        }
        #[cfg(feature = "test-util")]
        pub mod testing;
        "#,
    );
    assert_eq!(source.strip_test_items(), ["testing"]);
    let found: BTreeMap<String, Option<String>> = source
        .literals
        .iter()
        .filter(|l| l.value.starts_with("SWATTER_"))
        .map(|l| {
            let default = match source.call_of(l) {
                Some((f, 0)) if f == "or" || f == "seconds" => source.next_argument(l.end),
                Some((f, 1)) if f == "url" => source.next_argument(l.end),
                _ => None,
            };
            (
                l.value.clone(),
                default.and_then(|arg| evaluate(&arg, &source)),
            )
        })
        .collect();
    let expected: BTreeMap<String, Option<String>> = [
        ("SWATTER_A", Some("127.0.0.1:9100")),
        ("SWATTER_B", Some("2592000")),
        ("SWATTER_C", Some("10")),
        ("SWATTER_D", Some("http://x:1")),
        ("SWATTER_E", None),
        ("SWATTER_F", None),
        ("SWATTER_G", Some("pretty")),
        ("SWATTER_H", None),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map(str::to_owned)))
    .collect();
    assert_eq!(found, expected);
    assert_eq!(
        variable_names("SWATTER_A (SWATTER_B is set); RUST_LOG, OTEL_SERVICE_NAME, SWATTER_*_ADDR"),
        ["SWATTER_A", "SWATTER_B", "RUST_LOG", "OTEL_SERVICE_NAME"]
    );
}
