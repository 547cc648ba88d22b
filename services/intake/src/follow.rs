//! Intake follows routing: the application's unit, status and the
//! citizen's timeline move with `ApplicationRouted`, `ApplicationTransferred`,
//! `UnitResponded`, `ApplicationReopened` and `ApplicationReclassified`;
//! an `ApplicationEscalated` above the unit's reminder adds a line.
//! Idempotent through the consumer inbox; each update is guarded by the
//! status it expects, so a late or repeated event cannot move an
//! application backwards (a routing after a conclusion changes nothing).
//! Routing's events are applied in routing's order, whatever order
//! competing replicas receive them in: routing numbers its events per
//! application (`seq`), and an event whose predecessor has not been
//! applied yet is delivered again later ([`apply`]). So the unit,
//! topic and status end where routing's did, and the timeline lists the
//! steps as routing took them.

use acikkapi_platform::bus::Envelope;
use acikkapi_platform::cache::Cache;
use acikkapi_platform::consumer::event;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::store::{Tx, now_ms};
use acikkapi_platform::tx;
use acikkapi_proto::v1 as pb;
use acikkapi_proto::{Event, EventKind};
use pb::Status as St;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const QUEUE: &str = "intake-follow";
pub const KINDS: &[&str] = &[
    EventKind::ApplicationRouted.as_str(),
    EventKind::ApplicationTransferred.as_str(),
    EventKind::UnitResponded.as_str(),
    EventKind::ApplicationReopened.as_str(),
    EventKind::ApplicationReclassified.as_str(),
    EventKind::ApplicationEscalated.as_str(),
];

pub struct Follow {
    pub cache: Cache,
}

/// A column's new value.
enum Bind {
    Text(String),
    Int(i32),
    BigInt(i64),
    /// SQL NULL in a BIGINT column.
    NoBigInt,
}

/// One update of the application, guarded by the statuses it may come
/// from, and its timeline line (only when the update took).
struct Step<'a> {
    number: &'a str,
    /// The columns it sets, and to what.
    set: Vec<(&'static str, Bind)>,
    from: &'a [St],
    status: Option<St>,
    line: String,
    /// Routing's sequence number of the event (0: not from routing).
    seq: u64,
}

/// Applies `s` to the application as this batch has it (its status and
/// the routing sequence last applied): in routing's order, guarded by the
/// statuses it may come from. The change and its timeline line are kept
/// for the batch, which writes them before its commit.
fn apply(seen: &Seen, s: Step<'_>) -> Result<(), HandlerError> {
    let Some((status, applied)) = seen.get(s.number) else {
        if s.seq == 0 {
            return Ok(()); // nothing to add a line to
        }
        return Err(HandlerError::Permanent(format!(
            "no application {}",
            s.number
        )));
    };
    let mut seq = applied;
    if s.seq != 0 {
        let next = s.seq as i64;
        if next <= applied {
            return Ok(()); // applied already
        }
        if next > applied + 1 {
            // A later one waits until its predecessor is in.
            return Err(HandlerError::Later(format!(
                "routing event {next} waits for event {}",
                applied + 1
            )));
        }
        seq = next;
    }
    let mut set = vec![("routing_seq", Bind::BigInt(seq))];
    let takes = s.from.iter().any(|f| *f as i32 == status);
    let status = if takes {
        let now = now_ms();
        set.extend(s.set);
        set.push(("updated_ms", Bind::BigInt(now)));
        let status = s.status.map_or(status, |st| st as i32);
        seen.line(s.number, now, status, s.line);
        status
    } else {
        // Not from here (a routing after a conclusion): only its place in
        // routing's order is recorded.
        status
    };
    if seq != applied || takes {
        seen.change(s.number, status, seq, set);
    }
    Ok(())
}

/// The batch's applications as its events leave them: read and locked in
/// one statement before the first event, with the timeline lines its
/// events add (written in one statement before the commit).
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    /// Status and routing sequence of each application that exists.
    now: HashMap<String, (i32, i64)>,
    /// The columns the batch changed of each application, with their
    /// last values, in order of the first change.
    changed: Vec<(String, BTreeMap<&'static str, Bind>)>,
    /// Timeline lines: number, when, status, text.
    lines: Vec<(String, i64, i32, String)>,
}

impl Seen {
    async fn read(t: &mut Tx, numbers: &[&str]) -> Result<Seen, HandlerError> {
        let mut numbers = numbers.to_vec();
        numbers.sort_unstable();
        numbers.dedup();
        // In number order on PostgreSQL, so two batches lock in one order.
        let rows: Vec<(String, i32, i64)> = t
            .select_in(
                "SELECT number, status, routing_seq FROM applications WHERE number",
                &numbers,
                "ORDER BY number FOR UPDATE",
                "",
            )
            .await?;
        let now = rows
            .into_iter()
            .map(|(n, st, seq)| (n, (st, seq)))
            .collect();
        Ok(Seen(Arc::new(Mutex::new(Kept {
            now,
            ..Kept::default()
        }))))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().expect("the batch's applications")
    }

    fn get(&self, number: &str) -> Option<(i32, i64)> {
        self.lock().now.get(number).copied()
    }

    /// An event's change of `number`: its status and routing sequence
    /// after it, and the columns it sets.
    fn change(&self, number: &str, status: i32, seq: i64, set: Vec<(&'static str, Bind)>) {
        let mut kept = self.lock();
        kept.now.insert(number.to_owned(), (status, seq));
        let i = match kept.changed.iter().position(|(n, _)| n == number) {
            Some(i) => i,
            None => {
                kept.changed.push((number.to_owned(), BTreeMap::new()));
                kept.changed.len() - 1
            }
        };
        kept.changed[i].1.extend(set);
    }

    fn line(&self, number: &str, at_ms: i64, status: i32, text: String) {
        self.lock()
            .lines
            .push((number.to_owned(), at_ms, status, text));
    }

    /// The batch's changes, one statement for each set of columns changed
    /// (in a pipeline, one), and its timeline lines in one more.
    async fn write(&self, t: &mut Tx) -> Result<(), HandlerError> {
        let (changed, lines) = {
            let mut kept = self.lock();
            (
                std::mem::take(&mut kept.changed),
                std::mem::take(&mut kept.lines),
            )
        };
        let mut by_columns: BTreeMap<Vec<&'static str>, Vec<(String, Vec<Bind>)>> = BTreeMap::new();
        for (number, set) in changed {
            let (columns, values): (Vec<&'static str>, Vec<Bind>) = set.into_iter().unzip();
            by_columns
                .entry(columns)
                .or_default()
                .push((number, values));
        }
        for (columns, rows) in by_columns {
            let assignments: Vec<String> = columns
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c} = v.column{}", i + 2))
                .collect();
            let sql = format!("UPDATE applications SET {} FROM (", assignments.join(", "));
            for chunk in rows.chunks(1000) {
                tx!(t, c => {
                    let mut qb = sqlx::QueryBuilder::new(&sql);
                    qb.push_values(chunk, |mut b, (number, values)| {
                        b.push_bind(number.clone());
                        for v in values {
                            match v {
                                Bind::Text(x) => b.push_bind(x.clone()),
                                Bind::Int(x) => b.push_bind(*x),
                                Bind::BigInt(x) => b.push_bind(*x),
                                Bind::NoBigInt => b.push_bind(None::<i64>),
                            };
                        }
                    });
                    qb.push(") AS v WHERE applications.number = v.column1");
                    qb.build().execute(&mut **c).await?;
                });
            }
        } // 4 parameters a row.
        for chunk in lines.chunks(1000) {
            tx!(t, c => {
                let mut qb = sqlx::QueryBuilder::new("INSERT INTO application_history (number, at_ms, status, description) ");
                qb.push_values(chunk, |mut b, (number, at, status, text)| {
                    b.push_bind(number).push_bind(*at).push_bind(*status).push_bind(text);
                });
                qb.build().execute(&mut **c).await?;
            });
        }
        Ok(())
    }
}

const OPEN: &[St] = &[St::Received, St::Routed, St::Responded, St::Reopened];

#[async_trait::async_trait]
impl Handler for Follow {
    async fn handle(&self, _t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        let step = match event(e)? {
            Event::ApplicationRouted(ev) => Step {
                number: &e.key,
                set: vec![
                    ("unit_id", Bind::Text(ev.unit_id)),
                    ("status", Bind::Int(St::Routed as i32)),
                    ("unit_name", Bind::Text(ev.unit_name.clone())),
                ],
                from: &[St::Received],
                status: Some(St::Routed),
                line: format!("Başvurunuz {} birimine yönlendirildi.", ev.unit_name),
                seq: ev.seq,
            },
            Event::ApplicationTransferred(ev) => Step {
                number: &e.key,
                set: vec![
                    ("unit_id", Bind::Text(ev.to_unit_id)),
                    ("unit_name", Bind::Text(ev.to_unit_name.clone())),
                ],
                from: OPEN,
                status: None,
                line: format!("Başvurunuz {} birimine aktarıldı.", ev.to_unit_name),
                seq: ev.seq,
            },
            Event::UnitResponded(ev) => Step {
                number: &e.key,
                set: vec![("status", Bind::Int(St::Responded as i32))],
                from: &[St::Routed, St::Reopened],
                status: Some(St::Responded),
                line: "İlgili birim cevap verdi; başvurunuz değerlendiriliyor.".into(),
                seq: ev.seq,
            },
            Event::ApplicationReopened(ev) => Step {
                number: &e.key,
                set: vec![
                    ("unit_id", Bind::Text(ev.unit_id)),
                    ("status", Bind::Int(St::Reopened as i32)),
                    ("outcome", Bind::Int(0)),
                    ("concluded_ms", Bind::NoBigInt),
                ],
                from: &[St::Concluded],
                status: Some(St::Reopened),
                line: "Başvurunuz yeniden incelenmek üzere açıldı.".into(),
                seq: ev.seq,
            },
            Event::ApplicationReclassified(ev) => Step {
                number: &e.key,
                set: vec![
                    ("topic", Bind::Text(ev.topic_code)),
                    ("type_code", Bind::Text(ev.type_code.clone())),
                    ("unit_id", Bind::Text(ev.unit_id)),
                    ("unit_name", Bind::Text(ev.unit_name.clone())),
                ],
                from: OPEN,
                status: None,
                line: format!(
                    "Başvurunuzun türü düzeltildi ({} → {}); {} birimine yönlendirildi.",
                    ev.from_type_code, ev.type_code, ev.unit_name
                ),
                seq: ev.seq,
            },
            Event::ApplicationEscalated(ev) => {
                // The unit's own reminder is internal; going up is the
                // applicant's to know.
                let Some(to) = escalated_to(&ev.target) else {
                    return Ok(());
                };
                let why = if ev.rung == 100 {
                    "3071 sayılı Kanun'daki 30 günlük cevap süresi doldu"
                } else {
                    "Başvurunuz süresi içinde sonuçlandırılmadı"
                };
                Step {
                    number: &e.key,
                    set: vec![],
                    from: OPEN,
                    status: None,
                    line: format!("{why}; {to} bilgisine sunuldu."),
                    seq: 0,
                }
            }
            other => {
                return Err(HandlerError::Permanent(format!(
                    "intake does not follow {}",
                    other.kind()
                )));
            }
        };
        // The consumer applies every event in a batch (of one, at least),
        // prepared: outside one nothing would write the timeline.
        let seen = acikkapi_platform::consumer::batch_cached::<Seen>().ok_or_else(|| {
            HandlerError::Permanent("intake follows routing only in a batch".into())
        })?;
        apply(&seen, step)
    }

    /// The batch's applications, read and locked at once.
    async fn prepare(&self, t: &mut Tx, events: &[&Envelope]) -> Result<(), HandlerError> {
        let numbers: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
        acikkapi_platform::consumer::batch_cache(Seen::read(t, &numbers).await?);
        Ok(())
    }

    /// The batch's timeline lines, in one statement.
    async fn finish(&self, t: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        match acikkapi_platform::consumer::batch_cached::<Seen>() {
            Some(seen) => seen.write(t).await,
            None => Ok(()),
        }
    }

    /// The citizens' cached views of the batch's applications are stale
    /// now: dropped in one round trip.
    async fn applied(&self, events: &[&Envelope]) {
        let keys: Vec<String> = events.iter().map(|e| format!("track:{}", e.key)).collect();
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        let _ = self.cache.delete_many(&keys).await;
    }
}

/// Whom an escalation reached, as the applicant reads it; None for the
/// unit's own reminder.
fn escalated_to(target: &str) -> Option<&'static str> {
    Some(match target.split(':').next()? {
        "kaymakam" => "Kaymakamlık",
        "deputy_governor" => "Vali Yardımcısı",
        "governor" => "Vali",
        "ministry" => "İçişleri Bakanlığı",
        "desk" => "Açık Kapı masası",
        _ => return None,
    })
}
