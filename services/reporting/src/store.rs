//! The event log and the rows folded from it.

use crate::fold::{self, Escalation, Event, Row};
use acikkapi_platform::store::{Db, Tx};
use acikkapi_platform::{PlatformError, db, tx};
use sqlx::Row as _;

/// Holds application `number` for this transaction: two events of one
/// application folded at once by competing consumers would each miss the
/// other's (uncommitted) event, and the last to commit would win with a
/// row missing one. On PostgreSQL a transaction-scoped advisory lock on the
/// number serialises them; SQLite has one writer already.
pub async fn hold(t: &mut Tx, number: &str) -> Result<(), PlatformError> {
    if let Tx::Postgres(c) = t {
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))")
            .bind(number)
            .execute(&mut **c)
            .await?;
    }
    Ok(())
}

/// Keeps an event; false if it was kept before (a second delivery).
pub async fn record(
    t: &mut Tx,
    event_id: &str,
    number: &str,
    kind: &str,
    at_ms: i64,
    payload: &[u8],
) -> Result<bool, PlatformError> {
    Ok(tx!(t, c => {
        sqlx::query("INSERT INTO rpt_events (event_id, number, kind, at_ms, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING")
            .bind(event_id).bind(number).bind(kind).bind(at_ms).bind(payload)
            .execute(&mut **c).await?.rows_affected() == 1
    }))
}

/// Folds the application's row again from all its events.
pub async fn refold(t: &mut Tx, number: &str) -> Result<(), PlatformError> {
    let events: Vec<Event> = tx!(t, c => {
        sqlx::query("SELECT kind, at_ms, payload FROM rpt_events WHERE number = $1")
            .bind(number).fetch_all(&mut **c).await?
            .into_iter()
            .map(|r| -> Result<Event, sqlx::Error> { Ok(Event { kind: r.try_get("kind")?, at_ms: r.try_get("at_ms")?, payload: r.try_get("payload")? }) })
            .collect::<Result<Vec<_>, _>>()?
    });
    let Some((row, escalations)) = fold::fold(number, &events) else {
        return Ok(()); // its receipt has not arrived yet
    };
    write(t, &row, &escalations).await
}

async fn write(t: &mut Tx, r: &Row, escalations: &[Escalation]) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("DELETE FROM rpt_applications WHERE number = $1").bind(&r.number).execute(&mut **c).await?;
        sqlx::query(
            "INSERT INTO rpt_applications (number, received_ms, province, district, topic, type_code, unit_id, channel, kind, vulnerable, \
             status, outcome, round, concluded_ms, resolution_ms, max_level, sms_sent, within_sla, survey_sent, survey_score) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)",
        )
        .bind(&r.number).bind(r.received_ms).bind(i64::from(r.province)).bind(i64::from(r.district)).bind(&r.topic)
        .bind(&r.type_code).bind(&r.unit_id).bind(i64::from(r.channel)).bind(i64::from(r.kind)).bind(r.vulnerable)
        .bind(i64::from(r.status)).bind(i64::from(r.outcome)).bind(i64::from(r.round)).bind(r.concluded_ms).bind(r.resolution_ms)
        .bind(i64::from(r.max_level)).bind(i64::from(r.sms_sent))
        .bind(r.within_sla).bind(r.survey_sent).bind(r.survey_score.map(i64::from))
        .execute(&mut **c).await?;
        sqlx::query("DELETE FROM rpt_escalations WHERE number = $1").bind(&r.number).execute(&mut **c).await?;
        for e in escalations {
            sqlx::query("INSERT INTO rpt_escalations (number, round, rung, level, at_ms) VALUES ($1, $2, $3, $4, $5)")
                .bind(&r.number).bind(i64::from(e.round)).bind(i64::from(e.rung)).bind(i64::from(e.level)).bind(e.at_ms)
                .execute(&mut **c).await?;
        }
    });
    Ok(())
}

/// The province of a folded application; 0 before its receipt arrived.
pub async fn province_of(db: &Db, number: &str) -> Result<u32, PlatformError> {
    let p: Option<i64> = db!(db, c => {
        sqlx::query_scalar("SELECT province FROM rpt_applications WHERE number = $1")
            .bind(number).fetch_optional(c).await?
    });
    Ok(p.unwrap_or(0) as u32)
}

/// Folds every application again from the kept events, `chunk`
/// applications a transaction: what `acikkapi reporting rebuild` runs.
/// Returns how many applications it folded.
pub async fn rebuild(db: &Db, chunk: i64) -> Result<u64, PlatformError> {
    let mut t = db.begin().await?;
    tx!(&mut t, c => {
        sqlx::query("DELETE FROM rpt_escalations").execute(&mut **c).await?;
        sqlx::query("DELETE FROM rpt_applications").execute(&mut **c).await?;
    });
    t.commit().await?;
    let mut after = String::new();
    let mut folded = 0;
    loop {
        let numbers: Vec<String> = db!(db, c => {
            sqlx::query_scalar("SELECT DISTINCT number FROM rpt_events WHERE number > $1 ORDER BY number LIMIT $2")
                .bind(&after).bind(chunk).fetch_all(c).await?
        });
        let Some(last) = numbers.last() else { break };
        after = last.clone();
        let mut t = db.begin().await?;
        for n in &numbers {
            refold(&mut t, n).await?;
        }
        t.commit().await?;
        folded += numbers.len() as u64;
    }
    Ok(folded)
}
