//! Routing's events about one application reach intake and escalation in
//! any order when replicas compete on a queue. Routing numbers them per
//! application; intake applies them in that order (a later one waits),
//! escalation keeps the latest. Here routing's events are published in
//! reverse, as a competing replica could deliver them, and the timeline and
//! the clock end as routing left the application.

use acikkapi::testing::TestNode;
use acikkapi_platform::Platform;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::db;
use acikkapi_platform::service::Service;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, eventually, metric, settings, submission};
use prost::Message;
use prost_types::Timestamp;

fn envelope(kind: &str, number: &str, payload: Vec<u8>) -> Envelope {
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        kind: kind.into(),
        key: number.into(),
        payload,
        headers: Default::default(),
    }
}

fn at(ms: i64) -> Option<Timestamp> {
    Some(Timestamp {
        seconds: ms / 1000,
        nanos: 0,
    })
}

/// Routing's event of a transfer of `number` from `from` to `to`.
fn transferred(number: &str, from: &str, to: &str, name: &str, at_ms: i64, seq: u64) -> Envelope {
    envelope(
        EventKind::ApplicationTransferred.as_str(),
        number,
        pb::ApplicationTransferred {
            application_number: number.into(),
            from_unit_id: from.into(),
            to_unit_id: to.into(),
            reason: String::new(),
            transferred_at: at(at_ms),
            to_unit_name: name.into(),
            seq,
        }
        .encode_to_vec(),
    )
}

/// (unit, status, routing sequence) of the application in intake.
async fn intake_state(p: &Platform, number: &str) -> (String, i64, i64) {
    db!(&p.db, pool => {
        sqlx::query_as::<_, (String, i64, i64)>(
            "SELECT COALESCE(unit_id, ''), CAST(status AS BIGINT), routing_seq FROM applications WHERE number = $1",
        )
        .bind(number).fetch_one(pool).await.expect("application")
    })
}

async fn timeline(p: &Platform, number: &str) -> Vec<String> {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT description FROM application_history WHERE number = $1 ORDER BY id",
        )
        .bind(number).fetch_all(pool).await.expect("history")
    })
}

async fn routing_events_in_reverse_end_where_routing_left_them(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    // No routing service: the test publishes routing's events itself.
    s.services = vec![Service::Intake, Service::Escalation];
    s.escalation.sweep_interval_ms = 0;
    s.escalation.census_interval_ms = 0;
    let n = TestNode::start(s).await;
    let p = n.platform();
    let number = n.submit(submission(70)).await;
    assert!(
        n.clock_started(&number).await,
        "escalation started the clock"
    );

    let t0 = acikkapi_platform::store::now_ms();
    let events = [
        envelope(
            EventKind::ApplicationRouted.as_str(),
            &number,
            pb::ApplicationRouted {
                application_number: number.clone(),
                unit_id: "unit-a".into(),
                rule_id: String::new(),
                routed_at: at(t0),
                unit_name: "Birim A".into(),
                seq: 1,
            }
            .encode_to_vec(),
        ),
        transferred(&number, "unit-a", "unit-b", "Birim B", t0 + 1000, 2),
        transferred(&number, "unit-b", "unit-c", "Birim C", t0 + 2000, 3),
        envelope(
            EventKind::UnitResponded.as_str(),
            &number,
            pb::UnitResponded {
                application_number: number.clone(),
                unit_id: "unit-c".into(),
                proposed_outcome: pb::Outcome::Positive as i32,
                responded_at: at(t0 + 3000),
                seq: 4,
            }
            .encode_to_vec(),
        ),
    ];
    let reversed: Vec<Envelope> = events.iter().rev().cloned().collect();
    p.bus.publish(&reversed).await.unwrap();

    let done = eventually(40, || async { intake_state(p, &number).await.2 == 4 }).await;
    assert!(
        done,
        "intake applied all four: {:?}",
        intake_state(p, &number).await
    );
    assert_eq!(
        intake_state(p, &number).await,
        ("unit-c".into(), pb::Status::Responded as i64, 4)
    );
    let lines = timeline(p, &number).await;
    let steps: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|l| l.contains("Birim") || l.contains("cevap verdi"))
        .collect();
    assert_eq!(
        steps,
        [
            "Başvurunuz Birim A birimine yönlendirildi.",
            "Başvurunuz Birim B birimine aktarıldı.",
            "Başvurunuz Birim C birimine aktarıldı.",
            "İlgili birim cevap verdi; başvurunuz değerlendiriliyor.",
        ],
        "the timeline in routing's order: {lines:?}"
    );
    // The later events arrived first and waited for their predecessors.
    assert!(
        metric(
            p,
            "acikkapi_events_consumed_total",
            &["intake-follow", "retried"]
        ) >= 1.0
    );
    assert_eq!(
        metric(
            p,
            "acikkapi_events_consumed_total",
            &["intake-follow", "dead"]
        ),
        0.0
    );

    // Escalation's clock follows the latest transfer, whatever came last.
    let clock_done = eventually(20, || async {
        let applied: i64 = db!(&p.db, pool => {
            sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE consumer = 'escalation' AND event_id IN ($1, $2, $3)")
                .bind(&events[0].id).bind(&events[1].id).bind(&events[2].id)
                .fetch_one(pool).await.expect("inbox")
        });
        applied == 3
    })
    .await;
    assert!(clock_done, "escalation applied the three routing events");
    let k = acikkapi_escalation::store::latest(&p.db, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(k.unit_id, "unit-c");
    n.stop_and_clean().await;
}

backend_tests!(routing_events_in_reverse_end_where_routing_left_them);
