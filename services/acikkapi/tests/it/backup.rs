//! Backup and restore of the embedded default: taken while the node
//! serves, restored into an empty data folder, the application and its
//! sealed personal data read back with the keys the backup carried.

use acikkapi::testing::TestNode;
use acikkapi_platform::config::Secret;
use acikkapi_platform::store::backup::{self, KEY_FILES};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, settings, submission};

/// The embedded default as `make run` has it: keys generated in the data
/// folder, none in the settings.
fn with_local_keys() -> (acikkapi_platform::config::Settings, tempfile::TempDir) {
    let (mut s, dir) = settings(Backend::Embedded);
    s.privacy.keys = Secret::default();
    s.privacy.hash_key = Secret::default();
    s.auth.keys = Secret::default();
    s.intake.tracking_key = Secret::default();
    (s, dir)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_taken_while_serving_restores_with_its_sealed_data() {
    let (s, _dir) = with_local_keys();
    let n = TestNode::start(s.clone()).await;
    let mut req = submission(1);
    req.applicant.as_mut().unwrap().full_name = "Gülşen Zeytinoğulları".into();
    let answer = n
        .intake()
        .await
        .submit_application(req)
        .await
        .expect("submitted")
        .into_inner();
    let (number, code) = (answer.application_number, answer.tracking_code);
    n.routed(&number).await;
    let file = tempfile::tempdir().unwrap();
    let path = file.path().join("acikkapi.backup");
    // While the node serves (and goes on writing).
    let took = backup::backup(&s, &path).await.expect("backup");
    assert_eq!(took.applications, 1);
    assert_eq!(
        took.keys,
        [
            "privacy.key",
            "privacy-hash.key",
            "auth.key",
            "tracking.key"
        ]
    );
    let later = n.submit(submission(2)).await;
    n.stop().await;
    assert!(
        backup::backup(&s, &path).await.is_err(),
        "a backup never overwrites a file"
    );

    // Elsewhere, empty: the store and the keys come back.
    let (mut t, _elsewhere) = with_local_keys();
    t.data_dir = _elsewhere.path().join("restored");
    let put = backup::restore(&t, &path).await.expect("restore");
    assert_eq!(put.applications, 1);
    for key in KEY_FILES {
        assert_eq!(
            std::fs::read_to_string(t.data_dir.join(key)).unwrap(),
            std::fs::read_to_string(s.data_dir.join(key))
                .unwrap()
                .trim(),
            "{key}"
        );
    }
    assert!(
        backup::restore(&t, &path).await.is_err(),
        "a restore never replaces a store"
    );
    let n = TestNode::start(t.clone()).await;
    let app = n
        .intake()
        .await
        .get_application(pb::GetApplicationRequest {
            application_number: number.clone(),
        })
        .await
        .expect("the restored application")
        .into_inner();
    let who = app.applicant.expect("its applicant");
    assert_eq!(who.full_name, "Gülşen Zeytinoğulları", "sealed data opens");
    assert_eq!(who.mobile_phone, "+905321234567");
    // The tracking code the citizen was given still opens it.
    n.intake()
        .await
        .track_application(pb::TrackApplicationRequest {
            application_number: number.clone(),
            tracking_code: code,
        })
        .await
        .expect("the citizen's tracking code after the restore");
    let after = n
        .intake()
        .await
        .get_application(pb::GetApplicationRequest {
            application_number: later,
        })
        .await
        .expect_err("taken after the backup");
    assert_eq!(after.code(), tonic::Code::NotFound);
    n.stop().await;

    // Into a folder whose key differs, the data would not open: refused.
    let (mut u, _other) = with_local_keys();
    u.data_dir = _other.path().join("other");
    std::fs::create_dir_all(&u.data_dir).unwrap();
    std::fs::write(u.data_dir.join("privacy.key"), "ab".repeat(32)).unwrap();
    let e = backup::restore(&u, &path).await.expect_err("another key");
    assert!(e.to_string().contains("another key"), "{e}");
    assert!(
        !u.data_dir.join("acikkapi.db").exists(),
        "nothing half-restored"
    );
}

#[tokio::test]
async fn postgres_is_backed_up_by_its_own_tools() {
    let (s, _dir) = settings(Backend::Production);
    let e = backup::backup(&s, std::path::Path::new("/tmp/never"))
        .await
        .expect_err("not on PostgreSQL");
    assert!(e.to_string().contains("WAL archiving"), "{e}");
}

/// The embedded store syncs every commit unless told otherwise
/// (`PRAGMA synchronous`: 2 is FULL, 1 NORMAL).
#[tokio::test]
async fn the_embedded_store_syncs_every_commit_by_default() {
    for (setting, want) in [(None, 2), (Some("normal"), 1), (Some("full"), 2)] {
        let (mut s, _dir) = settings(Backend::Embedded);
        if let Some(v) = setting {
            s.store.sqlite_synchronous = v.into();
        }
        let db = acikkapi_platform::store::Db::connect(&s).await.unwrap();
        let got: i64 = acikkapi_platform::db!(&db, pool => {
            sqlx::query_scalar("PRAGMA synchronous").fetch_one(pool).await.unwrap()
        });
        assert_eq!(got, want, "{setting:?}");
    }
}

/// The real binary's commands, on a data folder `migrate` made.
#[test]
fn the_cli_backs_up_and_restores() {
    let bin = env!("CARGO_BIN_EXE_acikkapi");
    let (from, to, files) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let file = files.path().join("b");
    let run = |dir: &std::path::Path, args: &[&str]| {
        std::process::Command::new(bin)
            .args(args)
            .env("ACIKKAPI__DATA_DIR", dir)
            .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
            .output()
            .expect("run acikkapi")
    };
    assert!(run(from.path(), &["migrate"]).status.success());
    let out = run(from.path(), &["backup", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("0 applications"));
    let out = run(to.path(), &["restore", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(to.path().join("acikkapi.db").exists());
    let again = run(to.path(), &["restore", file.to_str().unwrap()]);
    assert!(!again.status.success(), "a second restore is refused");
}
