//! Intake end to end over gRPC, on both backends.

use acikkapi::testing::TestNode;
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_platform::service::Service;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, count, settings, submission};
use tonic::Code;

/// Intake alone: these tests look at an application as intake records it,
/// before routing moves it on (tests/routing.rs covers the two together).
async fn node(backend: Backend) -> (TestNode, tempfile::TempDir) {
    let (mut s, dir) = settings(backend);
    s.services = vec![Service::Intake];
    (TestNode::start(s).await, dir)
}

type Case = (&'static str, fn(&mut pb::SubmitApplicationRequest));

/// Every validation rule, each with the field the error must name.
fn bad_inputs() -> Vec<Case> {
    fn a(r: &mut pb::SubmitApplicationRequest) -> &mut pb::Applicant {
        r.applicant.as_mut().unwrap()
    }
    vec![
        ("applicant", |r| r.applicant = None),
        ("applicant.national_id", |r| {
            a(r).national_id = String::new()
        }),
        ("applicant.national_id", |r| {
            a(r).national_id = "12345678960".into()
        }), // 10th digit
        ("applicant.national_id", |r| {
            a(r).national_id = "12345678951".into()
        }), // 11th digit
        ("applicant.national_id", |r| {
            a(r).national_id = "02345678950".into()
        }), // leading 0
        ("applicant.national_id", |r| {
            a(r).national_id = "1234567895".into()
        }), // 10 digits
        ("applicant.national_id", |r| {
            a(r).national_id = "1234567895A".into()
        }),
        ("applicant.national_id", |r| {
            a(r).national_id = "99123456741".into()
        }), // foreign, bad checksum
        ("applicant.national_id", |r| {
            a(r).national_id = "11111111110".into()
        }), // placeholder
        ("applicant.full_name", |r| a(r).full_name = " ".into()),
        ("applicant.full_name", |r| a(r).full_name = "R2D2".into()),
        ("applicant.full_name", |r| a(r).full_name = "x".repeat(101)),
        ("applicant.mobile_phone", |r| {
            a(r).mobile_phone = String::new()
        }),
        ("applicant.mobile_phone", |r| {
            a(r).mobile_phone = "0312 123 45 67".into()
        }), // landline
        ("applicant.mobile_phone", |r| {
            a(r).mobile_phone = "+49 151 1234 5678".into()
        }),
        ("applicant.mobile_phone", |r| {
            a(r).mobile_phone = "0532 12".into()
        }),
        ("applicant.mobile_phone", |r| {
            a(r).mobile_phone = "0532-ABC-4567".into()
        }),
        ("applicant.email", |r| a(r).email = "not-an-address".into()),
        ("province_code", |r| r.province_code = 0),
        ("province_code", |r| r.province_code = 82),
        ("district_code", |r| r.district_code = 6999),
        ("district_code", |r| r.district_code = 34035), // Şişli is in İstanbul, not Ankara
        ("channel", |r| r.channel = 0),
        ("channel", |r| r.channel = 99),
        ("kind", |r| r.kind = 0),
        ("kind", |r| r.kind = 42),
        ("topic_code", |r| r.topic_code = "H18".into()),
        ("type_code", |r| r.type_code = "H07-42".into()),
        ("type_code", |r| r.type_code = "H05-01".into()), // an education type under local government
        ("subject", |r| r.subject = String::new()),
        ("subject", |r| r.subject = "ab".into()),
        ("subject", |r| r.subject = "ş".repeat(201)),
        ("subject", |r| r.subject = "iki\nsatır konu".into()),
        ("text", |r| r.text = "   ".into()),
        ("text", |r| r.text = "kısa".into()),
        ("text", |r| r.text = "ğ".repeat(5_001)),
        ("text", |r| r.text = "zil sesi \u{7} olan bir metin".into()),
        ("text", |r| {
            r.text = "ters \u{202E} çevrilmiş bir metin".into()
        }),
        ("idempotency_key", |r| r.idempotency_key = "k".repeat(129)),
        ("idempotency_key", |r| r.idempotency_key = "tab\tkey".into()),
    ]
}

async fn every_bad_input_is_refused_naming_its_field_and_writes_nothing(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    for (i, (field, spoil)) in bad_inputs().into_iter().enumerate() {
        let mut req = submission(i as u64);
        spoil(&mut req);
        let err = c.submit_application(req).await.expect_err(field);
        assert_eq!(
            err.code(),
            Code::InvalidArgument,
            "case {i} ({field}): {}",
            err.message()
        );
        assert!(
            err.message().starts_with(&format!("{field}: ")),
            "case {i}: expected field {field}, got {:?}",
            err.message()
        );
    }
    let p = n.platform();
    assert_eq!(
        count(p, "applications").await,
        0,
        "a refused request left an application"
    );
    assert_eq!(
        count(p, "outbox").await,
        0,
        "a refused request left an event"
    );
    n.stop_and_clean().await;
}

async fn good_inputs_in_every_spelling_are_accepted(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    let phones = [
        "05321234567",
        "+90 (532) 123-45-67",
        "905321234567",
        "5321234567",
        "0090 532 123 45 67",
    ];
    let ids = ["12345678950", "98765432150", "99123456740", " 24681357994 "];
    let mut numbers = Vec::new();
    for (i, (phone, id)) in phones.iter().zip(ids.iter().cycle()).enumerate() {
        let mut req = submission(i as u64);
        let a = req.applicant.as_mut().unwrap();
        a.mobile_phone = phone.to_string();
        a.national_id = id.to_string();
        a.email = if i % 2 == 0 {
            "ayse@example.com.tr".into()
        } else {
            String::new()
        };
        if i == 3 {
            req.district_code = 0; // a district is optional
            req.vulnerability = Some(pb::Vulnerability {
                veteran: true,
                ..Default::default()
            });
        }
        let res = c
            .submit_application(req)
            .await
            .unwrap_or_else(|e| panic!("{phone} {id}: {e}"))
            .into_inner();
        assert_eq!(res.status, pb::Status::Received as i32);
        assert_eq!(res.tracking_code.len(), 8);
        numbers.push(res.application_number);
    }
    for (i, number) in numbers.iter().enumerate() {
        let app = c
            .get_application(pb::GetApplicationRequest {
                application_number: number.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        let who = app.applicant.unwrap();
        assert_eq!(who.mobile_phone, "+905321234567", "stored in E.164");
        assert_eq!(app.priority, i == 3, "vulnerable applicants get priority");
        let parsed = ApplicationNumber::parse(number).unwrap();
        assert_eq!(parsed.province(), 6);
    }
    n.stop_and_clean().await;
}

async fn the_same_idempotency_key_returns_the_first_result(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    let req = submission(7);
    let first = c
        .submit_application(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(!first.replayed);
    let again = c
        .submit_application(req.clone())
        .await
        .unwrap()
        .into_inner();
    assert!(again.replayed);
    assert_eq!(again.application_number, first.application_number);
    assert_eq!(again.tracking_code, first.tracking_code);
    assert_eq!(again.received_at, first.received_at);

    // Twenty clients racing with one key: one application.
    let racing = submission(8);
    let answers = futures::future::join_all((0..20).map(|_| {
        let mut c = c.clone();
        let r = racing.clone();
        async move {
            c.submit_application(r)
                .await
                .map(|r| r.into_inner().application_number)
        }
    }))
    .await;
    let numbers: std::collections::BTreeSet<_> = answers
        .into_iter()
        .map(|a| a.expect("racing submit"))
        .collect();
    assert_eq!(numbers.len(), 1, "one key, one application: {numbers:?}");

    // The same key for a different application is refused, not replayed.
    let mut other = req.clone();
    other.subject = "Başka bir konu".into();
    let err = c.submit_application(other).await.expect_err("key reuse");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().starts_with("idempotency_key: "),
        "{}",
        err.message()
    );

    let p = n.platform();
    assert_eq!(count(p, "applications").await, 2);
    n.stop_and_clean().await;
}

async fn numbers_are_unique_and_carry_year_province_and_check_digit(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let c = n.intake().await;
    let answers = futures::future::join_all((0..120u64).map(|i| {
        let mut c = c.clone();
        let mut r = submission(i);
        r.province_code = [6, 34, 35][i as usize % 3];
        r.district_code = 0;
        async move {
            (
                r.province_code,
                c.submit_application(r)
                    .await
                    .expect("submit")
                    .into_inner()
                    .application_number,
            )
        }
    }))
    .await;
    let mut seen = std::collections::HashSet::new();
    for (province, number) in &answers {
        let parsed = ApplicationNumber::parse(number).expect("valid check digit");
        assert_eq!(u32::from(parsed.province()), *province);
        assert!(parsed.year() >= 2026);
        assert!(seen.insert(number.clone()), "duplicate number {number}");
    }
    n.stop_and_clean().await;
}

async fn tracking_needs_the_code_and_reveals_nothing_without_it(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    let res = c
        .submit_application(submission(1))
        .await
        .unwrap()
        .into_inner();
    let track = |number: &str, code: &str| pb::TrackApplicationRequest {
        application_number: number.into(),
        tracking_code: code.into(),
    };

    let view = c
        .track_application(track(
            &res.application_number,
            &res.tracking_code.to_lowercase(),
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.application_number, res.application_number);
    assert_eq!(view.status, pb::Status::Received as i32);
    assert_eq!(view.timeline.len(), 1);

    let wrong = c
        .track_application(track(&res.application_number, "AAAAAAAA"))
        .await
        .expect_err("wrong code");
    // The next number in sequence exists or not: the answer must be identical.
    let parsed = ApplicationNumber::parse(&res.application_number).unwrap();
    let neighbour =
        ApplicationNumber::new(parsed.year(), parsed.province(), parsed.sequence() + 1).unwrap();
    let unknown = c
        .track_application(track(&neighbour.digits(), &res.tracking_code))
        .await
        .expect_err("unknown number");
    assert_eq!(wrong.code(), Code::NotFound);
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(wrong.message(), unknown.message());

    // Conclusion shows on the citizen's view at once (the cached view is dropped).
    let concluded = c
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: res.application_number.clone(),
            outcome: pb::Outcome::Positive as i32,
            explanation: "Kaldırım onarıldı.".into(),
            alternatives: vec![],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(concluded.status, pb::Status::Concluded as i32);
    let view = c
        .track_application(track(&res.application_number, &res.tracking_code))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(view.status, pb::Status::Concluded as i32);
    assert_eq!(view.outcome, pb::Outcome::Positive as i32);
    assert_eq!(view.timeline.len(), 2);
    let twice = c
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: res.application_number.clone(),
            outcome: pb::Outcome::Negative as i32,
            explanation: "İkinci kez.".into(),
            alternatives: vec![],
        })
        .await
        .expect_err("concluded twice");
    assert_eq!(twice.code(), Code::FailedPrecondition);
    n.stop_and_clean().await;
}

async fn notes_and_staff_view(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    let res = c
        .submit_application(submission(3))
        .await
        .unwrap()
        .into_inner();
    let note = pb::AddNoteRequest {
        application_number: res.application_number.clone(),
        author: "Masa Memuru".into(),
        text: "Vatandaş arandı.".into(),
    };
    c.add_note(note.clone()).await.unwrap();
    let app = c
        .get_application(pb::GetApplicationRequest {
            application_number: res.application_number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.notes.len(), 1);
    assert_eq!(app.notes[0].text, "Vatandaş arandı.");
    assert_eq!(
        app.applicant.unwrap().national_id,
        acikkapi_testkit::national_id(3)
    );

    let missing = ApplicationNumber::new(2026, 1, 9_999_999).unwrap().digits();
    let err = c
        .add_note(pb::AddNoteRequest {
            application_number: missing,
            ..note.clone()
        })
        .await
        .expect_err("missing");
    assert_eq!(err.code(), Code::NotFound);
    let err = c
        .add_note(pb::AddNoteRequest {
            text: String::new(),
            ..note
        })
        .await
        .expect_err("empty note");
    assert!(err.message().starts_with("text: "));
    let err = c
        .get_application(pb::GetApplicationRequest {
            application_number: "26-34-0000001-1".into(),
        })
        .await
        .expect_err("bad check digit");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().starts_with("application_number: "));
    n.stop_and_clean().await;
}

async fn listing_filters_and_pages_without_gaps(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.intake().await;
    let mut ankara = std::collections::BTreeSet::new();
    for i in 0..9u64 {
        let mut r = submission(i);
        if i < 7 {
            r.province_code = 6;
        } else {
            r.province_code = 34;
            r.district_code = 0;
        }
        if i == 0 {
            r.topic_code = "H05".into();
            r.type_code = "H05-01".into();
        }
        let number = c
            .submit_application(r)
            .await
            .unwrap()
            .into_inner()
            .application_number;
        if i < 7 {
            ankara.insert(number);
        }
    }
    let mut got = std::collections::BTreeSet::new();
    let mut token = String::new();
    let mut pages = 0;
    loop {
        let page = c
            .list_applications(pb::ListApplicationsRequest {
                province_code: 6,
                page: Some(pb::PageRequest {
                    page_size: 3,
                    page_token: token.clone(),
                }),
                ..Default::default()
            })
            .await
            .unwrap()
            .into_inner();
        pages += 1;
        for a in &page.applications {
            assert_eq!(a.province_code, 6);
            assert!(got.insert(a.application_number.clone()), "listed twice");
        }
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(got, ankara);
    assert_eq!(pages, 3);
    let education = c
        .list_applications(pb::ListApplicationsRequest {
            topic_code: "H05".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(education.applications.len(), 1);
    let err = c
        .list_applications(pb::ListApplicationsRequest {
            page: Some(pb::PageRequest {
                page_size: 3,
                page_token: "garbage".into(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("bad token");
    assert!(err.message().starts_with("page.page_token: "));
    n.stop_and_clean().await;
}

async fn catalog_serves_the_reference_data(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut c = n.catalog().await;
    let provinces = c
        .list_provinces(pb::ListProvincesRequest {})
        .await
        .unwrap()
        .into_inner()
        .provinces;
    assert_eq!(provinces.len(), 81);
    let istanbul = c
        .list_districts(pb::ListDistrictsRequest { province_code: 34 })
        .await
        .unwrap()
        .into_inner()
        .districts;
    assert_eq!(istanbul.len(), 39);
    assert_eq!(
        c.list_topics(pb::ListTopicsRequest {})
            .await
            .unwrap()
            .into_inner()
            .topics
            .len(),
        17
    );
    let types = c
        .list_application_types(pb::ListApplicationTypesRequest {
            topic_code: "H04".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .types;
    assert!(
        types.iter().all(|t| t.topic_code == "H04") && types.iter().any(|t| t.name == "İş talebi")
    );
    let err = c
        .list_districts(pb::ListDistrictsRequest { province_code: 99 })
        .await
        .expect_err("unknown");
    assert_eq!(err.code(), Code::InvalidArgument);
    n.stop_and_clean().await;
}

async fn health_and_reflection_answer(backend: Backend) {
    let (n, _dir) = node(backend).await;
    let mut h = tonic_health::pb::health_client::HealthClient::new(n.channel().await);
    for service in ["acikkapi.v1.IntakeService", "acikkapi.v1.CatalogService"] {
        let r = h
            .check(tonic_health::pb::HealthCheckRequest {
                service: service.into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            r.status(),
            tonic_health::pb::health_check_response::ServingStatus::Serving,
            "{service}"
        );
    }
    let unknown = h
        .check(tonic_health::pb::HealthCheckRequest {
            service: "acikkapi.v1.Nope".into(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(unknown.code(), Code::NotFound);
    n.stop_and_clean().await;
}

async fn overload_answers_resource_exhausted(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.server.max_concurrent_requests = 0; // every call is over capacity
    let n = TestNode::start(s).await;
    let err = n
        .intake()
        .await
        .submit_application(submission(1))
        .await
        .expect_err("over capacity");
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert_eq!(count(n.platform(), "applications").await, 0);
    n.stop_and_clean().await;
}

backend_tests!(
    every_bad_input_is_refused_naming_its_field_and_writes_nothing,
    good_inputs_in_every_spelling_are_accepted,
    the_same_idempotency_key_returns_the_first_result,
    numbers_are_unique_and_carry_year_province_and_check_digit,
    tracking_needs_the_code_and_reveals_nothing_without_it,
    notes_and_staff_view,
    listing_filters_and_pages_without_gaps,
    catalog_serves_the_reference_data,
    health_and_reflection_answer,
    overload_answers_resource_exhausted,
);
