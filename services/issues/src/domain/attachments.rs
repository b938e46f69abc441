//! The rules of attachments, without I/O: what a file name, a declared type, a size and a
//! SHA-256 may be; the type sniffed from the first bytes and whether the declared type fits it;
//! what a download is served as; which files get a thumbnail (docs/decisions.md, "Issue 15").

use std::fmt;

use swatter_common::status::Violation;

/// Bytes of the content's beginning that [`sniff`] looks at.
pub const SNIFF_LEN: usize = 512;

/// Longest file name, in bytes of UTF-8.
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// Largest content of the one-step upload (`UploadAttachment`).
pub const MAX_ONE_STEP_BYTES: u64 = 10 * 1024 * 1024;

/// Where the bytes of attachment `id` live in the store.
pub fn object_key(id: uuid::Uuid) -> String {
    format!("attachments/{id}")
}

/// Where the thumbnail of attachment `id` lives in the store.
pub fn thumbnail_key(id: uuid::Uuid) -> String {
    format!("thumbnails/{id}.png")
}

/// Bidirectional controls: an RTL override makes `gpj.exe` read as `exe.jpg`.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// A file name as downloads show it: its last path segment, without control characters or
/// bidirectional controls, trimmed, 1–255 bytes, not `.` or `..`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileName(String);

impl FileName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Violation> {
        // The name as sent is bounded too (the schema's 255 characters), path included: a
        // longer one is refused, not cut down to a shorter last segment.
        if raw.chars().count() > MAX_FILE_NAME_BYTES {
            return Err(Violation::new(
                field,
                format!("must be at most {MAX_FILE_NAME_BYTES} characters as sent"),
            ));
        }
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let cleaned: String = last
            .chars()
            .filter(|c| !c.is_control() && !is_bidi_control(*c))
            .collect();
        let name = cleaned.trim();
        if name.is_empty() || name == "." || name == ".." {
            return Err(Violation::new(
                field,
                "must name a file (no path, not empty once control characters are removed)",
            ));
        }
        if name.len() > MAX_FILE_NAME_BYTES {
            return Err(Violation::new(
                field,
                format!("must be at most {MAX_FILE_NAME_BYTES} bytes"),
            ));
        }
        Ok(FileName(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `Content-Disposition: attachment` naming the file: `filename` an ASCII fallback,
    /// `filename*` the UTF-8 name (RFC 6266, RFC 8187).
    pub fn content_disposition(&self) -> String {
        content_disposition(&self.0)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `Content-Disposition: attachment` for a stored (already sanitized) name.
pub fn content_disposition(name: &str) -> String {
    let fallback: String = name
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::with_capacity(name.len() * 3);
    for byte in name.bytes() {
        // RFC 8187 attr-char.
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    format!("attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A declared media type: `type/subtype` of token characters, no parameters, lower-cased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredType(String);

impl DeclaredType {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Violation> {
        let is_token = |part: &str| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        let valid = raw.len() <= 255
            && raw
                .split_once('/')
                .is_some_and(|(kind, sub)| is_token(kind) && is_token(sub));
        if valid {
            Ok(DeclaredType(raw.to_ascii_lowercase()))
        } else {
            Err(Violation::new(
                field,
                "must be a media type `type/subtype` without parameters",
            ))
        }
    }

    /// The declared type of content sent without one: what it is.
    pub fn of(sniffed: Sniffed) -> Self {
        DeclaredType(sniffed.mime().to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether content sniffed as `sniffed` may be what was declared: the declared type must
    /// not be contradicted (`image/png` for a PDF, `text/plain` for a PNG).
    pub fn fits(&self, sniffed: Sniffed) -> bool {
        let declared = self.as_str();
        if declared == "application/octet-stream" || declared == sniffed.mime() {
            return true;
        }
        match sniffed {
            Sniffed::Text | Sniffed::Html | Sniffed::Svg | Sniffed::Xml => {
                is_text_type(declared) || (sniffed == Sniffed::Svg && declared == "image/svg+xml")
            }
            Sniffed::Zip => ZIP_BASED.iter().any(|prefix| declared.starts_with(prefix)),
            Sniffed::Gzip => GZIP_ALIASES.contains(&declared),
            Sniffed::Jpeg => declared == "image/jpg" || declared == "image/pjpeg",
            Sniffed::Png | Sniffed::Gif | Sniffed::Webp | Sniffed::Pdf => false,
            // Content of no kind known here: anything but a kind that would have been
            // recognised, or text.
            Sniffed::Binary => !is_text_type(declared) && Sniffed::from_mime(declared).is_none(),
        }
    }
}

/// Types of text (what a text file may be declared as); no image is text, not even SVG.
fn is_text_type(declared: &str) -> bool {
    if declared.starts_with("image/") {
        return false;
    }
    declared.starts_with("text/")
        || declared.ends_with("+json")
        || declared.ends_with("+xml")
        || matches!(
            declared,
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-javascript"
                | "application/ecmascript"
                | "application/x-ndjson"
                | "application/yaml"
                | "application/x-yaml"
                | "application/toml"
                | "application/sql"
                | "application/x-sh"
                | "application/x-shellscript"
                | "application/x-log"
        )
}

/// Formats stored as ZIP archives (office documents, Java archives, EPUB).
const ZIP_BASED: &[&str] = &[
    "application/x-zip-compressed",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/java-archive",
    "application/epub+zip",
    "application/vnd.android.package-archive",
];

const GZIP_ALIASES: &[&str] = &[
    "application/x-gzip",
    "application/x-tgz",
    "application/x-compressed-tar",
    "application/x-tar+gzip",
];

/// What content is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sniffed {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Zip,
    Gzip,
    Html,
    Svg,
    Xml,
    /// UTF-8 text without control characters (other than tab, line breaks, form feed, escape).
    Text,
    /// Anything else.
    Binary,
}

impl Sniffed {
    pub const ALL: [Sniffed; 12] = [
        Sniffed::Png,
        Sniffed::Jpeg,
        Sniffed::Gif,
        Sniffed::Webp,
        Sniffed::Pdf,
        Sniffed::Zip,
        Sniffed::Gzip,
        Sniffed::Html,
        Sniffed::Svg,
        Sniffed::Xml,
        Sniffed::Text,
        Sniffed::Binary,
    ];

    /// The media type stored as the attachment's `content_type`.
    pub fn mime(self) -> &'static str {
        match self {
            Sniffed::Png => "image/png",
            Sniffed::Jpeg => "image/jpeg",
            Sniffed::Gif => "image/gif",
            Sniffed::Webp => "image/webp",
            Sniffed::Pdf => "application/pdf",
            Sniffed::Zip => "application/zip",
            Sniffed::Gzip => "application/gzip",
            Sniffed::Html => "text/html",
            Sniffed::Svg => "image/svg+xml",
            Sniffed::Xml => "application/xml",
            Sniffed::Text => "text/plain",
            Sniffed::Binary => "application/octet-stream",
        }
    }

    /// The kind a type names, if it is one [`sniff`] recognises.
    pub fn from_mime(mime: &str) -> Option<Sniffed> {
        Sniffed::ALL
            .into_iter()
            .find(|kind| kind.mime() == mime && *kind != Sniffed::Binary)
    }

    /// Whether images of this kind get a thumbnail.
    pub fn has_thumbnail(self) -> bool {
        matches!(
            self,
            Sniffed::Png | Sniffed::Jpeg | Sniffed::Gif | Sniffed::Webp
        )
    }
}

/// What `head` (the first [`SNIFF_LEN`] bytes of the content, or all of it) is.
pub fn sniff(head: &[u8]) -> Sniffed {
    const SIGNATURES: &[(&[u8], Sniffed)] = &[
        (b"\x89PNG\r\n\x1a\n", Sniffed::Png),
        (b"\xff\xd8\xff", Sniffed::Jpeg),
        (b"GIF87a", Sniffed::Gif),
        (b"GIF89a", Sniffed::Gif),
        (b"%PDF-", Sniffed::Pdf),
        (b"PK\x03\x04", Sniffed::Zip),
        (b"PK\x05\x06", Sniffed::Zip),
        (b"\x1f\x8b\x08", Sniffed::Gzip),
    ];
    if let Some((_, kind)) = SIGNATURES.iter().find(|(sig, _)| head.starts_with(sig)) {
        return *kind;
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Sniffed::Webp;
    }
    if !is_text(head) {
        return Sniffed::Binary;
    }
    markup(head).unwrap_or(Sniffed::Text)
}

/// UTF-8 (a character cut at the end of `head` aside) without control characters but tab,
/// line breaks, form feed and escape (logs with colours are text).
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(error) => error.error_len().is_none() && head.len() - error.valid_up_to() < 4,
    };
    valid
        && head
            .iter()
            .all(|&b| b >= 0x20 || matches!(b, b'\t' | b'\n' | b'\r' | 0x0c | 0x1b))
        && !head.contains(&0x7f)
}

/// HTML, SVG or XML, from how the text starts (after a byte order mark, white space and
/// comments).
fn markup(head: &[u8]) -> Option<Sniffed> {
    let text = String::from_utf8_lossy(head).to_ascii_lowercase();
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    while let Some(after) = rest.strip_prefix("<!--") {
        rest = match after.find("-->") {
            Some(end) => after[end + 3..].trim_start(),
            // A comment running past what was read: a browser would sniff HTML.
            None => return Some(Sniffed::Html),
        };
    }
    const HTML_STARTS: &[&str] = &[
        "<!doctype html",
        "<html",
        "<head",
        "<body",
        "<script",
        "<iframe",
        "<h1",
        "<div",
        "<font",
        "<table",
        "<a",
        "<style",
        "<title",
        "<b",
        "<br",
        "<p",
        "<img",
        "<form",
        "<meta",
        "<link",
        "<object",
        "<embed",
    ];
    let is_tag_start = |tag: &str| {
        rest.strip_prefix(tag)
            .is_some_and(|after| after.starts_with([' ', '>', '\t', '\n', '\r', '/']))
    };
    if rest.starts_with("<svg") || (rest.starts_with("<?xml") && text.contains("<svg")) {
        return Some(Sniffed::Svg);
    }
    if rest.starts_with("<?xml")
        || (rest.starts_with("<!doctype") && !rest.starts_with("<!doctype html"))
    {
        return Some(if text.contains("<html") {
            Sniffed::Html
        } else {
            Sniffed::Xml
        });
    }
    if HTML_STARTS.iter().any(|tag| is_tag_start(tag)) || rest.starts_with("<!doctype html") {
        return Some(Sniffed::Html);
    }
    None
}

/// What a download of content stored as `content_type` is served as: active content (HTML,
/// SVG, XML, JavaScript) as plain text, so it never runs in the store's origin.
pub fn served_type(content_type: &str) -> String {
    let active = matches!(
        content_type,
        "text/html" | "image/svg+xml" | "application/xml" | "text/xml" | "application/xhtml+xml"
    ) || content_type.contains("javascript")
        || content_type.contains("ecmascript")
        || content_type.ends_with("+xml");
    if active || content_type.starts_with("text/") {
        "text/plain; charset=utf-8".to_owned()
    } else {
        content_type.to_owned()
    }
}

/// A size in bytes: 1 to `max`.
pub fn parse_size(field: &str, raw: i64, max: u64) -> Result<u64, Violation> {
    match u64::try_from(raw) {
        Ok(size) if (1..=max).contains(&size) => Ok(size),
        _ => Err(Violation::new(
            field,
            format!("must be between 1 and {max} bytes"),
        )),
    }
}

/// A SHA-256 as 64 hex digits, normalized to lower case; empty: none.
pub fn parse_sha256(field: &str, raw: &str) -> Result<Option<String>, Violation> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(Some(raw.to_ascii_lowercase()))
    } else {
        Err(Violation::new(field, "must be 64 hexadecimal digits"))
    }
}

/// Lower-case hex of a digest.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What the content of an upload turned out to be, against what was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub sniffed: Sniffed,
    pub sha256: String,
}

/// Why a stored object is not the upload that was asked for (422 naming the field).
pub fn verify(
    declared_size: u64,
    declared_sha256: Option<&str>,
    declared_type: &DeclaredType,
    size: u64,
    sha256: &str,
    sniffed: Sniffed,
) -> Result<Verified, Violation> {
    if size != declared_size {
        return Err(Violation::new(
            "size",
            format!("the upload has {size} bytes, {declared_size} were declared"),
        ));
    }
    if let Some(declared) = declared_sha256
        && declared != sha256
    {
        return Err(Violation::new(
            "sha256",
            format!("the upload's SHA-256 is {sha256}, {declared} was declared"),
        ));
    }
    if !declared_type.fits(sniffed) {
        return Err(Violation::new(
            "content_type",
            format!(
                "the content is {}, not {} as declared",
                sniffed.mime(),
                declared_type.as_str()
            ),
        ));
    }
    Ok(Verified {
        sniffed,
        sha256: sha256.to_owned(),
    })
}

/// Where an attachment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum AttachmentState {
    /// Asked for, not confirmed: visible to its uploader only, swept at `expires_at`.
    Pending,
    /// Verified and shown.
    Ready,
}

/// Whether an attachment has a thumbnail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum ThumbnailState {
    /// Not an image that gets one (or not confirmed yet).
    None,
    Ready,
    /// Too large to decode safely, or undecodable.
    Refused,
}

/// The limits an upload is admitted within.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub project_quota_bytes: u64,
    pub max_per_issue: u32,
}

/// What a project and an issue hold already (pending uploads included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Holdings {
    pub project_bytes: u64,
    pub issue_count: u64,
}

/// Whether an upload of `size` bytes fits: the project's bytes (confirmed and pending) stay
/// within its quota and the issue's attachments within their number. The refusal says the
/// numbers (409).
pub fn admit(limits: Limits, held: Holdings, size: u64) -> Result<(), String> {
    if held.issue_count >= u64::from(limits.max_per_issue) {
        return Err(format!(
            "the issue has {} attachments (pending uploads included), the most allowed is {}",
            held.issue_count, limits.max_per_issue
        ));
    }
    let after = held.project_bytes.saturating_add(size);
    if after > limits.project_quota_bytes {
        return Err(format!(
            "the project's attachments would take {after} bytes ({} used or reserved by pending \
             uploads, {size} more), over its quota of {} bytes",
            held.project_bytes, limits.project_quota_bytes
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> Result<String, Violation> {
        FileName::parse("file_name", raw).map(|n| n.as_str().to_owned())
    }

    #[test]
    fn file_names_lose_paths_controls_and_bidirectional_overrides() {
        let table = [
            ("screenshot.png", "screenshot.png"),
            ("C:\\Users\\me\\crash.dmp", "crash.dmp"),
            ("../../etc/passwd", "passwd"),
            ("invoice\u{202E}gpj.exe", "invoicegpj.exe"),
            ("a\u{2066}b\u{2069}\u{200E}\u{200F}\u{061C}c.txt", "abc.txt"),
            ("  log\u{0}\u{7}\n.txt  ", "log.txt"),
            ("résumé 😀.pdf", "résumé 😀.pdf"),
        ];
        for (raw, want) in table {
            assert_eq!(name(raw).unwrap(), want, "{raw:?}");
        }
    }

    #[test]
    fn file_names_that_name_nothing_or_are_too_long_are_refused() {
        let long = "x".repeat(256);
        for raw in [
            "",
            "   ",
            "dir/",
            "..",
            ".",
            "a/..",
            "\u{202E}",
            long.as_str(),
        ] {
            let error = name(raw).unwrap_err();
            assert_eq!(error.field, "file_name", "{raw:?}");
        }
        let long_path = format!("{}/short.txt", "d".repeat(250));
        assert_eq!(
            name(&long_path).unwrap_err().field,
            "file_name",
            "the path counts"
        );
        assert!(name(&"é".repeat(127)).is_ok());
        assert!(name(&"é".repeat(128)).is_err(), "256 bytes");
    }

    #[test]
    fn content_disposition_is_an_attachment_with_an_ascii_fallback_and_the_utf8_name() {
        let name = FileName::parse("file_name", "résumé \"final\".pdf").unwrap();
        assert_eq!(
            name.content_disposition(),
            "attachment; filename=\"r_sum_ _final_.pdf\"; \
             filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
        );
    }

    #[test]
    fn declared_types_are_media_types_without_parameters_lower_cased() {
        assert_eq!(
            DeclaredType::parse("content_type", "Image/PNG")
                .unwrap()
                .as_str(),
            "image/png"
        );
        for raw in [
            "",
            "png",
            "image/",
            "/png",
            "text/plain; charset=utf-8",
            "a/b/c",
            "te xt/plain",
        ] {
            assert_eq!(
                DeclaredType::parse("content_type", raw).unwrap_err().field,
                "content_type",
                "{raw:?}"
            );
        }
    }

    #[test]
    fn sizes_and_digests_are_checked_and_normalized() {
        assert_eq!(parse_size("size", 1, 10).unwrap(), 1);
        assert_eq!(parse_size("size", 10, 10).unwrap(), 10);
        for bad in [0, -1, 11] {
            assert_eq!(parse_size("size", bad, 10).unwrap_err().field, "size");
        }
        let upper = "AB".repeat(32);
        assert_eq!(
            parse_sha256("sha256", &upper).unwrap(),
            Some("ab".repeat(32))
        );
        assert_eq!(parse_sha256("sha256", "").unwrap(), None);
        for bad in ["abc".to_owned(), "g".repeat(64), "a".repeat(65)] {
            assert_eq!(parse_sha256("sha256", &bad).unwrap_err().field, "sha256");
        }
    }

    #[test]
    fn content_is_sniffed_from_its_first_bytes() {
        let table: &[(&[u8], Sniffed)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", Sniffed::Png),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", Sniffed::Jpeg),
            (b"GIF89a\x01\0\x01\0", Sniffed::Gif),
            (b"RIFF\x24\0\0\0WEBPVP8 ", Sniffed::Webp),
            (b"%PDF-1.7\n", Sniffed::Pdf),
            (b"PK\x03\x04\x14\0", Sniffed::Zip),
            (b"\x1f\x8b\x08\0\0\0", Sniffed::Gzip),
            (b"<!DOCTYPE html><html>", Sniffed::Html),
            (b"\xef\xbb\xbf  <html lang=en>", Sniffed::Html),
            (b"<!-- hi --> <script>alert(1)</script>", Sniffed::Html),
            (b"<p>hello</p>", Sniffed::Html),
            (b"<svg xmlns=\"http://www.w3.org/2000/svg\">", Sniffed::Svg),
            (b"<?xml version=\"1.0\"?><svg>", Sniffed::Svg),
            (b"<?xml version=\"1.0\"?><feed>", Sniffed::Xml),
            (b"2026-12-01 ERROR boom\n\tat main\n", Sniffed::Text),
            (b"\x1b[31mred\x1b[0m", Sniffed::Text),
            ("résumé".as_bytes(), Sniffed::Text),
            (b"<pre is not a tag start", Sniffed::Text),
            (b"MZ\x90\0\x03\0", Sniffed::Binary),
            (b"\0\0\0\0", Sniffed::Binary),
            (b"\xff\xfe\xfd", Sniffed::Binary),
        ];
        for (head, want) in table {
            assert_eq!(sniff(head), *want, "{:?}", String::from_utf8_lossy(head));
        }
        // A character cut by the end of what was read is still text.
        let cut = &"ééé".as_bytes()[..5];
        assert_eq!(sniff(cut), Sniffed::Text);
    }

    #[test]
    fn a_declared_type_must_not_be_contradicted_by_the_content() {
        let fits = |declared: &str, sniffed| {
            DeclaredType::parse("content_type", declared)
                .unwrap()
                .fits(sniffed)
        };
        let table = [
            ("application/octet-stream", Sniffed::Png, true),
            ("application/octet-stream", Sniffed::Html, true),
            ("image/png", Sniffed::Png, true),
            ("text/plain", Sniffed::Png, false),
            ("image/png", Sniffed::Pdf, false),
            ("image/jpeg", Sniffed::Png, false),
            ("image/png", Sniffed::Text, false),
            ("image/png", Sniffed::Binary, false),
            ("text/plain", Sniffed::Text, true),
            ("text/x-log", Sniffed::Text, true),
            ("application/json", Sniffed::Text, true),
            ("text/plain", Sniffed::Html, true),
            ("text/html", Sniffed::Html, true),
            ("image/svg+xml", Sniffed::Svg, true),
            ("image/svg+xml", Sniffed::Text, false),
            ("text/plain", Sniffed::Binary, false),
            ("application/x-dmp", Sniffed::Binary, true),
            ("application/pdf", Sniffed::Binary, false),
            ("application/pdf", Sniffed::Pdf, true),
            (
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                Sniffed::Zip,
                true,
            ),
            ("application/x-gzip", Sniffed::Gzip, true),
            ("application/zip", Sniffed::Gzip, false),
        ];
        for (declared, sniffed, want) in table {
            assert_eq!(fits(declared, sniffed), want, "{declared} for {sniffed:?}");
        }
    }

    #[test]
    fn active_content_is_served_as_plain_text_and_the_rest_as_sniffed() {
        for active in [
            "text/html",
            "image/svg+xml",
            "application/xml",
            "application/javascript",
            "text/plain",
        ] {
            assert_eq!(served_type(active), "text/plain; charset=utf-8", "{active}");
        }
        for passive in ["image/png", "application/pdf", "application/octet-stream"] {
            assert_eq!(served_type(passive), passive);
        }
    }

    #[test]
    fn raster_images_get_thumbnails() {
        let with: Vec<_> = Sniffed::ALL
            .into_iter()
            .filter(|kind| kind.has_thumbnail())
            .collect();
        assert_eq!(
            with,
            [Sniffed::Png, Sniffed::Jpeg, Sniffed::Gif, Sniffed::Webp]
        );
    }

    #[test]
    fn verification_names_the_first_field_the_object_contradicts() {
        let png = DeclaredType::parse("content_type", "image/png").unwrap();
        let sha = "a".repeat(64);
        let other = "b".repeat(64);
        let field = |size, declared_sha: Option<&str>, sniffed| {
            verify(10, declared_sha, &png, size, &sha, sniffed)
                .err()
                .map(|v| v.field)
        };
        assert_eq!(field(10, None, Sniffed::Png), None);
        assert_eq!(field(10, Some(&sha), Sniffed::Png), None);
        assert_eq!(field(11, Some(&sha), Sniffed::Png).as_deref(), Some("size"));
        assert_eq!(
            field(10, Some(&other), Sniffed::Png).as_deref(),
            Some("sha256")
        );
        assert_eq!(
            field(10, None, Sniffed::Pdf).as_deref(),
            Some("content_type")
        );
    }

    #[test]
    fn uploads_are_admitted_within_the_quota_and_the_count_with_the_numbers_when_not() {
        let limits = Limits {
            project_quota_bytes: 100,
            max_per_issue: 2,
        };
        let held = |project_bytes, issue_count| Holdings {
            project_bytes,
            issue_count,
        };
        assert_eq!(admit(limits, held(0, 0), 100), Ok(()));
        assert_eq!(admit(limits, held(60, 1), 40), Ok(()));
        let over = admit(limits, held(60, 1), 41).unwrap_err();
        assert!(over.contains("101") && over.contains("100"), "{over}");
        let full = admit(limits, held(0, 2), 1).unwrap_err();
        assert!(full.contains("2 attachments"), "{full}");
    }
}
