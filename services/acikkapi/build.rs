//! The commit the binary was built from, for `acikkapi --version`: from
//! `ACIKKAPI_COMMIT` if the build sets it (an image built without `.git`),
//! else from git, else "unknown".
fn main() {
    println!("cargo:rerun-if-env-changed=ACIKKAPI_COMMIT");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for f in [".git/HEAD", ".git/refs/heads", ".git/packed-refs"] {
        if root.join(f).exists() {
            println!("cargo:rerun-if-changed={}", root.join(f).display());
        }
    }
    let commit = std::env::var("ACIKKAPI_COMMIT").ok().or_else(|| {
        std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .current_dir(&root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    });
    println!(
        "cargo:rustc-env=ACIKKAPI_COMMIT={}",
        commit.unwrap_or_else(|| "unknown".into())
    );
}
