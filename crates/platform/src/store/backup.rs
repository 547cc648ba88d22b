//! Backup and restore of the embedded default (SQLite): one file holding
//! an online, consistent copy of the store (`VACUUM INTO`, a read
//! transaction: the platform keeps serving while it is taken) and the
//! keys generated in the data folder that its sealed personal data and
//! tokens need. Keys given in the settings (`privacy.keys`,
//! `privacy.hash_key`, `auth.keys`) are not in the folder and not in the
//! backup: the operator keeps them apart (docs/operations.md). Whoever
//! holds a backup file can read the personal data in it: it is kept like
//! the data folder itself. On PostgreSQL, backups are the database's own
//! (base backup and WAL archiving).

use crate::PlatformError;
use crate::config::{Settings, StoreKind};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use sqlx::{Row, SqlitePool};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The keys the embedded default generates in its data folder.
pub const KEY_FILES: &[&str] = &[
    "privacy.key",
    "privacy-hash.key",
    "auth.key",
    "tracking.key",
];

/// The table of a backup file that carries the keys (removed on restore).
const KEYS_TABLE: &str = "acikkapi_backup_keys";

/// What a backup holds, or a restore put back.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub applications: i64,
    pub keys: Vec<String>,
}

/// The SQLite file of the settings' store; an error on PostgreSQL.
fn database_file(settings: &Settings) -> Result<PathBuf, PlatformError> {
    if settings.store_kind() != StoreKind::Sqlite {
        return Err(PlatformError::Config(
            "backup and restore are for the embedded default (SQLite); on PostgreSQL use its \
             base backups and WAL archiving (docs/operations.md)"
                .into(),
        ));
    }
    let url = settings.store_url();
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .and_then(|p| p.split('?').next())
        .filter(|p| !p.is_empty() && *p != ":memory:")
        .ok_or_else(|| PlatformError::Config(format!("store.url: {url} names no file")))?;
    Ok(PathBuf::from(path))
}

/// An existing SQLite file, on one connection.
async fn open(path: &Path) -> Result<SqlitePool, PlatformError> {
    let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?;
    Ok(SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(opts)
        .await?)
}

async fn applications(pool: &SqlitePool) -> Result<i64, PlatformError> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM applications")
        .fetch_one(pool)
        .await?)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> PlatformError + '_ {
    move |e| PlatformError::Config(format!("{}: {e}", path.display()))
}

/// Writes a backup of the store and its data folder's keys to `to`, which
/// must not exist.
pub async fn backup(settings: &Settings, to: &Path) -> Result<Summary, PlatformError> {
    let db = database_file(settings)?;
    if to.exists() {
        return Err(PlatformError::Config(format!(
            "{} exists: a backup never overwrites a file",
            to.display()
        )));
    }
    let live = open(&db).await?;
    sqlx::query("VACUUM INTO $1")
        .bind(to.display().to_string())
        .execute(&live)
        .await?;
    live.close().await;
    let copy = open(to).await?;
    sqlx::query(&format!(
        "CREATE TABLE {KEYS_TABLE} (name TEXT PRIMARY KEY, content TEXT NOT NULL)"
    ))
    .execute(&copy)
    .await?;
    let mut keys = Vec::new();
    for name in KEY_FILES {
        let path = settings.data_dir.join(name);
        if let Ok(content) = std::fs::read_to_string(&path) {
            sqlx::query(&format!(
                "INSERT INTO {KEYS_TABLE} (name, content) VALUES ($1, $2)"
            ))
            .bind(name)
            .bind(content.trim())
            .execute(&copy)
            .await?;
            keys.push((*name).to_owned());
        }
    }
    let summary = Summary {
        applications: applications(&copy).await?,
        keys,
    };
    copy.close().await;
    restrict(to)?;
    Ok(summary)
}

/// Puts a backup back as the settings' store and its keys into the data
/// folder. Refuses, writing nothing, when the store exists (move it away
/// first: a restore never mixes two stores) or a key of the same name
/// differs.
pub async fn restore(settings: &Settings, from: &Path) -> Result<Summary, PlatformError> {
    let db = database_file(settings)?;
    if db.exists() {
        return Err(PlatformError::Config(format!(
            "{} exists: move it away before restoring into its place",
            db.display()
        )));
    }
    if let Some(dir) = db.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // Restored beside its place, renamed into it only when complete.
    let part = db.with_extension("restoring");
    let _ = std::fs::remove_file(&part);
    std::fs::copy(from, &part).map_err(io(from))?;
    let restored = restore_part(settings, from, &part).await;
    match restored {
        Ok(summary) => {
            std::fs::rename(&part, &db).map_err(io(&db))?;
            restrict(&db)?;
            Ok(summary)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&part);
            Err(e)
        }
    }
}

/// Checks every key of the copy `part` against the data folder, then
/// writes the missing ones and takes the keys out of the copy.
async fn restore_part(
    settings: &Settings,
    from: &Path,
    part: &Path,
) -> Result<Summary, PlatformError> {
    let pool = open(part).await?;
    let rows = sqlx::query(&format!(
        "SELECT name, content FROM {KEYS_TABLE} ORDER BY name"
    ))
    .fetch_all(&pool)
    .await
    .map_err(|e| {
        PlatformError::Config(format!("{}: not an acikkapi backup ({e})", from.display()))
    })?;
    let mut missing = Vec::new();
    let mut keys = Vec::new();
    for r in &rows {
        let (name, content): (String, String) = (r.try_get("name")?, r.try_get("content")?);
        if !KEY_FILES.contains(&name.as_str()) {
            return Err(PlatformError::Config(format!(
                "{}: an unknown key {name:?}",
                from.display()
            )));
        }
        let path = settings.data_dir.join(&name);
        match std::fs::read_to_string(&path) {
            Ok(existing) if existing.trim() != content => {
                return Err(PlatformError::Config(format!(
                    "{} holds another key than the backup's: the restored data would not open",
                    path.display()
                )));
            }
            Ok(_) => {}
            Err(_) => missing.push((path, content)),
        }
        keys.push(name);
    }
    sqlx::query(&format!("DROP TABLE {KEYS_TABLE}"))
        .execute(&pool)
        .await?;
    let summary = Summary {
        applications: applications(&pool).await?,
        keys,
    };
    pool.close().await;
    for (path, content) in missing {
        std::fs::write(&path, &content).map_err(io(&path))?;
        restrict(&path)?;
    }
    Ok(summary)
}

/// Readable by the platform's user only: the file holds personal data or
/// the keys to it.
fn restrict(path: &Path) -> Result<(), PlatformError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(())
}
