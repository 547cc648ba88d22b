//! The event log and the rows folded from it.

use crate::figures;
use crate::fold::{self, Escalation, Event, Row};
use acikkapi_platform::store::{Db, Tx};
use acikkapi_platform::{PlatformError, db, tx};

/// Holds applications `numbers` for this transaction: two events of one
/// application folded at once by competing consumers would each miss the
/// other's (uncommitted) event, and the last to commit would win with a
/// row missing one. On PostgreSQL transaction-scoped advisory locks on the
/// numbers serialise them, taken in one statement in the order of the lock
/// keys (so two transactions never wait on each other in a circle);
/// SQLite has one writer already.
async fn hold_all(t: &mut Tx, numbers: &[&str]) -> Result<(), PlatformError> {
    if let Tx::Postgres(c) = t {
        let numbers: Vec<String> = numbers.iter().map(|n| (*n).to_owned()).collect();
        sqlx::query(
            "SELECT pg_advisory_xact_lock(k) FROM \
             (SELECT DISTINCT hashtextextended(n, 7) AS k FROM unnest($1::text[]) AS n ORDER BY k) AS keys",
        )
        .bind(numbers)
        .execute(&mut **c)
        .await?;
    }
    Ok(())
}

/// An event to keep: (event id, application number, kind, when, payload).
pub type Kept<'a> = (&'a str, &'a str, &'a str, i64, &'a [u8]);

/// Keeps events (one statement for many) and returns the ids of those kept
/// now; an event kept before (a second delivery, or named twice) stays as
/// it was and is not returned. Inserted in the order of their ids, so two
/// transactions keeping the same events never wait on each other in a
/// circle.
pub async fn record_all(
    t: &mut Tx,
    events: &[Kept<'_>],
) -> Result<std::collections::HashSet<String>, PlatformError> {
    let mut events = events.to_vec();
    events.sort_by(|a, b| a.0.cmp(b.0));
    let mut kept = std::collections::HashSet::with_capacity(events.len());
    for chunk in events.chunks(1000) {
        let ids: Vec<String> = tx!(t, c => {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO rpt_events (event_id, number, kind, at_ms, payload) ");
            q.push_values(chunk, |mut b, (id, number, kind, at, payload)| {
                b.push_bind(*id).push_bind(*number).push_bind(*kind).push_bind(*at).push_bind(*payload);
            });
            q.push(" ON CONFLICT (event_id) DO NOTHING RETURNING event_id");
            q.build_query_scalar().fetch_all(&mut **c).await?
        });
        kept.extend(ids);
    }
    Ok(kept)
}

/// Folds the rows of applications `numbers` again from all their events,
/// each once however often it is named, in a fixed number of statements
/// whatever their count. They are held first (see [`hold_all`]) and the
/// months' counts are added last in the order of their keys, so two
/// transactions folding overlapping applications wait for each other but
/// never deadlock (a consumer's batch names many).
pub async fn refold(t: &mut Tx, numbers: &[&str]) -> Result<(), PlatformError> {
    let mut numbers = numbers.to_vec();
    numbers.sort_unstable();
    numbers.dedup();
    hold_all(t, &numbers).await?;
    let mut cells = Cells::new();
    let mut rows = Vec::with_capacity(numbers.len());
    let mut escalated_before = false;
    for chunk in numbers.chunks(500) {
        let mut events = events_of(t, chunk).await?;
        let mut old = old_rows(t, chunk).await?;
        let mut levels = old_levels(t, chunk).await?;
        escalated_before |= !levels.is_empty();
        for n in chunk {
            // None: its receipt has not arrived yet.
            let Some((row, escalations)) = fold::fold(n, &events.remove(*n).unwrap_or_default())
            else {
                continue;
            };
            let old = old
                .remove(*n)
                .map(|o| Cell::of(&o, &levels.remove(*n).unwrap_or_default()));
            count(&mut cells, old, &row, &escalations);
            rows.push((row, escalations));
        }
    }
    write(t, &rows, escalated_before).await?;
    let cells: Vec<_> = cells.into_iter().filter(|(_, k)| *k != [0; 14]).collect();
    add_cells(t, &cells).await
}

/// Runs `SELECT {columns} FROM {table} WHERE number IN (numbers)`.
macro_rules! select_in {
    ($t:expr, $sql:expr, $numbers:expr, $row:ty) => {
        tx!($t, c => {
            let mut q = sqlx::QueryBuilder::new($sql);
            q.push(" WHERE number IN (");
            let mut list = q.separated(", ");
            for n in $numbers {
                list.push_bind(*n);
            }
            q.push(")");
            q.build_query_as::<$row>().fetch_all(&mut **c).await?
        })
    };
}

async fn events_of(
    t: &mut Tx,
    numbers: &[&str],
) -> Result<std::collections::HashMap<String, Vec<Event>>, PlatformError> {
    let found = select_in!(
        t,
        "SELECT number, kind, at_ms, payload FROM rpt_events",
        numbers,
        (String, String, i64, Vec<u8>)
    );
    let mut by = std::collections::HashMap::<String, Vec<Event>>::new();
    for (number, kind, at_ms, payload) in found {
        by.entry(number).or_default().push(Event {
            kind,
            at_ms,
            payload,
        });
    }
    Ok(by)
}

async fn old_rows(
    t: &mut Tx,
    numbers: &[&str],
) -> Result<std::collections::HashMap<String, OldRow>, PlatformError> {
    let found = select_in!(
        t,
        "SELECT number, received_ms, province, district, status, outcome, within_sla FROM rpt_applications",
        numbers,
        (String, i64, i64, i64, i64, i64, Option<bool>)
    );
    Ok(found
        .into_iter()
        .map(|(n, r, p, d, s, o, w)| (n, (r, p, d, s, o, w)))
        .collect())
}

async fn old_levels(
    t: &mut Tx,
    numbers: &[&str],
) -> Result<std::collections::HashMap<String, Vec<i64>>, PlatformError> {
    let found = select_in!(
        t,
        "SELECT DISTINCT number, level FROM rpt_escalations",
        numbers,
        (String, i64)
    );
    let mut by = std::collections::HashMap::<String, Vec<i64>>::new();
    for (number, level) in found {
        by.entry(number).or_default().push(level);
    }
    Ok(by)
}

/// A month's cell: (month, province, district).
type CellKey = (i64, i64, i64);

/// Changes to the months' counts, by cell.
type Cells = std::collections::BTreeMap<CellKey, [i64; 14]>;

fn add_to(cells: &mut Cells, cell: &Cell, k: [i64; 14]) {
    let sum = cells
        .entry((cell.month, cell.province, cell.district))
        .or_insert([0; 14]);
    for (s, n) in sum.iter_mut().zip(k) {
        *s += n;
    }
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

/// Adds each cell's counts (negative numbers take back), one statement
/// for many cells, in the order given (that of their keys).
async fn add_cells(t: &mut Tx, cells: &[(CellKey, [i64; 14])]) -> Result<(), PlatformError> {
    for chunk in cells.chunks(500) {
        tx!(t, c => {
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO rpt_monthly (month, province, district, received, concluded, positive, negative, partial, unanswerable, verdicts, within_sla, \
                 level1, level2, level3, level4, level5, level100) ",
            );
            q.push_values(chunk, |mut b, ((month, province, district), k)| {
                b.push_bind(*month).push_bind(*province).push_bind(*district);
                for n in k {
                    b.push_bind(*n);
                }
            });
            q.push(
                " ON CONFLICT (month, province, district) DO UPDATE SET \
                 received = rpt_monthly.received + excluded.received, concluded = rpt_monthly.concluded + excluded.concluded, \
                 positive = rpt_monthly.positive + excluded.positive, negative = rpt_monthly.negative + excluded.negative, \
                 partial = rpt_monthly.partial + excluded.partial, unanswerable = rpt_monthly.unanswerable + excluded.unanswerable, \
                 verdicts = rpt_monthly.verdicts + excluded.verdicts, within_sla = rpt_monthly.within_sla + excluded.within_sla, \
                 level1 = rpt_monthly.level1 + excluded.level1, level2 = rpt_monthly.level2 + excluded.level2, \
                 level3 = rpt_monthly.level3 + excluded.level3, level4 = rpt_monthly.level4 + excluded.level4, \
                 level5 = rpt_monthly.level5 + excluded.level5, level100 = rpt_monthly.level100 + excluded.level100",
            );
            q.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// What a refolded row changes in the months' counts: its old
/// contribution out, the new in (nothing when a refold did not change
/// them, as for an SMS).
fn count(cells: &mut Cells, old: Option<Cell>, r: &Row, escalations: &[Escalation]) {
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
        // The same cell (place and month never change after receipt): the
        // difference.
        Some(old)
            if (old.month, old.province, old.district)
                == (new.month, new.province, new.district) =>
        {
            let delta = std::array::from_fn(|i| new.counts[i] - old.counts[i]);
            add_to(cells, &new, delta);
        }
        Some(old) => {
            add_to(cells, &old, old.counts.map(|n| -n));
            add_to(cells, &new, new.counts);
        }
        None => add_to(cells, &new, new.counts),
    }
}

/// Replaces the rows (and their escalations) of the folded applications:
/// each row in place, by an upsert (an update that touches no indexed
/// column, as an SMS or a verdict does, is mostly a heap-only update that
/// adds no index entries), the escalations deleted (when any application
/// of the batch had some) and written again.
async fn write(
    t: &mut Tx,
    rows: &[(Row, Vec<Escalation>)],
    escalated_before: bool,
) -> Result<(), PlatformError> {
    const COLUMNS: [&str; 19] = [
        "received_ms",
        "province",
        "district",
        "topic",
        "type_code",
        "unit_id",
        "channel",
        "kind",
        "vulnerable",
        "status",
        "outcome",
        "round",
        "concluded_ms",
        "resolution_ms",
        "max_level",
        "sms_sent",
        "within_sla",
        "survey_sent",
        "survey_score",
    ];
    for chunk in rows.chunks(500) {
        let numbers: Vec<&str> = chunk.iter().map(|(r, _)| r.number.as_str()).collect();
        let escalations: Vec<(&str, &Escalation)> = chunk
            .iter()
            .flat_map(|(r, es)| es.iter().map(move |e| (r.number.as_str(), e)))
            .collect();
        tx!(t, c => {
            if escalated_before {
                let mut q = sqlx::QueryBuilder::new("DELETE FROM rpt_escalations WHERE number IN (");
                let mut list = q.separated(", ");
                for n in &numbers {
                    list.push_bind(*n);
                }
                q.push(")");
                q.build().execute(&mut **c).await?;
            }
            let mut q = sqlx::QueryBuilder::new(format!("INSERT INTO rpt_applications (number, {}) ", COLUMNS.join(", ")));
            q.push_values(chunk, |mut b, (r, _)| {
                b.push_bind(&r.number).push_bind(r.received_ms).push_bind(i64::from(r.province)).push_bind(i64::from(r.district))
                    .push_bind(&r.topic).push_bind(&r.type_code).push_bind(&r.unit_id).push_bind(i64::from(r.channel))
                    .push_bind(i64::from(r.kind)).push_bind(r.vulnerable).push_bind(i64::from(r.status)).push_bind(i64::from(r.outcome))
                    .push_bind(i64::from(r.round)).push_bind(r.concluded_ms).push_bind(r.resolution_ms).push_bind(i64::from(r.max_level))
                    .push_bind(i64::from(r.sms_sent)).push_bind(r.within_sla).push_bind(r.survey_sent)
                    .push_bind(r.survey_score.map(i64::from));
            });
            q.push(" ON CONFLICT (number) DO UPDATE SET ");
            let mut set = q.separated(", ");
            for col in COLUMNS {
                set.push(format!("{col} = excluded.{col}"));
            }
            q.build().execute(&mut **c).await?;
            if !escalations.is_empty() {
                let mut q = sqlx::QueryBuilder::new("INSERT INTO rpt_escalations (number, round, rung, level, at_ms) ");
                q.push_values(&escalations, |mut b, (n, e)| {
                    b.push_bind(*n).push_bind(i64::from(e.round)).push_bind(i64::from(e.rung))
                        .push_bind(i64::from(e.level)).push_bind(e.at_ms);
                });
                q.build().execute(&mut **c).await?;
            }
        });
    }
    Ok(())
}

/// The province of a folded application; 0 before its receipt arrived.
/// The provinces of applications `numbers` (those reporting has a row
/// for), in one query.
pub async fn provinces_of(db: &Db, numbers: &[&str]) -> Result<Vec<u32>, PlatformError> {
    let mut provinces = Vec::new();
    for chunk in numbers.chunks(500) {
        let found: Vec<i64> = db!(db, c => {
            let mut q = sqlx::QueryBuilder::new("SELECT DISTINCT province FROM rpt_applications WHERE number IN (");
            let mut list = q.separated(", ");
            for n in chunk {
                list.push_bind(*n);
            }
            q.push(")");
            q.build_query_scalar().fetch_all(c).await?
        });
        provinces.extend(found.into_iter().map(|p| p as u32));
    }
    Ok(provinces)
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
        // Held as the consumer holds them: a rebuild beside running
        // consumers must not fold one application twice at once.
        let names: Vec<&str> = numbers.iter().map(String::as_str).collect();
        refold(&mut t, &names).await?;
        t.commit().await?;
        folded += numbers.len() as u64;
    }
    Ok(folded)
}
