//! The store: SQLite (embedded default) or PostgreSQL, both through sqlx.
//!
//! Code that must run on both writes its SQL once inside [`db!`] (or
//! [`tx!`]): the body is compiled for each backend, so the SQL text must be
//! valid on both (`$1` placeholders, `ON CONFLICT`, `RETURNING` are).

pub mod backup;
mod outbox;

pub use outbox::{OutboxClaim, OutboxEvent, OutboxRow};

use crate::PlatformError;
use crate::config::{Settings, StoreKind};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Executor, PgPool, SqlitePool};
use std::str::FromStr;
use std::time::Duration;

#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// An open transaction on either backend. A SQLite one holds this
/// process's turn to write (see [`Db::begin`]).
pub enum Tx {
    Sqlite(
        sqlx::Transaction<'static, sqlx::Sqlite>,
        tokio::sync::OwnedMutexGuard<()>,
    ),
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
}

/// Runs `$body` with `$pool` bound to the concrete pool of either backend.
#[macro_export]
macro_rules! db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::store::Db::Sqlite($pool) => $body,
            $crate::store::Db::Postgres($pool) => $body,
        }
    };
}

/// Runs `$body` with `$tx` bound to the concrete transaction of either backend.
#[macro_export]
macro_rules! tx {
    ($t:expr, $tx:ident => $body:expr) => {
        match $t {
            $crate::store::Tx::Sqlite($tx, _) => $body,
            $crate::store::Tx::Postgres($tx) => $body,
        }
    };
}

/// One schema change, in each backend's dialect.
pub struct Migration {
    pub component: &'static str,
    pub version: i64,
    pub sqlite: &'static str,
    pub postgres: &'static str,
}

pub const PLATFORM_MIGRATIONS: &[Migration] = &[
    Migration {
        component: "platform",
        version: 1,
        sqlite: include_str!("../../migrations/sqlite/0001_platform.sql"),
        postgres: include_str!("../../migrations/postgres/0001_platform.sql"),
    },
    Migration {
        component: "platform",
        version: 2,
        sqlite: include_str!("../../migrations/sqlite/0002_audit.sql"),
        postgres: include_str!("../../migrations/postgres/0002_audit.sql"),
    },
    Migration {
        component: "platform",
        version: 3,
        sqlite: include_str!("../../migrations/sqlite/0003_outbox_sent.sql"),
        postgres: include_str!("../../migrations/postgres/0003_outbox_sent.sql"),
    },
];

impl Db {
    pub async fn connect(settings: &Settings) -> Result<Self, PlatformError> {
        let url = settings.store_url();
        let max = settings.store.max_connections;
        match settings.store_kind() {
            StoreKind::Sqlite => {
                if let Some(dir) = url
                    .strip_prefix("sqlite://")
                    .and_then(|p| std::path::Path::new(p.split('?').next()?).parent())
                    && !dir.as_os_str().is_empty()
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        PlatformError::Config(format!("data_dir {}: {e}", dir.display()))
                    })?;
                }
                // WAL lets readers run beside the one writer. FULL sync (the
                // default) syncs the WAL at every commit, so an application
                // whose number was given survives a power cut of the one-box
                // pilot; group commit makes that one sync per batch. NORMAL
                // survives a process crash only.
                let synchronous = match settings.store.sqlite_synchronous.as_str() {
                    "normal" => SqliteSynchronous::Normal,
                    _ => SqliteSynchronous::Full,
                };
                let opts = SqliteConnectOptions::from_str(&url)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(synchronous)
                    .busy_timeout(Duration::from_secs(10))
                    // 64 MiB of page cache per connection (the default is 2 MiB):
                    // the writer touches several indexes per application.
                    .pragma("cache_size", "-65536")
                    // Checkpoints run in the background (below), not inside
                    // the committing writer, where they stalled submissions.
                    .pragma("wal_autocheckpoint", "0")
                    // After a checkpoint, truncate a WAL grown past 64 MiB.
                    .pragma("journal_size_limit", "67108864")
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(max)
                    .connect_with(opts)
                    .await?;
                tokio::spawn(checkpoint_in_background(pool.clone()));
                Ok(Self::Sqlite(pool))
            }
            StoreKind::Postgres => {
                let opts = PgConnectOptions::from_str(&url)?;
                let schema = settings.store.schema.clone();
                if !schema.is_empty() {
                    let pool = PgPoolOptions::new()
                        .max_connections(1)
                        .acquire_timeout(Duration::from_secs(5))
                        .connect_with(opts.clone())
                        .await?;
                    pool.execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                        .await?;
                    pool.close().await;
                }
                let opts = if schema.is_empty() {
                    opts
                } else {
                    opts.options([("search_path", schema.as_str())])
                };
                let pool = PgPoolOptions::new()
                    .max_connections(max)
                    .acquire_timeout(Duration::from_secs(5))
                    .connect_with(opts)
                    .await?;
                Ok(Self::Postgres(pool))
            }
        }
    }

    pub fn kind(&self) -> StoreKind {
        match self {
            Self::Sqlite(_) => StoreKind::Sqlite,
            Self::Postgres(_) => StoreKind::Postgres,
        }
    }

    /// Begins a write transaction. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`): a deferred transaction that reads and then writes
    /// fails with SQLITE_BUSY_SNAPSHOT when another write committed between.
    ///
    /// SQLite has one writer, and its busy handler is not fair: a writer
    /// that keeps losing the race sleeps and retries until its timeout,
    /// which a submission did behind a dozen consumer loops. So the
    /// process's writers queue first for a fair (FIFO) turn, then take the
    /// lock. The turn is the whole process's, across databases: there is
    /// one SQLite database per process outside tests.
    pub async fn begin(&self) -> Result<Tx, PlatformError> {
        Ok(match self {
            Self::Sqlite(p) => {
                static WRITER: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
                    std::sync::LazyLock::new(Default::default);
                let turn = WRITER.clone().lock_owned().await;
                Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?, turn)
            }
            Self::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A cheap round trip, for readiness.
    pub async fn ping(&self) -> Result<(), PlatformError> {
        db!(self, p => { sqlx::query("SELECT 1").execute(p).await?; });
        Ok(())
    }

    /// Applies the migrations not yet applied, each in its own transaction.
    /// On PostgreSQL an advisory lock keeps replicas from racing.
    pub async fn migrate(&self, sets: &[&[Migration]]) -> Result<(), PlatformError> {
        const CREATE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (component TEXT NOT NULL, version BIGINT NOT NULL, applied_ms BIGINT NOT NULL, PRIMARY KEY (component, version))";
        db!(self, pool => {
            let mut conn = pool.acquire().await?;
            if matches!(self, Db::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_lock(727274)").execute(&mut *conn).await?;
            }
            let result: Result<(), PlatformError> = async {
                sqlx::query(CREATE).execute(&mut *conn).await?;
                for m in sets.iter().flat_map(|s| s.iter()) {
                    let done: Option<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations WHERE component = $1 AND version = $2")
                        .bind(m.component).bind(m.version).fetch_optional(&mut *conn).await?;
                    if done.is_some() {
                        continue;
                    }
                    let sql = if matches!(self, Db::Postgres(_)) { m.postgres } else { m.sqlite };
                    let mut tx = sqlx::Connection::begin(&mut *conn).await?;
                    sqlx::raw_sql(sql).execute(&mut *tx).await?;
                    sqlx::query("INSERT INTO schema_migrations (component, version, applied_ms) VALUES ($1, $2, $3)")
                        .bind(m.component).bind(m.version).bind(now_ms()).execute(&mut *tx).await?;
                    tx.commit().await?;
                    tracing::info!(component = m.component, version = m.version, "migration applied");
                }
                Ok(())
            }.await;
            if matches!(self, Db::Postgres(_)) {
                sqlx::query("SELECT pg_advisory_unlock(727274)").execute(&mut *conn).await?;
            }
            result
        })
    }
}

impl Tx {
    pub async fn commit(self) -> Result<(), PlatformError> {
        tx!(self, t => t.commit().await?);
        Ok(())
    }

    /// Records that `consumer` applied `event_id`. False when it already had:
    /// the caller then skips the effect.
    pub async fn claim_inbox(
        &mut self,
        consumer: &str,
        event_id: &str,
    ) -> Result<bool, PlatformError> {
        const SQL: &str = "INSERT INTO inbox (consumer, event_id, applied_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
        let n = tx!(self, t => sqlx::query(SQL).bind(consumer).bind(event_id).bind(now_ms()).execute(&mut **t).await?.rows_affected());
        Ok(n == 1)
    }

    /// The rows of `select`, a query ending in `WHERE <key column>`, whose
    /// key is one of `keys`, in one round trip: on PostgreSQL `= ANY($1)`,
    /// one statement text whatever the count (prepared once a connection),
    /// followed by `pg_tail` (an `ORDER BY`, a `FOR UPDATE`); on SQLite
    /// `IN (…)` lists of 500 keys, each followed by `sqlite_tail`.
    pub async fn select_in<T>(
        &mut self,
        select: &str,
        keys: &[&str],
        pg_tail: &str,
        sqlite_tail: &str,
    ) -> Result<Vec<T>, PlatformError>
    where
        T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + Send
            + Unpin,
    {
        match self {
            Tx::Postgres(c) => Ok(sqlx::query_as(&format!("{select} = ANY($1) {pg_tail}"))
                .bind(keys)
                .fetch_all(&mut **c)
                .await?),
            Tx::Sqlite(c, _) => {
                let mut rows = Vec::with_capacity(keys.len());
                for chunk in keys.chunks(500) {
                    let mut q = sqlx::QueryBuilder::new(format!("{select} IN ("));
                    let mut list = q.separated(", ");
                    for k in chunk {
                        list.push_bind(*k);
                    }
                    q.push(format!(") {sqlite_tail}"));
                    rows.extend(q.build_query_as().fetch_all(&mut **c).await?);
                }
                Ok(rows)
            }
        }
    }

    /// Takes back `consumer`'s claim on `event_id` in this transaction: the
    /// event was left out of its batch and will be delivered again.
    pub async fn release_inbox(
        &mut self,
        consumer: &str,
        event_id: &str,
    ) -> Result<(), PlatformError> {
        const SQL: &str = "DELETE FROM inbox WHERE consumer = $1 AND event_id = $2";
        tx!(self, t => sqlx::query(SQL).bind(consumer).bind(event_id).execute(&mut **t).await?.rows_affected());
        Ok(())
    }

    /// Records that `consumer` applies each of `event_ids`, in one
    /// statement; returns those it had not applied before (an id named
    /// twice is returned once: its second delivery is a duplicate).
    ///
    /// The rows are inserted in the order of their ids, whatever the order
    /// of delivery: two loops holding copies of the same events (two
    /// deliveries of one event, in batches of different orders) then wait
    /// for each other's claims in one order, never in a circle (which
    /// PostgreSQL ends as `deadlock detected`).
    pub async fn claim_inbox_many(
        &mut self,
        consumer: &str,
        event_ids: &[&str],
    ) -> Result<std::collections::HashSet<String>, PlatformError> {
        let mut event_ids = event_ids.to_vec();
        event_ids.sort_unstable();
        let event_ids = event_ids.as_slice();
        let now = now_ms();
        let claimed: Vec<String> = match self {
            // One statement text whatever the count: prepared once a
            // connection (a VALUES list per count would be prepared anew
            // for each and crowd the statement cache).
            Tx::Postgres(t) => {
                let ids: Vec<&str> = event_ids.to_vec();
                sqlx::query_scalar(
                    "INSERT INTO inbox (consumer, event_id, applied_ms) \
                     SELECT $1, id, $3 FROM unnest($2::text[]) AS id ORDER BY id \
                     ON CONFLICT DO NOTHING RETURNING event_id",
                )
                .bind(consumer)
                .bind(ids)
                .bind(now)
                .fetch_all(&mut **t)
                .await?
            }
            Tx::Sqlite(t, _) => {
                let mut claimed = Vec::with_capacity(event_ids.len());
                for chunk in event_ids.chunks(1000) {
                    let mut q = sqlx::QueryBuilder::new(
                        "INSERT INTO inbox (consumer, event_id, applied_ms) ",
                    );
                    q.push_values(chunk, |mut b, id| {
                        b.push_bind(consumer).push_bind(*id).push_bind(now);
                    });
                    q.push(" ON CONFLICT DO NOTHING RETURNING event_id");
                    let ids: Vec<String> = q.build_query_scalar().fetch_all(&mut **t).await?;
                    claimed.extend(ids);
                }
                claimed
            }
        };
        let claimed = claimed.into_iter().collect();
        Ok(claimed)
    }

    /// Writes events to the outbox in this transaction.
    pub async fn insert_outbox(&mut self, events: &[OutboxEvent]) -> Result<(), PlatformError> {
        outbox::insert(self, events).await
    }
}

/// Copies the SQLite WAL into the database file every second, PASSIVE (it
/// never waits for the writer or readers), so the WAL stays small without
/// checkpoints landing inside a commit. Ends when the pool is closed.
async fn checkpoint_in_background(pool: SqlitePool) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
        }
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
