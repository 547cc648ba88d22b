//! The audit trail: every read of an application's personal data and every
//! state change leaves a row saying who, in which role and scope, from
//! where, when and what; operators query it; nobody can rewrite it; it
//! holds no personal data. Both backends.

use acikkapi::testing::TestNode;
use acikkapi_platform::auth::Role::*;
use acikkapi_platform::service::Service;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, settings, submission};

/// Spans with trace ids, as in production, so entries carry them (one
/// global subscriber for this test binary).
fn telemetry() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt;
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::EnvFilter::new("info"))
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
        acikkapi_platform::telemetry::install_propagator();
    });
}

/// The trail of one application, oldest first.
async fn trail(n: &TestNode, number: &str) -> Vec<pb::AuditEntry> {
    let mut entries = n
        .audit()
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            target: number.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    entries.reverse();
    entries
}

async fn every_read_of_personal_data_and_every_change_is_recorded(backend: Backend) {
    telemetry();
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let desk = n.token(DeskOfficer, 6, 0, "");
    let mut c = n.intake_as(Some(&desk)).await;
    let mut req = submission(1);
    let national_id = req.applicant.as_ref().unwrap().national_id.clone();
    req.province_code = 6;
    let res = c.submit_application(req).await.unwrap().into_inner();
    let number = res.application_number.clone();
    let get = pb::GetApplicationRequest {
        application_number: number.clone(),
    };
    c.get_application(get.clone()).await.unwrap();
    c.add_note(pb::AddNoteRequest {
        application_number: number.clone(),
        author: "Masa".into(),
        text: "Arandı.".into(),
    })
    .await
    .unwrap();
    c.conclude_application(pb::ConcludeApplicationRequest {
        application_number: number.clone(),
        outcome: pb::Outcome::Negative as i32,
        explanation: "Mevzuata aykırı.".into(),
        alternatives: vec![],
    })
    .await
    .unwrap();
    // Reads that reveal nothing leave nothing: out of scope, and the public tracking view.
    let stranger = n.token(DeskOfficer, 34, 0, "");
    n.intake_as(Some(&stranger))
        .await
        .get_application(get.clone())
        .await
        .expect_err("out of scope");
    c.track_application(pb::TrackApplicationRequest {
        application_number: number.clone(),
        tracking_code: res.tracking_code.clone(),
    })
    .await
    .unwrap();

    // Notification reads the phone for the receipt, the conclusion and the
    // satisfaction survey SMS: the system's reads are on the trail as well.
    let system = |e: &pb::AuditEntry| e.role == "system";
    assert!(
        acikkapi_testkit::eventually(20, || async {
            trail(&n, &number)
                .await
                .iter()
                .filter(|e| system(e))
                .count()
                == 3
        })
        .await,
        "notification's three reads of the phone are on the trail"
    );
    let entries = trail(&n, &number).await;
    let got: Vec<_> = entries
        .iter()
        .filter(|e| system(e))
        .map(|e| (e.action.as_str(), e.actor.as_str(), e.scope.as_str()))
        .collect();
    assert_eq!(
        got,
        [("application.contact.read", "notification", "country"); 3]
    );
    let got: Vec<_> = entries
        .iter()
        .filter(|e| !system(e))
        .map(|e| {
            (
                e.action.as_str(),
                e.actor.as_str(),
                e.role.as_str(),
                e.scope.as_str(),
                e.origin.as_str(),
            )
        })
        .collect();
    let me = (
        "test-desk-officer",
        "desk-officer",
        "province:6",
        "127.0.0.1",
    );
    assert_eq!(
        got,
        [
            ("application.submit", me.0, me.1, me.2, me.3),
            ("application.read", me.0, me.1, me.2, me.3),
            ("application.note", me.0, me.1, me.2, me.3),
            ("application.conclude", me.0, me.1, me.2, me.3),
            // ConcludeApplication answers with the application: a read.
            ("application.read", me.0, me.1, me.2, me.3),
        ]
    );
    for e in &entries {
        assert_eq!(e.target, number);
        assert!(
            e.trace_id.len() == 32
                && e.trace_id.bytes().all(|b| b.is_ascii_hexdigit())
                && e.trace_id != "0".repeat(32),
            "{e:?} carries its trace id"
        );
        assert!(e.at.is_some_and(|t| t.seconds > 1_700_000_000));
    }
    assert!(entries.windows(2).all(|w| w[0].id < w[1].id));

    // A search by identity number is a read of personal data too; the entry says
    // what was searched for without the number itself.
    c.list_applications(pb::ListApplicationsRequest {
        national_id: national_id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    let searches = n
        .audit()
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            action: "application.search".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(searches.len(), 1);
    assert_eq!(searches[0].actor, "test-desk-officer");
    assert_eq!(searches[0].detail, "by national_id, 1 found");

    // No personal data anywhere in the trail.
    let every_column = acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query_scalar::<_, String>(
            "SELECT actor || role || scope || origin || action || target || detail || trace_id FROM audit_log",
        )
        .fetch_all(pool).await.unwrap()
    })
    .join("\n");
    assert!(every_column.contains(&number));
    for secret in [national_id.as_str(), "5321234567", "Ayşe"] {
        assert!(!every_column.contains(secret), "the trail holds {secret:?}");
    }
    n.stop_and_clean().await;
}

async fn operators_filter_and_page_the_trail(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut c = n.intake().await;
    let mut numbers = Vec::new();
    for i in 0..3 {
        let number = c
            .submit_application(submission(50 + i))
            .await
            .unwrap()
            .into_inner()
            .application_number;
        c.get_application(pb::GetApplicationRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap();
        numbers.push(number);
    }
    let mut audit = n.audit().await;
    let mut list = async |req: pb::ListAuditEntriesRequest| {
        audit.list_audit_entries(req).await.map(|r| r.into_inner())
    };

    // Pages of two, newest first, with no gap or repeat.
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(pb::ListAuditEntriesRequest {
            actor: "test-ministry-officer".into(),
            page: Some(pb::PageRequest {
                page_size: 2,
                page_token: token.clone(),
            }),
            ..Default::default()
        })
        .await
        .unwrap();
        assert!(page.entries.len() <= 2);
        seen.extend(page.entries.into_iter().map(|e| (e.id, e.action, e.target)));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen.len(), 6, "{seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 > w[1].0));
    let expected: Vec<(String, String)> = numbers
        .iter()
        .rev()
        .flat_map(|n| {
            [
                ("application.read".to_owned(), n.clone()),
                ("application.submit".to_owned(), n.clone()),
            ]
        })
        .collect();
    let got: Vec<(String, String)> = seen.into_iter().map(|(_, a, t)| (a, t)).collect();
    assert_eq!(got, expected);

    // Filters combine; a time range in the future finds nothing.
    let reads = list(pb::ListAuditEntriesRequest {
        target: numbers[1].clone(),
        action: "application.read".into(),
        ..Default::default()
    })
    .await
    .unwrap()
    .entries;
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0].target, numbers[1]);
    let future = prost_types::Timestamp {
        seconds: 4_000_000_000,
        nanos: 0,
    };
    let none = list(pb::ListAuditEntriesRequest {
        at: Some(pb::TimeRange {
            from: Some(future),
            to: None,
        }),
        ..Default::default()
    })
    .await
    .unwrap()
    .entries;
    assert!(none.is_empty());
    let bad = list(pb::ListAuditEntriesRequest {
        page: Some(pb::PageRequest {
            page_size: 2,
            page_token: "not-a-token".into(),
        }),
        ..Default::default()
    })
    .await
    .expect_err("bad token");
    assert_eq!(bad.code(), tonic::Code::InvalidArgument);
    assert!(bad.message().starts_with("page.page_token: "));
    n.stop_and_clean().await;
}

async fn the_trail_cannot_be_rewritten(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    // Intake alone, so the one entry is the submission's.
    s.services = vec![Service::Intake];
    let n = TestNode::start(s).await;
    n.intake()
        .await
        .submit_application(submission(7))
        .await
        .unwrap();
    let p = n.platform();
    assert_eq!(acikkapi_testkit::count(p, "audit_log").await, 1);
    let mut refused = Vec::new();
    for sql in [
        "UPDATE audit_log SET actor = 'someone-else'",
        "DELETE FROM audit_log",
    ]
    .into_iter()
    .chain((backend == Backend::Production).then_some("TRUNCATE audit_log"))
    {
        let r =
            acikkapi_platform::db!(&p.db, pool => sqlx::query(sql).execute(pool).await.map(|_| ()));
        let err = r.expect_err(sql).to_string();
        assert!(err.contains("append-only"), "{sql}: {err}");
        refused.push(sql);
    }
    assert!(refused.len() >= 2);
    assert_eq!(acikkapi_testkit::count(p, "audit_log").await, 1);
    let actor: String = acikkapi_platform::db!(&p.db, pool => {
        sqlx::query_scalar("SELECT actor FROM audit_log").fetch_one(pool).await.unwrap()
    });
    assert_eq!(actor, "test-ministry-officer");
    n.stop_and_clean().await;
}

backend_tests!(
    every_read_of_personal_data_and_every_change_is_recorded,
    operators_filter_and_page_the_trail,
    the_trail_cannot_be_rewritten,
);
