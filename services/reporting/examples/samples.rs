//! Writes sample reports to `target/report-samples/` for looking at the design:
//! `cargo run -p swatter-reporting --release --example samples`, then e.g.
//! `pdftoppm -png -r 60 target/report-samples/project.pdf /tmp/project`.

#[path = "../tests/render_fixtures/mod.rs"]
mod fixtures;

use std::path::PathBuf;

use swatter_reporting::render::{render_project, render_user_monthly};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/report-samples");
    std::fs::create_dir_all(&dir)?;
    let samples = [
        ("project.pdf", render_project(&fixtures::project(60, 7))?),
        (
            "project-empty.pdf",
            render_project(&fixtures::project(0, 7))?,
        ),
        (
            "project-1k.pdf",
            render_project(&fixtures::project(1_000, 7))?,
        ),
        (
            "project-10k.pdf",
            render_project(&fixtures::project(10_000, 7))?,
        ),
        (
            "project-20k-backlog.pdf",
            render_project(&fixtures::backlog(20_000, 7))?,
        ),
        (
            "monthly.pdf",
            render_user_monthly(&fixtures::monthly(&[25, 8, 0], 11))?,
        ),
        (
            "monthly-no-projects.pdf",
            render_user_monthly(&fixtures::monthly(&[], 11))?,
        ),
    ];
    for (name, pdf) in samples {
        let path = dir.join(name);
        std::fs::write(&path, pdf)?;
        println!("{}", path.display());
    }
    Ok(())
}
