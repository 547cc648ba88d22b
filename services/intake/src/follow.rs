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
//! applied yet is delivered again later ([`in_sequence`]). So the unit,
//! topic and status end where routing's did, and the timeline lists the
//! steps as routing took them.

use acikkapi_platform::bus::Envelope;
use acikkapi_platform::cache::Cache;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::store::{Tx, now_ms};
use acikkapi_platform::tx;
use acikkapi_proto::v1 as pb;
use pb::Status as St;
use prost::Message;

pub const QUEUE: &str = "intake-follow";
pub const KINDS: &[&str] = &[
    "ApplicationRouted",
    "ApplicationTransferred",
    "UnitResponded",
    "ApplicationReopened",
    "ApplicationReclassified",
    "ApplicationEscalated",
];

pub struct Follow {
    pub cache: Cache,
}

fn decode<M: Message + Default>(e: &Envelope) -> Result<M, HandlerError> {
    M::decode(e.payload.as_slice())
        .map_err(|err| HandlerError::Permanent(format!("{}: {err}", e.kind)))
}

enum Bind {
    Text(String),
    Int(i32),
}

/// One update of the application, guarded by the statuses it may come
/// from, and its timeline line (only when the update took).
struct Step<'a> {
    number: &'a str,
    set: &'a str,
    binds: Vec<Bind>,
    from: &'a [St],
    status: Option<St>,
    line: String,
    /// Routing's sequence number of the event (0: not from routing).
    seq: u64,
}

async fn apply(t: &mut Tx, s: Step<'_>) -> Result<(), HandlerError> {
    let now = now_ms();
    let statuses: Vec<String> = s.from.iter().map(|x| (*x as i32).to_string()).collect();
    // `set` uses $1..$n for `binds`; the guard follows them.
    let n = s.binds.len();
    let sql = format!(
        "UPDATE applications SET {}, updated_ms = ${} WHERE number = ${} AND status IN ({})",
        s.set,
        n + 1,
        n + 2,
        statuses.join(", ")
    );
    tx!(t, c => {
        let mut q = sqlx::query(&sql);
        for b in &s.binds {
            q = match b {
                Bind::Text(v) => q.bind(v),
                Bind::Int(v) => q.bind(*v),
            };
        }
        let changed = q.bind(now).bind(s.number).execute(&mut **c).await?.rows_affected() == 1;
        if changed {
            let status: i32 = match s.status {
                Some(st) => st as i32,
                None => sqlx::query_scalar("SELECT status FROM applications WHERE number = $1")
                    .bind(s.number).fetch_one(&mut **c).await?,
            };
            sqlx::query("INSERT INTO application_history (number, at_ms, status, description) VALUES ($1, $2, $3, $4)")
                .bind(s.number).bind(now).bind(status).bind(&s.line)
                .execute(&mut **c).await?;
        }
    });
    Ok(())
}

const OPEN: &[St] = &[St::Received, St::Routed, St::Responded, St::Reopened];

#[async_trait::async_trait]
impl Handler for Follow {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        let step = match e.kind.as_str() {
            "ApplicationRouted" => {
                let ev: pb::ApplicationRouted = decode(e)?;
                Step {
                    number: &e.key,
                    set: "unit_id = $1, status = $2, unit_name = $3",
                    binds: vec![
                        Bind::Text(ev.unit_id),
                        Bind::Int(St::Routed as i32),
                        Bind::Text(ev.unit_name.clone()),
                    ],
                    from: &[St::Received],
                    status: Some(St::Routed),
                    line: format!("Başvurunuz {} birimine yönlendirildi.", ev.unit_name),
                    seq: ev.seq,
                }
            }
            "ApplicationTransferred" => {
                let ev: pb::ApplicationTransferred = decode(e)?;
                Step {
                    number: &e.key,
                    set: "unit_id = $1, unit_name = $2",
                    binds: vec![
                        Bind::Text(ev.to_unit_id),
                        Bind::Text(ev.to_unit_name.clone()),
                    ],
                    from: OPEN,
                    status: None,
                    line: format!("Başvurunuz {} birimine aktarıldı.", ev.to_unit_name),
                    seq: ev.seq,
                }
            }
            "UnitResponded" => Step {
                number: &e.key,
                set: "status = $1",
                binds: vec![Bind::Int(St::Responded as i32)],
                from: &[St::Routed, St::Reopened],
                status: Some(St::Responded),
                line: "İlgili birim cevap verdi; başvurunuz değerlendiriliyor.".into(),
                seq: decode::<pb::UnitResponded>(e)?.seq,
            },
            "ApplicationReopened" => {
                let ev: pb::ApplicationReopened = decode(e)?;
                Step {
                    number: &e.key,
                    set: "unit_id = $1, status = $2, outcome = 0, concluded_ms = NULL",
                    binds: vec![Bind::Text(ev.unit_id), Bind::Int(St::Reopened as i32)],
                    from: &[St::Concluded],
                    status: Some(St::Reopened),
                    line: "Başvurunuz yeniden incelenmek üzere açıldı.".into(),
                    seq: ev.seq,
                }
            }
            "ApplicationReclassified" => {
                let ev: pb::ApplicationReclassified = decode(e)?;
                Step {
                    number: &e.key,
                    set: "topic = $1, type_code = $2, unit_id = $3, unit_name = $4",
                    binds: vec![
                        Bind::Text(ev.topic_code),
                        Bind::Text(ev.type_code.clone()),
                        Bind::Text(ev.unit_id),
                        Bind::Text(ev.unit_name.clone()),
                    ],
                    from: OPEN,
                    status: None,
                    line: format!(
                        "Başvurunuzun türü düzeltildi ({} → {}); {} birimine yönlendirildi.",
                        ev.from_type_code, ev.type_code, ev.unit_name
                    ),
                    seq: ev.seq,
                }
            }
            "ApplicationEscalated" => {
                let ev: pb::ApplicationEscalated = decode(e)?;
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
                    set: "status = status",
                    binds: vec![],
                    from: OPEN,
                    status: None,
                    line: format!("{why}; {to} bilgisine sunuldu."),
                    seq: 0,
                }
            }
            other => {
                return Err(HandlerError::Permanent(format!(
                    "intake does not follow {other}"
                )));
            }
        };
        if !in_sequence(t, &e.key, step.seq).await? {
            return Ok(());
        }
        apply(t, step).await?;
        // The citizen's cached view is stale now (a read racing this
        // commit may cache the old view again until the TTL).
        let _ = self.cache.delete(&format!("track:{}", e.key)).await;
        Ok(())
    }
}

/// Whether routing event `seq` of `number` applies now, recording it as
/// the last applied: yes when it follows the last applied one (or carries
/// no sequence, 0); a later one is a passing failure, delivered again
/// until its predecessor is in; an earlier one was applied already.
async fn in_sequence(t: &mut Tx, number: &str, seq: u64) -> Result<bool, HandlerError> {
    if seq == 0 {
        return Ok(true);
    }
    let seq = seq as i64;
    // Mostly it is the next one: recorded in one statement.
    let next = tx!(t, c => {
        sqlx::query("UPDATE applications SET routing_seq = $1 WHERE number = $2 AND routing_seq = $3")
            .bind(seq).bind(number).bind(seq - 1).execute(&mut **c).await?.rows_affected() == 1
    });
    if next {
        return Ok(true);
    }
    let applied: Option<i64> = tx!(t, c => {
        sqlx::query_scalar("SELECT routing_seq FROM applications WHERE number = $1")
            .bind(number).fetch_optional(&mut **c).await?
    });
    let Some(applied) = applied else {
        return Err(HandlerError::Permanent(format!("no application {number}")));
    };
    if seq <= applied {
        return Ok(false);
    }
    // Not the next one (that was recorded above): a later one waits.
    Err(HandlerError::Transient(format!(
        "routing event {seq} waits for event {}",
        applied + 1
    )))
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
