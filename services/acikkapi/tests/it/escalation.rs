//! SLA escalation on both backends with a controllable clock: the test
//! says what time it is (`Platform::clock`, or the `now` a sweep is given),
//! so days of working time pass in milliseconds.

use acikkapi::testing::TestNode;
use acikkapi_escalation::{census, sweep};
use acikkapi_platform::Platform;
use acikkapi_platform::db;
use acikkapi_platform::service::Service;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, eventually, settings, submission};
use tokio_util::sync::CancellationToken;

fn ms(t: &Option<prost_types::Timestamp>) -> i64 {
    let t = t.as_ref().expect("a timestamp");
    t.seconds * 1000 + i64::from(t.nanos) / 1_000_000
}

async fn submit(n: &TestNode, i: u64) -> String {
    let number = n.submit(submission(i)).await;
    n.clock(&number).await;
    number
}

async fn sla(n: &TestNode, number: &str) -> pb::Sla {
    n.escalation()
        .await
        .get_sla(pb::GetSlaRequest {
            application_number: number.into(),
        })
        .await
        .unwrap()
        .into_inner()
}

/// (rung, superseded) of every claimed rung of the application's clocks.
async fn claims(p: &Platform, number: &str) -> Vec<(i64, bool)> {
    db!(&p.db, pool => {
        sqlx::query_as::<_, (i64, bool)>(
            "SELECT rung, superseded FROM sla_escalations WHERE clock_id LIKE $1 ORDER BY clock_id, rung",
        )
        .bind(format!("{number}:%"))
        .fetch_all(pool).await.expect("claims")
    })
}

/// ApplicationEscalated events the recording consumer applied for `number`.
async fn escalated_events(p: &Platform, number: &str) -> i64 {
    db!(&p.db, pool => {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM testkit_effects WHERE kind = 'ApplicationEscalated' AND key = $1",
        )
        .bind(number)
        .fetch_one(pool).await.expect("effects")
    })
}

async fn events_reach(p: &Platform, number: &str, n: i64) -> bool {
    eventually(20, || async move { escalated_events(p, number).await >= n }).await
        && escalated_events(p, number).await == n
}

/// A node whose sweeps the test runs itself.
async fn node_without_sweeper(backend: Backend) -> (TestNode, tempfile::TempDir) {
    let (mut s, dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    let n = TestNode::start(s).await;
    acikkapi_testkit::start_recording_consumer_of(
        n.platform(),
        "recorder",
        const { &[EventKind::ApplicationEscalated.as_str()] },
    )
    .await;
    (n, dir)
}

async fn each_rung_fires_exactly_once(backend: Backend) {
    let (n, _dir) = node_without_sweeper(backend).await;
    let p = n.platform();
    let number = submit(&n, 1).await;
    let before = sla(&n, &number).await;
    assert_eq!(before.steps.len(), 5, "the default ladder");
    assert_eq!(before.steps[0].target, "unit:il06-belediye");
    assert_eq!(before.steps[1].target, "kaymakam:6010");
    assert_eq!(before.steps[4].target, "ministry");
    for (i, step) in before.steps.iter().enumerate() {
        let due = ms(&step.due);
        sweep::sweep(p, due - 1).await.unwrap();
        assert_eq!(
            sla(&n, &number).await.rung_reached,
            i as u32,
            "rung {} early",
            i + 1
        );
        // Due: the sweep fires it; sweeping again at the same time does nothing.
        sweep::sweep(p, due).await.unwrap();
        sweep::sweep(p, due).await.unwrap();
        let now = sla(&n, &number).await;
        assert_eq!(now.rung_reached, i as u32 + 1);
        assert!(now.steps[i].fired_at.is_some(), "rung {} fired", i + 1);
    }
    let fired: Vec<(i64, bool)> = (1..=5).map(|r| (r, false)).collect();
    assert_eq!(claims(p, &number).await, fired);
    assert!(
        events_reach(p, &number, 5).await,
        "five ApplicationEscalated events"
    );
    // Nothing is left to fire: a sweep a month later adds only Law 3071's rung.
    let statutory = ms(&before.statutory_deadline);
    let later = acikkapi_domain::calendar::Calendar::builtin()
        .next_working(
            statutory + 40 * 86_400_000,
            acikkapi_domain::calendar::Arife::Morning,
        )
        .unwrap();
    sweep::sweep(p, later).await.unwrap();
    assert_eq!(claims(p, &number).await.len(), 6);
    assert!(events_reach(p, &number, 6).await);
    n.stop_and_clean().await;
}

async fn missed_rungs_fire_only_the_highest_after_a_restart(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    let n = TestNode::start(s.clone()).await;
    acikkapi_testkit::start_recording_consumer_of(
        n.platform(),
        "recorder",
        const { &[EventKind::ApplicationEscalated.as_str()] },
    )
    .await;
    let number = submit(&n, 2).await;
    let steps = sla(&n, &number).await.steps;
    n.stop().await;
    // Down until after rung 4 was due; the restarted node's sweeper catches up.
    s.escalation.sweep_interval_ms = 20;
    let n = TestNode::start(s).await;
    acikkapi_testkit::start_recording_consumer_of(
        n.platform(),
        "recorder",
        const { &[EventKind::ApplicationEscalated.as_str()] },
    )
    .await;
    n.platform().clock.set(ms(&steps[3].due));
    let p = n.platform();
    assert!(
        eventually(20, || async { sla(&n, &number).await.rung_reached == 4 }).await,
        "caught up"
    );
    assert!(
        events_reach(p, &number, 1).await,
        "one event, the highest rung"
    );
    // Rungs 1-3 stand in the history as superseded, not silently skipped.
    assert_eq!(
        claims(p, &number).await,
        vec![(1, true), (2, true), (3, true), (4, false)]
    );
    let after = sla(&n, &number).await;
    assert!(
        after.steps[..3]
            .iter()
            .all(|s| s.superseded && s.fired_at.is_none())
    );
    assert!(after.steps[3].fired_at.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(escalated_events(p, &number).await, 1, "and only once");
    n.stop_and_clean().await;
}

async fn two_replicas_fire_each_rung_once(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 5;
    s.escalation.sweep_batch = 3; // many small claims, to make the replicas meet
    let n = TestNode::start(s.clone()).await;
    acikkapi_testkit::start_recording_consumer_of(
        n.platform(),
        "recorder",
        const { &[EventKind::ApplicationEscalated.as_str()] },
    )
    .await;
    // The second replica: its own pool, its own sweeper, the same database.
    let shutdown = CancellationToken::new();
    let mut replica = Platform::connect(
        s.clone(),
        &[acikkapi_escalation::MIGRATIONS],
        shutdown.clone(),
    )
    .await
    .unwrap();
    replica.shutdown = shutdown.clone();
    let second = tokio::spawn(sweep::run(replica.clone()));
    let mut numbers = Vec::new();
    for i in 0..12 {
        numbers.push(submit(&n, 100 + i).await);
    }
    let mut steps = Vec::new();
    for number in &numbers {
        steps.push(sla(&n, number).await.steps);
    }
    for rung in 0..5 {
        // Both replicas' clocks pass the rung's latest due time together.
        let at = steps.iter().map(|s| ms(&s[rung].due)).max().unwrap();
        n.platform().clock.set(at);
        replica.clock.set(at);
        for number in &numbers {
            assert!(
                eventually(20, || async {
                    sla(&n, number).await.rung_reached == rung as u32 + 1
                })
                .await,
                "rung {} of {number}",
                rung + 1
            );
        }
    }
    for number in &numbers {
        let fired: Vec<(i64, bool)> = (1..=5).map(|r| (r, false)).collect();
        assert_eq!(claims(n.platform(), number).await, fired);
        assert!(
            events_reach(n.platform(), number, 5).await,
            "five events for {number}"
        );
    }
    shutdown.cancel();
    second.await.unwrap();
    n.stop_and_clean().await;
}

async fn a_note_does_not_move_the_deadline_and_a_closure_does(backend: Backend) {
    let (n, _dir) = node_without_sweeper(backend).await;
    let number = submit(&n, 3).await;
    let mut other = submission(4);
    other.province_code = 34;
    other.district_code = 34035;
    let istanbul = n
        .intake()
        .await
        .submit_application(other)
        .await
        .unwrap()
        .into_inner()
        .application_number;
    n.clock(&istanbul).await;
    let before = sla(&n, &number).await;
    let istanbul_before = sla(&n, &istanbul).await;

    n.intake()
        .await
        .add_note(pb::AddNoteRequest {
            application_number: number.clone(),
            author: "Masa 1".into(),
            text: "Başvurucu arandı.".into(),
        })
        .await
        .unwrap();
    assert!(
        eventually(20, || async {
            sla(&n, &number)
                .await
                .explanation
                .iter()
                .any(|l| l.reason.starts_with("note added"))
        })
        .await
    );
    let noted = sla(&n, &number).await;
    assert_eq!(
        noted.deadline, before.deadline,
        "a note never restarts the clock"
    );

    // Ankara closes for snow on the day the deadline falls: one working day later.
    let day = acikkapi_domain::calendar::Date::of_instant(ms(&before.deadline)).to_string();
    let mut e = n.escalation().await;
    e.add_calendar_day(pb::AddCalendarDayRequest {
        day: Some(pb::CalendarDay {
            date: day.clone(),
            name: "Kar nedeniyle idari izin".into(),
            half_day: false,
            province_code: 6,
            official: false,
        }),
    })
    .await
    .unwrap();
    let closed = sla(&n, &number).await;
    assert!(
        ms(&closed.deadline) > ms(&before.deadline),
        "re-derived at once"
    );
    let lines: Vec<String> = closed
        .explanation
        .iter()
        .map(|l| format!("{} {}", l.date, l.reason))
        .collect();
    assert!(
        lines.contains(&format!(
            "{day} Kar nedeniyle idari izin (province 6 closure): not counted"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.contains("added: deadline")),
        "{lines:#?}"
    );
    assert_eq!(
        sla(&n, &istanbul).await.deadline,
        istanbul_before.deadline,
        "another province's"
    );
    // The overdue list of Ankara at the old deadline no longer has it.
    n.platform().clock.set(ms(&before.deadline) + 1);
    let overdue = e
        .list_overdue(pb::ListOverdueRequest {
            scope: Some(pb::Scope {
                province_code: 6,
                ..Default::default()
            }),
            page: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!overdue.items.iter().any(|s| s.application_number == number));
    assert!(overdue.items.iter().all(|s| s.province_code == 6));

    e.remove_calendar_day(pb::RemoveCalendarDayRequest {
        date: day,
        province_code: 6,
    })
    .await
    .unwrap();
    assert_eq!(
        sla(&n, &number).await.deadline,
        before.deadline,
        "withdrawn, back"
    );
    let err = e
        .add_calendar_day(pb::AddCalendarDayRequest {
            day: Some(pb::CalendarDay {
                date: "2026-13-01".into(),
                name: "x".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("day.date"), "{}", err.message());
    n.stop_and_clean().await;
}

async fn pauses_conclusion_and_reopening(backend: Backend) {
    let (n, _dir) = node_without_sweeper(backend).await;
    let p = n.platform();
    let number = submit(&n, 5).await;
    let before = sla(&n, &number).await;
    let deadline = ms(&before.deadline);
    let mut e = n.escalation().await;
    p.clock.set(deadline - 86_400_000);
    let paused = e
        .pause_clock(pb::PauseClockRequest {
            application_number: number.clone(),
            reason: "Başvurucudan tapu bilgisi bekleniyor".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(paused.paused && paused.deadline.is_none());
    // While paused, the ladder waits: nothing fires at the old deadline.
    sweep::sweep(p, deadline + 1).await.unwrap();
    assert!(claims(p, &number).await.is_empty());
    p.clock.set(deadline);
    let resumed = e
        .resume_clock(pb::ResumeClockRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!resumed.paused);
    assert!(
        ms(&resumed.deadline) > deadline,
        "paused working time is added back"
    );
    assert!(resumed.explanation.iter().any(|l| {
        l.reason
            .starts_with("paused: Başvurucudan tapu bilgisi bekleniyor")
    }));
    let err = e
        .pause_clock(pb::PauseClockRequest {
            application_number: number.clone(),
            reason: " ".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().starts_with("reason"));

    // Conclusion stops the clock: nothing ever fires for it.
    p.clock.set(0);
    n.intake()
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.clone(),
            outcome: pb::Outcome::Positive as i32,
            explanation: "Talep karşılandı.".into(),
            alternatives: vec![],
        })
        .await
        .unwrap();
    assert!(
        eventually(20, || async {
            sla(&n, &number).await.concluded_at.is_some()
        })
        .await
    );
    sweep::sweep(p, deadline + 100 * 86_400_000).await.unwrap();
    assert!(claims(p, &number).await.is_empty());
    // Reopening starts a new clock, from the reopening.
    // (Once routing, too, has seen the conclusion.)
    assert!(
        eventually(20, || async {
            n.routing()
                .await
                .reopen_application(pb::ReopenApplicationRequest {
                    application_number: number.clone(),
                    reason: "Başvurucu itiraz etti.".into(),
                })
                .await
                .is_ok()
        })
        .await
    );
    assert!(eventually(20, || async { sla(&n, &number).await.round == 2 }).await);
    let again = sla(&n, &number).await;
    assert!(again.concluded_at.is_none() && again.rung_reached == 0);
    assert!(
        again.explanation[0]
            .reason
            .starts_with("reopened (round 2)")
    );
    n.stop_and_clean().await;
}

/// No routing service: the unit is unknown, so the unit's reminder goes
/// to the province desk and says so. People are not paged at night.
async fn an_unknown_target_goes_to_the_desk_in_working_hours(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    s.services = vec![Service::Intake, Service::Escalation];
    let n = TestNode::start(s).await;
    let p = n.platform();
    let number = n
        .intake()
        .await
        .submit_application(submission(6))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    assert!(
        n.clock_started(&number).await,
        "escalation started the clock"
    );
    let first = sla(&n, &number).await.steps[0].clone();
    assert_eq!(first.target, "desk:6");
    // 20:00 on the day the reminder is due: deferred to the next opening.
    let due = ms(&first.due);
    let day = acikkapi_domain::calendar::Date::of_instant(due);
    let night = day.at_minute(20 * 60);
    sweep::sweep(p, night).await.unwrap();
    assert!(
        claims(p, &number).await.is_empty(),
        "nobody is paged at 20:00"
    );
    let k = acikkapi_escalation::store::latest(&p.db, &number)
        .await
        .unwrap()
        .unwrap();
    let cal = acikkapi_domain::calendar::Calendar::builtin();
    let opening = cal
        .next_working(night, acikkapi_domain::calendar::Arife::Morning)
        .unwrap();
    assert_eq!(k.next_due_ms, Some(opening));
    sweep::sweep(p, opening).await.unwrap();
    let fired = sla(&n, &number).await.steps[0].clone();
    assert!(fired.fired_at.is_some());
    assert!(
        fired.reason.starts_with("target unknown: reminder"),
        "{}",
        fired.reason
    );
    n.stop_and_clean().await;
}

/// The kaymakam of 6010 has a phone in the registry: the deadline rung
/// pages them once (the unit's reminder before it was superseded and has
/// no phone), and the applicant's timeline says where it went.
async fn the_official_a_rung_names_gets_one_sms(backend: Backend) {
    let (n, _dir) = node_without_sweeper(backend).await;
    let p = n.platform();
    db!(&p.db, pool => {
        sqlx::query("UPDATE routing_units SET contacts = $1 WHERE institution = 'kaymakamlik' AND district = 6010")
            .bind(r#"[{"role":"kaymakam","name":"","phone":"0532 000 00 01","email":""}]"#)
            .execute(pool).await.expect("kaymakam's phone");
    });
    let number = submit(&n, 7).await;
    let steps = sla(&n, &number).await.steps;
    sweep::sweep(p, ms(&steps[1].due)).await.unwrap();
    sweep::sweep(p, ms(&steps[1].due)).await.unwrap();
    let m = n.sms_in(&number, "escalation_overdue", "sent").await;
    assert!(
        m.body.contains("süresi içinde sonuçlandırılmadı"),
        "{}",
        m.body
    );
    // To the kaymakam's phone, sealed at rest like every recipient.
    assert!(m.masked_recipient.ends_with("01"), "{}", m.masked_recipient);
    assert!(
        !m.recipient.contains("5320000001"),
        "sealed: {}",
        m.recipient
    );
    let phone = p.vault.open(&m.id, "phone", &m.recipient).expect("opens");
    assert_eq!(phone, "+905320000001");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sms = n.sms_of(&number).await;
    assert_eq!(
        sms.iter()
            .filter(|m| m.template.starts_with("escalation"))
            .count(),
        1
    );
    let history: Vec<String> = db!(&p.db, pool => {
        sqlx::query_scalar("SELECT description FROM application_history WHERE number = $1 ORDER BY id")
            .bind(&number).fetch_all(pool).await.expect("history")
    });
    assert!(
        history
            .iter()
            .any(|l| l
                == "Başvurunuz süresi içinde sonuçlandırılmadı; Kaymakamlık bilgisine sunuldu."),
        "{history:#?}"
    );
    n.stop_and_clean().await;
}

/// Pause reasons are staff's free text: the retention run's erasure
/// reaches them too.
async fn erasure_reaches_pause_reasons(backend: Backend) {
    use prost::Message;
    let (n, _dir) = node_without_sweeper(backend).await;
    let p = n.platform();
    let number = submit(&n, 8).await;
    n.escalation()
        .await
        .pause_clock(pb::PauseClockRequest {
            application_number: number.clone(),
            reason: "Gülşen Hanım'dan tapu bekleniyor".into(),
        })
        .await
        .unwrap();
    let erased = pb::PersonalDataErased {
        application_number: number.clone(),
        erased_at: None,
    };
    let mut t = p.db.begin().await.unwrap();
    t.insert_outbox(&[acikkapi_platform::store::OutboxEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        kind: EventKind::PersonalDataErased.as_str().into(),
        key: number.clone(),
        payload: erased.encode_to_vec(),
        headers: Default::default(),
    }])
    .await
    .unwrap();
    t.commit().await.unwrap();
    assert!(
        eventually(20, || async {
            let lines = sla(&n, &number).await.explanation;
            lines.iter().any(|l| {
                l.reason
                    .starts_with("paused: Kişisel veriler saklama süresi sonunda silindi.")
            }) && !lines.iter().any(|l| l.reason.contains("Gülşen"))
        })
        .await
    );
    n.stop_and_clean().await;
}

/// The census behind the dashboard's "open and overdue by province":
/// concluded applications leave it, a paused clock is open but never
/// overdue, and the gauges carry every province (zero where none is open).
async fn census_counts_open_and_overdue_by_province(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.escalation.sweep_interval_ms = 0;
    s.escalation.census_interval_ms = 0;
    let n = TestNode::start(s).await;
    let p = n.platform();
    let mut ankara = Vec::new();
    for i in 0..3 {
        ankara.push(submit(&n, 40 + i).await);
    }
    let mut istanbul = Vec::new();
    for i in 0..2 {
        let mut r = submission(50 + i);
        r.province_code = 34;
        r.district_code = 34035;
        let number = n.submit(r).await;
        n.clock(&number).await;
        istanbul.push(number);
    }
    // Submitted within working hours, each deadline is its own to the
    // millisecond (outside them all start at the next opening): before the
    // first nothing is overdue, after the last every open running clock is.
    let (mut first, mut last) = (i64::MAX, 0);
    for number in ankara.iter().chain(&istanbul) {
        let deadline = ms(&sla(&n, number).await.deadline);
        (first, last) = (first.min(deadline), last.max(deadline));
    }
    let count = |open, overdue| census::Count { open, overdue };
    let before = census::count(p, first - 1).await.unwrap();
    assert_eq!(before[&6], count(3, 0));
    assert_eq!(before[&34], count(2, 0));
    assert!(!before.contains_key(&1));

    // One Ankara application concluded, one İstanbul clock paused.
    n.conclude(&ankara[0]).await;
    assert!(
        eventually(20, || async {
            sla(&n, &ankara[0]).await.concluded_at.is_some()
        })
        .await
    );
    n.escalation()
        .await
        .pause_clock(pb::PauseClockRequest {
            application_number: istanbul[0].clone(),
            reason: "Başvurucudan belge bekleniyor".into(),
        })
        .await
        .unwrap();

    let after = last + 1;
    let counts = census::count(p, after).await.unwrap();
    assert_eq!(counts[&6], count(2, 2));
    assert_eq!(counts[&34], count(2, 1));
    census::publish(p, after).await.unwrap();
    let gauge = |name: &str, province: &str| {
        acikkapi_testkit::metric(p, name, &[&format!("province=\"{province}\"")])
    };
    assert_eq!(gauge("acikkapi_applications_open{", "6"), 2.0);
    assert_eq!(gauge("acikkapi_applications_overdue{", "6"), 2.0);
    assert_eq!(gauge("acikkapi_applications_open{", "34"), 2.0);
    assert_eq!(gauge("acikkapi_applications_overdue{", "34"), 1.0);
    let exported = p.metrics.encode();
    let zeros = exported
        .lines()
        .filter(|l| l.starts_with("acikkapi_applications_open{") && l.ends_with(" 0"))
        .count();
    assert_eq!(zeros, 79, "every other province is exported, at zero");
    assert!(exported.contains(r#"province="34",name="İstanbul""#));
    n.stop_and_clean().await;
}

/// The deadline routing keeps on the assignment (for the inbox's order).
async fn routing_deadline(p: &Platform, number: &str) -> Option<i64> {
    acikkapi_routing::assignments::fetch(&p.db, number)
        .await
        .expect("read")
        .expect("assigned")
        .deadline_ms
}

/// Routing keeps a round's deadline as escalation announces it: the
/// newest announcement wins whatever order they arrive in, another
/// round's is not applied, and a clock from before announcements existed
/// is announced once.
async fn routing_keeps_the_newest_deadline_announced(backend: Backend) {
    use acikkapi_routing::assignments::{DeadlineApplied, set_deadline};
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let number = n.submit(submission(1)).await;
    n.routed(&number).await;
    let p = n.platform();
    let clock = n.clock(&number).await;
    assert!(clock.deadline_ms.is_some());
    assert!(
        eventually(20, || async {
            routing_deadline(p, &number).await == clock.deadline_ms
        })
        .await,
        "routing has {:?}, escalation {:?}",
        routing_deadline(p, &number).await,
        clock.deadline_ms
    );
    // Announcements arriving out of order: the higher seq stays.
    let mut t = p.db.begin().await.unwrap();
    let later = clock.deadline_seq + 5;
    let cases = [
        (1, Some(1_000), later, DeadlineApplied::Applied),
        (1, Some(2_000), later - 1, DeadlineApplied::Stale),
        (1, Some(2_000), later, DeadlineApplied::Stale),
        (2, Some(3_000), 1, DeadlineApplied::NotYet),
    ];
    for (round, deadline, seq, want) in cases {
        let got = set_deadline(&mut t, &number, round, deadline, seq, 0)
            .await
            .unwrap();
        assert_eq!(got, want, "round {round}, seq {seq}");
    }
    t.commit().await.unwrap();
    assert_eq!(routing_deadline(p, &number).await, Some(1_000));
    // A clock from before announcements: never announced, and routing
    // without a deadline for it.
    db!(&p.db, pool => {
        sqlx::query("UPDATE sla_clocks SET announced_ms = NULL, deadline_seq = 0 WHERE number = $1")
            .bind(&number).execute(pool).await.unwrap();
        sqlx::query("UPDATE routing_assignments SET due_ms = $1, due_seq = 0 WHERE number = $2")
            .bind(acikkapi_routing::assignments::NO_DEADLINE).bind(&number).execute(pool).await.unwrap();
    });
    assert_eq!(routing_deadline(p, &number).await, None);
    let announce = || acikkapi_escalation::store::announce_unannounced(&p.db, 500);
    assert_eq!(announce().await.unwrap(), 1);
    assert_eq!(announce().await.unwrap(), 0, "announced once");
    assert!(
        eventually(20, || async {
            routing_deadline(p, &number).await == clock.deadline_ms
        })
        .await,
        "routing has {:?} after the announcement",
        routing_deadline(p, &number).await
    );
    n.stop_and_clean().await;
}

backend_tests!(
    routing_keeps_the_newest_deadline_announced,
    census_counts_open_and_overdue_by_province,
    erasure_reaches_pause_reasons,
    the_official_a_rung_names_gets_one_sms,
    each_rung_fires_exactly_once,
    missed_rungs_fire_only_the_highest_after_a_restart,
    two_replicas_fire_each_rung_once,
    a_note_does_not_move_the_deadline_and_a_closure_does,
    pauses_conclusion_and_reopening,
    an_unknown_target_goes_to_the_desk_in_working_hours,
);
