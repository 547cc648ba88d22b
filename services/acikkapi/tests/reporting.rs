//! Reporting's read model on both backends: after a scripted scenario of a
//! few hundred applications, its figures equal figures computed
//! independently from the raw applications (intake's table) and the claimed
//! rungs (escalation's); a rebuild gives the same rows; an event delivered
//! twice counts once; scope filters are exact.

use acikkapi_escalation::sweep;
use acikkapi_platform::Platform;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::db;
use acikkapi_proto::v1 as pb;
use acikkapi_reporting::figures::{self, Filter, Totals};
use acikkapi_testkit::{Backend, TestNode, backend_tests, eventually, settings, submission};
use std::collections::BTreeMap;

const APPLICATIONS: u64 = 240;

/// Where application `i` comes from: Ankara's Altındağ or Akyurt, İstanbul, İzmir.
fn place(i: u64) -> (u32, u32) {
    match i % 4 {
        0 => (6, 6002),
        1 => (6, 6001),
        2 => (34, 34035),
        _ => (35, 35001),
    }
}

fn outcome(i: u64) -> Option<pb::Outcome> {
    match i % 6 {
        0 => Some(pb::Outcome::Positive),
        1 => Some(pb::Outcome::Negative),
        2 => Some(pb::Outcome::Partial),
        3 => Some(pb::Outcome::Unanswerable),
        4 => Some(pb::Outcome::Positive),
        _ => None, // stays open
    }
}

#[derive(Debug)]
struct Raw {
    number: String,
    province: i64,
    district: i64,
    unit: String,
    status: i64,
    outcome: i64,
    received_ms: i64,
    concluded_ms: Option<i64>,
}

/// number, province, district, unit, status, outcome, received, concluded.
type RawRow = (String, i64, i64, Option<String>, i64, i64, i64, Option<i64>);

async fn raw(p: &Platform) -> Vec<Raw> {
    let rows: Vec<RawRow> = db!(&p.db, pool => {
        sqlx::query_as("SELECT number, CAST(province AS BIGINT), CAST(district AS BIGINT), unit_id, CAST(status AS BIGINT), CAST(outcome AS BIGINT), received_ms, concluded_ms FROM applications")
            .fetch_all(pool).await.expect("applications")
    });
    rows.into_iter()
        .map(|r| Raw {
            number: r.0,
            province: r.1,
            district: r.2,
            unit: r.3.unwrap_or_default(),
            status: r.4,
            outcome: r.5,
            received_ms: r.6,
            concluded_ms: r.7,
        })
        .collect()
}

/// Claimed, fired rungs: (number, level).
async fn fired(p: &Platform) -> Vec<(String, i64)> {
    let rows: Vec<(String, i64)> = db!(&p.db, pool => {
        sqlx::query_as("SELECT clock_id, level FROM sla_escalations WHERE NOT superseded")
            .fetch_all(pool).await.expect("escalations")
    });
    rows.into_iter()
        .map(|(clock, level)| (clock.split(':').next().unwrap().to_owned(), level))
        .collect()
}

/// The figures, computed from the raw applications alone.
fn expected(raw: &[Raw], fired: &[(String, i64)], f: &Filter) -> Totals {
    let rows: Vec<&Raw> = raw
        .iter()
        .filter(|r| f.province == 0 || r.province == i64::from(f.province))
        .filter(|r| f.district == 0 || r.district == i64::from(f.district))
        .filter(|r| f.unit.is_empty() || r.unit == f.unit)
        .filter(|r| f.from_ms.is_none_or(|from| r.received_ms >= from))
        .filter(|r| f.to_ms.is_none_or(|to| r.received_ms < to))
        .collect();
    let concluded: Vec<&&Raw> = rows
        .iter()
        .filter(|r| r.status == pb::Status::Concluded as i64)
        .collect();
    let count = |o: pb::Outcome| concluded.iter().filter(|r| r.outcome == o as i64).count() as u64;
    let mut hours: Vec<f64> = concluded
        .iter()
        .map(|r| (r.concluded_ms.unwrap() - r.received_ms) as f64 / 3_600_000.0)
        .collect();
    hours.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        if hours.is_empty() {
            0.0
        } else {
            // The smallest value with at least q of them at or below it.
            *hours
                .iter()
                .enumerate()
                .find(|(i, _)| (*i + 1) as f64 >= q * hours.len() as f64)
                .unwrap()
                .1
        }
    };
    let mut levels = BTreeMap::new();
    for (number, level) in fired {
        if rows.iter().any(|r| &r.number == number) {
            *levels.entry(*level as u32).or_insert(0u64) += 1;
        }
    }
    Totals {
        received: rows.len() as u64,
        open: (rows.len() - concluded.len()) as u64,
        concluded: concluded.len() as u64,
        positive: count(pb::Outcome::Positive),
        negative: count(pb::Outcome::Negative),
        partial: count(pb::Outcome::Partial),
        unanswerable: count(pb::Outcome::Unanswerable),
        median_resolution_hours: pick(0.5),
        p90_resolution_hours: pick(0.9),
        escalations_by_level: levels,
    }
}

async fn rows_of(p: &Platform) -> Vec<String> {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT number || '|' || unit_id || '|' || CAST(status AS TEXT) || '|' || CAST(outcome AS TEXT) || '|' || \
             COALESCE(CAST(resolution_ms AS TEXT), '-') || '|' || CAST(max_level AS TEXT) || '|' || CAST(sms_sent AS TEXT) \
             FROM rpt_applications ORDER BY number",
        )
        .fetch_all(pool).await.expect("rows")
    })
}

async fn figures_equal_the_raw_applications_and_survive_a_rebuild(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    let n = TestNode::start(s).await;
    let p = n.platform();
    let mut intake = n.intake().await;
    let mut numbers = Vec::new();
    for i in 0..APPLICATIONS {
        let mut req = submission(500 + i);
        (req.province_code, req.district_code) = place(i);
        numbers.push(
            intake
                .submit_application(req)
                .await
                .unwrap()
                .into_inner()
                .application_number,
        );
    }
    // Every application routed and known to escalation before anything else.
    for number in &numbers {
        n.clock(number).await;
    }
    // Escalate the open ones past the deadline: their clocks share a due time
    // within a few seconds (all received now).
    let due = n
        .escalation()
        .await
        .get_sla(pb::GetSlaRequest {
            application_number: numbers[0].clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .steps[1]
        .due
        .unwrap();
    for (i, number) in numbers.iter().enumerate() {
        if let Some(o) = outcome(i as u64) {
            intake
                .conclude_application(pb::ConcludeApplicationRequest {
                    application_number: number.clone(),
                    outcome: o as i32,
                    explanation: "Sonuçlandı.".into(),
                    alternatives: if o == pb::Outcome::Unanswerable {
                        vec!["Belediyeye başvurabilirsiniz.".into()]
                    } else {
                        vec![]
                    },
                })
                .await
                .unwrap();
        }
    }
    let open = numbers
        .iter()
        .enumerate()
        .filter(|(i, _)| outcome(*i as u64).is_none())
        .count();
    assert!(
        eventually(30, || async {
            acikkapi_testkit::count(p, "sla_clocks WHERE concluded_ms IS NULL").await == open as i64
        })
        .await
    );
    let at = due.seconds * 1000 + i64::from(due.nanos) / 1_000_000 + 60_000;
    let at = acikkapi_domain::calendar::Calendar::builtin()
        .next_working(at, acikkapi_domain::calendar::Arife::Morning)
        .unwrap();
    sweep::sweep(p, at).await.unwrap();
    let fired = fired(p).await;
    assert_eq!(fired.len(), open, "one rung for each open application");

    // Reporting has it all: every application, conclusion and escalation.
    let raw = raw(p).await;
    let country = Filter::default();
    assert!(
        eventually(30, || async {
            figures::totals(&p.db, &country).await.unwrap() == expected(&raw, &fired, &country)
        })
        .await,
        "country: {:?} vs {:?}",
        figures::totals(&p.db, &country).await.unwrap(),
        expected(&raw, &fired, &country)
    );
    let mut received: Vec<i64> = raw.iter().map(|r| r.received_ms).collect();
    received.sort();
    let filters = [
        country.clone(),
        Filter {
            province: 6,
            ..Default::default()
        },
        Filter {
            province: 34,
            ..Default::default()
        },
        Filter {
            district: 6001,
            ..Default::default()
        },
        Filter {
            province: 6,
            district: 6002,
            ..Default::default()
        },
        Filter {
            unit: raw.iter().find(|r| r.province == 35).unwrap().unit.clone(),
            ..Default::default()
        },
        Filter {
            from_ms: Some(received[60]),
            to_ms: Some(received[180]),
            ..Default::default()
        },
        Filter {
            province: 35,
            from_ms: Some(received[100]),
            ..Default::default()
        },
        Filter {
            province: 1,
            ..Default::default()
        },
    ];
    for f in &filters {
        let want = expected(&raw, &fired, f);
        assert_eq!(figures::totals(&p.db, f).await.unwrap(), want, "{f:?}");
    }
    // The scopes are exact: the four places add up to the country.
    let parts: u64 = [(6, 6001), (6, 6002), (34, 0), (35, 0)]
        .iter()
        .map(|&(p, d)| {
            expected(
                &raw,
                &fired,
                &Filter {
                    province: p,
                    district: d,
                    ..Default::default()
                },
            )
            .received
        })
        .sum();
    assert_eq!(parts, APPLICATIONS);
    assert_eq!(
        figures::totals(&p.db, &country).await.unwrap().received,
        APPLICATIONS
    );

    // Every SMS sent and its SmsSent kept by reporting, so nothing moves below.
    let sms = APPLICATIONS as i64 + (APPLICATIONS as i64 - open as i64);
    assert!(
        eventually(60, || async {
            acikkapi_testkit::count(p, "sms_messages WHERE status = 'sent'").await == sms
                && acikkapi_testkit::count(p, "rpt_events WHERE kind = 'SmsSent'").await == sms
        })
        .await,
        "every SMS sent and reported"
    );
    // Every kept event delivered again, under its own id: nothing changes.
    let before = rows_of(p).await;
    let kept: Vec<(String, String, String, Vec<u8>)> = db!(&p.db, pool => {
        sqlx::query_as("SELECT event_id, number, kind, payload FROM rpt_events").fetch_all(pool).await.unwrap()
    });
    let again: Vec<Envelope> = kept
        .iter()
        .map(|(id, number, kind, payload)| Envelope {
            id: id.clone(),
            kind: kind.clone(),
            key: number.clone(),
            payload: payload.clone(),
            headers: Default::default(),
        })
        .collect();
    p.bus.publish(&again).await.unwrap();
    // A marker published after them: once it is applied, so are they.
    let marker = Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        kind: "SmsSent".into(),
        key: numbers[0].clone(),
        payload: prost::Message::encode_to_vec(&pb::SmsSent {
            application_number: numbers[0].clone(),
            sent_at: Some(prost_types::Timestamp {
                seconds: 2_000_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }),
        headers: Default::default(),
    };
    let sms_before = figures_sms(p, &numbers[0]).await;
    p.bus.publish(std::slice::from_ref(&marker)).await.unwrap();
    assert!(
        eventually(30, || async {
            figures_sms(p, &numbers[0]).await == sms_before + 1
        })
        .await
    );
    let mut after = rows_of(p).await;
    // Only the marker's application changed, by its one SMS.
    let i = after
        .iter()
        .position(|r| r.starts_with(&numbers[0]))
        .unwrap();
    assert_ne!(after[i], before[i]);
    after[i] = before[i].clone();
    assert_eq!(after, before, "duplicates counted once");
    assert_eq!(
        acikkapi_testkit::count(p, "rpt_events").await,
        kept.len() as i64 + 1
    );

    // A rebuild folds the same rows, and the same figures.
    let folded = rows_of(p).await;
    let n_rebuilt = acikkapi_reporting::store::rebuild(&p.db, 37).await.unwrap();
    assert_eq!(n_rebuilt, APPLICATIONS);
    assert_eq!(rows_of(p).await, folded);
    for f in &filters {
        assert_eq!(
            figures::totals(&p.db, f).await.unwrap(),
            expected(&raw, &fired, f),
            "{f:?} after rebuild"
        );
    }
    n.stop_and_clean().await;
}

async fn figures_sms(p: &Platform, number: &str) -> i64 {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT sms_sent FROM rpt_applications WHERE number = $1")
            .bind(number).fetch_one(pool).await.unwrap()
    })
}

backend_tests!(figures_equal_the_raw_applications_and_survive_a_rebuild);
