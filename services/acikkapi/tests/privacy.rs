//! Personal data at rest: sealed in the database (no clear identity number,
//! name, phone or e-mail anywhere in it), readable after a key rotation, and
//! findable by identity number through a keyed hash. Both backends.

use acikkapi_platform::config::Secret;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, TestNode, backend_tests, settings, submission};

fn applicant(req: &mut pb::SubmitApplicationRequest, national_id: &str) {
    let a = req.applicant.as_mut().unwrap();
    a.national_id = national_id.into();
    a.full_name = "Gülşen Karakoçoğlu".into();
    a.mobile_phone = "0533 765 43 21".into();
    a.email = "gulsen.karakocoglu@example.com.tr".into();
}

const SECRETS: [&str; 5] = [
    "5337654321",
    "Gülşen",
    "Karakoçoğlu",
    "gulsen.karakocoglu",
    "Karako",
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
        (id.as_str(), "Gülşen Karakoçoğlu", "+905337654321")
    );
    assert_eq!(who.email, "gulsen.karakocoglu@example.com.tr");

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

backend_tests!(
    no_clear_personal_data_in_the_database,
    a_rotated_key_still_reads_old_rows,
    staff_find_an_applicants_applications_by_identity_number,
);
