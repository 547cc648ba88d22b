//! An application's reporting row, folded from all its events. The fold
//! sorts the events by when they happened (then by lifecycle order for
//! ties), so the row does not depend on the order they were delivered in;
//! it reads only the events, so a rebuild gives the same row.

use acikkapi_proto::v1 as pb;
use prost::Message;

/// The notification templates of the satisfaction survey (answered by an
/// SMS reply or by a link, as notification is configured).
pub const SURVEY_TEMPLATES: &[&str] = &["survey_reply", "survey_link"];

#[derive(Debug, Clone)]
pub struct Event {
    pub kind: String,
    pub at_ms: i64,
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    pub number: String,
    pub received_ms: i64,
    pub province: u32,
    pub district: u32,
    pub topic: String,
    pub type_code: String,
    pub unit_id: String,
    pub channel: i32,
    pub kind: i32,
    pub vulnerable: bool,
    pub status: i32,
    pub outcome: i32,
    pub round: u32,
    pub concluded_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
    pub max_level: u32,
    pub sms_sent: u32,
    /// The SLA verdict of the current round, once concluded.
    pub within_sla: Option<bool>,
    pub survey_sent: bool,
    /// The applicant's satisfaction, 1..5, once answered.
    pub survey_score: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Escalation {
    pub round: u32,
    pub rung: u32,
    pub level: u32,
    pub at_ms: i64,
}

fn ms(t: &Option<prost_types::Timestamp>) -> Option<i64> {
    t.as_ref()
        .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
}

/// When an event happened, by its own timestamp.
pub fn occurred(kind: &str, payload: &[u8]) -> Option<i64> {
    match kind {
        "ApplicationReceived" => ms(&pb::ApplicationReceived::decode(payload).ok()?.received_at),
        "ApplicationRouted" => ms(&pb::ApplicationRouted::decode(payload).ok()?.routed_at),
        "ApplicationTransferred" => ms(&pb::ApplicationTransferred::decode(payload)
            .ok()?
            .transferred_at),
        "ApplicationReclassified" => ms(&pb::ApplicationReclassified::decode(payload)
            .ok()?
            .reclassified_at),
        "UnitResponded" => ms(&pb::UnitResponded::decode(payload).ok()?.responded_at),
        "ApplicationConcluded" => ms(&pb::ApplicationConcluded::decode(payload).ok()?.concluded_at),
        "ApplicationReopened" => ms(&pb::ApplicationReopened::decode(payload).ok()?.reopened_at),
        "ApplicationEscalated" => ms(&pb::ApplicationEscalated::decode(payload).ok()?.escalated_at),
        "SmsSent" => ms(&pb::SmsSent::decode(payload).ok()?.sent_at),
        "SlaConcluded" => ms(&pb::SlaConcluded::decode(payload).ok()?.concluded_at),
        "SurveyAnswered" => ms(&pb::SurveyAnswered::decode(payload).ok()?.answered_at),
        _ => None,
    }
}

/// Lifecycle order, for events stamped in the same millisecond.
fn stage(kind: &str) -> u8 {
    match kind {
        "ApplicationReceived" => 0,
        "ApplicationRouted" => 1,
        "ApplicationReclassified" | "ApplicationTransferred" => 2,
        "UnitResponded" => 3,
        "ApplicationEscalated" | "SmsSent" => 4,
        "ApplicationConcluded" | "SlaConcluded" => 5,
        "ApplicationReopened" => 6,
        _ => 7, // survey answered
    }
}

/// The row and escalations of one application; None until its
/// `ApplicationReceived` is among the events.
pub fn fold(number: &str, events: &[Event]) -> Option<(Row, Vec<Escalation>)> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| (e.at_ms, stage(&e.kind)));
    let received = sorted.iter().find(|e| e.kind == "ApplicationReceived")?;
    let r = pb::ApplicationReceived::decode(received.payload.as_slice()).ok()?;
    let mut row = Row {
        number: number.to_owned(),
        received_ms: received.at_ms,
        province: r.province_code,
        district: r.district_code,
        topic: r.topic_code,
        type_code: r.type_code,
        unit_id: String::new(),
        channel: r.channel,
        kind: r.kind,
        vulnerable: r.vulnerability.as_ref().is_some_and(|v| v.bits() != 0),
        status: pb::Status::Received as i32,
        outcome: 0,
        round: 1,
        concluded_ms: None,
        resolution_ms: None,
        max_level: 0,
        sms_sent: 0,
        within_sla: None,
        survey_sent: false,
        survey_score: None,
    };
    let mut round_start = received.at_ms;
    let mut escalations = Vec::new();
    let open = |s: i32| s != pb::Status::Concluded as i32;
    for e in sorted {
        let p = e.payload.as_slice();
        match e.kind.as_str() {
            "ApplicationRouted" => {
                if let Ok(ev) = pb::ApplicationRouted::decode(p)
                    && row.round == 1
                {
                    row.unit_id = ev.unit_id;
                    if row.status == pb::Status::Received as i32 {
                        row.status = pb::Status::Routed as i32;
                    }
                }
            }
            "ApplicationTransferred" => {
                if let Ok(ev) = pb::ApplicationTransferred::decode(p) {
                    row.unit_id = ev.to_unit_id;
                }
            }
            "ApplicationReclassified" => {
                if let Ok(ev) = pb::ApplicationReclassified::decode(p) {
                    row.topic = ev.topic_code;
                    row.type_code = ev.type_code;
                    row.unit_id = ev.unit_id;
                }
            }
            "UnitResponded" if open(row.status) => {
                row.status = pb::Status::Responded as i32;
            }
            "ApplicationConcluded" => {
                if let Ok(ev) = pb::ApplicationConcluded::decode(p) {
                    row.status = pb::Status::Concluded as i32;
                    row.outcome = ev.outcome;
                    row.concluded_ms = Some(e.at_ms);
                    row.resolution_ms = Some(e.at_ms - round_start);
                }
            }
            "ApplicationReopened" => {
                if let Ok(ev) = pb::ApplicationReopened::decode(p)
                    && ev.round > row.round
                {
                    row.round = ev.round;
                    row.unit_id = ev.unit_id;
                    row.status = pb::Status::Reopened as i32;
                    row.outcome = 0;
                    row.concluded_ms = None;
                    row.resolution_ms = None;
                    row.within_sla = None;
                    round_start = e.at_ms;
                }
            }
            "ApplicationEscalated" => {
                if let Ok(ev) = pb::ApplicationEscalated::decode(p) {
                    row.max_level = row.max_level.max(ev.level);
                    escalations.push(Escalation {
                        round: ev.round,
                        rung: ev.rung,
                        level: ev.level,
                        at_ms: e.at_ms,
                    });
                }
            }
            "SlaConcluded" => {
                if let Ok(ev) = pb::SlaConcluded::decode(p)
                    && ev.round == row.round
                {
                    row.within_sla = Some(ev.within_sla);
                }
            }
            "SmsSent" => {
                row.sms_sent += 1;
                if let Ok(ev) = pb::SmsSent::decode(p)
                    && SURVEY_TEMPLATES.contains(&ev.template.as_str())
                {
                    row.survey_sent = true;
                }
            }
            "SurveyAnswered" => {
                if let Ok(ev) = pb::SurveyAnswered::decode(p)
                    && (1..=5).contains(&ev.score)
                {
                    row.survey_score = Some(ev.score);
                }
            }
            _ => {}
        }
    }
    escalations.sort();
    escalations.dedup_by_key(|e| (e.round, e.rung));
    Some((row, escalations))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev<M: Message>(kind: &str, at: i64, m: M) -> Event {
        Event {
            kind: kind.into(),
            at_ms: at,
            payload: m.encode_to_vec(),
        }
    }

    fn ts(ms: i64) -> Option<prost_types::Timestamp> {
        Some(prost_types::Timestamp {
            seconds: ms / 1000,
            nanos: 0,
        })
    }

    #[test]
    fn the_row_does_not_depend_on_delivery_order() {
        let events = vec![
            ev(
                "ApplicationReceived",
                1_000,
                pb::ApplicationReceived {
                    application_number: "n".into(),
                    province_code: 6,
                    district_code: 6010,
                    topic_code: "H07".into(),
                    type_code: "H07-01".into(),
                    received_at: ts(1_000),
                    ..Default::default()
                },
            ),
            ev(
                "ApplicationRouted",
                2_000,
                pb::ApplicationRouted {
                    unit_id: "u1".into(),
                    routed_at: ts(2_000),
                    ..Default::default()
                },
            ),
            ev(
                "ApplicationTransferred",
                3_000,
                pb::ApplicationTransferred {
                    to_unit_id: "u2".into(),
                    transferred_at: ts(3_000),
                    ..Default::default()
                },
            ),
            ev(
                "ApplicationEscalated",
                4_000,
                pb::ApplicationEscalated {
                    level: 2,
                    rung: 2,
                    round: 1,
                    escalated_at: ts(4_000),
                    ..Default::default()
                },
            ),
            ev(
                "ApplicationConcluded",
                9_000,
                pb::ApplicationConcluded {
                    outcome: pb::Outcome::Negative as i32,
                    concluded_at: ts(9_000),
                    ..Default::default()
                },
            ),
            ev(
                "SlaConcluded",
                9_000,
                pb::SlaConcluded {
                    round: 1,
                    within_sla: false,
                    concluded_at: ts(9_000),
                    ..Default::default()
                },
            ),
            ev(
                "SmsSent",
                9_500,
                pb::SmsSent {
                    template: "survey_reply".into(),
                    sent_at: ts(9_500),
                    ..Default::default()
                },
            ),
            ev(
                "SurveyAnswered",
                12_000,
                pb::SurveyAnswered {
                    score: 4,
                    answered_at: ts(12_000),
                    ..Default::default()
                },
            ),
        ];
        let (row, esc) = fold("n", &events).unwrap();
        assert_eq!(row.within_sla, Some(false));
        assert!(row.survey_sent);
        assert_eq!(row.survey_score, Some(4));
        assert_eq!(row.unit_id, "u2");
        assert_eq!(row.status, pb::Status::Concluded as i32);
        assert_eq!(row.outcome, pb::Outcome::Negative as i32);
        assert_eq!(row.resolution_ms, Some(8_000));
        assert_eq!(row.max_level, 2);
        assert_eq!(esc.len(), 1);
        let mut reversed = events.clone();
        reversed.reverse();
        assert_eq!(fold("n", &reversed), Some((row, esc)));
        // Without its receipt, nothing to report yet.
        assert_eq!(fold("n", &events[1..]), None);
    }
}
