//! Routing on both backends: the most specific rule wins, no match goes
//! to the desk, an event delivered twice assigns once, transfer history is
//! complete, a rule change is seen by another replica's next decision, and
//! the whole path from submission to the citizen's view of the outcome.

use acikkapi::testing::TestNode;
use acikkapi_platform::auth::Role::*;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, count, eventually, settings, submission};
use tonic::Code;

fn explain(topic: &str, type_code: &str, province: u32, district: u32) -> pb::ExplainRouteRequest {
    pb::ExplainRouteRequest {
        topic_code: topic.into(),
        type_code: type_code.into(),
        province_code: province,
        district_code: district,
    }
}

fn rule(topic: &str, type_code: &str, province: u32, district: u32) -> pb::RoutingRule {
    pb::RoutingRule {
        topic_code: topic.into(),
        type_code: type_code.into(),
        province_code: province,
        district_code: district,
        ..Default::default()
    }
}

fn of(topic: &str, type_code: &str, province: u32, district: u32) -> pb::SubmitApplicationRequest {
    let mut r = submission(u64::from(province) * 100_000 + u64::from(district));
    r.topic_code = topic.into();
    r.type_code = type_code.into();
    r.province_code = province;
    r.district_code = district;
    r
}

async fn the_most_specific_rule_wins_and_no_match_goes_to_the_desk(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut r = n.routing().await;
    let mut unit_of = async |req: pb::ExplainRouteRequest| {
        let e = r.explain_route(req).await.unwrap().into_inner();
        (
            e.unit.unwrap().id,
            e.rule.map(|x| x.id).unwrap_or_default(),
            e.explanation,
        )
    };
    // The seeded national rule: education goes to the province's directorate.
    assert_eq!(
        unit_of(explain("H05", "H05-01", 6, 6010)).await.0,
        "il06-meb"
    );

    let mut admin = n.routing().await;
    let mut upsert = async |x: pb::RoutingRule| {
        admin
            .upsert_rule(pb::UpsertRuleRequest { rule: Some(x) })
            .await
            .map(|r| r.into_inner())
    };
    let provincial = upsert(pb::RoutingRule {
        unit_id: "il06-ashb".into(),
        ..rule("H05", "", 6, 0)
    })
    .await
    .unwrap();
    let district = upsert(pb::RoutingRule {
        institution: "kaymakamlik".into(),
        ..rule("H05", "", 6, 6010)
    })
    .await
    .unwrap();
    let national_type = upsert(pb::RoutingRule {
        unit_id: "il34-gsb".into(),
        ..rule("H05", "H05-01", 0, 0)
    })
    .await
    .unwrap();
    // District beats province beats nation; place before type.
    let got = unit_of(explain("H05", "H05-01", 6, 6010)).await;
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        ("ilce6010-kaymakamlik", district.id.as_str())
    );
    let got = unit_of(explain("H05", "H05-01", 6, 6011)).await;
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        ("il06-ashb", provincial.id.as_str())
    );
    let got = unit_of(explain("H05", "H05-01", 34, 0)).await;
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        ("il34-gsb", national_type.id.as_str())
    );
    let got = unit_of(explain("H05", "H05-02", 34, 0)).await;
    assert_eq!(
        (got.0.as_str(), got.1.as_str()),
        ("il34-meb", "national-h05")
    );

    // A tie is refused when defined.
    let tie = upsert(pb::RoutingRule {
        unit_id: "il06-meb".into(),
        ..rule("H05", "", 6, 0)
    })
    .await
    .expect_err("tie");
    assert_eq!(tie.code(), Code::AlreadyExists);
    assert!(tie.message().contains(&provincial.id), "{}", tie.message());

    // Versioned: a change bumps the version; a stale write is refused.
    let changed = upsert(pb::RoutingRule {
        id: provincial.id.clone(),
        version: 1,
        unit_id: "il06-saglik".into(),
        ..rule("H05", "", 6, 0)
    })
    .await
    .unwrap();
    assert_eq!(changed.version, 2);
    let stale = upsert(pb::RoutingRule {
        id: provincial.id.clone(),
        version: 1,
        unit_id: "il06-meb".into(),
        ..rule("H05", "", 6, 0)
    })
    .await
    .expect_err("stale");
    assert_eq!(stale.code(), Code::Aborted);
    // …and auditable: who, when, the previous value.
    let trail = n
        .audit()
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            target: provincial.id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[0].actor, "test-ministry-officer");
    assert!(
        trail[0].detail.starts_with("v1 → v2; previous: ")
            && trail[0].detail.contains("unit il06-ashb"),
        "{}",
        trail[0].detail
    );

    // No rule for energy (H16): the governorship desk, by explanation and in fact.
    let (unit, rule_id, why) = unit_of(explain("H16", "H16-01", 6, 6010)).await;
    assert_eq!((unit.as_str(), rule_id.as_str()), ("il06-valilik", ""));
    assert!(why.starts_with("no rule for H16-01"), "{why}");
    let number = n
        .intake()
        .await
        .submit_application(of("H16", "H16-01", 6, 6010))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    assert_eq!(n.routed(&number).await, "il06-valilik");
    n.stop_and_clean().await;
}

async fn an_event_delivered_twice_assigns_once(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false; // we publish by hand
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    let number = n
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    let received = p.db.outbox_peek(10).await.unwrap();
    assert_eq!(received.len(), 1);
    // Delivered, then delivered again (the relay died before deleting it).
    acikkapi_platform::relay::publish(&p, &received)
        .await
        .unwrap();
    acikkapi_platform::relay::publish(&p, &received)
        .await
        .unwrap();
    // And once more as a new event about the same application (a replay).
    let mut replay = received[0].clone();
    replay.envelope.id = format!("{}-replay", replay.envelope.id);
    acikkapi_platform::relay::publish(&p, &[replay])
        .await
        .unwrap();
    let routed_events = || {
        let p = p.clone();
        async move {
            acikkapi_platform::db!(&p.db, pool => {
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM outbox WHERE kind = 'ApplicationRouted'")
                    .fetch_one(pool).await.unwrap()
            })
        }
    };
    // All three deliveries are handled (consumer inbox: two event ids)…
    assert!(
        eventually(20, || {
            let p = p.clone();
            async move {
                acikkapi_platform::db!(&p.db, pool => {
                    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM inbox WHERE consumer = 'routing'")
                        .fetch_one(pool).await.unwrap()
                }) == 2
            }
        })
        .await
    );
    // …and the application was assigned once, with one event.
    let a = acikkapi_routing::assignments::fetch(&p.db, &number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.unit_id, "il06-belediye");
    assert_eq!(count(&p, "routing_assignments").await, 1);
    assert_eq!(count(&p, "routing_hops").await, 1);
    assert_eq!(routed_events().await, 1);
    n.stop_and_clean().await;
}

async fn transfer_history_is_complete(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let number = n
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    assert_eq!(n.routed(&number).await, "il06-belediye");
    let desk = n.token(DeskOfficer, 6, 0, "");
    let unit = n.token(UnitOfficer, 6, 0, "il06-belediye");
    let transfer = |to: &str, reason: &str| pb::TransferApplicationRequest {
        application_number: number.clone(),
        to_unit_id: to.into(),
        reason: reason.into(),
    };
    // The unit says it is not theirs; the desk sends it on.
    n.routing_as(Some(&unit))
        .await
        .transfer_application(transfer("il06-csb", "Çevre kirliliği; belediyenin değil."))
        .await
        .unwrap();
    let mut d = n.routing_as(Some(&desk)).await;
    d.transfer_application(transfer("il06-meb", "Okul bahçesi."))
        .await
        .unwrap();
    // Refused: a closed unit, another province without the scope, the unit it is at.
    n.routing()
        .await
        .upsert_unit(pb::UpsertUnitRequest {
            unit: Some(pb::Unit {
                id: "il06-kapali".into(),
                name: "Kapatılmış Müdürlük".into(),
                r#type: pb::UnitType::ProvincialDirectorate as i32,
                province_code: 6,
                institution: "kapali".into(),
                closed: true,
                ..Default::default()
            }),
        })
        .await
        .unwrap();
    let closed = d
        .transfer_application(transfer("il06-kapali", "Deneme."))
        .await
        .unwrap_err();
    assert_eq!(
        closed.code(),
        Code::FailedPrecondition,
        "{}",
        closed.message()
    );
    let across = d
        .transfer_application(transfer("il34-meb", "Deneme."))
        .await
        .unwrap_err();
    assert_eq!(
        across.code(),
        Code::PermissionDenied,
        "{}",
        across.message()
    );
    assert!(across.message().starts_with("to_unit_id: "));
    let same = d
        .transfer_application(transfer("il06-meb", "Deneme."))
        .await
        .unwrap_err();
    assert_eq!(same.code(), Code::InvalidArgument);
    // The Ministry centre may send it across provinces.
    n.routing()
        .await
        .transfer_application(transfer("il34-meb", "İstanbul'daki okul."))
        .await
        .unwrap();

    let hops: Vec<(String, String, String)> =
        acikkapi_routing::assignments::hops(&n.platform().db, &number)
            .await
            .unwrap()
            .into_iter()
            .map(|(kind, from, to, _, _)| (kind, from, to))
            .collect();
    let h = |k: &str, f: &str, t: &str| (k.to_owned(), f.to_owned(), t.to_owned());
    assert_eq!(
        hops,
        [
            h("routed", "", "il06-belediye"),
            h("transferred", "il06-belediye", "il06-csb"),
            h("transferred", "il06-csb", "il06-meb"),
            h("transferred", "il06-meb", "il34-meb"),
        ]
    );
    // Intake follows: the unit, and one timeline line per hop.
    let p = n.platform().clone();
    let mut c = n.intake().await;
    assert!(
        eventually(20, || {
            let mut c = c.clone();
            let number = number.clone();
            async move {
                let app = c
                    .get_application(pb::GetApplicationRequest {
                        application_number: number,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                app.unit_id == "il34-meb"
                    && app
                        .timeline
                        .iter()
                        .filter(|t| t.description.ends_with("birimine aktarıldı."))
                        .count()
                        == 3
            }
        })
        .await
    );
    let app = c
        .get_application(pb::GetApplicationRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let lines: Vec<_> = app
        .timeline
        .iter()
        .map(|t| t.description.as_str())
        .collect();
    assert_eq!(
        lines,
        [
            "Başvurunuz alındı",
            "Başvurunuz Ankara Belediyesi birimine yönlendirildi.",
            "Başvurunuz Ankara Çevre, Şehircilik ve İklim Değişikliği İl Müdürlüğü birimine aktarıldı.",
            "Başvurunuz Ankara İl Milli Eğitim Müdürlüğü birimine aktarıldı.",
            "Başvurunuz İstanbul İl Milli Eğitim Müdürlüğü birimine aktarıldı.",
        ]
    );
    let transfers = acikkapi_platform::db!(&p.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_log WHERE action = 'application.transfer' AND target = $1")
            .bind(&number).fetch_one(pool).await.unwrap()
    });
    assert_eq!(transfers, 3);
    n.stop_and_clean().await;
}

/// Submission to the citizen's view of the outcome, with a reopening.
async fn submit_route_respond_conclude_track(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let portal = n.token(ChannelService, 0, 0, "");
    let res = n
        .intake_as(Some(&portal))
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner();
    let number = res.application_number.clone();
    assert_eq!(n.routed(&number).await, "il06-belediye");

    // The unit finds it in its inbox and answers.
    let unit = n.token(UnitOfficer, 6, 0, "il06-belediye");
    let mut u = n.routing_as(Some(&unit)).await;
    let inbox = u
        .list_inbox(pb::ListInboxRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(
        inbox
            .iter()
            .map(|i| i.application_number.as_str())
            .collect::<Vec<_>>(),
        [number.as_str()]
    );
    let respond = |round_text: &str| pb::RespondToApplicationRequest {
        application_number: number.clone(),
        unit_id: "il06-belediye".into(),
        text: round_text.into(),
        proposed_outcome: pb::Outcome::Positive as i32,
        alternatives: vec![],
    };
    u.respond_to_application(respond("Kaldırım 15 gün içinde onarılacak."))
        .await
        .unwrap();
    let twice = u
        .respond_to_application(respond("Bir kez daha cevap verilemez."))
        .await
        .unwrap_err();
    assert_eq!(twice.code(), Code::FailedPrecondition);
    assert!(
        u.list_inbox(pb::ListInboxRequest::default())
            .await
            .unwrap()
            .into_inner()
            .items
            .is_empty()
    );

    let track = || {
        let c = n.intake_as(None);
        let req = pb::TrackApplicationRequest {
            application_number: number.clone(),
            tracking_code: res.tracking_code.clone(),
        };
        async move { c.await.track_application(req).await.unwrap().into_inner() }
    };
    let status_is = |want: pb::Status| {
        let p = n.platform().clone();
        let number = number.clone();
        async move {
            eventually(20, || {
                let (p, number) = (p.clone(), number.clone());
                async move {
                    acikkapi_platform::db!(&p.db, pool => {
                        sqlx::query_scalar::<_, i32>("SELECT status FROM applications WHERE number = $1")
                            .bind(&number).fetch_one(pool).await.unwrap()
                    }) == want as i32
                }
            })
            .await
        }
    };
    assert!(status_is(pb::Status::Responded).await);

    // The desk evaluates and concludes; the citizen sees the outcome.
    let desk = n.token(DeskOfficer, 6, 0, "");
    n.intake_as(Some(&desk))
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.clone(),
            outcome: pb::Outcome::Positive as i32,
            explanation: "Kaldırımınız onarılacaktır.".into(),
            alternatives: vec![],
        })
        .await
        .unwrap();
    let seen = track().await;
    assert_eq!(seen.status, pb::Status::Concluded as i32);
    assert_eq!(seen.outcome, pb::Outcome::Positive as i32);
    let lines: Vec<_> = seen
        .timeline
        .iter()
        .map(|t| (t.status, t.description.clone()))
        .collect();
    assert_eq!(
        lines,
        [
            (1, "Başvurunuz alındı".to_owned()),
            (
                2,
                "Başvurunuz Ankara Belediyesi birimine yönlendirildi.".to_owned()
            ),
            (
                3,
                "İlgili birim cevap verdi; başvurunuz değerlendiriliyor.".to_owned()
            ),
            (4, "Kaldırımınız onarılacaktır.".to_owned()),
        ]
    );

    // Not satisfied: the desk reopens; the unit answers a second round.
    let p = n.platform().clone();
    assert!(
        eventually(20, || {
            let (p, number) = (p.clone(), number.clone());
            async move {
                acikkapi_routing::assignments::fetch(&p.db, &number)
                    .await
                    .unwrap()
                    .is_some_and(|a| a.status == pb::Status::Concluded as i32)
            }
        })
        .await
    );
    n.routing_as(Some(&desk))
        .await
        .reopen_application(pb::ReopenApplicationRequest {
            application_number: number.clone(),
            reason: "Onarım yapılmadı.".into(),
        })
        .await
        .unwrap();
    assert!(status_is(pb::Status::Reopened).await);
    let again = u
        .list_inbox(pb::ListInboxRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!((again.len(), again[0].round), (1, 2));
    u.respond_to_application(respond("Onarım bu hafta tamamlandı."))
        .await
        .unwrap();
    assert!(status_is(pb::Status::Responded).await);
    let rounds = acikkapi_platform::db!(&p.db, pool => {
        sqlx::query_scalar::<_, i64>("SELECT round FROM routing_responses WHERE number = $1 ORDER BY round")
            .bind(&number).fetch_all(pool).await.unwrap()
    });
    assert_eq!(rounds, [1, 2]);
    let seen = track().await;
    assert_eq!(seen.timeline.len(), 6, "both rounds are in the timeline");
    assert_eq!(
        seen.timeline[4].description,
        "Başvurunuz yeniden incelenmek üzere açıldı."
    );
    n.stop_and_clean().await;
}

async fn reclassification_keeps_the_original_and_routing_follows(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let number = n
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    assert_eq!(n.routed(&number).await, "il06-belediye");
    let desk = n.token(DeskOfficer, 6, 0, "");
    n.routing_as(Some(&desk))
        .await
        .reclassify_application(pb::ReclassifyApplicationRequest {
            application_number: number.clone(),
            topic_code: "H05".into(),
            type_code: "H05-01".into(),
            reason: "Okul önündeki kaldırım; okul idaresi.".into(),
        })
        .await
        .unwrap();
    let mut c = n.intake().await;
    assert!(
        eventually(20, || {
            let mut c = c.clone();
            let number = number.clone();
            async move {
                let a = c
                    .get_application(pb::GetApplicationRequest {
                        application_number: number,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                a.type_code == "H05-01" && a.unit_id == "il06-meb"
            }
        })
        .await
    );
    let a = c
        .get_application(pb::GetApplicationRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(a.topic_code, "H05");
    assert!(
        a.timeline
            .iter()
            .any(|t| t.description == "Başvurunuzun türü düzeltildi (H07-01 → H05-01); Ankara İl Milli Eğitim Müdürlüğü birimine yönlendirildi."),
        "the original stays in the history: {:?}",
        a.timeline
    );
    let hops = acikkapi_routing::assignments::hops(&n.platform().db, &number)
        .await
        .unwrap();
    assert_eq!(hops.len(), 2);
    assert_eq!(
        (hops[1].0.as_str(), hops[1].2.as_str(), hops[1].3.as_str()),
        ("reclassified", "il06-meb", "national-h05")
    );
    n.stop_and_clean().await;
}

/// The registry through gRPC: add, change, close; a province never loses
/// its last open desk; a closed unit gets nothing new.
async fn units_are_added_changed_and_closed(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut r = n.routing().await;
    let seeded = r
        .list_units(pb::ListUnitsRequest {
            scope: Some(pb::Scope {
                province_code: 6,
                ..Default::default()
            }),
            page: Some(pb::PageRequest {
                page_size: 1000,
                page_token: String::new(),
            }),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .units;
    // Ankara: the desk, 16 institutions, and a kaymakamlık per district.
    let districts = acikkapi_domain::catalog::Catalog::builtin()
        .districts_of(6)
        .count();
    assert_eq!(seeded.len(), 17 + districts);
    // Paged by ten: the same units, in id order, none twice.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = r
            .list_units(pb::ListUnitsRequest {
                scope: Some(pb::Scope {
                    province_code: 6,
                    ..Default::default()
                }),
                page: Some(pb::PageRequest {
                    page_size: 10,
                    page_token: token,
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        assert!(page.units.len() <= 10);
        paged.extend(page.units.into_iter().map(|u| u.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut ids: Vec<String> = seeded.iter().map(|u| u.id.clone()).collect();
    ids.sort();
    assert_eq!(paged, ids);
    let desk = seeded
        .iter()
        .find(|u| u.id == "il06-valilik")
        .unwrap()
        .clone();
    assert_eq!(
        desk.contacts
            .iter()
            .map(|c| c.role.as_str())
            .collect::<Vec<_>>(),
        ["desk", "deputy_governor", "governor"]
    );

    let mut admin = n.routing().await;
    let mut upsert = async |u: pb::Unit| {
        admin
            .upsert_unit(pb::UpsertUnitRequest { unit: Some(u) })
            .await
    };
    let closing_the_desk = upsert(pb::Unit {
        closed: true,
        ..desk.clone()
    })
    .await
    .unwrap_err();
    assert_eq!(closing_the_desk.code(), Code::FailedPrecondition);
    assert!(closing_the_desk.message().starts_with("unit.closed: "));
    let bad = upsert(pb::Unit {
        province_code: 99,
        ..desk.clone()
    })
    .await
    .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().starts_with("unit: province_code: "),
        "{}",
        bad.message()
    );

    // A second desk opens; then the first may close, and the desk is the new one.
    upsert(pb::Unit {
        id: "il06-valilik-2".into(),
        name: "Ankara Valiliği Açık Kapı Bürosu (Ulus)".into(),
        contacts: vec![pb::Contact {
            role: "desk".into(),
            name: "Masa".into(),
            phone: "0312 000 00 00".into(),
            email: String::new(),
        }],
        ..desk.clone()
    })
    .await
    .unwrap();
    upsert(pb::Unit {
        closed: true,
        ..desk.clone()
    })
    .await
    .unwrap();
    let to = r
        .explain_route(explain("H16", "H16-01", 6, 0))
        .await
        .unwrap()
        .into_inner()
        .unit
        .unwrap();
    assert_eq!(to.id, "il06-valilik-2");
    // Closing a unit a rule names sends its applications to the desk.
    upsert(pb::Unit {
        closed: true,
        ..seeded.iter().find(|u| u.id == "il06-meb").unwrap().clone()
    })
    .await
    .unwrap();
    let e = r
        .explain_route(explain("H05", "H05-01", 6, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(e.unit.unwrap().id, "il06-valilik-2");
    assert!(
        e.explanation.contains("names no open unit"),
        "{}",
        e.explanation
    );
    n.stop_and_clean().await;
}

/// Retention reaches routing's copies: the unit's answer and the staff's
/// reasons are erased with the applicant's data; the hops stay.
async fn retention_erases_the_answers_and_reasons(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.retention.personal_data_days = 1;
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    let number = n
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    assert_eq!(n.routed(&number).await, "il06-belediye");
    let mut r = n.routing().await;
    r.transfer_application(pb::TransferApplicationRequest {
        application_number: number.clone(),
        to_unit_id: "il06-csb".into(),
        reason: "Ayşe Hanım çevre kirliliğini bildirdi.".into(),
    })
    .await
    .unwrap();
    r.respond_to_application(pb::RespondToApplicationRequest {
        application_number: number.clone(),
        unit_id: "il06-csb".into(),
        text: "Ayşe Yılmaz'ın evinin önündeki atık kaldırıldı.".into(),
        proposed_outcome: pb::Outcome::Positive as i32,
        alternatives: vec![],
    })
    .await
    .unwrap();
    n.intake()
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.clone(),
            outcome: pb::Outcome::Positive as i32,
            explanation: "Atık kaldırıldı.".into(),
            alternatives: vec![],
        })
        .await
        .unwrap();
    acikkapi_platform::db!(&p.db, pool => {
        sqlx::query("UPDATE applications SET concluded_ms = concluded_ms - 2 * 86400000 WHERE number = $1")
            .bind(&number).execute(pool).await.unwrap();
    });
    let report = acikkapi_intake::retention::run(&p, acikkapi_platform::store::now_ms(), false)
        .await
        .unwrap();
    assert_eq!(report.erased, 1);
    let texts = || {
        let (p, number) = (p.clone(), number.clone());
        async move {
            acikkapi_platform::db!(&p.db, pool => {
                let answers: Vec<String> = sqlx::query_scalar("SELECT body FROM routing_responses WHERE number = $1")
                    .bind(&number).fetch_all(pool).await.unwrap();
                let reasons: Vec<String> = sqlx::query_scalar("SELECT reason FROM routing_hops WHERE number = $1 AND kind = 'transferred'")
                    .bind(&number).fetch_all(pool).await.unwrap();
                (answers, reasons)
            })
        }
    };
    assert!(
        eventually(20, || {
            let texts = texts();
            async move {
                let (a, r) = texts.await;
                a == [acikkapi_routing::ERASED_TEXT] && r == [acikkapi_routing::ERASED_TEXT]
            }
        })
        .await,
        "{:?}",
        texts().await
    );
    assert_eq!(
        acikkapi_routing::assignments::hops(&p.db, &number)
            .await
            .unwrap()
            .len(),
        2
    );
    n.stop_and_clean().await;
}

/// Two replicas on one store (one PostgreSQL; or one SQLite file, each
/// node with its own in-process bus): a rule changed through one is used by
/// the other's very next decision, and by the assignment of the next
/// application whichever replica's consumer takes it.
async fn a_rule_change_on_one_replica_is_seen_by_the_next_decision_of_another(backend: Backend) {
    let (s, _dir) = settings(backend);
    let a = TestNode::start(s.clone()).await;
    let b = TestNode::start(s).await;
    let ask = explain("H05", "H05-01", 6, 6010);
    let mut ra = a.routing().await;
    let before = ra.explain_route(ask.clone()).await.unwrap().into_inner();
    assert_eq!(before.unit.unwrap().id, "il06-meb");
    b.routing()
        .await
        .upsert_rule(pb::UpsertRuleRequest {
            rule: Some(pb::RoutingRule {
                unit_id: "il06-ashb".into(),
                ..rule("H05", "", 6, 0)
            }),
        })
        .await
        .unwrap();
    let after = ra.explain_route(ask).await.unwrap().into_inner();
    assert_eq!(after.unit.unwrap().id, "il06-ashb");
    for i in 0..4 {
        let number = a
            .intake()
            .await
            .submit_application(pb::SubmitApplicationRequest {
                topic_code: "H05".into(),
                type_code: "H05-01".into(),
                ..submission(i)
            })
            .await
            .unwrap()
            .into_inner()
            .application_number;
        assert_eq!(a.routed(&number).await, "il06-ashb");
    }
    a.stop().await;
    b.stop_and_clean().await;
}

backend_tests!(
    the_most_specific_rule_wins_and_no_match_goes_to_the_desk,
    an_event_delivered_twice_assigns_once,
    transfer_history_is_complete,
    submit_route_respond_conclude_track,
    reclassification_keeps_the_original_and_routing_follows,
    retention_erases_the_answers_and_reasons,
    units_are_added_changed_and_closed,
    a_rule_change_on_one_replica_is_seen_by_the_next_decision_of_another,
    replicas_starting_at_once_seed_the_registry_once,
);

/// The replicas of routing's Deployment start at once on an empty store:
/// each seeds the default registry if there is none. Exactly one does,
/// and none fails (a failure exits the pod, as `REPLICAS=2` showed).
async fn replicas_starting_at_once_seed_the_registry_once(backend: Backend) {
    use acikkapi_platform::Platform;
    let (s, _dir) = settings(backend);
    let mut replicas = Vec::new();
    for _ in 0..3 {
        replicas.push(
            Platform::connect(
                s.clone(),
                &[acikkapi_routing::MIGRATIONS],
                tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap(),
        );
    }
    let catalog = acikkapi_domain::catalog::Catalog::builtin();
    let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(replicas.len()));
    let seeds = replicas.iter().map(|p| {
        let (db, barrier) = (p.db.clone(), barrier.clone());
        tokio::spawn(async move {
            barrier.wait().await;
            acikkapi_routing::store::seed_if_empty(&db, catalog).await
        })
    });
    let mut seeded = 0;
    for done in futures::future::join_all(seeds).await {
        if done.unwrap().expect("a replica's seeding failed") {
            seeded += 1;
        }
    }
    assert_eq!(seeded, 1, "one replica seeds, the others find it seeded");
    let p = &replicas[0];
    assert!(count(p, "routing_rules").await > 0);
    assert_eq!(
        acikkapi_routing::store::version(&p.db).await.unwrap(),
        1,
        "seeded once"
    );
    if let acikkapi_platform::store::Db::Postgres(pool) = &p.db {
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", s.store.schema))
            .execute(pool)
            .await
            .unwrap();
    }
}
