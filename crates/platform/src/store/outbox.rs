//! Outbox rows: written with the state change, read and deleted by the relay.

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

impl Db {
    /// The oldest unpublished rows, at most `limit`.
    pub async fn outbox_peek(&self, limit: i64) -> Result<Vec<OutboxRow>, PlatformError> {
        const SQL: &str =
            "SELECT id, event_id, kind, key, payload, headers FROM outbox ORDER BY id LIMIT $1";
        let rows = crate::db!(self, p => {
            let rows = sqlx::query(SQL).bind(limit).fetch_all(p).await?;
            rows.into_iter().map(|r| row_to_outbox(&r)).collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(rows)
    }

    /// Deletes rows the broker confirmed.
    pub async fn outbox_delete(&self, ids: &[i64]) -> Result<(), PlatformError> {
        if ids.is_empty() {
            return Ok(());
        }
        crate::db!(self, p => {
            for chunk in ids.chunks(1000) {
                let mut qb = sqlx::QueryBuilder::new("DELETE FROM outbox WHERE id IN (");
                let mut sep = qb.separated(", ");
                for id in chunk {
                    sep.push_bind(*id);
                }
                qb.push(")");
                qb.build().execute(p).await?;
            }
        });
        Ok(())
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
