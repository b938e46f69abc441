//! Compiles `swatter/**/*.proto` with protox (pure Rust, no protoc) and keeps the encoded descriptor
//! set next to the generated code so the servers can offer reflection.

use prost::Message;
use std::{env, fs, path::PathBuf};

const PROTOS: &[&str] = &[
    "swatter/identity/v1/identity.proto",
    "swatter/issues/v1/issues.proto",
    "swatter/reporting/v1/reporting.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    let descriptors = protox::compile(PROTOS, ["."])?;
    fs::write(
        out_dir.join("swatter_descriptor.bin"),
        descriptors.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .compile_fds(descriptors)?;
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={proto}");
    }
    Ok(())
}
