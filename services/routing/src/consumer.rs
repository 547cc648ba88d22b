//! Routing's consumer: assigns every received application, follows
//! conclusions (for reopening), and erases the unit's answer texts when
//! the retention run erases the applicant's data. Idempotent twice over:
//! the consumer inbox drops a second delivery, and an assignment is
//! written only if the application has none.

use crate::assignments::{self, Assignment, Hop};
use crate::store::Rules;
use crate::{event, timestamp};
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::consumer::{Handler, HandlerError};
use acikkapi_platform::store::{Tx, now_ms};
use acikkapi_platform::tx;
use acikkapi_proto::v1 as pb;
use prost::Message;

pub const QUEUE: &str = "routing";
pub const KINDS: &[&str] = &[
    "ApplicationReceived",
    "ApplicationConcluded",
    "PersonalDataErased",
];

pub struct Consumer {
    pub rules: Rules,
}

fn decode<M: Message + Default>(e: &Envelope) -> Result<M, HandlerError> {
    M::decode(e.payload.as_slice())
        .map_err(|err| HandlerError::Permanent(format!("{}: {err}", e.kind)))
}

#[async_trait::async_trait]
impl Handler for Consumer {
    async fn handle(&self, t: &mut Tx, e: &Envelope) -> Result<(), HandlerError> {
        match e.kind.as_str() {
            "ApplicationReceived" => self.assign(t, decode(e)?).await,
            "ApplicationConcluded" => {
                let ev: pb::ApplicationConcluded = decode(e)?;
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
                    return Err(HandlerError::Transient(
                        "conclusion of an application routing has not assigned yet".into(),
                    ));
                }
                Ok(())
            }
            "PersonalDataErased" => {
                let ev: pb::PersonalDataErased = decode(e)?;
                tx!(t, c => {
                    sqlx::query("UPDATE routing_responses SET body = $1, alternatives = '[]' WHERE number = $2")
                        .bind(ERASED_TEXT).bind(&ev.application_number).execute(&mut **c).await?;
                    sqlx::query("UPDATE routing_hops SET reason = $1 WHERE number = $2")
                        .bind(ERASED_TEXT).bind(&ev.application_number).execute(&mut **c).await?;
                });
                Ok(())
            }
            other => Err(HandlerError::Permanent(format!(
                "routing does not consume {other}"
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
    async fn assign(&self, t: &mut Tx, ev: pb::ApplicationReceived) -> Result<(), HandlerError> {
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
        if !assignments::insert(t, &a, &headers, now).await? {
            return Ok(()); // assigned already: nothing twice
        }
        assignments::insert_hop(
            t,
            &Hop {
                number: &a.number,
                at_ms: now,
                kind: "routed",
                from_unit: "",
                to_unit: &a.unit_id,
                rule_id: &rule_id,
                reason: &d.explanation,
                actor: "routing",
                round: 1,
            },
        )
        .await?;
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
        t.insert_outbox(&[event(
            "ApplicationRouted",
            &a.number,
            routed.encode_to_vec(),
            headers,
        )])
        .await?;
        Ok(())
    }
}
