//! What every benchmark's platform starts from: a data folder of its own
//! and fixed sealing keys (the benchmarks seal nothing anyone reads back).

use acikkapi_platform::config::{Secret, Settings};

/// Settings over a fresh temporary data folder (kept alive by the returned
/// guard), with fixed privacy keys.
pub fn settings() -> anyhow::Result<(Settings, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let mut s = Settings {
        data_dir: dir.path().to_path_buf(),
        ..Default::default()
    };
    s.privacy.keys = Secret::new(format!("p1:{}", "d4".repeat(32)));
    s.privacy.hash_key = Secret::new("e5".repeat(32));
    Ok((s, dir))
}
