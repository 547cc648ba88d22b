//! An application's reporting row, folded from all its events. The fold
//! sorts the events by when they happened (then by lifecycle order for
//! ties), so the row does not depend on the order they were delivered in;
//! it reads only the events, so a rebuild gives the same row.

use acikkapi_proto::v1 as pb;
use acikkapi_proto::{Event as Ev, EventKind};

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
    match Ev::decode(kind, payload).ok()? {
        Ev::ApplicationReceived(ev) => ms(&ev.received_at),
        Ev::ApplicationRouted(ev) => ms(&ev.routed_at),
        Ev::ApplicationTransferred(ev) => ms(&ev.transferred_at),
        Ev::ApplicationReclassified(ev) => ms(&ev.reclassified_at),
        Ev::UnitResponded(ev) => ms(&ev.responded_at),
        Ev::ApplicationConcluded(ev) => ms(&ev.concluded_at),
        Ev::ApplicationReopened(ev) => ms(&ev.reopened_at),
        Ev::ApplicationEscalated(ev) => ms(&ev.escalated_at),
        Ev::SmsSent(ev) => ms(&ev.sent_at),
        Ev::SlaConcluded(ev) => ms(&ev.concluded_at),
        Ev::SurveyAnswered(ev) => ms(&ev.answered_at),
        Ev::ApplicationNoteAdded(_) | Ev::PersonalDataErased(_) | Ev::SlaDeadlineChanged(_) => None,
    }
}

/// Lifecycle order, for events stamped in the same millisecond.
fn stage(kind: &str) -> u8 {
    use EventKind as K;
    match EventKind::parse(kind) {
        Some(K::ApplicationReceived) => 0,
        Some(K::ApplicationRouted) => 1,
        Some(K::ApplicationReclassified | K::ApplicationTransferred) => 2,
        Some(K::UnitResponded) => 3,
        Some(K::ApplicationEscalated | K::SmsSent) => 4,
        Some(K::ApplicationConcluded | K::SlaConcluded) => 5,
        Some(K::ApplicationReopened) => 6,
        _ => 7, // survey answered
    }
}

/// The row and escalations of one application; None until its
/// `ApplicationReceived` is among the events.
pub fn fold(number: &str, events: &[Event]) -> Option<(Row, Vec<Escalation>)> {
    let mut sorted: Vec<&Event> = events.iter().collect();
    sorted.sort_by_key(|e| (e.at_ms, stage(&e.kind)));
    let received = sorted
        .iter()
        .find(|e| e.kind == EventKind::ApplicationReceived.as_str())?;
    let Ev::ApplicationReceived(r) = Ev::decode(&received.kind, &received.payload).ok()? else {
        return None;
    };
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
        // One that does not decode counts only where its kind alone says
        // something (a response, an SMS).
        let kind = EventKind::parse(&e.kind);
        match (kind, Ev::decode(&e.kind, &e.payload).ok()) {
            (_, Some(Ev::ApplicationRouted(ev))) if row.round == 1 => {
                row.unit_id = ev.unit_id;
                if row.status == pb::Status::Received as i32 {
                    row.status = pb::Status::Routed as i32;
                }
            }
            (_, Some(Ev::ApplicationTransferred(ev))) => {
                row.unit_id = ev.to_unit_id;
            }
            (_, Some(Ev::ApplicationReclassified(ev))) => {
                row.topic = ev.topic_code;
                row.type_code = ev.type_code;
                row.unit_id = ev.unit_id;
            }
            (Some(EventKind::UnitResponded), _) if open(row.status) => {
                row.status = pb::Status::Responded as i32;
            }
            (_, Some(Ev::ApplicationConcluded(ev))) => {
                row.status = pb::Status::Concluded as i32;
                row.outcome = ev.outcome;
                row.concluded_ms = Some(e.at_ms);
                row.resolution_ms = Some(e.at_ms - round_start);
            }
            (_, Some(Ev::ApplicationReopened(ev))) if ev.round > row.round => {
                row.round = ev.round;
                row.unit_id = ev.unit_id;
                row.status = pb::Status::Reopened as i32;
                row.outcome = 0;
                row.concluded_ms = None;
                row.resolution_ms = None;
                row.within_sla = None;
                round_start = e.at_ms;
            }
            (_, Some(Ev::ApplicationEscalated(ev))) => {
                row.max_level = row.max_level.max(ev.level);
                escalations.push(Escalation {
                    round: ev.round,
                    rung: ev.rung,
                    level: ev.level,
                    at_ms: e.at_ms,
                });
            }
            (_, Some(Ev::SlaConcluded(ev))) if ev.round == row.round => {
                row.within_sla = Some(ev.within_sla);
            }
            (Some(EventKind::SmsSent), sent) => {
                row.sms_sent += 1;
                if let Some(Ev::SmsSent(ev)) = sent
                    && SURVEY_TEMPLATES.contains(&ev.template.as_str())
                {
                    row.survey_sent = true;
                }
            }
            (_, Some(Ev::SurveyAnswered(ev))) if (1..=5).contains(&ev.score) => {
                row.survey_score = Some(ev.score);
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

    fn ev(at: i64, m: impl Into<Ev>) -> Event {
        let m = m.into();
        Event {
            kind: m.kind().as_str().into(),
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
                2_000,
                pb::ApplicationRouted {
                    unit_id: "u1".into(),
                    routed_at: ts(2_000),
                    ..Default::default()
                },
            ),
            ev(
                3_000,
                pb::ApplicationTransferred {
                    to_unit_id: "u2".into(),
                    transferred_at: ts(3_000),
                    ..Default::default()
                },
            ),
            ev(
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
                9_000,
                pb::ApplicationConcluded {
                    outcome: pb::Outcome::Negative as i32,
                    concluded_at: ts(9_000),
                    ..Default::default()
                },
            ),
            ev(
                9_000,
                pb::SlaConcluded {
                    round: 1,
                    within_sla: false,
                    concluded_at: ts(9_000),
                    ..Default::default()
                },
            ),
            ev(
                9_500,
                pb::SmsSent {
                    template: "survey_reply".into(),
                    sent_at: ts(9_500),
                    ..Default::default()
                },
            ),
            ev(
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
