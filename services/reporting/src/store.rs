//! The event log and the rows folded from it.

use crate::figures;
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

/// What one application adds to its month's cell in `rpt_monthly`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cell {
    month: i64,
    province: i64,
    district: i64,
    /// received, concluded, positive, negative, partial, unanswerable,
    /// verdicts, within_sla: as `figures::Counts` counts them; then whether
    /// it reached escalation levels 1..5 and 100 (`figures::LEVELS`).
    counts: [i64; 14],
}

impl Cell {
    fn of(r: &OldRow, levels: &[i64]) -> Cell {
        let (received_ms, province, district, status, outcome, within) = *r;
        let done = status == acikkapi_proto::v1::Status::Concluded as i64;
        let is = |o: i64| i64::from(done && outcome == o);
        let reached = |l: u32| i64::from(levels.contains(&i64::from(l)));
        let l = figures::LEVELS;
        Cell {
            month: figures::month_of(received_ms),
            province,
            district,
            counts: [
                1,
                i64::from(done),
                is(1),
                is(2),
                is(3),
                is(4),
                i64::from(done && within.is_some()),
                i64::from(done && within == Some(true)),
                reached(l[0]),
                reached(l[1]),
                reached(l[2]),
                reached(l[3]),
                reached(l[4]),
                reached(l[5]),
            ],
        }
    }
}

/// received_ms, province, district, status, outcome, within_sla.
type OldRow = (i64, i64, i64, i64, i64, Option<bool>);

/// Adds `k` to a cell's counts (negative numbers take back).
async fn add_cell(t: &mut Tx, cell: &Cell, k: [i64; 14]) -> Result<(), PlatformError> {
    tx!(t, c => {
        let q = sqlx::query(
            "INSERT INTO rpt_monthly (month, province, district, received, concluded, positive, negative, partial, unanswerable, verdicts, within_sla, \
             level1, level2, level3, level4, level5, level100) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17) ON CONFLICT (month, province, district) DO UPDATE SET \
             received = rpt_monthly.received + excluded.received, concluded = rpt_monthly.concluded + excluded.concluded, \
             positive = rpt_monthly.positive + excluded.positive, negative = rpt_monthly.negative + excluded.negative, \
             partial = rpt_monthly.partial + excluded.partial, unanswerable = rpt_monthly.unanswerable + excluded.unanswerable, \
             verdicts = rpt_monthly.verdicts + excluded.verdicts, within_sla = rpt_monthly.within_sla + excluded.within_sla, \
             level1 = rpt_monthly.level1 + excluded.level1, level2 = rpt_monthly.level2 + excluded.level2, \
             level3 = rpt_monthly.level3 + excluded.level3, level4 = rpt_monthly.level4 + excluded.level4, \
             level5 = rpt_monthly.level5 + excluded.level5, level100 = rpt_monthly.level100 + excluded.level100",
        )
        .bind(cell.month).bind(cell.province).bind(cell.district);
        let mut q = q;
        for n in k {
            q = q.bind(n);
        }
        q.execute(&mut **c).await?;
    });
    Ok(())
}

async fn write(t: &mut Tx, r: &Row, escalations: &[Escalation]) -> Result<(), PlatformError> {
    // The month's counts follow the row: its old contribution out, the new in
    // (nothing to write when a refold did not change them, as for an SMS).
    let (old, old_levels): (Option<OldRow>, Vec<i64>) = tx!(t, c => {
        let old = sqlx::query_as("SELECT received_ms, province, district, status, outcome, within_sla FROM rpt_applications WHERE number = $1")
            .bind(&r.number).fetch_optional(&mut **c).await?;
        let levels = sqlx::query_scalar("SELECT DISTINCT level FROM rpt_escalations WHERE number = $1")
            .bind(&r.number).fetch_all(&mut **c).await?;
        (old, levels)
    });
    let old = old.map(|o| Cell::of(&o, &old_levels));
    let levels: Vec<i64> = escalations.iter().map(|e| i64::from(e.level)).collect();
    let new = Cell::of(
        &(
            r.received_ms,
            i64::from(r.province),
            i64::from(r.district),
            i64::from(r.status),
            i64::from(r.outcome),
            r.within_sla,
        ),
        &levels,
    );
    match old {
        Some(old) if old == new => {}
        // The same cell (place and month never change after receipt): one
        // statement adds the difference.
        Some(old)
            if (old.month, old.province, old.district)
                == (new.month, new.province, new.district) =>
        {
            let delta = std::array::from_fn(|i| new.counts[i] - old.counts[i]);
            add_cell(t, &new, delta).await?;
        }
        Some(old) => {
            add_cell(t, &old, old.counts.map(|n| -n)).await?;
            add_cell(t, &new, new.counts).await?;
        }
        None => add_cell(t, &new, new.counts).await?,
    }
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
        sqlx::query("DELETE FROM rpt_monthly").execute(&mut **c).await?;
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
            // Held as the consumer holds it: a rebuild beside running
            // consumers must not fold one application twice at once.
            hold(&mut t, n).await?;
            refold(&mut t, n).await?;
        }
        t.commit().await?;
        folded += numbers.len() as u64;
    }
    Ok(folded)
}
