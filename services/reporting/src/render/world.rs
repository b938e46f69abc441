//! The typst [`World`] of one render: one main source (a built-in template), the embedded fonts,
//! the report data in `sys.inputs`, and no file system at all.

use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Utc};
use typst::diag::{FileError, FileResult};
use typst::foundations::{Bytes, Datetime, Dict, Duration, IntoValue};
use typst::syntax::{FileId, RootedPath, Source, VirtualPath, VirtualRoot};
use typst::text::{Font, FontBook};
use typst::utils::LazyHash;
use typst::{Library, LibraryExt, World};

/// The fonts shipped inside the binary by `typst-assets`; loaded once per process.
struct Fonts {
    book: LazyHash<FontBook>,
    fonts: Vec<Font>,
}

static FONTS: LazyLock<Fonts> = LazyLock::new(|| {
    let fonts: Vec<Font> = typst_assets::fonts()
        .flat_map(|data| Font::iter(Bytes::new(data)))
        .collect();
    Fonts {
        book: LazyHash::new(FontBook::from_fonts(&fonts)),
        fonts,
    }
});

/// One render: a template and the report data it lays out.
pub struct ReportWorld {
    library: LazyHash<Library>,
    main: Source,
    /// `None` when the generation date is outside typst's calendar (then `datetime.today()` errs).
    today: Option<Datetime>,
}

impl ReportWorld {
    /// A world whose only file is `template` and whose `sys.inputs.data` is `data_json`.
    pub fn new(template: &Source, data_json: String, generated_at: DateTime<Utc>) -> Self {
        let mut inputs = Dict::new();
        inputs.insert("data".into(), data_json.into_value());
        // `sys.inputs` is part of the standard library, so each render builds its own (~0.1 ms
        // in release); only the fonts, which are costly to load, are shared by all renders.
        let library = Library::builder().with_inputs(inputs).build();
        let date = generated_at.date_naive();
        Self {
            library: LazyHash::new(library),
            main: template.clone(),
            today: Datetime::from_ymd(date.year(), date.month() as u8, date.day() as u8),
        }
    }

    /// The template being rendered.
    pub fn main_source(&self) -> &Source {
        &self.main
    }
}

impl World for ReportWorld {
    fn library(&self) -> &LazyHash<Library> {
        &self.library
    }

    fn book(&self) -> &LazyHash<FontBook> {
        &FONTS.book
    }

    fn main(&self) -> FileId {
        self.main.id()
    }

    fn source(&self, id: FileId) -> FileResult<Source> {
        if id == self.main.id() {
            Ok(self.main.clone())
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn file(&self, id: FileId) -> FileResult<Bytes> {
        if id == self.main.id() {
            Ok(Bytes::from_string(self.main.clone()))
        } else {
            Err(FileError::AccessDenied)
        }
    }

    fn font(&self, index: usize) -> Option<Font> {
        FONTS.fonts.get(index).cloned()
    }

    fn today(&self, _offset: Option<Duration>) -> Option<Datetime> {
        self.today
    }
}

/// Parses a built-in template as the main file `/<name>`.
pub fn template_source(name: &str, text: &str) -> Source {
    let path = VirtualPath::new(name).expect("template names are valid virtual paths");
    Source::new(
        RootedPath::new(VirtualRoot::Project, path).intern(),
        text.to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use typst_layout::PagedDocument;

    use super::*;

    /// Compiles `text` as the template with `data` as `sys.inputs.data`; the errors as text.
    fn compile(text: &str, data: &str) -> Result<(), String> {
        let world = ReportWorld::new(
            &template_source("probe.typ", text),
            data.to_owned(),
            Utc::now(),
        );
        typst::compile::<PagedDocument>(&world)
            .output
            .map(|_| ())
            .map_err(|errors| {
                errors
                    .iter()
                    .map(|e| e.message.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    }

    #[test]
    fn a_template_can_open_no_file_and_no_package() {
        let probes = [
            r#"#read("/etc/passwd")"#,
            r#"#read("../../../../etc/passwd")"#,
            r#"#image("/etc/passwd")"#,
            r#"#json("/data.json")"#,
            r#"#include "/etc/hosts""#,
            r#"#import "other.typ": *"#,
            r#"#import "@preview/cetz:0.3.0": canvas"#,
        ];
        for probe in probes {
            let error = compile(probe, "{}").expect_err(probe);
            // typst itself rejects paths leaving the root before asking the world.
            assert!(
                error.contains("access denied") || error.contains("escape the project root"),
                "{probe}: {error}"
            );
        }
    }

    #[test]
    fn the_data_arrives_as_json_in_sys_inputs_and_stays_a_string() {
        let template = r##"
            #let data = json(bytes(sys.inputs.data))
            #assert.eq(data.title, "#read(\"/etc/passwd\") *x*")
            #assert.eq(type(data.n), int)
            #data.title
        "##;
        compile(
            template,
            r##"{"title": "#read(\"/etc/passwd\") *x*", "n": 3}"##,
        )
        .expect("compiles");
    }
}
