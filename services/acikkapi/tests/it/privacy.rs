//! Personal data at rest: sealed in the database (no clear identity number,
//! name, phone or e-mail anywhere in it), readable after a key rotation, and
//! findable by identity number through a keyed hash. Both backends.

use acikkapi::testing::TestNode;
use acikkapi_platform::config::Secret;
use acikkapi_platform::service::Service;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, settings, submission};

fn applicant(req: &mut pb::SubmitApplicationRequest, national_id: &str) {
    let a = req.applicant.as_mut().unwrap();
    a.national_id = national_id.into();
    a.full_name = "Gülşen Zeytinoğulları".into();
    a.mobile_phone = "0533 765 43 21".into();
    a.email = "gulsen.zeytinogullari@example.com.tr".into();
}

const SECRETS: [&str; 5] = [
    "5337654321",
    "Gülşen",
    "Zeytinoğulları",
    "gulsen.zeytinogullari",
    "Zeytino",
];

/// Everything the database holds, as text: the SQLite files byte for byte,
/// or every row of every table of this test's PostgreSQL schema.
async fn everything_stored(n: &TestNode) -> String {
    let p = n.platform();
    match &p.db {
        acikkapi_platform::store::Db::Sqlite(pool) => {
            sqlx::query("PRAGMA wal_checkpoint(FULL)")
                .execute(pool)
                .await
                .unwrap();
            let mut all = Vec::new();
            for entry in std::fs::read_dir(&p.settings.data_dir).unwrap() {
                let path = entry.unwrap().path();
                if path.to_string_lossy().contains("acikkapi.db") {
                    all.extend(std::fs::read(path).unwrap());
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        acikkapi_platform::store::Db::Postgres(pool) => {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema()")
                    .fetch_all(pool)
                    .await
                    .unwrap();
            assert!(tables.iter().any(|t| t == "applications"));
            let mut all = String::new();
            for t in tables {
                let rows: Vec<String> =
                    sqlx::query_scalar(&format!("SELECT row_to_json(x)::text FROM {t} x"))
                        .fetch_all(pool)
                        .await
                        .unwrap();
                all.push_str(&rows.join("\n"));
            }
            all
        }
    }
}

async fn no_clear_personal_data_in_the_database(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut c = n.intake().await;
    let id = acikkapi_testkit::national_id(777);
    let mut req = submission(777);
    applicant(&mut req, &id);
    let number = c
        .submit_application(req)
        .await
        .unwrap()
        .into_inner()
        .application_number;
    c.add_note(pb::AddNoteRequest {
        application_number: number.clone(),
        author: "Masa".into(),
        text: "Arandı.".into(),
    })
    .await
    .unwrap();

    // Staff still see it in clear…
    let app = c
        .get_application(pb::GetApplicationRequest {
            application_number: number.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let who = app.applicant.unwrap();
    assert_eq!(
        (
            who.national_id.as_str(),
            who.full_name.as_str(),
            who.mobile_phone.as_str()
        ),
        (id.as_str(), "Gülşen Zeytinoğulları", "+905337654321")
    );
    assert_eq!(who.email, "gulsen.zeytinogullari@example.com.tr");

    // …but the database holds none of it.
    let stored = everything_stored(&n).await;
    assert!(
        stored.contains(&number),
        "the scan reads the applications (else it proves nothing)"
    );
    for secret in SECRETS.iter().copied().chain([id.as_str()]) {
        assert!(
            !stored.contains(secret),
            "the database holds {secret:?} in clear"
        );
    }
    n.stop_and_clean().await;
}

async fn a_rotated_key_still_reads_old_rows(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    let (k1, k2) = (
        format!("k1:{}", "61".repeat(32)),
        format!("k2:{}", "62".repeat(32)),
    );
    s.privacy.keys = Secret::new(k1.clone());
    let first = TestNode::start(s.clone()).await;
    let id = acikkapi_testkit::national_id(901);
    let mut req = submission(901);
    applicant(&mut req, &id);
    let old = first
        .intake()
        .await
        .submit_application(req)
        .await
        .unwrap()
        .into_inner()
        .application_number;
    first.stop().await;

    // The new key seals; the old one still opens.
    s.privacy.keys = Secret::new(format!("{k2},{k1}"));
    let second = TestNode::start(s).await;
    let mut c = second.intake().await;
    let app = c
        .get_application(pb::GetApplicationRequest {
            application_number: old.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(app.applicant.unwrap().national_id, id);
    let new = c
        .submit_application(submission(902))
        .await
        .unwrap()
        .into_inner()
        .application_number;
    let key_of = |number: String| {
        let p = second.platform().clone();
        async move {
            let sealed: String = acikkapi_platform::db!(&p.db, pool => {
                sqlx::query_scalar("SELECT national_id FROM applications WHERE number = $1").bind(number).fetch_one(pool).await.unwrap()
            });
            sealed.split(':').nth(1).unwrap().to_owned()
        }
    };
    assert_eq!(key_of(old).await, "k1");
    assert_eq!(key_of(new).await, "k2");
    second.stop_and_clean().await;
}

async fn staff_find_an_applicants_applications_by_identity_number(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut c = n.intake().await;
    let (a, b) = (
        acikkapi_testkit::national_id(11),
        acikkapi_testkit::national_id(12),
    );
    let mut mine = Vec::new();
    for (i, id) in [&a, &b, &a].into_iter().enumerate() {
        let mut req = submission(20 + i as u64);
        applicant(&mut req, id);
        let number = c
            .submit_application(req)
            .await
            .unwrap()
            .into_inner()
            .application_number;
        if id == &a {
            mine.push(number);
        }
    }
    let found = c
        .list_applications(pb::ListApplicationsRequest {
            national_id: a.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .applications;
    let mut got: Vec<String> = found.into_iter().map(|x| x.application_number).collect();
    got.sort();
    mine.sort();
    assert_eq!(got, mine);
    let err = c
        .list_applications(pb::ListApplicationsRequest {
            national_id: "12345".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad id");
    assert!(
        err.message().starts_with("national_id: "),
        "{}",
        err.message()
    );
    n.stop_and_clean().await;
}

/// What the figures are made of, one line per application.
async fn figures(n: &TestNode) -> Vec<String> {
    let sql = "SELECT number || '|' || CAST(province AS TEXT) || '|' || CAST(district AS TEXT) || '|' \
        || CAST(channel AS TEXT) || '|' || CAST(kind AS TEXT) || '|' || topic || '|' || type_code || '|' \
        || CAST(vulnerability AS TEXT) || '|' || CAST(priority AS TEXT) || '|' || CAST(status AS TEXT) || '|' \
        || CAST(outcome AS TEXT) || '|' || COALESCE(unit_id, '-') || '|' || CAST(received_ms AS TEXT) || '|' \
        || COALESCE(CAST(concluded_ms AS TEXT), '-') FROM applications ORDER BY number";
    acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query_scalar::<_, String>(sql).fetch_all(pool).await.unwrap()
    })
}

/// (number, national_id, full_name, phone) as stored (sealed or erased).
async fn stored_personal(n: &TestNode, number: &str) -> (String, String, String, bool) {
    acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query_as::<_, (String, String, String, bool)>(
            "SELECT national_id, full_name, phone, national_id_hash IS NULL FROM applications WHERE number = $1",
        )
        .bind(number).fetch_one(pool).await.unwrap()
    })
}

async fn retention_erases_personal_data_and_keeps_the_figures(backend: Backend) {
    use acikkapi_intake::retention::{self, ERASED_TEXT};
    const DAY_MS: i64 = 86_400_000;
    let (mut s, _dir) = settings(backend);
    s.retention.personal_data_days = 30;
    s.retention.batch = 1; // several batches, several transactions
    // Intake alone: routing's assignments would change the figures while we compare.
    s.services = vec![Service::Intake];
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    acikkapi_testkit::start_recording_consumer_of(
        &p,
        "erasures",
        const { &[EventKind::PersonalDataErased.as_str()] },
    )
    .await;
    let mut c = n.intake().await;
    let id = acikkapi_testkit::national_id(4242);

    // Four applications of one applicant: two concluded 31 days ago (due),
    // one concluded today, one still open.
    let mut numbers = Vec::new();
    let mut codes = Vec::new();
    for i in 0..4 {
        let mut req = submission(300 + i);
        applicant(&mut req, &id);
        let res = c.submit_application(req).await.unwrap().into_inner();
        c.add_note(pb::AddNoteRequest {
            application_number: res.application_number.clone(),
            author: "Masa".into(),
            text: "Başvuru sahibi Gülşen Hanım arandı.".into(),
        })
        .await
        .unwrap();
        if i < 3 {
            c.conclude_application(pb::ConcludeApplicationRequest {
                application_number: res.application_number.clone(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Kaldırım onarıldı.".into(),
                alternatives: vec![],
            })
            .await
            .unwrap();
        }
        numbers.push(res.application_number);
        codes.push(res.tracking_code);
    }
    let (due, kept) = numbers.split_at(2);
    for number in due {
        acikkapi_platform::db!(&p.db, pool => {
            sqlx::query("UPDATE applications SET concluded_ms = concluded_ms - $1 WHERE number = $2")
                .bind(31 * DAY_MS).bind(number).execute(pool).await.unwrap();
        });
    }
    let before = figures(&n).await;
    assert_eq!(before.len(), 4);

    // A dry run counts and changes nothing.
    let now = acikkapi_platform::store::now_ms();
    let dry = retention::run(&p, now, true).await.unwrap();
    assert_eq!(dry.erased, 2);
    assert_eq!(dry.cutoff_ms, now - 30 * DAY_MS);
    for number in &numbers {
        let (nid, name, phone, unhashed) = stored_personal(&n, number).await;
        assert!(!nid.is_empty() && !name.is_empty() && !phone.is_empty() && !unhashed);
    }

    // The run erases the two due, exactly once however often it runs.
    assert_eq!(retention::run(&p, now, false).await.unwrap().erased, 2);
    assert_eq!(retention::run(&p, now, false).await.unwrap().erased, 0);
    assert_eq!(figures(&n).await, before, "the figures stay");

    for number in due {
        assert_eq!(
            stored_personal(&n, number).await,
            (String::new(), String::new(), String::new(), true),
            "{number} erased in the database"
        );
        let app = c
            .get_application(pb::GetApplicationRequest {
                application_number: number.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(app.personal_data_erased);
        let who = app.applicant.unwrap_or_default();
        assert_eq!(
            (who.national_id, who.full_name, who.mobile_phone, who.email),
            Default::default()
        );
        assert_eq!((app.subject.as_str(), app.text.as_str()), ("", ""));
        assert_eq!(app.status, pb::Status::Concluded as i32);
        assert_eq!(app.outcome, pb::Outcome::Positive as i32);
        assert!(!app.notes.is_empty() && app.notes.iter().all(|x| x.text == ERASED_TEXT));
        // The receipt line is a fixed text; every recorded stage's text is erased.
        assert_eq!(app.timeline[0].description, "Başvurunuz alındı");
        assert!(app.timeline.len() > 1);
        assert!(
            app.timeline[1..]
                .iter()
                .all(|t| t.description == ERASED_TEXT)
        );
    }
    for number in kept {
        let app = c
            .get_application(pb::GetApplicationRequest {
                application_number: number.clone(),
            })
            .await
            .unwrap()
            .into_inner();
        assert!(!app.personal_data_erased);
        assert_eq!(app.applicant.unwrap().national_id, id);
        assert!(app.notes.iter().all(|x| x.text != ERASED_TEXT));
    }

    // The citizen can still follow an erased application by its number and code.
    let tracked = c
        .track_application(pb::TrackApplicationRequest {
            application_number: due[0].clone(),
            tracking_code: codes[0].clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tracked.outcome, pb::Outcome::Positive as i32);

    // The identity number no longer finds what was erased.
    let mut found: Vec<String> = c
        .list_applications(pb::ListApplicationsRequest {
            national_id: id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .applications
        .into_iter()
        .map(|a| a.application_number)
        .collect();
    found.sort();
    assert_eq!(found, kept.to_vec());

    // Each erasure is in the audit trail and on the bus.
    let erasures = n
        .audit()
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            action: "application.erase".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    let mut targets: Vec<_> = erasures.iter().map(|e| e.target.clone()).collect();
    targets.sort();
    assert_eq!(targets, due.to_vec());
    assert!(
        erasures
            .iter()
            .all(|e| e.actor == "retention" && e.role == "system")
    );
    for number in due {
        assert!(
            acikkapi_testkit::eventually(20, || {
                let p = p.clone();
                async move {
                    acikkapi_testkit::kinds_applied(&p, number).await
                        == [EventKind::PersonalDataErased.as_str()]
                }
            })
            .await,
            "PersonalDataErased for {number} delivered once"
        );
    }
    assert!(
        acikkapi_testkit::kinds_applied(&p, &kept[0])
            .await
            .is_empty()
    );
    n.stop_and_clean().await;
}

backend_tests!(
    no_clear_personal_data_in_the_database,
    a_rotated_key_still_reads_old_rows,
    staff_find_an_applicants_applications_by_identity_number,
    retention_erases_personal_data_and_keeps_the_figures,
);
