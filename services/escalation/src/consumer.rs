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
use acikkapi_platform::consumer::event;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::{OutboxEvent, Tx, now_ms};
use acikkapi_proto::v1 as pb;
use acikkapi_proto::{Event, EventKind};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

pub const QUEUE: &str = Service::Escalation.as_str();
pub const KINDS: &[&str] = &[
    EventKind::ApplicationReceived.as_str(),
    EventKind::ApplicationRouted.as_str(),
    EventKind::ApplicationTransferred.as_str(),
    EventKind::ApplicationReclassified.as_str(),
    EventKind::ApplicationNoteAdded.as_str(),
    EventKind::ApplicationConcluded.as_str(),
    EventKind::ApplicationReopened.as_str(),
    EventKind::PersonalDataErased.as_str(),
];

/// What stands in place of an erased text (as in intake and routing).
const ERASED_TEXT: &str = "Kişisel veriler saklama süresi sonunda silindi.";

pub struct Consumer {
    pub platform: Platform,
}

fn ms(t: Option<prost_types::Timestamp>) -> i64 {
    t.map_or_else(now_ms, |t| {
        t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
    })
}

/// An event about a clock this replica has not seen start yet: the
/// received (or reopened) event is behind it in the queue.
fn not_yet(number: &str) -> HandlerError {
    HandlerError::Later(format!("no clock for {number} yet"))
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

    /// Starts the clock of a round; nothing if it is running already.
    async fn start(
        &self,
        t: &mut Tx,
        mut k: SlaClock,
        seq: u64,
        why: &str,
    ) -> Result<(), HandlerError> {
        let clocks = Clocks::of_batch(t, &[k.number.as_str()]).await?;
        if clocks
            .latest(&k.number)
            .is_some_and(|(l, _)| l.round >= k.round)
        {
            return Ok(()); // started already (the same fact under another event id)
        }
        let context = self.context(t).await?;
        let (cals, policies) = &*context;
        let arife = store::arife(&self.platform.settings.escalation.arife);
        let cal = cals.for_province(k.province);
        store::derive(&mut k, cal, arife, policies, &[])?;
        tracing::info!(application_number = %k.number, round = k.round, deadline_ms = ?k.deadline_ms, "clock started");
        let (id, at) = (k.id.clone(), k.started_ms);
        clocks.start(k, seq as i64);
        clocks.line(&id, "started", at, why);
        Ok(())
    }

    /// Changes the open clock of `number` with `f` and re-derives it; the
    /// batch writes it back with a ledger line.
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
        let clocks = Clocks::of_batch(t, &[number]).await?;
        let Some((mut k, applied_seq)) = clocks.latest(number) else {
            return Err(not_yet(number));
        };
        if k.concluded_ms.is_some() && kind != "note" {
            return Ok(None); // a late event about a stopped clock
        }
        // Routing's events set a clock's unit and topic; the latest by
        // routing's sequence wins, whatever order they arrive in (0: not
        // routing's, always applies).
        if seq != 0 && seq as i64 <= applied_seq {
            return Ok(None); // a later routing event set the unit already
        }
        let applied_seq = if seq == 0 { applied_seq } else { seq as i64 };
        f(&mut k);
        let context = self.context(t).await?;
        let (cals, policies) = &*context;
        let arife = store::arife(&self.platform.settings.escalation.arife);
        let pauses = clocks.pauses(&k.id);
        let cal = cals.for_province(k.province);
        store::derive(&mut k, cal, arife, policies, &pauses)?;
        let left_ms = ledger::budget_ms(k.budget_days)
            - ledger::spent_ms(cal, arife, k.started_ms, &pauses, at_ms);
        clocks.line(&k.id, kind, at_ms, reason);
        clocks.put(k.clone(), applied_seq);
        Ok(Some(Changed { clock: k, left_ms }))
    }
}

/// The clocks a batch's events are about: read and locked in one statement
/// before its first event ([`Handler::prepare`]), changed in memory by each
/// event in turn, and written back before its commit ([`Handler::finish`]):
/// new clocks in one statement, changed ones in another, the ledger lines
/// in a third, whatever the batch's size. The consumer applies every event
/// in a batch, one of one event at least.
#[derive(Clone, Default)]
struct Clocks(Arc<Mutex<Kept>>);

#[derive(Default)]
struct Kept {
    /// The latest round's clock id of each application looked up (None:
    /// it has no clock yet).
    latest: HashMap<String, Option<String>>,
    /// Clocks by id, with the routing sequence applied to each.
    clocks: HashMap<String, (SlaClock, i64)>,
    pauses: HashMap<String, Vec<ledger::Pause>>,
    /// Clocks started in this batch (id, trace context), in order.
    started: Vec<(String, String)>,
    /// Clocks changed in this batch, in order of their first change, with
    /// the trace context of their last change.
    changed: Vec<String>,
    traces: HashMap<String, BTreeMap<String, String>>,
    lines: Vec<store::Line>,
}

impl Clocks {
    /// The batch's clocks, with those of `numbers` looked up (and locked)
    /// if they were not yet.
    async fn of_batch(t: &mut Tx, numbers: &[&str]) -> Result<Clocks, HandlerError> {
        // The consumer applies every event in a batch (of one, at least):
        // outside one nothing would write the changes.
        let clocks: Clocks = acikkapi_platform::consumer::batch_state().ok_or_else(|| {
            HandlerError::Permanent("escalation's consumer applies events only in a batch".into())
        })?;
        let missing: Vec<&str> = {
            let kept = clocks.lock();
            let mut m: Vec<&str> = numbers
                .iter()
                .copied()
                .filter(|n| !kept.latest.contains_key(*n))
                .collect();
            m.sort_unstable();
            m.dedup();
            m
        };
        if missing.is_empty() {
            return Ok(clocks);
        }
        let found = store::clocks_locked(t, &missing).await?;
        let ids: Vec<&str> = found.iter().map(|(k, _)| k.id.as_str()).collect();
        let pauses = store::paused_of(t, &ids).await?;
        let mut kept = clocks.lock();
        for n in missing {
            kept.latest.insert(n.to_owned(), None);
        }
        for (k, seq) in found {
            let newer = match kept.latest.get(&k.number).cloned().flatten() {
                Some(id) => kept.clocks.get(&id).is_none_or(|(l, _)| l.round < k.round),
                None => true,
            };
            if newer {
                kept.latest.insert(k.number.clone(), Some(k.id.clone()));
            }
            kept.clocks.insert(k.id.clone(), (k, seq));
        }
        kept.pauses.extend(pauses);
        drop(kept);
        Ok(clocks)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.0.lock().expect("the batch's clocks")
    }

    /// The latest round's clock of `number` as this batch has it.
    fn latest(&self, number: &str) -> Option<(SlaClock, i64)> {
        let kept = self.lock();
        let id = kept.latest.get(number)?.as_ref()?;
        kept.clocks.get(id).cloned()
    }

    fn pauses(&self, id: &str) -> Vec<ledger::Pause> {
        self.lock().pauses.get(id).cloned().unwrap_or_default()
    }

    /// A new round's clock, started in the current event's trace.
    fn start(&self, k: SlaClock, seq: i64) {
        let trace = serde_json::to_string(&acikkapi_platform::telemetry::current_context_headers())
            .unwrap_or_default();
        let mut kept = self.lock();
        kept.latest.insert(k.number.clone(), Some(k.id.clone()));
        kept.started.push((k.id.clone(), trace));
        kept.clocks.insert(k.id.clone(), (k, seq));
    }

    /// A clock as an event left it.
    fn put(&self, k: SlaClock, seq: i64) {
        let mut kept = self.lock();
        let new = kept.started.iter().any(|(id, _)| *id == k.id);
        if !new && !kept.changed.contains(&k.id) {
            kept.changed.push(k.id.clone());
        }
        if !new {
            let headers = acikkapi_platform::telemetry::current_context_headers();
            kept.traces.insert(k.id.clone(), headers);
        }
        kept.clocks.insert(k.id.clone(), (k, seq));
    }

    /// A line of a clock's ledger.
    fn line(&self, clock: &str, kind: &str, at_ms: i64, reason: &str) {
        self.lock()
            .lines
            .push((clock.to_owned(), kind.to_owned(), at_ms, reason.to_owned()));
    }

    /// Writes what the batch started and changed, and its ledger lines.
    async fn write(&self, t: &mut Tx) -> Result<(), HandlerError> {
        let mut kept = std::mem::take(&mut *self.lock());
        let now = now_ms();
        // Deadlines that moved (or were never announced), for routing.
        let mut announced = Vec::new();
        for (id, trace) in &kept.started {
            let (clock, _) = kept.clocks.get_mut(id).expect("a started clock is kept");
            let stored = serde_json::from_str(trace).unwrap_or_default();
            announced.extend(store::announce(clock, stored));
        }
        for id in &kept.changed {
            let (clock, _) = kept.clocks.get_mut(id).expect("a changed clock is kept");
            let headers = kept.traces.remove(id).unwrap_or_default();
            announced.extend(store::announce(clock, headers));
        }
        let started: Vec<store::NewClock> = kept
            .started
            .iter()
            .map(|(id, trace)| {
                let (clock, routing_seq) = &kept.clocks[id];
                store::NewClock {
                    clock,
                    routing_seq: *routing_seq,
                    trace,
                }
            })
            .collect();
        let inserted = store::insert_many(t, &started, now).await?;
        if inserted != started.len() as u64 {
            // Another transaction started one of them meanwhile (the same
            // fact under another event id): apply the batch event by event.
            return Err(HandlerError::Transient(
                "a clock this batch started exists already".into(),
            ));
        }
        let changed: Vec<(&SlaClock, i64)> = kept
            .changed
            .iter()
            .map(|id| {
                let (k, seq) = &kept.clocks[id];
                (k, *seq)
            })
            .collect();
        store::update_all(t, &changed, now).await?;
        store::add_entries(t, &kept.lines, Service::Escalation.as_str()).await?;
        acikkapi_platform::consumer::emit(t, announced).await?;
        Ok(())
    }
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
    /// The clocks of the batch's applications, read and locked at once.
    async fn prepare(&self, t: &mut Tx, events: &[&Envelope]) -> Result<(), HandlerError> {
        let numbers: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
        Clocks::of_batch(t, &numbers).await?;
        Ok(())
    }

    /// What the batch's events did to their clocks, written.
    async fn finish(&self, t: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        match acikkapi_platform::consumer::batch_cached::<Clocks>() {
            Some(clocks) => clocks.write(t).await,
            None => Ok(()),
        }
    }

    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match event(e)? {
            Event::ApplicationReceived(ev) => {
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
                    announced_ms: None,
                    deadline_seq: 0,
                };
                self.start(t, k, 0, "received").await
            }
            Event::ApplicationReopened(ev) => {
                let number = ev.application_number.clone();
                let clocks = Clocks::of_batch(t, &[number.as_str()]).await?;
                let Some((prev, _)) = clocks.latest(&number) else {
                    return Err(not_yet(&number));
                };
                if prev.round >= ev.round {
                    return Ok(()); // this round's clock runs already
                }
                if prev.concluded_ms.is_none() {
                    // The conclusion of the previous round is behind this event.
                    return Err(HandlerError::Later(format!(
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
                    // A new round's deadline is announced from seq 1.
                    announced_ms: None,
                    deadline_seq: 0,
                    ..prev
                };
                // Routing events of the last round, arriving late, never
                // set this round's unit: it starts at the reopening's sequence.
                self.start(t, k, ev.seq, &format!("reopened (round {})", ev.round))
                    .await
            }
            Event::ApplicationRouted(ev) => {
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
            Event::ApplicationTransferred(ev) => {
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
            Event::ApplicationReclassified(ev) => {
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
            Event::ApplicationNoteAdded(ev) => {
                // Recorded, and nothing else: a note never restarts the clock.
                let number = ev.application_number.as_str();
                let clocks = Clocks::of_batch(t, &[number]).await?;
                let Some((k, _)) = clocks.latest(number) else {
                    return Err(not_yet(number));
                };
                clocks.line(&k.id, "note", ms(ev.added_at), "");
                Ok(())
            }
            Event::ApplicationConcluded(ev) => {
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
                    acikkapi_platform::consumer::emit(
                        t,
                        vec![OutboxEvent::of(verdict, &k.number, e.headers.clone())],
                    )
                    .await?;
                }
                Ok(())
            }
            Event::PersonalDataErased(ev) => {
                // Pause reasons are staff's free text and may name people.
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
                "escalation does not consume {}",
                other.kind()
            ))),
        }
    }
}
