//! Compiles proto/acikkapi/v1 with a vendored protoc, so no system protoc is needed.
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../proto");
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    let include = protoc_bin_vendored::include_path()?;
    set_protoc(&protoc);
    let files: Vec<PathBuf> = [
        "common",
        "events",
        "intake",
        "routing",
        "notification",
        "escalation",
        "reporting",
        "audit",
    ]
    .iter()
    .map(|f| root.join(format!("acikkapi/v1/{f}.proto")))
    .collect();
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out.join("acikkapi_descriptor.bin"))
        .compile_protos(&files, &[root.clone(), include])?;
    println!("cargo:rerun-if-changed={}", root.display());
    Ok(())
}

/// prost-build finds protoc through `PROTOC`. Edition 2024 marks `set_var`
/// unsafe because other threads may read the environment; a build script has
/// no other threads, so this is sound.
#[allow(unsafe_code)]
fn set_protoc(path: &std::path::Path) {
    unsafe {
        std::env::set_var("PROTOC", path);
    }
}
