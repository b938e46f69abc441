//! Compiles `swatter/**/*.proto` with protox (pure Rust, no protoc) and keeps the encoded descriptor
//! set next to the generated code so the servers can offer reflection.

use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "swatter/identity/v1/identity.proto",
    "swatter/issues/v1/issues.proto",
    "swatter/reporting/v1/reporting.proto",
    "swatter/webhooks/v1/webhooks.proto",
];

/// Imported by the swatter protos from this folder rather than from protox's built-in files.
const VENDORED: &[&str] = &["google/api/field_behavior.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let mut compiler = protox::Compiler::new(["."])?;
    compiler
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTOS)?;
    // Encoded by protox itself: decoding into prost types would drop the `google.api.field_behavior`
    // options, and reflection serves these bytes as they are.
    fs::write(
        out_dir.join("swatter_descriptor.bin"),
        compiler.encode_file_descriptor_set(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(compiler.file_descriptor_set())?;
    for proto in PROTOS.iter().chain(VENDORED) {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
