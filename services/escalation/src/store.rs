//! Clocks in the database, and the one place their derived columns are
//! computed ([`derive`]) so that every writer (consumer, gRPC, sweep,
//! calendar change) agrees.

use crate::calendars::Calendars;
use crate::ledger::{self, Entry, Pause};
use crate::policy::Policies;
use acikkapi_domain::calendar::{Arife, Calendar};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::{Db, OutboxEvent, Tx, now_ms};
use acikkapi_platform::{PlatformError, db, tx};
use sqlx::Row;
use std::collections::BTreeMap;

pub const COLUMNS: &str = "id, number, round, province, district, topic, unit_id, vulnerable, started_ms, \
    budget_days, deadline_ms, statutory_ms, paused, rung_reached, statutory_fired, next_due_ms, concluded_ms, \
    announced_ms, deadline_seq";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlaClock {
    pub id: String,
    pub number: String,
    pub round: u32,
    pub province: u32,
    pub district: u32,
    pub topic: String,
    pub unit_id: String,
    pub vulnerable: bool,
    pub started_ms: i64,
    pub budget_days: u32,
    pub deadline_ms: Option<i64>,
    pub statutory_ms: i64,
    pub paused: bool,
    pub rung_reached: u32,
    pub statutory_fired: bool,
    pub next_due_ms: Option<i64>,
    pub concluded_ms: Option<i64>,
    /// The deadline last announced to routing ([`announce`]), and how
    /// many announcements this round's clock has had.
    pub announced_ms: Option<i64>,
    pub deadline_seq: u64,
}

macro_rules! clock_row {
    ($r:expr) => {
        SlaClock {
            id: $r.try_get("id")?,
            number: $r.try_get("number")?,
            round: $r.try_get::<i64, _>("round")? as u32,
            province: $r.try_get::<i64, _>("province")? as u32,
            district: $r.try_get::<i64, _>("district")? as u32,
            topic: $r.try_get("topic")?,
            unit_id: $r.try_get("unit_id")?,
            vulnerable: $r.try_get("vulnerable")?,
            started_ms: $r.try_get("started_ms")?,
            budget_days: $r.try_get::<i64, _>("budget_days")? as u32,
            deadline_ms: $r.try_get("deadline_ms")?,
            statutory_ms: $r.try_get("statutory_ms")?,
            paused: $r.try_get("paused")?,
            rung_reached: $r.try_get::<i64, _>("rung_reached")? as u32,
            statutory_fired: $r.try_get("statutory_fired")?,
            next_due_ms: $r.try_get("next_due_ms")?,
            concluded_ms: $r.try_get("concluded_ms")?,
            announced_ms: $r.try_get("announced_ms")?,
            deadline_seq: $r.try_get::<i64, _>("deadline_seq")? as u64,
        }
    };
}
pub(crate) use clock_row;

pub fn clock_id(number: &str, round: u32) -> String {
    format!("{number}:{round}")
}

/// ` FOR UPDATE` on PostgreSQL (row locks); SQLite's write transaction
/// holds the whole database already.
pub fn for_update(t: &Tx) -> &'static str {
    match t {
        Tx::Postgres(_) => " FOR UPDATE",
        Tx::Sqlite(..) => "",
    }
}

pub fn arife(setting: &str) -> Arife {
    if setting == "off" {
        Arife::Off
    } else {
        Arife::Morning
    }
}

/// The latest round's clock of an application, locked for this transaction.
pub async fn latest_locked(t: &mut Tx, number: &str) -> Result<Option<SlaClock>, PlatformError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sla_clocks WHERE number = $1 ORDER BY round DESC LIMIT 1{}",
        for_update(t)
    );
    Ok(tx!(t, c => {
        match sqlx::query(&sql).bind(number).fetch_optional(&mut **c).await? {
            Some(r) => Some(clock_row!(r)),
            None => None,
        }
    }))
}

pub async fn latest(db: &Db, number: &str) -> Result<Option<SlaClock>, PlatformError> {
    let sql =
        format!("SELECT {COLUMNS} FROM sla_clocks WHERE number = $1 ORDER BY round DESC LIMIT 1");
    Ok(db!(db, c => {
        match sqlx::query(&sql).bind(number).fetch_optional(c).await? {
            Some(r) => Some(clock_row!(r)),
            None => None,
        }
    }))
}

/// Every round's clock of the applications `numbers`, locked for this
/// transaction in one statement (in id order, so two batches lock in one
/// order), each with the routing sequence last applied to it.
pub async fn clocks_locked(
    t: &mut Tx,
    numbers: &[&str],
) -> Result<Vec<(SlaClock, i64)>, PlatformError> {
    let mut out = Vec::new();
    match t {
        // One statement text whatever the count (prepared once a connection).
        Tx::Postgres(c) => {
            let sql = format!(
                "SELECT {COLUMNS}, routing_seq FROM sla_clocks WHERE number = ANY($1) ORDER BY id FOR UPDATE"
            );
            for r in sqlx::query(&sql).bind(numbers).fetch_all(&mut **c).await? {
                out.push((clock_row!(r), r.try_get("routing_seq")?));
            }
        }
        Tx::Sqlite(c, _) => {
            for chunk in numbers.chunks(500) {
                let mut qb = sqlx::QueryBuilder::new(format!(
                    "SELECT {COLUMNS}, routing_seq FROM sla_clocks WHERE number IN ("
                ));
                let mut list = qb.separated(", ");
                for n in chunk {
                    list.push_bind(*n);
                }
                qb.push(")");
                for r in qb.build().fetch_all(&mut **c).await? {
                    out.push((clock_row!(r), r.try_get("routing_seq")?));
                }
            }
        }
    }
    Ok(out)
}

/// A clock to insert: the clock, the routing sequence applied to it, and
/// the trace context it was started in (JSON).
pub struct NewClock<'a> {
    pub clock: &'a SlaClock,
    pub routing_seq: i64,
    pub trace: &'a str,
}

/// Inserts new clocks, one statement a chunk; returns how many were
/// inserted (a clock that exists already is left as it is).
pub async fn insert_many(
    t: &mut Tx,
    clocks: &[NewClock<'_>],
    now: i64,
) -> Result<u64, PlatformError> {
    let mut inserted = 0;
    // In the order of the unique key: two transactions inserting the same
    // clocks wait for each other in one order and never deadlock.
    let mut clocks: Vec<&NewClock> = clocks.iter().collect();
    clocks.sort_by(|a, b| a.clock.id.cmp(&b.clock.id));
    // 22 parameters a row.
    for chunk in clocks.chunks(500) {
        inserted += tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "INSERT INTO sla_clocks (id, number, round, province, district, topic, unit_id, vulnerable, started_ms, budget_days, \
                 deadline_ms, statutory_ms, paused, rung_reached, statutory_fired, next_due_ms, concluded_ms, routing_seq, trace, updated_ms, \
                 announced_ms, deadline_seq) ",
            );
            qb.push_values(chunk, |mut b, n| {
                let k = n.clock;
                b.push_bind(&k.id).push_bind(&k.number).push_bind(i64::from(k.round)).push_bind(i64::from(k.province))
                    .push_bind(i64::from(k.district)).push_bind(&k.topic).push_bind(&k.unit_id).push_bind(k.vulnerable)
                    .push_bind(k.started_ms).push_bind(i64::from(k.budget_days)).push_bind(k.deadline_ms).push_bind(k.statutory_ms)
                    .push_bind(k.paused).push_bind(i64::from(k.rung_reached)).push_bind(k.statutory_fired).push_bind(k.next_due_ms)
                    .push_bind(k.concluded_ms).push_bind(n.routing_seq).push_bind(n.trace).push_bind(now)
                    .push_bind(k.announced_ms).push_bind(k.deadline_seq as i64);
            });
            qb.push(" ON CONFLICT (id) DO NOTHING");
            qb.build().execute(&mut **c).await?.rows_affected()
        });
    }
    Ok(inserted)
}

/// Writes everything of many clocks but their identity, with the routing
/// sequence applied to each, one statement a chunk.
pub async fn update_all(
    t: &mut Tx,
    clocks: &[(&SlaClock, i64)],
    now: i64,
) -> Result<(), PlatformError> {
    // 15 parameters a row.
    for chunk in clocks.chunks(500) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "UPDATE sla_clocks SET topic = v.column2, unit_id = v.column3, budget_days = v.column4, deadline_ms = v.column5, \
                 statutory_ms = v.column6, paused = v.column7, rung_reached = v.column8, statutory_fired = v.column9, \
                 next_due_ms = v.column10, concluded_ms = v.column11, routing_seq = v.column12, updated_ms = v.column13, \
                 announced_ms = v.column14, deadline_seq = v.column15 FROM (",
            );
            qb.push_values(chunk, |mut b, (k, seq)| {
                b.push_bind(&k.id).push_bind(&k.topic).push_bind(&k.unit_id).push_bind(i64::from(k.budget_days))
                    .push_bind(k.deadline_ms).push_bind(k.statutory_ms).push_bind(k.paused).push_bind(i64::from(k.rung_reached))
                    .push_bind(k.statutory_fired).push_bind(k.next_due_ms).push_bind(k.concluded_ms).push_bind(*seq).push_bind(now)
                    .push_bind(k.announced_ms).push_bind(k.deadline_seq as i64);
            });
            qb.push(") AS v WHERE sla_clocks.id = v.column1");
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

/// Writes everything of a clock but its identity.
pub async fn update(t: &mut Tx, k: &SlaClock, now: i64) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query(
            "UPDATE sla_clocks SET topic = $2, unit_id = $3, budget_days = $4, deadline_ms = $5, statutory_ms = $6, paused = $7, \
             rung_reached = $8, statutory_fired = $9, next_due_ms = $10, concluded_ms = $11, updated_ms = $12, \
             announced_ms = $13, deadline_seq = $14 WHERE id = $1",
        )
        .bind(&k.id).bind(&k.topic).bind(&k.unit_id).bind(i64::from(k.budget_days)).bind(k.deadline_ms).bind(k.statutory_ms)
        .bind(k.paused).bind(i64::from(k.rung_reached)).bind(k.statutory_fired).bind(k.next_due_ms).bind(k.concluded_ms).bind(now)
        .bind(k.announced_ms).bind(k.deadline_seq as i64)
        .execute(&mut **c).await?;
    });
    Ok(())
}

/// Writes the derived columns of many clocks in one statement a chunk
/// (`UPDATE … FROM (VALUES …)`, valid on both backends).
pub async fn update_many(t: &mut Tx, clocks: &[SlaClock], now: i64) -> Result<(), PlatformError> {
    // 11 parameters a row.
    for chunk in clocks.chunks(500) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new(
                "UPDATE sla_clocks SET budget_days = v.column2, deadline_ms = v.column3, statutory_ms = v.column4, \
                 paused = v.column5, rung_reached = v.column6, statutory_fired = v.column7, next_due_ms = v.column8, \
                 updated_ms = v.column9, announced_ms = v.column10, deadline_seq = v.column11 FROM (",
            );
            qb.push_values(chunk, |mut b, k| {
                b.push_bind(&k.id).push_bind(i64::from(k.budget_days)).push_bind(k.deadline_ms).push_bind(k.statutory_ms)
                    .push_bind(k.paused).push_bind(i64::from(k.rung_reached)).push_bind(k.statutory_fired)
                    .push_bind(k.next_due_ms).push_bind(now).push_bind(k.announced_ms).push_bind(k.deadline_seq as i64);
            });
            qb.push(") AS v WHERE sla_clocks.id = v.column1");
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

pub async fn pauses_tx(t: &mut Tx, clock: &str) -> Result<Vec<Pause>, PlatformError> {
    Ok(tx!(t, c => {
        sqlx::query("SELECT from_ms, to_ms, reason, actor FROM sla_pauses WHERE clock_id = $1 ORDER BY from_ms")
            .bind(clock).fetch_all(&mut **c).await?
            .into_iter().map(|r| -> Result<Pause, sqlx::Error> { pause_row(&r) }).collect::<Result<Vec<_>, _>>()?
    }))
}

pub async fn pauses(db: &Db, clock: &str) -> Result<Vec<Pause>, PlatformError> {
    Ok(db!(db, c => {
        sqlx::query("SELECT from_ms, to_ms, reason, actor FROM sla_pauses WHERE clock_id = $1 ORDER BY from_ms")
            .bind(clock).fetch_all(c).await?
            .into_iter().map(|r| -> Result<Pause, sqlx::Error> { pause_row(&r) }).collect::<Result<Vec<_>, _>>()?
    }))
}

fn pause_row<R: Row>(r: &R) -> Result<Pause, sqlx::Error>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(Pause {
        from_ms: r.try_get("from_ms")?,
        to_ms: r.try_get("to_ms")?,
        reason: r.try_get("reason")?,
        actor: r.try_get("actor")?,
    })
}

pub async fn entries(db: &Db, clock: &str) -> Result<Vec<Entry>, PlatformError> {
    Ok(db!(db, c => {
        sqlx::query("SELECT at_ms, kind, reason, actor FROM sla_ledger WHERE clock_id = $1 ORDER BY id")
            .bind(clock).fetch_all(c).await?
            .into_iter().map(|r| -> Result<Entry, sqlx::Error> {
                Ok(Entry { at_ms: r.try_get("at_ms")?, kind: r.try_get("kind")?, reason: r.try_get("reason")?, actor: r.try_get("actor")? })
            }).collect::<Result<Vec<_>, _>>()?
    }))
}

pub async fn add_entry(
    t: &mut Tx,
    clock: &str,
    kind: &str,
    at_ms: i64,
    reason: &str,
    actor: &str,
) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("INSERT INTO sla_ledger (clock_id, kind, at_ms, reason, actor) VALUES ($1, $2, $3, $4, $5)")
            .bind(clock).bind(kind).bind(at_ms).bind(reason).bind(actor).execute(&mut **c).await?;
    });
    Ok(())
}

/// A ledger line: clock, kind, when, why.
pub type Line = (String, String, i64, String);

/// Writes ledger lines by `actor`, in their order, one statement a chunk.
pub async fn add_entries(t: &mut Tx, entries: &[Line], actor: &str) -> Result<(), PlatformError> {
    for chunk in entries.chunks(1000) {
        tx!(t, c => {
            let mut qb = sqlx::QueryBuilder::new("INSERT INTO sla_ledger (clock_id, kind, at_ms, reason, actor) ");
            qb.push_values(chunk, |mut b, (clock, kind, at_ms, reason)| {
                b.push_bind(clock).push_bind(kind).push_bind(*at_ms).push_bind(reason).push_bind(actor);
            });
            qb.build().execute(&mut **c).await?;
        });
    }
    Ok(())
}

pub async fn open_pause(
    t: &mut Tx,
    clock: &str,
    at_ms: i64,
    reason: &str,
    actor: &str,
) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("INSERT INTO sla_pauses (clock_id, from_ms, to_ms, reason, actor) VALUES ($1, $2, NULL, $3, $4)")
            .bind(clock).bind(at_ms).bind(reason).bind(actor).execute(&mut **c).await?;
    });
    Ok(())
}

pub async fn close_pause(t: &mut Tx, clock: &str, at_ms: i64) -> Result<(), PlatformError> {
    tx!(t, c => {
        sqlx::query("UPDATE sla_pauses SET to_ms = $2 WHERE clock_id = $1 AND to_ms IS NULL")
            .bind(clock).bind(at_ms).execute(&mut **c).await?;
    });
    Ok(())
}

/// Sets a clock's derived columns from its budget, pauses, the calendar
/// and the policy: the deadline, the statutory deadline and when the sweep
/// must next look at it. A concluded clock has nothing left to fire.
pub fn derive(
    k: &mut SlaClock,
    cal: &Calendar,
    arife: Arife,
    policies: &Policies,
    pauses: &[Pause],
) -> Result<(), PlatformError> {
    let policy = policies.for_topic(&k.topic);
    k.budget_days = policy.budget_days(k.vulnerable);
    let calendar =
        |e: acikkapi_domain::calendar::CalendarError| PlatformError::Internal(e.to_string());
    k.deadline_ms = ledger::deadline(
        cal,
        arife,
        k.started_ms,
        ledger::budget_ms(k.budget_days),
        pauses,
    )
    .map_err(calendar)?;
    k.paused = pauses.iter().any(|p| p.to_ms.is_none());
    k.statutory_ms = ledger::statutory_deadline(cal, arife, k.started_ms);
    k.next_due_ms = if k.concluded_ms.is_some() {
        None
    } else {
        let statutory_due = ledger::statutory_due(cal, arife, k.statutory_ms).map_err(calendar)?;
        match k.deadline_ms {
            // Paused: the ladder waits; the statutory period does not.
            None => (!k.statutory_fired).then_some(statutory_due),
            Some(d) => {
                let dues = ledger::rung_dues(cal, arife, d, policy).map_err(calendar)?;
                ledger::next_due(&dues, k.rung_reached, statutory_due, k.statutory_fired)
            }
        }
    };
    Ok(())
}

/// Marks `k`'s deadline announced if it is not what routing was told
/// last, and returns the `SlaDeadlineChanged` for the outbox of the
/// transaction that writes `k` (`headers`: the trace it continues). Every
/// writer of clocks passes them through here, so each change reaches
/// routing once, in `seq` order whatever the delivery order.
pub fn announce(k: &mut SlaClock, headers: BTreeMap<String, String>) -> Option<OutboxEvent> {
    if k.deadline_seq > 0 && k.announced_ms == k.deadline_ms {
        return None;
    }
    k.announced_ms = k.deadline_ms;
    k.deadline_seq += 1;
    let event = acikkapi_proto::v1::SlaDeadlineChanged {
        application_number: k.number.clone(),
        round: k.round,
        deadline: k.deadline_ms.map(ledger::timestamp),
        seq: k.deadline_seq,
    };
    Some(OutboxEvent::of(event, &k.number, headers))
}

/// Announces up to `limit` open clocks never announced (those started
/// before announcements existed), in one transaction; returns how many.
pub async fn announce_unannounced(db: &Db, limit: i64) -> Result<u64, PlatformError> {
    let mut t = db.begin().await?;
    let sql = format!(
        "SELECT {COLUMNS}, trace FROM sla_clocks WHERE concluded_ms IS NULL AND deadline_seq = 0 ORDER BY id LIMIT $1{}",
        for_update(&t)
    );
    let rows: Vec<(SlaClock, String)> = tx!(&mut t, c => {
        sqlx::query(&sql).bind(limit).fetch_all(&mut **c).await?
            .into_iter().map(|r| -> Result<(SlaClock, String), sqlx::Error> { Ok((clock_row!(r), r.try_get("trace")?)) })
            .collect::<Result<Vec<_>, _>>()?
    });
    let mut clocks = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for (mut k, trace) in rows {
        let stored: BTreeMap<String, String> = serde_json::from_str(&trace).unwrap_or_default();
        events.extend(announce(&mut k, stored));
        clocks.push(k);
    }
    update_many(&mut t, &clocks, now_ms()).await?;
    t.insert_outbox(&events).await?;
    t.commit().await?;
    Ok(clocks.len() as u64)
}

/// The open clocks a calendar change touches (all, or one province's),
/// re-derived in chunks; the ones whose deadline moved say so in their
/// ledger. Returns how many were looked at and how many moved.
pub async fn rederive_open(
    db: &Db,
    arife: Arife,
    province: Option<u32>,
    topic: Option<&str>,
    why: &str,
    now: i64,
) -> Result<(u64, u64), PlatformError> {
    const CHUNK: i64 = 2_000;
    let policies = Policies::load(db).await?;
    let cals = Calendars::load(db).await?;
    let (mut seen, mut moved) = (0u64, 0u64);
    let mut after = String::new();
    loop {
        let mut t = db.begin().await?;
        let sql = format!(
            "SELECT {COLUMNS} FROM sla_clocks WHERE concluded_ms IS NULL AND ($1 < 0 OR province = $1) AND ($2 = '' OR topic = $2) \
             AND id > $3 ORDER BY id LIMIT $4{}",
            for_update(&t)
        );
        let clocks: Vec<SlaClock> = tx!(&mut t, c => {
            sqlx::query(&sql).bind(province.map_or(-1, i64::from)).bind(topic.unwrap_or(""))
                .bind(&after).bind(CHUNK).fetch_all(&mut **c).await?
                .into_iter().map(|r| -> Result<SlaClock, sqlx::Error> { Ok(clock_row!(r)) }).collect::<Result<Vec<_>, _>>()?
        });
        let Some(last) = clocks.last() else { break };
        after = last.id.clone();
        let ids: Vec<&str> = clocks.iter().map(|k| k.id.as_str()).collect();
        let mut pauses = paused_of(&mut t, &ids).await?;
        let (mut changed, mut events) = (Vec::new(), Vec::new());
        for k in &clocks {
            let mut new = k.clone();
            let p = pauses.remove(&k.id).unwrap_or_default();
            derive(
                &mut new,
                cals.for_province(k.province),
                arife,
                &policies,
                &p,
            )?;
            if new != *k {
                events.extend(announce(
                    &mut new,
                    acikkapi_platform::telemetry::current_context_headers(),
                ));
                changed.push((k.deadline_ms, new));
            }
        }
        seen += clocks.len() as u64;
        let lines: Vec<(&str, String)> = changed
            .iter()
            .filter(|(before, k)| *before != k.deadline_ms)
            .map(|(before, k)| {
                let text = format!(
                    "{why}: deadline {} → {}",
                    show(*before),
                    show(k.deadline_ms)
                );
                (k.id.as_str(), text)
            })
            .collect();
        moved += lines.len() as u64;
        let rows: Vec<SlaClock> = changed.iter().map(|(_, k)| k.clone()).collect();
        update_many(&mut t, &rows, now).await?;
        t.insert_outbox(&events).await?;
        // 4 parameters a row.
        for chunk in lines.chunks(1000) {
            tx!(&mut t, c => {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO sla_ledger (clock_id, kind, at_ms, reason, actor) ");
                qb.push_values(chunk, |mut b, (id, text)| {
                    b.push_bind(*id).push_bind("rederived").push_bind(now).push_bind(text).push_bind(Service::Escalation.as_str());
                });
                qb.build().execute(&mut **c).await?;
            });
        }
        t.commit().await?;
        if (clocks.len() as i64) < CHUNK {
            break;
        }
    }
    Ok((seen, moved))
}

fn show(ms: Option<i64>) -> String {
    ms.map_or_else(|| "none (paused)".into(), ledger::show)
}

/// The pauses of the clocks `ids` that have any.
pub async fn paused_of(
    t: &mut Tx,
    ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<Pause>>, PlatformError> {
    let rows: Vec<(String, i64, Option<i64>, String, String)> = t
        .select_in(
            "SELECT clock_id, from_ms, to_ms, reason, actor FROM sla_pauses WHERE clock_id",
            ids,
            "ORDER BY from_ms",
            "ORDER BY from_ms",
        )
        .await?;
    let mut out: std::collections::HashMap<String, Vec<Pause>> = Default::default();
    for (id, from_ms, to_ms, reason, actor) in rows {
        out.entry(id).or_default().push(Pause {
            from_ms,
            to_ms,
            reason,
            actor,
        });
    }
    Ok(out)
}
