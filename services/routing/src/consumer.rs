//! Routing's consumer: assigns every received application, follows
//! conclusions (for reopening) and the deadlines escalation announces
//! (for the inbox's order), and erases the unit's answer texts when
//! the retention run erases the applicant's data. Idempotent twice over:
//! the consumer inbox drops a second delivery, and an assignment is
//! written only if the application has none.

use crate::assignments::{self, Assignment, DeadlineApplied, Hop};
use crate::store::Rules;
use crate::timestamp;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::event;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::service::Service;
use acikkapi_platform::store::OutboxEvent;
use acikkapi_platform::store::{Tx, now_ms};
use acikkapi_platform::tx;
use acikkapi_proto::v1 as pb;
use acikkapi_proto::{Event, EventKind};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const QUEUE: &str = Service::Routing.as_str();
pub const KINDS: &[&str] = &[
    EventKind::ApplicationReceived.as_str(),
    EventKind::ApplicationConcluded.as_str(),
    EventKind::PersonalDataErased.as_str(),
    EventKind::SlaDeadlineChanged.as_str(),
];

pub struct Consumer {
    pub rules: Rules,
}

#[async_trait::async_trait]
impl Handler for Consumer {
    /// The batch's assignments, hops and routing events, in a statement each.
    async fn finish(&self, t: &mut Tx, _applied: &[&Envelope]) -> Result<(), HandlerError> {
        match acikkapi_platform::consumer::batch_cached::<Assigning>() {
            Some(a) => a.write(t).await,
            None => Ok(()),
        }
    }

    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match event(e)? {
            Event::ApplicationReceived(ev) => self.assign(ev).await,
            Event::ApplicationConcluded(ev) => {
                let done = assignments::set_status(
                    t,
                    &ev.application_number,
                    &[
                        pb::Status::Routed,
                        pb::Status::Responded,
                        pb::Status::Reopened,
                        pb::Status::Received,
                    ],
                    pb::Status::Concluded,
                    ev.concluded_at.map_or_else(now_ms, |t| {
                        t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
                    }),
                )
                .await?;
                if !done && assignments_missing(t, &ev.application_number).await? {
                    // Received not applied yet (it is ahead in the queue): later.
                    return Err(HandlerError::Later(
                        "conclusion of an application routing has not assigned yet".into(),
                    ));
                }
                Ok(())
            }
            Event::PersonalDataErased(ev) => {
                tx!(t, c => {
                    sqlx::query("UPDATE routing_responses SET body = $1, alternatives = '[]' WHERE number = $2")
                        .bind(ERASED_TEXT).bind(&ev.application_number).execute(&mut **c).await?;
                    sqlx::query("UPDATE routing_hops SET reason = $1 WHERE number = $2")
                        .bind(ERASED_TEXT).bind(&ev.application_number).execute(&mut **c).await?;
                });
                Ok(())
            }
            Event::SlaDeadlineChanged(ev) => {
                let deadline = ev
                    .deadline
                    .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000);
                match assignments::set_deadline(
                    t,
                    &ev.application_number,
                    ev.round,
                    deadline,
                    ev.seq,
                    now_ms(),
                )
                .await?
                {
                    DeadlineApplied::Applied | DeadlineApplied::Stale => Ok(()),
                    // Escalation starts its clock from the same
                    // ApplicationReceived routing assigns from.
                    DeadlineApplied::NotYet => Err(HandlerError::Later(
                        "a deadline of an application or round routing has not yet".into(),
                    )),
                }
            }
            other => Err(HandlerError::Permanent(format!(
                "routing does not consume {}",
                other.kind()
            ))),
        }
    }
}

/// What stands in place of an erased text (as in intake).
pub const ERASED_TEXT: &str = "Kişisel veriler saklama süresi sonunda silindi.";

async fn assignments_missing(t: &mut Tx, number: &str) -> Result<bool, HandlerError> {
    let n: i64 = tx!(t, c => {
        sqlx::query_scalar("SELECT COUNT(*) FROM routing_assignments WHERE number = $1")
            .bind(number).fetch_one(&mut **c).await?
    });
    Ok(n == 0)
}

impl Consumer {
    async fn assign(&self, ev: pb::ApplicationReceived) -> Result<(), HandlerError> {
        // The rules as the store has them, looked up once a batch.
        let set = acikkapi_platform::consumer::once_a_batch(|| self.rules.get()).await?;
        let d = set
            .decide(
                &ev.topic_code,
                &ev.type_code,
                ev.province_code,
                ev.district_code,
            )
            .ok_or_else(|| {
                HandlerError::Transient(format!(
                    "province {} has no open governorship desk",
                    ev.province_code
                ))
            })?;
        let now = now_ms();
        let rule_id = d.rule.map(|r| r.id.clone()).unwrap_or_default();
        let a = Assignment {
            number: ev.application_number.clone(),
            province: ev.province_code,
            district: ev.district_code,
            topic: ev.topic_code.clone(),
            type_code: ev.type_code.clone(),
            unit_id: d.unit.id.clone(),
            rule_id: rule_id.clone(),
            status: pb::Status::Routed as i32,
            round: 1,
            vulnerability: ev.vulnerability.as_ref().map_or(0, pb::Vulnerability::bits),
            priority: ev.priority,
            received_ms: ev
                .received_at
                .map_or(now, |t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000),
            concluded_ms: None,
            deadline_ms: None,
        };
        // The application's trace from here on, now with its unit (and the
        // place and topic intake put in its baggage).
        let headers = acikkapi_platform::telemetry::application_headers(
            None,
            &[
                ("province", &a.province.to_string()),
                ("topic", &a.topic),
                ("unit", &a.unit_id),
            ],
        );
        let span = tracing::Span::current();
        span.record("unit", a.unit_id.as_str());
        tracing::info!(application_number = %a.number, unit = %a.unit_id, rule = %rule_id, "routed");
        let routed = pb::ApplicationRouted {
            application_number: a.number.clone(),
            unit_id: a.unit_id.clone(),
            rule_id,
            routed_at: Some(timestamp(now)),
            unit_name: d.unit.name.clone(),
            seq: 1,
        };
        Assigning::of_batch()?.push(Assigned {
            assignment: a,
            headers,
            reason: d.explanation.clone(),
            routed,
        });
        Ok(())
    }
}

/// An application routed by an event of the batch, to be written with the
/// batch's others.
struct Assigned {
    assignment: Assignment,
    headers: BTreeMap<String, String>,
    reason: String,
    routed: pb::ApplicationRouted,
}

/// The batch's new assignments: written in one statement before its
/// commit, and for those that had none before (all but the same fact
/// published again under another event id) their first hop in another and
/// their `ApplicationRouted` events in the outbox's.
#[derive(Clone, Default)]
struct Assigning(Arc<Mutex<Vec<Assigned>>>);

impl Assigning {
    fn of_batch() -> Result<Assigning, HandlerError> {
        // The consumer applies every event in a batch (of one, at least):
        // outside one nothing would write the assignments.
        acikkapi_platform::consumer::batch_state().ok_or_else(|| {
            HandlerError::Permanent("routing's consumer applies events only in a batch".into())
        })
    }

    fn push(&self, a: Assigned) {
        self.0.lock().expect("the batch's assignments").push(a);
    }

    async fn write(&self, t: &mut Tx) -> Result<(), HandlerError> {
        let assigned = std::mem::take(&mut *self.0.lock().expect("the batch's assignments"));
        if assigned.is_empty() {
            return Ok(());
        }
        let now = now_ms();
        let rows: Vec<(&Assignment, &BTreeMap<String, String>)> = assigned
            .iter()
            .map(|x| (&x.assignment, &x.headers))
            .collect();
        let mut new = assignments::insert_many(t, &rows, now).await?;
        // Assigned already, before or earlier in the batch: nothing twice.
        let assigned: Vec<Assigned> = assigned
            .into_iter()
            .filter(|x| new.remove(&x.assignment.number))
            .collect();
        let hops: Vec<Hop> = assigned
            .iter()
            .map(|x| Hop {
                number: &x.assignment.number,
                at_ms: now,
                kind: "routed",
                from_unit: "",
                to_unit: &x.assignment.unit_id,
                rule_id: &x.assignment.rule_id,
                reason: &x.reason,
                actor: Service::Routing.as_str(),
                round: 1,
            })
            .collect();
        assignments::insert_hops(t, &hops).await?;
        let events = assigned
            .iter()
            .map(|x| OutboxEvent::of(x.routed.clone(), &x.assignment.number, x.headers.clone()))
            .collect();
        acikkapi_platform::consumer::emit(t, events).await?;
        Ok(())
    }
}
