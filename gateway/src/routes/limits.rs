//! The limits of text inputs (docs/api.md, *Limits*) as JSON Schemas, so that the OpenAPI
//! description accepts exactly what the services accept. Fields use them with
//! `#[schema(schema_with = limits::…)]` (bodies) or `#[param(schema_with = limits::…)]` (query).
//!
//! The services measure a text as sent (`maxLength`), then trim it, and allow no control
//! characters in what is left (line breaks and tabs in descriptions and comments only). The
//! patterns say the same: whitespace at either end (the characters Rust's `str::trim` removes,
//! control ones included), then a core without forbidden characters, not empty where a text is
//! required.

use utoipa::openapi::{
    ArrayBuilder, KnownFormat, ObjectBuilder, RefOr, Schema, SchemaFormat, Type, schema::SchemaType,
};

/// What `str::trim` removes: Unicode `White_Space` (written out, as `\s` differs between the
/// regex dialects tools use).
const TRIMMED: &str =
    r"\t\n\u000b\u000c\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000";
/// Control characters (Unicode `Cc`): refused in one-line texts.
const CONTROL: &str = r"\u0000-\u001f\u007f-\u009f";
/// Control characters but `\t`, `\n` and `\r`: refused in multi-line texts.
const CONTROL_BUT_LINES: &str = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f";

/// A trimmed text whose core has no character of `forbidden`; `required` when it may not be
/// empty (or whitespace only).
fn text_pattern(forbidden: &str, required: bool) -> String {
    if required {
        format!("^[{TRIMMED}]*[^{forbidden}{TRIMMED}][^{forbidden}]*[{TRIMMED}]*$")
    } else {
        format!("^[{TRIMMED}]*[^{forbidden}]*[{TRIMMED}]*$")
    }
}

/// A string, or also `null` when `nullable`.
fn string(nullable: bool) -> ObjectBuilder {
    let schema_type = if nullable {
        SchemaType::from_iter([Type::String, Type::Null])
    } else {
        SchemaType::new(Type::String)
    };
    ObjectBuilder::new().schema_type(schema_type)
}

/// A one-line text of `min`–`max` characters after trimming (`min` 0 or 1).
fn line(min: usize, max: usize, nullable: bool, description: &str) -> ObjectBuilder {
    string(nullable)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(text_pattern(CONTROL, min > 0)))
        .description(Some(description))
}

/// A text of `min`–`max` characters after trimming that may span lines.
fn lines(min: usize, max: usize, nullable: bool, description: &str) -> ObjectBuilder {
    string(nullable)
        .min_length((min > 0).then_some(min))
        .max_length(Some(max))
        .pattern(Some(text_pattern(CONTROL_BUT_LINES, min > 0)))
        .description(Some(description))
}

fn schema(builder: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(Schema::Object(builder.build()))
}

/// A username: 3–32 characters of `a-z`, `0-9`, `_`, `.`, `-` (not trimmed).
pub fn username() -> RefOr<Schema> {
    schema(
        string(false)
            .min_length(Some(3))
            .max_length(Some(32))
            .pattern(Some("^[a-z0-9_.-]+$"))
            .description(Some("3–32 characters of `a-z`, `0-9`, `_`, `.`, `-`"))
            .examples(["alice"]),
    )
}

fn email_builder(nullable: bool) -> ObjectBuilder {
    string(nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Email)))
        .max_length(Some(254))
        .description(Some(
            "An email address (`local@domain.tld`); unique regardless of case",
        ))
        .examples(["alice@example.com"])
}

/// An email address.
pub fn email() -> RefOr<Schema> {
    schema(email_builder(false))
}

/// An email address to change to; absent or `null` leaves it.
pub fn optional_email() -> RefOr<Schema> {
    schema(email_builder(true))
}

/// A new password: 8–128 characters, none of them a control character (not trimmed).
pub fn password() -> RefOr<Schema> {
    schema(
        string(false)
            .min_length(Some(8))
            .max_length(Some(128))
            .pattern(Some(format!("^[^{CONTROL}]*$")))
            .description(Some("8–128 characters, no control characters")),
    )
}

/// A display name; absent or `null` is none (sign-up) or leaves it (changes).
pub fn full_name() -> RefOr<Schema> {
    schema(
        line(
            0,
            100,
            true,
            "At most 100 characters (trimmed), on one line",
        )
        .examples(["Alice Liddell"]),
    )
}

/// A project key: 2–10 characters, an upper-case letter then upper-case letters or digits.
pub fn project_key() -> RefOr<Schema> {
    schema(project_key_builder())
}

fn project_key_builder() -> ObjectBuilder {
    string(false)
        .min_length(Some(2))
        .max_length(Some(10))
        .pattern(Some("^[A-Z][A-Z0-9]*$"))
        .description(Some(
            "2–10 characters: an upper-case letter, then upper-case letters or digits",
        ))
        .examples(["SWAT"])
}

/// An issue key, `KEY-n`.
pub fn issue_key() -> RefOr<Schema> {
    schema(
        string(false)
            .pattern(Some("^[A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,17}$"))
            .description(Some("The project's key, `-`, the issue's number"))
            .examples(["SWAT-42"]),
    )
}

/// A project name or an issue title: 1–200 characters on one line.
pub fn title() -> RefOr<Schema> {
    schema(line(
        1,
        200,
        false,
        "1–200 characters (trimmed), on one line",
    ))
}

/// A project or issue description; `null` is none (or clears it).
pub fn description() -> RefOr<Schema> {
    schema(lines(
        0,
        20_000,
        true,
        "At most 20,000 characters (trimmed); may span lines",
    ))
}

/// A comment's text.
pub fn comment_body() -> RefOr<Schema> {
    schema(lines(
        1,
        10_000,
        false,
        "1–10,000 characters (trimmed); may span lines",
    ))
}

/// Largest estimate of an issue, in points (the issues service holds the same bound).
pub const MAX_ESTIMATE: i64 = 1000;

/// A calendar date within the years the services accept: `YYYY-MM-DD`, 1900 to 9999.
const DATE_PATTERN: &str = "^(19[0-9]{2}|[2-9][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

fn date_builder(nullable: bool, description: &str) -> ObjectBuilder {
    string(nullable)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Date)))
        .pattern(Some(DATE_PATTERN))
        .description(Some(description))
        .examples(["2026-12-24"])
}

/// A due date; `null` is none (or clears it).
pub fn due_on() -> RefOr<Schema> {
    schema(date_builder(
        true,
        "A calendar date `YYYY-MM-DD` from 1900-01-01 to 9999-12-31; `null` for none",
    ))
}

/// An issue's estimate in points; `null` is none (or clears it).
pub fn estimate() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(0))
            .maximum(Some(MAX_ESTIMATE))
            .description(Some("0–1,000 points; `null` for none"))
            .examples([3]),
    )
}

/// The milestone an issue belongs to; `null` is none (or detaches it).
pub fn milestone_id() -> RefOr<Schema> {
    schema(
        string(true)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
            .description(Some(
                "A milestone of the issue's project; setting it is for maintainers and owners",
            ))
            .examples(["01936f90-1b2c-7d3e-8f4a-5b6c7d8e9f0a"]),
    )
}

/// Largest page of a project's change feed, and the page when none is asked for.
pub const MAX_CHANGE_PAGE_SIZE: u32 = 1000;
pub const DEFAULT_CHANGE_PAGE_SIZE: u32 = 100;

/// `page_size` of the change feed.
pub fn change_page_size() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(MAX_CHANGE_PAGE_SIZE))
            .default(Some(DEFAULT_CHANGE_PAGE_SIZE.into()))
            .description(Some("1–1,000 changes, default 100")),
    )
}

/// A change-feed cursor: 0 (the start) or more.
pub fn change_cursor() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .default(Some(0.into()))
            .description(Some(
                "The last cursor the client has (`next_after` of the previous page, the `id` of \
                 the last stream event); 0: from the oldest change kept",
            )),
    )
}

/// The labels of an issue; `null` is none (or clears them).
pub fn labels() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(line(1, 50, false, "1–50 characters (trimmed), on one line"))
            .max_items(Some(20))
            .description(Some(
                "At most 20 labels, each 1–50 characters (trimmed); kept sorted, without \
                 duplicates; case matters",
            ))
            .examples([serde_json::json!(["bug", "auth"])])
            .build(),
    ))
}

/// The user search text: a username prefix.
pub fn user_query() -> RefOr<Schema> {
    query_text(
        32,
        "A username prefix of at most 32 characters; empty lists everyone",
    )
}

/// A query parameter's text: the gateway refuses control characters anywhere in a query
/// parameter (before any trimming), so only non-control whitespace is trimmed from these.
fn query_text(max: usize, description: &str) -> RefOr<Schema> {
    schema(
        string(false)
            .max_length(Some(max))
            .pattern(Some(format!("^[^{CONTROL}]*$")))
            .description(Some(description)),
    )
}

/// Longest issue query (`q`, a saved view's `query`), in characters (docs/api.md, *Searching
/// issues*); the issues service holds the same limit and those on terms and values.
pub const MAX_ISSUE_QUERY_LEN: usize = 1000;

/// What an issue query is, for the descriptions of `q` and of a saved view's `query`.
const ISSUE_QUERY_HELP: &str = "The issue query language (docs/api.md, *Searching issues*): \
     whitespace-separated terms, all of which must hold. `field:value`, `field:v1,v2` (any of), \
     `-field:value` (not), comparisons `field:>=value` (also `>`, `<=`, `<`) for priority, due, \
     created, updated and estimate, quoted values `milestone:\"v1.0\"`. Fields: status, \
     priority, assignee (me, none, a username or an id), author, label, milestone (a title or \
     none), due, created, updated (dates YYYY-MM-DD), estimate, resolution, \
     is:(open|closed|blocked|unblocked), has:/no:(assignee|milestone|due|estimate|label|parent), \
     parent:KEY-n. Bare words and \"quoted phrases\" are full-text over title and description. \
     At most 1,000 characters, 30 terms and 20 values per term; an error is 422 naming the \
     position (1-based character) and what was expected";

/// The query of issue lists (`q`).
pub fn issue_query() -> RefOr<Schema> {
    schema(
        string(false)
            .max_length(Some(MAX_ISSUE_QUERY_LEN))
            .pattern(Some(format!("^[^{CONTROL}]*$")))
            .description(Some(ISSUE_QUERY_HELP))
            .examples([
                "status:open,in_progress assignee:me -label:wontfix priority:>=high \
                 milestone:\"v1.0\" due:<2026-12-31 is:blocked \"free text\"",
            ]),
    )
}

/// The query of a saved view: as `q`, control characters refused.
pub fn view_query() -> RefOr<Schema> {
    schema(
        string(false)
            .max_length(Some(MAX_ISSUE_QUERY_LEN))
            .pattern(Some(text_pattern(CONTROL, false)))
            .description(Some(ISSUE_QUERY_HELP)),
    )
}

/// Longest saved view name.
pub const MAX_VIEW_NAME_LEN: usize = 100;

/// The name of a saved view: 1–100 characters on one line, unique per user and project.
pub fn view_name() -> RefOr<Schema> {
    schema(line(
        1,
        MAX_VIEW_NAME_LEN,
        false,
        "1–100 characters on one line (trimmed), unique among the caller's views of the project",
    ))
}

/// The label filter of issue lists.
pub fn label_filter() -> RefOr<Schema> {
    query_text(
        50,
        "Issues carrying this label (exactly, case matters; trimmed)",
    )
}

/// The name of a personal access token.
pub fn token_name() -> RefOr<Schema> {
    schema(
        line(
            1,
            100,
            false,
            "1–100 characters (trimmed), on one line; unique among your tokens that are not revoked",
        )
        .examples(["ci-nightly"]),
    )
}

/// The scopes of a personal access token.
pub fn token_scopes() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(string(false).enum_values(Some(["read", "write", "admin"])))
            .min_items(Some(1))
            .description(Some(
                "`read` (every read), `write` (changes too; implies read), `admin` (with read or write: an admin's \
                 rights; only admins may grant it)",
            ))
            .examples([serde_json::json!(["read"])])
            .build(),
    ))
}

/// The projects a personal access token is limited to; `null` or absent: no limit.
pub fn token_projects() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(project_key_builder())
            .min_items(Some(1))
            .max_items(Some(100))
            .description(Some(
                "Only these projects (keys, 1–100 of them, each one you may see) are visible \
                 to the token; absent or `null`: every project you may see",
            ))
            .examples([serde_json::json!(["SWAT"])])
            .build(),
    ))
}

/// Days until a personal access token expires.
pub fn token_days() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .minimum(Some(1))
            .maximum(Some(365))
            .description(Some("1–365 days; absent: 90"))
            .examples([30]),
    )
}

/// A user id as the services read one (`uuid`'s parser): hyphenated, simple, braced or URN.
const UUID: &str = "[0-9a-fA-F]{32}|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\
    |\\{[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\\}\
    |urn:uuid:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}";

/// The user an issue is assigned to; `null` is nobody (or unassigns).
pub fn assignee_id() -> RefOr<Schema> {
    schema(
        string(true)
            .pattern(Some(format!("^({UUID})$")))
            .description(Some(
                "A member of the project (a user id); assigning is for maintainers and owners",
            ))
            .examples(["01936f8e-9d2a-7e31-b4c5-6d7e8f9a0b1c"]),
    )
}

/// The assignee filter of issue lists.
pub fn assignee_filter() -> RefOr<Schema> {
    schema(
        string(false)
            .pattern(Some(format!("^(me|none|{UUID})$")))
            .description(Some("`me`, `none` (unassigned) or a user id"))
            .examples(["me"]),
    )
}

/// The author filter of issue lists.
pub fn author_filter() -> RefOr<Schema> {
    schema(
        string(false)
            .pattern(Some(format!("^(me|{UUID})$")))
            .description(Some("`me` or a user id")),
    )
}

/// The orders of issue lists.
const ISSUE_SORTS: [&str; 10] = [
    "-updated_at",
    "updated_at",
    "-created_at",
    "created_at",
    "-priority",
    "priority",
    "-due_on",
    "due_on",
    "-estimate",
    "estimate",
];
const ISSUE_SORT_HELP: &str = "`created_at`, `updated_at`, `priority`, `due_on` or `estimate`, \
     with a leading `-` for descending; issues without a due date or estimate come last either \
     way. Default `-updated_at`";

/// The order of issue lists.
pub fn issue_sort() -> RefOr<Schema> {
    schema(
        string(false)
            .enum_values(Some(ISSUE_SORTS))
            .description(Some(ISSUE_SORT_HELP))
            .examples(["-priority"]),
    )
}

/// The order of a saved view: as `sort` of issue lists, `null` or empty for their default.
pub fn optional_issue_sort() -> RefOr<Schema> {
    schema(
        string(true)
            .enum_values(Some(
                ISSUE_SORTS
                    .iter()
                    .chain(&[""])
                    .map(|sort| serde_json::Value::from(*sort))
                    .chain([serde_json::Value::Null]),
            ))
            .description(Some(ISSUE_SORT_HELP))
            .examples(["-due_on"]),
    )
}

/// Longest attachment file name, in bytes of UTF-8 once sanitized (the issues service holds the
/// same bound).
pub const MAX_FILE_NAME_BYTES: usize = 255;

/// The name of an attached file, as downloads will carry it.
pub fn file_name() -> RefOr<Schema> {
    schema(
        string(false)
            .min_length(Some(1))
            .max_length(Some(MAX_FILE_NAME_BYTES))
            .description(Some(
                "The file's name, at most 255 characters as sent. Only its last path segment is kept and control characters \
                 and bidirectional controls are removed; what is left (trimmed) must be 1–255 \
                 bytes of UTF-8, and not `.` or `..`",
            ))
            .examples(["login-error.png"]),
    )
}

/// The token characters of a media type's type and subtype (RFC 9110 §5.6.2).
const MEDIA_TOKEN: &str = r"[A-Za-z0-9!#$%&'*+.^_`|~-]+";

/// The media type a client declares for an upload.
pub fn media_type() -> RefOr<Schema> {
    schema(
        string(false)
            .max_length(Some(255))
            .pattern(Some(format!("^{MEDIA_TOKEN}/{MEDIA_TOKEN}$")))
            .description(Some(
                "`type/subtype`, without parameters, at most 255 characters. The content must \
                 not contradict it (`image/png` for a PDF is refused at confirm); \
                 `application/octet-stream` fits anything. What downloads are served as is the \
                 type sniffed from the content",
            ))
            .examples(["image/png"]),
    )
}

/// A SHA-256 the content must have; absent, empty or `null`: not checked.
pub fn sha256() -> RefOr<Schema> {
    schema(
        string(true)
            .pattern(Some("^([0-9a-fA-F]{64})?$"))
            .description(Some(
                "64 hexadecimal digits (either case); checked when the upload is confirmed \
                 (a mismatch is 422 `sha256` and the object is deleted)",
            ))
            .examples(["9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"]),
    )
}

/// The size an upload declares, in bytes.
pub fn upload_size() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .description(Some(
                "Bytes, from 1 to the per-file limit (`SWATTER_ATTACHMENT_MAX_BYTES`, default \
                 26,214,400 = 25 MiB; `max_file_bytes` of the project's attachment usage). The \
                 presigned PUT is signed for exactly this length",
            ))
            .examples([48213]),
    )
}

/// The comment of the issue an attachment belongs to; `null` or absent: the issue itself.
pub fn attachment_comment_id() -> RefOr<Schema> {
    schema(
        string(true)
            .pattern(Some(format!("^({UUID})$")))
            .description(Some(
                "Attach to this comment of the issue instead of the issue itself",
            ))
            .examples(["01936f91-2b3c-7d4e-9f5a-6b7c8d9e0f1a"]),
    )
}

/// Longest webhook URL (docs/api.md, *Webhooks*).
pub const MAX_WEBHOOK_URL_LEN: usize = 2000;
/// Longest webhook description.
pub const MAX_WEBHOOK_DESCRIPTION_LEN: usize = 200;
/// Most event types one webhook may list.
pub const MAX_WEBHOOK_EVENT_TYPES: usize = 50;
/// Longest time a rotated-out signing secret keeps signing: 7 days, in seconds.
pub const MAX_SECRET_OVERLAP_SECONDS: i64 = 7 * 24 * 60 * 60;

/// Where a webhook sends its deliveries: an `http://` or `https://` URL without a fragment.
/// The webhooks service also refuses user info, and addresses on loopback, private, link-local
/// and cloud-metadata ranges unless its allow-list names them.
pub fn webhook_url() -> RefOr<Schema> {
    schema(
        string(false)
            // `uri` (RFC 3986); utoipa names it only with its `url` feature, which nothing else needs.
            .format(Some(SchemaFormat::Custom("uri".to_owned())))
            .max_length(Some(MAX_WEBHOOK_URL_LEN))
            .pattern(Some(r"^[Hh][Tt][Tt][Pp][Ss]?://[^#\u0000-\u0020\u007f]+$"))
            .description(Some(
                "An `http://` or `https://` URL of at most 2,000 characters, without user info \
                 or fragment; it must resolve to a public address",
            ))
            .examples(["https://ci.example.com/hooks/swatter"]),
    )
}

/// The event types a webhook receives: names from `GET /v1/webhook-event-types`.
pub fn event_types() -> RefOr<Schema> {
    let names = swatter_common::events::EVENT_TYPES
        .iter()
        .map(|(name, _)| *name);
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(
                string(false)
                    .enum_values(Some(names))
                    .description(Some("An event type")),
            )
            .max_items(Some(MAX_WEBHOOK_EVENT_TYPES))
            .description(Some(
                "At most 50 event types; empty (or absent at creation) means every type. \
                 Duplicates are dropped",
            ))
            .examples([serde_json::json!(["issue.created", "issue.updated"])])
            .build(),
    ))
}

/// A webhook's description; `null` is none (or clears it).
pub fn webhook_description() -> RefOr<Schema> {
    schema(line(
        0,
        MAX_WEBHOOK_DESCRIPTION_LEN,
        true,
        "At most 200 characters (trimmed), on one line",
    ))
}

/// How long a rotated-out signing secret keeps signing, in seconds.
pub fn overlap_seconds() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Integer, Type::Null]))
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(0))
            .maximum(Some(MAX_SECRET_OVERLAP_SECONDS))
            .description(Some(
                "0 to 604,800 (7 days); absent or `null`: 86,400 (24 hours). 0 stops the \
                 previous secret at once",
            ))
            .examples([3600]),
    )
}

/// Most issues one bulk edit may name (docs/api.md, *Bulk edits*).
pub const MAX_BULK_ISSUES: usize = 500;

/// The issues of a bulk edit: 1–500 distinct keys of the project.
pub fn bulk_issue_keys() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .items(
                string(false)
                    .pattern(Some("^[A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,17}$"))
                    .description(Some("`KEY-n`, an issue of this project")),
            )
            .min_items(Some(1))
            .max_items(Some(MAX_BULK_ISSUES))
            .unique_items(true)
            .description(Some(
                "1–500 keys of issues of this project, each once; results come in this order",
            ))
            .examples([serde_json::json!(["SWAT-12", "SWAT-14"])])
            .build(),
    ))
}

/// Labels a bulk edit adds to or removes from every issue.
pub fn bulk_labels() -> RefOr<Schema> {
    RefOr::T(Schema::Array(
        ArrayBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
            .items(line(1, 50, false, "1–50 characters (trimmed), on one line"))
            .max_items(Some(20))
            .description(Some(
                "At most 20 labels, each 1–50 characters (trimmed); an issue still holds at \
                 most 20 after the edit",
            ))
            .examples([serde_json::json!(["triaged"])])
            .build(),
    ))
}

/// The versions a bulk edit expects its issues at, by issue key.
pub fn bulk_expected_versions() -> RefOr<Schema> {
    schema(
        ObjectBuilder::new()
            .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
            .property_names(Some(
                string(false).pattern(Some("^[A-Z][A-Z0-9]{1,9}-[1-9][0-9]{0,17}$")),
            ))
            .additional_properties(Some(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(1)),
            ))
            .max_properties(Some(MAX_BULK_ISSUES))
            .description(Some(
                "Optional, per issue of `issue_keys`: its `version` as the client read it. If \
                 one has moved, nothing is written (412 naming each)",
            ))
            .examples([serde_json::json!({"SWAT-12": 3})]),
    )
}

/// The milestone a bulk edit moves issues to; `null` detaches them.
pub fn bulk_milestone_id() -> RefOr<Schema> {
    schema(
        string(true)
            .pattern(Some(format!("^({UUID})$")))
            .description(Some("A milestone of this project; `null` detaches"))
            .examples(["01936f90-1b2c-7d3e-8f4a-5b6c7d8e9f0a"]),
    )
}

/// The due date a bulk edit sets; `null` clears it.
pub fn bulk_due_on() -> RefOr<Schema> {
    schema(date_builder(
        true,
        "A calendar date `YYYY-MM-DD` from 1900-01-01 to 9999-12-31; `null` clears it",
    ))
}

/// A scheduled report's name: at most 100 characters, on one line; may be empty.
pub fn schedule_name() -> RefOr<Schema> {
    schema(
        line(
            0,
            100,
            false,
            "At most 100 characters (trimmed), on one line",
        )
        .examples(["Weekly SWAT"]),
    )
}

/// A five-field cron expression: fields of numbers, names, `*`, ranges, lists and steps,
/// separated by spaces.
pub fn cron() -> RefOr<Schema> {
    schema(
        string(false)
            .min_length(Some(9))
            .max_length(Some(100))
            .pattern(Some("^ *[0-9A-Za-z*,/-]+( +[0-9A-Za-z*,/-]+){4} *$"))
            .description(Some(
                "minute hour day-of-month month day-of-week, separated by spaces (at most 100 \
                 characters): numbers, month and weekday names, `*`, ranges, lists and steps",
            ))
            .examples(["0 8 * * 1"]),
    )
}

/// An IANA time zone name; absent or empty: UTC.
pub fn time_zone() -> RefOr<Schema> {
    schema(
        string(false)
            .max_length(Some(64))
            .pattern(Some("^[A-Za-z0-9/_+-]*$"))
            .description(Some("An IANA time zone name; default UTC"))
            .examples(["Europe/Berlin"]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regex_of(pattern: &str) -> regex::Regex {
        regex::Regex::new(pattern).unwrap()
    }

    #[test]
    fn user_id_patterns_take_every_form_the_uuid_parser_takes() {
        let assignee = regex_of(&format!("^(me|none|{UUID})$"));
        let id = "01936f8e-9d2a-7e31-b4c5-6d7e8f9a0b1c";
        for ok in [
            "me".to_owned(),
            "none".to_owned(),
            id.to_owned(),
            id.to_uppercase(),
            id.replace('-', ""),
            format!("{{{id}}}"),
            format!("urn:uuid:{id}"),
        ] {
            assert!(assignee.is_match(&ok), "{ok}");
            if ok != "me" && ok != "none" {
                assert!(ok.parse::<uuid::Uuid>().is_ok(), "{ok}");
            }
        }
        for bad in ["", "you", " me", &id[1..], &format!("{id}0")] {
            assert!(!assignee.is_match(bad), "{bad}");
        }
    }

    #[test]
    fn the_date_pattern_takes_the_years_1900_to_9999_written_yyyy_mm_dd() {
        let date = regex_of(DATE_PATTERN);
        for (raw, ok) in [
            ("2026-12-24", true),
            ("1900-01-01", true),
            ("9999-12-31", true),
            ("1899-12-31", false),
            ("0999-01-01", false),
            ("10000-01-01", false),
            ("2026-13-01", false),
            ("2026-00-10", false),
            ("2026-12-32", false),
            ("2026-1-01", false),
            ("2026-12-24T00:00:00Z", false),
            ("", false),
        ] {
            assert_eq!(date.is_match(raw), ok, "{raw}");
        }
    }

    #[test]
    fn text_patterns_describe_the_services_trimming_and_character_rules() {
        // The Rust regex crate reads these patterns as tools' ECMA-262 engines do.
        let required = regex_of(&text_pattern(CONTROL, true));
        let optional = regex_of(&text_pattern(CONTROL_BUT_LINES, false));
        for (text, ok) in [
            ("Login fails", true),
            ("  padded\t", true),
            ("\u{3000}ideographic space\u{85}", true),
            ("", false),
            ("   ", false),
            ("tab\tinside", false),
            ("nul\u{0}", false),
            ("line\nbreak", false),
        ] {
            assert_eq!(required.is_match(text), ok, "{text:?}");
        }
        for (text, ok) in [
            ("", true),
            ("two\nlines\r\n\tindented", true),
            ("\u{b}vertical tab at the ends\u{c}", true),
            ("vertical\u{b}tab inside", false),
            ("bell\u{7}", false),
        ] {
            assert_eq!(optional.is_match(text), ok, "{text:?}");
        }
    }
}
