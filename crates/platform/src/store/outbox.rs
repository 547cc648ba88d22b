//! Outbox rows: written with the state change, claimed, published and
//! moved by a relay to `outbox_sent`, where they are kept for a while
//! (`relay.keep_sent_hours`) to be [replayed](Db::outbox_replay) after a
//! restore. However many relays run (one in every process of every
//! service), each row is published by the one that claimed it.

use super::{Db, Tx, now_ms};
use crate::PlatformError;
use crate::bus::Envelope;
use std::collections::BTreeMap;

/// An event to publish once the surrounding transaction commits.
#[derive(Debug, Clone)]
pub struct OutboxEvent {
    pub event_id: String,
    /// The protobuf message name, e.g. `ApplicationReceived`.
    pub kind: String,
    /// What the event is about (an application number): ordering and tracing key.
    pub key: String,
    pub payload: Vec<u8>,
    /// W3C trace context of the request that caused it.
    pub headers: BTreeMap<String, String>,
}

impl OutboxEvent {
    /// `event` about `key` (an application number), with a new id and the
    /// trace context in `headers`.
    pub fn of(
        event: impl Into<acikkapi_proto::Event>,
        key: &str,
        headers: BTreeMap<String, String>,
    ) -> Self {
        let event = event.into();
        OutboxEvent {
            event_id: uuid::Uuid::now_v7().to_string(),
            kind: event.kind().as_str().to_owned(),
            key: key.to_owned(),
            payload: event.encode_to_vec(),
            headers,
        }
    }
}

#[derive(Debug, Clone)]
pub struct OutboxRow {
    pub id: i64,
    pub envelope: Envelope,
}

pub(super) async fn insert(tx: &mut Tx, events: &[OutboxEvent]) -> Result<(), PlatformError> {
    if events.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    crate::tx!(tx, t => {
        // One multi-row statement per chunk: a round trip per batch, not per event.
        for chunk in events.chunks(500) {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO outbox (event_id, kind, key, payload, headers, created_ms) ");
            qb.push_values(chunk, |mut b, e| {
                b.push_bind(&e.event_id)
                    .push_bind(&e.kind)
                    .push_bind(&e.key)
                    .push_bind(&e.payload)
                    .push_bind(serde_json::to_string(&e.headers).unwrap_or_default())
                    .push_bind(now);
            });
            qb.build().execute(&mut **t).await?;
        }
    });
    Ok(())
}

/// Rows one relay took to publish: no other relay sees them until the
/// claim is [done](OutboxClaim::done) (the rows deleted) or dropped (the
/// rows back for any relay).
pub struct OutboxClaim {
    rows: Vec<OutboxRow>,
    hold: Hold,
}

enum Hold {
    /// PostgreSQL: the rows are deleted in this open transaction, whose row
    /// locks make every other relay skip them (`SKIP LOCKED`). Committed
    /// once the broker confirmed them; a relay that dies (or gives up)
    /// rolls back, PostgreSQL ends the transaction with its connection, and
    /// the rows are there again for the next relay to ask. No lease column
    /// to write and expire: the lease is the transaction.
    Postgres(sqlx::Transaction<'static, sqlx::Postgres>),
    /// SQLite: one process owns its database file, so the relays of the
    /// process take turns (this guard); the rows are deleted on `done`.
    Sqlite(sqlx::SqlitePool, tokio::sync::OwnedMutexGuard<()>),
}

impl OutboxClaim {
    /// The claimed rows, oldest first.
    pub fn rows(&self) -> &[OutboxRow] {
        &self.rows
    }

    /// The rows were published and confirmed: they leave the outbox (kept
    /// in `outbox_sent` for a replay).
    pub async fn done(self) -> Result<(), PlatformError> {
        match self.hold {
            Hold::Postgres(t) => t.commit().await?,
            Hold::Sqlite(pool, _turn) => {
                let ids: Vec<i64> = self.rows.iter().map(|r| r.id).collect();
                let mut t = pool.begin().await?;
                for chunk in ids.chunks(1000) {
                    let mut qb = sqlx::QueryBuilder::new(
                        "INSERT OR IGNORE INTO outbox_sent \
                         (event_id, kind, key, payload, headers, created_ms, sent_ms) \
                         SELECT event_id, kind, key, payload, headers, created_ms, ",
                    );
                    qb.push_bind(now_ms()).push(" FROM outbox WHERE id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *t).await?;
                    let mut qb = sqlx::QueryBuilder::new("DELETE FROM outbox WHERE id IN (");
                    let mut sep = qb.separated(", ");
                    for id in chunk {
                        sep.push_bind(*id);
                    }
                    qb.push(")");
                    qb.build().execute(&mut *t).await?;
                }
                t.commit().await?;
            }
        }
        Ok(())
    }
}

impl Db {
    /// Claims the oldest unpublished rows no other relay holds, at most
    /// `limit` (see [`OutboxClaim`]).
    pub async fn outbox_claim(&self, limit: i64) -> Result<OutboxClaim, PlatformError> {
        match self {
            Db::Postgres(p) => {
                // Deleted and kept as sent in one statement; both undone
                // if the broker does not confirm (the transaction rolls back).
                const SQL: &str = "WITH claimed AS (DELETE FROM outbox WHERE id IN \
                     (SELECT id FROM outbox ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED) \
                     RETURNING id, event_id, kind, key, payload, headers, created_ms), \
                     kept AS (INSERT INTO outbox_sent \
                     (event_id, kind, key, payload, headers, created_ms, sent_ms) \
                     SELECT event_id, kind, key, payload, headers, created_ms, $2 FROM claimed \
                     ON CONFLICT (event_id) DO NOTHING) \
                     SELECT id, event_id, kind, key, payload, headers FROM claimed";
                let mut t = p.begin().await?;
                let found = sqlx::query(SQL)
                    .bind(limit)
                    .bind(now_ms())
                    .fetch_all(&mut *t)
                    .await?;
                let mut rows = found
                    .iter()
                    .map(row_to_outbox)
                    .collect::<Result<Vec<_>, sqlx::Error>>()?;
                // RETURNING has no order: publish oldest first, as written.
                rows.sort_unstable_by_key(|r| r.id);
                Ok(OutboxClaim {
                    rows,
                    hold: Hold::Postgres(t),
                })
            }
            Db::Sqlite(p) => {
                static TURN: std::sync::LazyLock<std::sync::Arc<tokio::sync::Mutex<()>>> =
                    std::sync::LazyLock::new(Default::default);
                let turn = TURN.clone().lock_owned().await;
                let rows = self.outbox_peek(limit).await?;
                Ok(OutboxClaim {
                    rows,
                    hold: Hold::Sqlite(p.clone(), turn),
                })
            }
        }
    }

    /// The oldest unpublished rows, at most `limit`, claimed or not: for
    /// looking (tests, tools), not for publishing.
    pub async fn outbox_peek(&self, limit: i64) -> Result<Vec<OutboxRow>, PlatformError> {
        const SQL: &str =
            "SELECT id, event_id, kind, key, payload, headers FROM outbox ORDER BY id LIMIT $1";
        let rows = crate::db!(self, p => {
            let rows = sqlx::query(SQL).bind(limit).fetch_all(p).await?;
            rows.into_iter().map(|r| row_to_outbox(&r)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Puts every event sent at or after `since_ms` (ms since the epoch)
    /// back in the outbox, oldest first, and returns how many. For a store
    /// put back to an earlier moment: the events published before it and
    /// applied after it are delivered again, and the consumers (which keep
    /// the id of every event they applied) apply those they lack. Safe to
    /// repeat.
    pub async fn outbox_replay(&self, since_ms: i64) -> Result<u64, PlatformError> {
        const SQL: &str = "INSERT INTO outbox (event_id, kind, key, payload, headers, created_ms) \
             SELECT event_id, kind, key, payload, headers, created_ms FROM outbox_sent \
             WHERE sent_ms >= $1 ORDER BY created_ms, event_id";
        Ok(crate::db!(self, p => sqlx::query(SQL).bind(since_ms).execute(p).await?.rows_affected()))
    }

    /// Forgets sent events older than `before_ms`; returns how many.
    pub async fn outbox_forget_sent(&self, before_ms: i64) -> Result<u64, PlatformError> {
        const SQL: &str = "DELETE FROM outbox_sent WHERE sent_ms < $1";
        Ok(
            crate::db!(self, p => sqlx::query(SQL).bind(before_ms).execute(p).await?.rows_affected()),
        )
    }

    /// How many sent events are kept for a replay.
    pub async fn outbox_sent_len(&self) -> Result<i64, PlatformError> {
        Ok(
            crate::db!(self, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox_sent").fetch_one(p).await?),
        )
    }

    pub async fn outbox_len(&self) -> Result<i64, PlatformError> {
        Ok(
            crate::db!(self, p => sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox").fetch_one(p).await?),
        )
    }
}

fn row_to_outbox<R>(r: &R) -> Result<OutboxRow, sqlx::Error>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Vec<u8>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let headers: String = r.try_get("headers")?;
    Ok(OutboxRow {
        id: r.try_get("id")?,
        envelope: Envelope {
            id: r.try_get("event_id")?,
            kind: r.try_get("kind")?,
            key: r.try_get("key")?,
            payload: r.try_get("payload")?,
            headers: serde_json::from_str(&headers).unwrap_or_default(),
        },
    })
}
