//! Escalation's consumer: starts a clock for every received application
//! and every reopening, follows the unit and topic, records notes (which
//! move nothing), and stops the clock on conclusion. Idempotent: the
//! consumer inbox drops a second delivery, a clock is inserted once per
//! round, and a conclusion of a stopped clock changes nothing.

use crate::calendars::Calendars;
use crate::ledger::{self, timestamp};
use crate::policy::Policies;
use crate::store::{self, SlaClock, clock_id};
use acikkapi_platform::Platform;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::store::{OutboxEvent, Tx, now_ms};
use acikkapi_proto::v1 as pb;
use prost::Message;
use std::sync::Arc;

pub const QUEUE: &str = "escalation";
pub const KINDS: &[&str] = &[
    "ApplicationReceived",
    "ApplicationRouted",
    "ApplicationTransferred",
    "ApplicationReclassified",
    "ApplicationNoteAdded",
    "ApplicationConcluded",
    "ApplicationReopened",
    "PersonalDataErased",
];

/// What stands in place of an erased text (as in intake and routing).
const ERASED_TEXT: &str = "Kişisel veriler saklama süresi sonunda silindi.";

pub struct Consumer {
    pub platform: Platform,
}

fn decode<M: Message + Default>(e: &Envelope) -> Result<M, HandlerError> {
    M::decode(e.payload.as_slice())
        .map_err(|err| HandlerError::Permanent(format!("{}: {err}", e.kind)))
}

fn ms(t: Option<prost_types::Timestamp>) -> i64 {
    t.map_or_else(now_ms, |t| {
        t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
    })
}

/// An event about a clock this replica has not seen start yet: the
/// received (or reopened) event is behind it in the queue.
fn not_yet(number: &str) -> HandlerError {
    HandlerError::Transient(format!("no clock for {number} yet"))
}

impl Consumer {
    /// The calendar and policies, read in the batch's transaction.
    /// Once a batch: its events share what the first read.
    async fn context(&self, t: &mut Tx) -> Result<Arc<(Calendars, Policies)>, HandlerError> {
        acikkapi_platform::consumer::once_a_batch(|| async move {
            Ok(Arc::new((
                Calendars::load_tx(t).await?,
                Policies::load_tx(t).await?,
            )))
        })
        .await
    }

    /// A line of a clock's ledger: in a batch, written with the batch's
    /// others in one statement before its commit ([`Handler::finish`]).
    async fn ledger(
        &self,
        t: &mut Tx,
        clock: &str,
        kind: &str,
        at_ms: i64,
        reason: &str,
    ) -> Result<(), HandlerError> {
        let lines = acikkapi_platform::consumer::batch_cached::<Lines>().unwrap_or_default();
        lines.0.lock().expect("ledger lines").push((
            clock.to_owned(),
            kind.to_owned(),
            at_ms,
            reason.to_owned(),
        ));
        if !acikkapi_platform::consumer::batch_cache(lines.clone()) {
            write_lines(t, &lines).await?;
        }
        Ok(())
    }

    /// Starts the clock of a round; nothing if it is running already.
    async fn start(&self, t: &mut Tx, mut k: SlaClock, why: &str) -> Result<(), HandlerError> {
        let context = self.context(t).await?;
        let (cals, policies) = &*context;
        let arife = store::arife(&self.platform.settings.escalation.arife);
        let cal = cals.for_province(k.province);
        store::derive(&mut k, cal, arife, policies, &[])?;
        let now = now_ms();
        if store::insert(t, &k, now).await? {
            self.ledger(t, &k.id, "started", k.started_ms, why).await?;
            tracing::info!(application_number = %k.number, round = k.round, deadline_ms = ?k.deadline_ms, "clock started");
        }
        Ok(())
    }

    /// Changes the open clock of `number` with `f`, re-derives it and
    /// writes it back with a ledger entry.
    async fn change(
        &self,
        t: &mut Tx,
        number: &str,
        what: What<'_>,
        f: impl FnOnce(&mut SlaClock),
    ) -> Result<Option<Changed>, HandlerError> {
        let What {
            kind,
            at_ms,
            reason,
            seq,
        } = what;
        let Some(mut k) = store::latest_locked(t, number).await? else {
            return Err(not_yet(number));
        };
        if k.concluded_ms.is_some() && kind != "note" {
            return Ok(None); // a late event about a stopped clock
        }
        if !store::later_routing(t, &k.id, seq).await? {
            return Ok(None); // a later routing event set the unit already
        }
        f(&mut k);
        let context = self.context(t).await?;
        let (cals, policies) = &*context;
        let arife = store::arife(&self.platform.settings.escalation.arife);
        let pauses = store::pauses_tx(t, &k.id).await?;
        let cal = cals.for_province(k.province);
        store::derive(&mut k, cal, arife, policies, &pauses)?;
        store::update(t, &k, now_ms()).await?;
        self.ledger(t, &k.id, kind, at_ms, reason).await?;
        let left_ms = ledger::budget_ms(k.budget_days)
            - ledger::spent_ms(cal, arife, k.started_ms, &pauses, at_ms);
        Ok(Some(Changed { clock: k, left_ms }))
    }
}

/// The ledger lines of the batch being applied, in their order.
#[derive(Clone, Default)]
struct Lines(Arc<std::sync::Mutex<Vec<store::Line>>>);

async fn write_lines(t: &mut Tx, lines: &Lines) -> Result<(), HandlerError> {
    let lines = std::mem::take(&mut *lines.0.lock().expect("ledger lines"));
    store::add_entries(t, &lines, "escalation").await?;
    Ok(())
}

/// What a change is, for the clock's ledger: its kind, when it happened,
/// why, and its routing sequence (0 for events not from routing).
struct What<'a> {
    kind: &'a str,
    at_ms: i64,
    reason: &'a str,
    seq: u64,
}

/// A clock after a change, with the working time its budget has left at
/// the change (negative when late).
struct Changed {
    clock: SlaClock,
    left_ms: i64,
}

#[async_trait::async_trait]
impl Handler for Consumer {
    /// The batch's ledger lines, in one statement.
    async fn finish(&self, t: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        match acikkapi_platform::consumer::batch_cached::<Lines>() {
            Some(lines) => write_lines(t, &lines).await,
            None => Ok(()),
        }
    }

    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match e.kind.as_str() {
            "ApplicationReceived" => {
                let ev: pb::ApplicationReceived = decode(e)?;
                let vulnerable = ev
                    .vulnerability
                    .as_ref()
                    .is_some_and(|v| pb::Vulnerability::bits(v) != 0);
                let k = SlaClock {
                    id: clock_id(&ev.application_number, 1),
                    number: ev.application_number.clone(),
                    round: 1,
                    province: ev.province_code,
                    district: ev.district_code,
                    topic: ev.topic_code.clone(),
                    unit_id: String::new(),
                    vulnerable,
                    started_ms: ms(ev.received_at),
                    budget_days: 0,
                    deadline_ms: None,
                    statutory_ms: 0,
                    paused: false,
                    rung_reached: 0,
                    statutory_fired: false,
                    next_due_ms: None,
                    concluded_ms: None,
                };
                self.start(t, k, "received").await
            }
            "ApplicationReopened" => {
                let ev: pb::ApplicationReopened = decode(e)?;
                let number = ev.application_number.clone();
                let Some(prev) = store::latest_locked(t, &number).await? else {
                    return Err(not_yet(&number));
                };
                if prev.round >= ev.round {
                    return Ok(()); // this round's clock runs already
                }
                if prev.concluded_ms.is_none() {
                    // The conclusion of the previous round is behind this event.
                    return Err(HandlerError::Transient(format!(
                        "round {} of {number} is not concluded yet",
                        prev.round
                    )));
                }
                let k = SlaClock {
                    id: clock_id(&number, ev.round),
                    round: ev.round,
                    unit_id: ev.unit_id.clone(),
                    started_ms: ms(ev.reopened_at),
                    rung_reached: 0,
                    statutory_fired: false,
                    concluded_ms: None,
                    ..prev
                };
                let id = k.id.clone();
                self.start(t, k, &format!("reopened (round {})", ev.round))
                    .await?;
                // Routing events of the last round, arriving late, never
                // set this round's unit.
                store::later_routing(t, &id, ev.seq).await?;
                Ok(())
            }
            "ApplicationRouted" => {
                let ev: pb::ApplicationRouted = decode(e)?;
                let reason = format!("routed to {}", ev.unit_id);
                self.change(
                    t,
                    &ev.application_number,
                    What {
                        kind: "routed",
                        at_ms: ms(ev.routed_at),
                        reason: &reason,
                        seq: ev.seq,
                    },
                    |k| {
                        // A routing event of round 1 never overrides a later round's unit.
                        if k.round == 1 {
                            k.unit_id = ev.unit_id.clone();
                        }
                    },
                )
                .await
                .map(drop)
            }
            "ApplicationTransferred" => {
                let ev: pb::ApplicationTransferred = decode(e)?;
                let reason = format!("transferred to {}", ev.to_unit_id);
                self.change(
                    t,
                    &ev.application_number,
                    What {
                        kind: "transferred",
                        at_ms: ms(ev.transferred_at),
                        reason: &reason,
                        seq: ev.seq,
                    },
                    |k| k.unit_id = ev.to_unit_id.clone(),
                )
                .await
                .map(drop)
            }
            "ApplicationReclassified" => {
                let ev: pb::ApplicationReclassified = decode(e)?;
                let reason = format!("reclassified to {}/{}", ev.topic_code, ev.type_code);
                self.change(
                    t,
                    &ev.application_number,
                    What {
                        kind: "reclassified",
                        at_ms: ms(ev.reclassified_at),
                        reason: &reason,
                        seq: ev.seq,
                    },
                    |k| {
                        k.topic = ev.topic_code.clone();
                        k.unit_id = ev.unit_id.clone();
                    },
                )
                .await
                .map(drop)
            }
            "ApplicationNoteAdded" => {
                let ev: pb::ApplicationNoteAdded = decode(e)?;
                // Recorded, and nothing else: a note never restarts the clock.
                let Some(k) = store::latest_locked(t, &ev.application_number).await? else {
                    return Err(not_yet(&ev.application_number));
                };
                self.ledger(t, &k.id, "note", ms(ev.added_at), "").await?;
                Ok(())
            }
            "ApplicationConcluded" => {
                let ev: pb::ApplicationConcluded = decode(e)?;
                let at = ms(ev.concluded_at);
                let changed = self
                    .change(
                        t,
                        &ev.application_number,
                        What {
                            kind: "concluded",
                            at_ms: at,
                            reason: "concluded: the clock stops",
                            seq: 0,
                        },
                        |k| k.concluded_ms = Some(at),
                    )
                    .await?;
                // The round's verdict, for reports: within its SLA or late.
                if let Some(Changed { clock: k, left_ms }) = changed {
                    let verdict = pb::SlaConcluded {
                        application_number: k.number.clone(),
                        round: k.round,
                        deadline: k.deadline_ms.map(timestamp),
                        concluded_at: Some(timestamp(at)),
                        within_sla: left_ms >= 0,
                        working_seconds_left: left_ms / 1000,
                    };
                    t.insert_outbox(&[OutboxEvent {
                        event_id: uuid::Uuid::now_v7().to_string(),
                        kind: "SlaConcluded".into(),
                        key: k.number,
                        payload: verdict.encode_to_vec(),
                        headers: e.headers.clone(),
                    }])
                    .await?;
                }
                Ok(())
            }
            "PersonalDataErased" => {
                // Pause reasons are staff's free text and may name people.
                let ev: pb::PersonalDataErased = decode(e)?;
                let like = format!("{}:%", ev.application_number);
                acikkapi_platform::tx!(t, c => {
                    sqlx::query("UPDATE sla_pauses SET reason = $1 WHERE clock_id LIKE $2")
                        .bind(ERASED_TEXT).bind(&like).execute(&mut **c).await?;
                    sqlx::query("UPDATE sla_ledger SET reason = $1 WHERE clock_id LIKE $2 AND kind = 'paused'")
                        .bind(ERASED_TEXT).bind(&like).execute(&mut **c).await?;
                });
                Ok(())
            }
            other => Err(HandlerError::Permanent(format!(
                "escalation does not consume {other}"
            ))),
        }
    }
}
