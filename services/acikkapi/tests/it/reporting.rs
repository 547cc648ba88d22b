//! Reporting's read model on both backends: after a scripted scenario of a
//! few hundred applications, its figures equal figures computed
//! independently from the raw applications (intake's table) and the claimed
//! rungs (escalation's); a rebuild gives the same rows; an event delivered
//! twice counts once; scope filters are exact.

use acikkapi::testing::TestNode;
use acikkapi_escalation::sweep;
use acikkapi_platform::Platform;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::db;
use acikkapi_platform::service::Service;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_reporting::figures::{self, Counts, Filter, Totals};
use acikkapi_testkit::{Backend, backend_tests, eventually, settings, submission};
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
    topic: String,
    channel: i64,
}

/// number, province, district, unit, status, outcome, received, concluded,
/// topic, channel.
type RawRow = (
    String,
    i64,
    i64,
    Option<String>,
    i64,
    i64,
    i64,
    Option<i64>,
    String,
    i64,
);

async fn raw(p: &Platform) -> Vec<Raw> {
    let rows: Vec<RawRow> = db!(&p.db, pool => {
        sqlx::query_as("SELECT number, CAST(province AS BIGINT), CAST(district AS BIGINT), unit_id, CAST(status AS BIGINT), CAST(outcome AS BIGINT), received_ms, concluded_ms, topic, CAST(channel AS BIGINT) FROM applications")
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
            topic: r.8,
            channel: r.9,
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

/// Within the SLA, by escalation's own clocks: number → concluded by the
/// deadline (concluded clocks only).
async fn in_time(p: &Platform) -> BTreeMap<String, bool> {
    let rows: Vec<(String, Option<i64>, i64)> = db!(&p.db, pool => {
        sqlx::query_as("SELECT number, deadline_ms, concluded_ms FROM sla_clocks WHERE concluded_ms IS NOT NULL")
            .fetch_all(pool).await.expect("clocks")
    });
    rows.into_iter()
        .map(|(n, deadline, concluded)| (n, deadline.is_some_and(|d| concluded <= d)))
        .collect()
}

fn scoped<'a>(raw: &'a [Raw], f: &Filter) -> Vec<&'a Raw> {
    raw.iter()
        .filter(|r| f.province == 0 || r.province == i64::from(f.province))
        .filter(|r| f.district == 0 || r.district == i64::from(f.district))
        .filter(|r| f.unit.is_empty() || r.unit == f.unit)
        .filter(|r| f.from_ms.is_none_or(|from| r.received_ms >= from))
        .filter(|r| f.to_ms.is_none_or(|to| r.received_ms < to))
        .filter(|r| f.topic.is_empty() || r.topic == f.topic)
        .filter(|r| f.channel == 0 || r.channel == i64::from(f.channel))
        .collect()
}

/// The figures, computed from the raw applications alone.
fn expected(
    raw: &[Raw],
    fired: &[(String, i64)],
    in_time: &BTreeMap<String, bool>,
    f: &Filter,
) -> Totals {
    let rows = scoped(raw, f);
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
    let verdicts: Vec<bool> = concluded
        .iter()
        .filter_map(|r| in_time.get(&r.number).copied())
        .collect();
    Totals {
        counts: Counts {
            received: rows.len() as u64,
            concluded: concluded.len() as u64,
            positive: count(pb::Outcome::Positive),
            negative: count(pb::Outcome::Negative),
            partial: count(pb::Outcome::Partial),
            unanswerable: count(pb::Outcome::Unanswerable),
            verdicts: verdicts.len() as u64,
            within_sla: verdicts.iter().filter(|w| **w).count() as u64,
        },
        median_resolution_hours: pick(0.5),
        p90_resolution_hours: pick(0.9),
        escalations_by_level: levels,
    }
}

async fn rows_of(p: &Platform) -> Vec<String> {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT number || '|' || unit_id || '|' || CAST(status AS TEXT) || '|' || CAST(outcome AS TEXT) || '|' || \
             COALESCE(CAST(resolution_ms AS TEXT), '-') || '|' || CAST(max_level AS TEXT) || '|' || CAST(sms_sent AS TEXT) || '|' || \
             COALESCE(CAST(within_sla AS TEXT), '-') || '|' || CAST(survey_sent AS TEXT) || '|' || COALESCE(CAST(survey_score AS TEXT), '-') \
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
        if i % 3 == 0 {
            req.channel = pb::Channel::Mobile as i32;
        }
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

    // Reporting has it all: every application, conclusion, SLA verdict and escalation.
    let raw = raw(p).await;
    let concluded_n = raw
        .iter()
        .filter(|r| r.status == pb::Status::Concluded as i64)
        .count();
    assert!(
        eventually(30, || async {
            acikkapi_testkit::count(p, "rpt_applications WHERE within_sla IS NOT NULL").await
                == concluded_n as i64
        })
        .await,
        "every conclusion's SLA verdict reported: {} of {concluded_n}; {} SlaConcluded kept",
        acikkapi_testkit::count(p, "rpt_applications WHERE within_sla IS NOT NULL").await,
        acikkapi_testkit::count(p, "rpt_events WHERE kind = 'SlaConcluded'").await,
    );
    let in_time = in_time(p).await;
    assert_eq!(in_time.len(), concluded_n);
    let country = Filter::default();
    assert!(
        eventually(30, || async {
            figures::totals(&p.db, &country).await.unwrap()
                == expected(&raw, &fired, &in_time, &country)
        })
        .await,
        "country: {:?} vs {:?}",
        figures::totals(&p.db, &country).await.unwrap(),
        expected(&raw, &fired, &in_time, &country)
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
        // Whole months: answered from the monthly counts.
        Filter {
            province: 6,
            from_ms: Some(month_start(received[0])),
            to_ms: Some(month_start(received[0] + 40 * 86_400_000)),
            ..Default::default()
        },
        // A topic or a channel: from the rows, even for whole months.
        Filter {
            topic: raw[0].topic.clone(),
            ..Default::default()
        },
        Filter {
            topic: "H01".into(),
            ..Default::default()
        },
        Filter {
            province: 6,
            channel: raw[0].channel as i32,
            from_ms: Some(month_start(received[0])),
            to_ms: Some(month_start(received[0] + 40 * 86_400_000)),
            ..Default::default()
        },
    ];
    for f in &filters {
        let want = expected(&raw, &fired, &in_time, f);
        assert_eq!(figures::totals(&p.db, f).await.unwrap(), want, "{f:?}");
    }
    // The scopes are exact: the four places add up to the country.
    let parts: u64 = [(6, 6001), (6, 6002), (34, 0), (35, 0)]
        .iter()
        .map(|&(p, d)| {
            expected(
                &raw,
                &fired,
                &in_time,
                &Filter {
                    province: p,
                    district: d,
                    ..Default::default()
                },
            )
            .counts
            .received
        })
        .sum();
    assert_eq!(parts, APPLICATIONS);
    assert_eq!(
        figures::totals(&p.db, &country)
            .await
            .unwrap()
            .counts
            .received,
        APPLICATIONS
    );

    // Every SMS sent (receipt; conclusion and survey) and its SmsSent kept
    // by reporting; every survey answered as scripted: nothing moves below.
    let sms = APPLICATIONS as i64 + 2 * (APPLICATIONS as i64 - open as i64);
    assert!(
        eventually(60, || async {
            acikkapi_testkit::count(p, "sms_messages WHERE status = 'sent'").await == sms
                && acikkapi_testkit::count(p, "rpt_events WHERE kind = 'SmsSent'").await == sms
        })
        .await,
        "every SMS sent and reported"
    );
    let answers = answer_surveys(&n).await;
    assert!(
        eventually(30, || async {
            acikkapi_testkit::count(p, "rpt_applications WHERE survey_score IS NOT NULL").await
                == answers.len() as i64
        })
        .await,
        "every answer reported"
    );
    queries_equal_the_raw_applications(&n, &raw, &fired, &in_time, &answers, &filters).await;
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
        kind: EventKind::SmsSent.as_str().into(),
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
            expected(&raw, &fired, &in_time, f),
            "{f:?} after rebuild"
        );
    }
    a_new_event_invalidates_the_cached_answer(&n).await;
    n.stop_and_clean().await;
}

/// Answers the surveys as an applicant would: by SMS reply or on the page,
/// one in four left unanswered. Returns number → score.
async fn answer_surveys(n: &TestNode) -> BTreeMap<String, u32> {
    let p = n.platform();
    let surveys: Vec<(String, String)> = db!(&p.db, pool => {
        sqlx::query_as("SELECT code, number FROM sms_surveys ORDER BY number").fetch_all(pool).await.unwrap()
    });
    let mut c = n.notification_as(None).await;
    let mut answers = BTreeMap::new();
    for (i, (code, number)) in surveys.iter().enumerate() {
        if i % 4 == 3 {
            continue;
        }
        let score = (i % 5) as u32 + 1;
        let req = if i % 2 == 0 {
            pb::AnswerSurveyRequest {
                reply: format!("{} {score}", code.to_lowercase()),
                ..Default::default()
            }
        } else {
            pb::AnswerSurveyRequest {
                code: code.clone(),
                score,
                reply: String::new(),
            }
        };
        assert!(c.answer_survey(req).await.unwrap().into_inner().recorded);
        answers.insert(number.clone(), score);
    }
    // The first answer counts; a second is not recorded.
    let (code, number) = &surveys[0];
    let again = c
        .answer_survey(pb::AnswerSurveyRequest {
            code: code.clone(),
            score: 1 + answers[number] % 5,
            reply: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!again.recorded);
    // Wrong answers are refused, naming what is wrong.
    let refused = |r: Result<tonic::Response<pb::AnswerSurveyResponse>, tonic::Status>| {
        let e = r.unwrap_err();
        (e.code(), e.message().split(':').next().unwrap().to_owned())
    };
    let ask = |code: &str, score: u32| pb::AnswerSurveyRequest {
        code: code.into(),
        score,
        reply: String::new(),
    };
    assert_eq!(
        refused(c.answer_survey(ask(code, 6)).await),
        (tonic::Code::InvalidArgument, "score".into())
    );
    assert_eq!(
        refused(c.answer_survey(ask("ZZZZZZZZ", 3)).await),
        (tonic::Code::NotFound, "code".into())
    );
    assert_eq!(
        refused(
            c.answer_survey(pb::AnswerSurveyRequest {
                reply: "teşekkürler".into(),
                ..Default::default()
            })
            .await
        ),
        (tonic::Code::InvalidArgument, "reply".into())
    );
    answers
}

fn request(f: &Filter) -> pb::ReportRequest {
    let ts = |ms: i64| prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    };
    pb::ReportRequest {
        scope: Some(pb::Scope {
            province_code: f.province,
            district_code: f.district,
            unit_id: f.unit.clone(),
        }),
        period: Some(pb::TimeRange {
            from: f.from_ms.map(ts),
            to: f.to_ms.map(ts),
        }),
        limit: 0,
        topic_code: f.topic.clone(),
        channel: f.channel,
    }
}

/// The first instant of the month holding `ms`, in Türkiye's time.
fn month_start(ms: i64) -> i64 {
    use acikkapi_domain::calendar::Date;
    let d = Date::of_instant(ms);
    Date { day: 1, ..d }.at_minute(0)
}

/// The first day of the period holding instant `ms`, in Türkiye's time.
fn period_of(ms: i64, g: pb::Granularity) -> String {
    use acikkapi_domain::calendar::Date;
    let d = Date::of_instant(ms);
    match g {
        pb::Granularity::Week => Date::from_days(d.days() - i64::from(d.weekday())).to_string(),
        pb::Granularity::Month => format!("{:04}-{:02}-01", d.year, d.month),
        _ => d.to_string(),
    }
}

/// Every query of the gRPC API, for every scope and period, against the
/// raw applications, the clocks and the answers given.
async fn queries_equal_the_raw_applications(
    n: &TestNode,
    raw: &[Raw],
    fired: &[(String, i64)],
    in_time: &BTreeMap<String, bool>,
    answers: &BTreeMap<String, u32>,
    filters: &[Filter],
) {
    let mut c = n.reporting().await;
    for f in filters {
        let rows = scoped(raw, f);
        let concluded: Vec<&&Raw> = rows
            .iter()
            .filter(|r| r.status == pb::Status::Concluded as i64)
            .collect();
        // Totals.
        let want = expected(raw, fired, in_time, f).to_proto();
        let got = c.get_totals(request(f)).await.unwrap().into_inner();
        assert_eq!(got, want, "totals {f:?}");
        if !concluded.is_empty() {
            assert_eq!(got.concluded_within_sla_rate, 1.0, "all concluded at once");
        }
        // Time series by day, week and month.
        for g in [
            pb::Granularity::Day,
            pb::Granularity::Week,
            pb::Granularity::Month,
        ] {
            let mut want: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
            for r in &rows {
                want.entry(period_of(r.received_ms, g)).or_default().0 += 1;
            }
            for r in &concluded {
                let e = want
                    .entry(period_of(r.concluded_ms.unwrap(), g))
                    .or_default();
                e.1 += 1;
                e.2 += u64::from(in_time[&r.number]);
            }
            let got: BTreeMap<String, (u64, u64, u64)> = c
                .get_time_series(pb::TimeSeriesRequest {
                    report: Some(request(f)),
                    granularity: g as i32,
                })
                .await
                .unwrap()
                .into_inner()
                .points
                .into_iter()
                .map(|p| {
                    (
                        p.period_start,
                        (p.received, p.concluded, p.concluded_within_sla),
                    )
                })
                .collect();
            assert_eq!(got, want, "{g:?} series {f:?}");
        }
        // Ranking of provinces: received per province, most first, ties by code.
        let mut by_province: BTreeMap<String, u64> = BTreeMap::new();
        for r in &rows {
            *by_province.entry(r.province.to_string()).or_default() += 1;
        }
        let mut want: Vec<(String, u64)> = by_province.into_iter().collect();
        want.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let got: Vec<(String, u64)> = c
            .get_ranking(pb::RankingRequest {
                report: Some(request(f)),
                by: "province".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner()
            .entries
            .into_iter()
            .map(|e| (e.key, e.received))
            .collect();
        assert_eq!(got, want, "province ranking {f:?}");
        // Every scripted application is a pavement complaint (H07-01).
        let top = c.get_top_types(request(f)).await.unwrap().into_inner();
        if rows.is_empty() {
            assert!(top.types.is_empty() && top.topics.is_empty());
        } else {
            assert_eq!(top.types.len(), 1);
            assert_eq!(
                (
                    top.types[0].key.as_str(),
                    top.types[0].received,
                    top.types[0].share
                ),
                ("H07-01", rows.len() as u64, 1.0)
            );
            assert_eq!(top.topics[0].key, "H07");
        }
        let problems = c
            .get_problem_areas(pb::ProblemAreasRequest {
                report: Some(request(f)),
                min_concluded: 1,
            })
            .await
            .unwrap()
            .into_inner();
        let negative = concluded
            .iter()
            .filter(|r| r.outcome == pb::Outcome::Negative as i64)
            .count();
        if concluded.is_empty() {
            assert!(problems.entries.is_empty());
        } else {
            assert_eq!(problems.entries.len(), 1);
            assert_eq!(
                problems.entries[0].negative_rate,
                negative as f64 / concluded.len() as f64
            );
        }
        // Satisfaction: a survey after each conclusion, the answers given.
        let scores: Vec<u32> = rows
            .iter()
            .filter_map(|r| answers.get(&r.number).copied())
            .collect();
        let got = c.get_satisfaction(request(f)).await.unwrap().into_inner();
        assert_eq!(got.surveys_sent, concluded.len() as u64, "surveys {f:?}");
        assert_eq!(got.answered, scores.len() as u64);
        let satisfied = scores.iter().filter(|s| **s >= 4).count();
        let share = |n: usize| {
            if scores.is_empty() {
                0.0
            } else {
                n as f64 / scores.len() as f64
            }
        };
        assert_eq!(got.satisfied_rate, share(satisfied));
        for score in 1..=5 {
            let k = scores.iter().filter(|s| **s == score).count() as u64;
            assert_eq!(got.answers_by_score.get(&score).copied().unwrap_or(0), k);
        }
        // The export: the scope's applications, oldest first, one line each.
        let mut stream = c
            .export_applications(request(f))
            .await
            .unwrap()
            .into_inner();
        let mut csv = Vec::new();
        while let Some(chunk) = stream.message().await.unwrap() {
            csv.extend(chunk.csv);
        }
        let csv = String::from_utf8(csv).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            format!("{}\n", lines.next().unwrap()),
            figures::EXPORT_HEADER
        );
        let exported: Vec<&str> = lines.map(|l| l.split(',').next().unwrap()).collect();
        let mut want: Vec<&Raw> = rows.clone();
        want.sort_by(|a, b| (a.received_ms, &a.number).cmp(&(b.received_ms, &b.number)));
        let want: Vec<&str> = want.iter().map(|r| r.number.as_str()).collect();
        assert_eq!(exported, want, "export {f:?}");
    }
    // A scope outside the caller's is refused, and bad requests name their field.
    let governor = n.token(acikkapi_platform::auth::Role::Governor, 6, 0, "");
    let mut g = n.reporting_as(Some(&governor)).await;
    let istanbul = Filter {
        province: 34,
        ..Default::default()
    };
    let e = g.get_totals(request(&istanbul)).await.unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    let field = |e: tonic::Status| {
        assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
        e.message().split(':').next().unwrap().to_owned()
    };
    let bad_by = c
        .get_ranking(pb::RankingRequest {
            report: None,
            by: "mahalle".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(field(bad_by), "by");
    let mut too_many = request(&Filter::default());
    too_many.limit = 1000;
    assert_eq!(field(c.get_top_types(too_many).await.unwrap_err()), "limit");
    let backwards = request(&Filter {
        from_ms: Some(2_000),
        to_ms: Some(1_000),
        ..Default::default()
    });
    assert_eq!(field(c.get_totals(backwards).await.unwrap_err()), "period");
    let e = c
        .get_time_series(pb::TimeSeriesRequest {
            report: None,
            granularity: 9,
        })
        .await
        .unwrap_err();
    assert_eq!(field(e), "granularity");
}

/// A dashboard answer is cached, and an event of its province makes the
/// next answer fresh (well within the cache's minute).
async fn a_new_event_invalidates_the_cached_answer(n: &TestNode) {
    let p = n.platform();
    let mut c = n.reporting().await;
    let izmir = request(&Filter {
        province: 35,
        ..Default::default()
    });
    let before = c.get_totals(izmir.clone()).await.unwrap().into_inner();
    let hits = acikkapi_testkit::metric(p, "acikkapi_report_cache_total", &["result=\"hit\""]);
    assert_eq!(
        c.get_totals(izmir.clone()).await.unwrap().into_inner(),
        before
    );
    assert_eq!(
        acikkapi_testkit::metric(p, "acikkapi_report_cache_total", &["result=\"hit\""]),
        hits + 1.0,
        "the second answer came from the cache"
    );
    let mut req = submission(9_999);
    (req.province_code, req.district_code) = (35, 35001);
    n.intake().await.submit_application(req).await.unwrap();
    assert!(
        eventually(30, || {
            let (mut c, izmir) = (c.clone(), izmir.clone());
            async move {
                c.get_totals(izmir).await.unwrap().into_inner().received == before.received + 1
            }
        })
        .await,
        "the new application counted"
    );
}

async fn figures_sms(p: &Platform, number: &str) -> i64 {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT sms_sent FROM rpt_applications WHERE number = $1")
            .bind(number).fetch_one(pool).await.unwrap()
    })
}

backend_tests!(
    figures_equal_the_raw_applications_and_survive_a_rebuild,
    a_busy_dashboard_is_served_a_recent_answer_while_a_fresh_one_is_computed,
    an_event_kept_before_is_not_folded_again,
);

/// What reporting's consumer counted as applied (a redelivery included:
/// it keeps no inbox).
fn reporting_applied(p: &Platform) -> f64 {
    acikkapi_testkit::metric(
        p,
        "acikkapi_events_consumed_total",
        &["consumer=\"reporting\"", "result=\"applied\""],
    )
}

/// A duplicate costs nothing downstream: an event reporting kept before
/// (a redelivery, or a copy another relay published) is not folded again.
/// A sentinel written into the folded row survives the redelivery; a new
/// event of the application folds the row and overwrites it.
async fn an_event_kept_before_is_not_folded_again(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.services = vec![Service::Reporting];
    let n = TestNode::start(s).await;
    let p = n.platform();
    let number = "2026-06-000000042";
    let at = |seconds| Some(prost_types::Timestamp { seconds, nanos: 0 });
    let received = Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        kind: EventKind::ApplicationReceived.as_str().into(),
        key: number.into(),
        payload: prost::Message::encode_to_vec(&pb::ApplicationReceived {
            application_number: number.into(),
            province_code: 6,
            district_code: 6001,
            topic_code: "T01".into(),
            type_code: "T01-001".into(),
            received_at: at(1_790_000_000),
            ..Default::default()
        }),
        headers: Default::default(),
    };
    let unit_of = || async {
        db!(&p.db, pool => {
            sqlx::query_scalar::<_, String>("SELECT unit_id FROM rpt_applications WHERE number = $1")
                .bind(number).fetch_optional(pool).await.unwrap()
        })
    };
    p.bus
        .publish(std::slice::from_ref(&received))
        .await
        .unwrap();
    assert!(
        eventually(30, || async { unit_of().await.is_some() }).await,
        "the application is folded"
    );
    db!(&p.db, pool => {
        sqlx::query("UPDATE rpt_applications SET unit_id = 'sentinel' WHERE number = $1")
            .bind(number).execute(pool).await.unwrap();
    });

    // The same event again: kept before, so not folded.
    let before = reporting_applied(p);
    p.bus
        .publish(std::slice::from_ref(&received))
        .await
        .unwrap();
    assert!(
        eventually(30, || async { reporting_applied(p) >= before + 1.0 }).await,
        "the redelivery was consumed"
    );
    assert_eq!(
        unit_of().await.as_deref(),
        Some("sentinel"),
        "not folded again"
    );

    // A new event of the same application folds its row again.
    let sent = Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        kind: EventKind::SmsSent.as_str().into(),
        key: number.into(),
        payload: prost::Message::encode_to_vec(&pb::SmsSent {
            application_number: number.into(),
            sent_at: at(1_790_000_060),
            ..Default::default()
        }),
        headers: Default::default(),
    };
    p.bus.publish(&[sent]).await.unwrap();
    assert!(
        eventually(30, || async { unit_of().await.as_deref() == Some("") }).await,
        "a new event folds the row (the sentinel can be overwritten)"
    );
    n.stop_and_clean().await;
}

/// With `reporting.stale_ms`, an answer computed before the latest event is
/// served (counted `stale`); once it is a third of `stale_ms` old, one
/// request computes the fresh one in the background, which the next answers
/// give; an answer older than `stale_ms` is never served.
async fn a_busy_dashboard_is_served_a_recent_answer_while_a_fresh_one_is_computed(
    backend: Backend,
) {
    for (stale_ms, served_stale) in [(30_000, true), (1, false)] {
        let (mut s, _dir) = settings(backend);
        s.reporting.stale_ms = stale_ms;
        let n = TestNode::start(s).await;
        let p = n.platform();
        let mut c = n.reporting().await;
        let izmir = request(&Filter {
            province: 35,
            ..Default::default()
        });
        let before = c.get_totals(izmir.clone()).await.unwrap().into_inner();
        let generation = p.cache.counter("rpt:gen:35").await.unwrap();
        let mut req = submission(9_998);
        (req.province_code, req.district_code) = (35, 35001);
        n.intake().await.submit_application(req).await.unwrap();
        // The event is folded and committed: the province's generation moved.
        assert!(
            eventually(30, || async {
                p.cache.counter("rpt:gen:35").await.unwrap() > generation
            })
            .await
        );
        let stale =
            |p| acikkapi_testkit::metric(p, "acikkapi_report_cache_total", &["result=\"stale\""]);
        let stale_before = stale(p);
        let next = c.get_totals(izmir.clone()).await.unwrap().into_inner();
        if served_stale {
            assert_eq!(next, before, "the recent answer, at once");
            assert_eq!(stale(p), stale_before + 1.0);
            // Refreshed in the background from 10 s on; never older than 30 s.
            assert!(
                eventually(40, || {
                    let (mut c, izmir) = (c.clone(), izmir.clone());
                    async move {
                        c.get_totals(izmir).await.unwrap().into_inner().received
                            == before.received + 1
                    }
                })
                .await,
                "the background refresh's fresh answer follows"
            );
        } else {
            assert_eq!(
                next.received,
                before.received + 1,
                "too old to serve: fresh"
            );
            assert_eq!(stale(p), stale_before);
        }
        n.stop_and_clean().await;
    }
}
