//! Who may see and do what: every role × every RPC × in scope / out of
//! scope, with the expected answer, on both backends. Every method the
//! binary serves must have rows here: `every_served_method_is_in_the_matrix`
//! fails the build for a method that has none.

use acikkapi_platform::auth::Role::{self, *};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{
    AuditClient, Backend, IntakeClient, TestNode, backend_tests, settings, submission,
};
use tonic::Code;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// Answered, and the application is visible.
    Ok,
    /// NOT_FOUND for one application; for a list, answered without it.
    Hidden,
    /// PERMISSION_DENIED.
    Denied,
    /// UNAUTHENTICATED.
    Unauth,
}
use Expect::*;

/// (method, caller role or None for no token, expected in scope, expected out of scope).
/// In scope = bound to Ankara (6), district 6010 for a kaymakam, unit u-06;
/// out of scope = İstanbul (34), district 34035, unit u-34. The application
/// under test is in Ankara/6010, routed to u-06.
const MATRIX: &[(&str, Option<Role>, Expect, Expect)] = &[
    ("SubmitApplication", None, Unauth, Unauth),
    ("SubmitApplication", Some(DeskOfficer), Ok, Denied),
    ("SubmitApplication", Some(UnitOfficer), Denied, Denied),
    ("SubmitApplication", Some(DeputyGovernor), Denied, Denied),
    ("SubmitApplication", Some(Governor), Denied, Denied),
    ("SubmitApplication", Some(Kaymakam), Denied, Denied),
    ("SubmitApplication", Some(MinistryOfficer), Ok, Ok),
    ("SubmitApplication", Some(MinistryAnalyst), Denied, Denied),
    ("SubmitApplication", Some(PlatformOperator), Denied, Denied),
    ("SubmitApplication", Some(ProvincialInstance), Ok, Denied),
    ("SubmitApplication", Some(ChannelService), Ok, Ok),
    ("GetApplication", None, Unauth, Unauth),
    ("GetApplication", Some(DeskOfficer), Ok, Hidden),
    ("GetApplication", Some(UnitOfficer), Ok, Hidden),
    ("GetApplication", Some(DeputyGovernor), Ok, Hidden),
    ("GetApplication", Some(Governor), Ok, Hidden),
    ("GetApplication", Some(Kaymakam), Ok, Hidden),
    ("GetApplication", Some(MinistryOfficer), Ok, Ok),
    ("GetApplication", Some(MinistryAnalyst), Denied, Denied),
    ("GetApplication", Some(PlatformOperator), Denied, Denied),
    ("GetApplication", Some(ProvincialInstance), Ok, Hidden),
    ("GetApplication", Some(ChannelService), Denied, Denied),
    ("ListApplications", None, Unauth, Unauth),
    ("ListApplications", Some(DeskOfficer), Ok, Hidden),
    ("ListApplications", Some(UnitOfficer), Ok, Hidden),
    ("ListApplications", Some(DeputyGovernor), Ok, Hidden),
    ("ListApplications", Some(Governor), Ok, Hidden),
    ("ListApplications", Some(Kaymakam), Ok, Hidden),
    ("ListApplications", Some(MinistryOfficer), Ok, Ok),
    ("ListApplications", Some(MinistryAnalyst), Denied, Denied),
    ("ListApplications", Some(PlatformOperator), Denied, Denied),
    ("ListApplications", Some(ProvincialInstance), Ok, Hidden),
    ("ListApplications", Some(ChannelService), Denied, Denied),
    ("AddNote", None, Unauth, Unauth),
    ("AddNote", Some(DeskOfficer), Ok, Hidden),
    ("AddNote", Some(UnitOfficer), Ok, Hidden),
    ("AddNote", Some(DeputyGovernor), Ok, Hidden),
    ("AddNote", Some(Governor), Ok, Hidden),
    ("AddNote", Some(Kaymakam), Ok, Hidden),
    ("AddNote", Some(MinistryOfficer), Ok, Ok),
    ("AddNote", Some(MinistryAnalyst), Denied, Denied),
    ("AddNote", Some(PlatformOperator), Denied, Denied),
    ("AddNote", Some(ProvincialInstance), Ok, Hidden),
    ("AddNote", Some(ChannelService), Denied, Denied),
    ("ConcludeApplication", None, Unauth, Unauth),
    ("ConcludeApplication", Some(DeskOfficer), Ok, Hidden),
    ("ConcludeApplication", Some(UnitOfficer), Denied, Denied),
    ("ConcludeApplication", Some(DeputyGovernor), Denied, Denied),
    ("ConcludeApplication", Some(Governor), Denied, Denied),
    ("ConcludeApplication", Some(Kaymakam), Denied, Denied),
    ("ConcludeApplication", Some(MinistryOfficer), Ok, Ok),
    ("ConcludeApplication", Some(MinistryAnalyst), Denied, Denied),
    (
        "ConcludeApplication",
        Some(PlatformOperator),
        Denied,
        Denied,
    ),
    ("ConcludeApplication", Some(ProvincialInstance), Ok, Hidden),
    ("ConcludeApplication", Some(ChannelService), Denied, Denied),
    // The audit trail: operators and the Ministry centre, country-wide.
    ("ListAuditEntries", None, Unauth, Unauth),
    ("ListAuditEntries", Some(DeskOfficer), Denied, Denied),
    ("ListAuditEntries", Some(UnitOfficer), Denied, Denied),
    ("ListAuditEntries", Some(DeputyGovernor), Denied, Denied),
    ("ListAuditEntries", Some(Governor), Denied, Denied),
    ("ListAuditEntries", Some(Kaymakam), Denied, Denied),
    ("ListAuditEntries", Some(MinistryOfficer), Ok, Ok),
    ("ListAuditEntries", Some(MinistryAnalyst), Denied, Denied),
    ("ListAuditEntries", Some(PlatformOperator), Ok, Ok),
    ("ListAuditEntries", Some(ProvincialInstance), Denied, Denied),
    ("ListAuditEntries", Some(ChannelService), Denied, Denied),
    // Public: the tracking code protects the citizen's view.
    ("TrackApplication", None, Ok, Ok),
    ("TrackApplication", Some(MinistryAnalyst), Ok, Ok),
    ("TrackApplication", Some(PlatformOperator), Ok, Ok),
    // Public reference data.
    ("ListProvinces", None, Ok, Ok),
    ("ListDistricts", None, Ok, Ok),
    ("ListTopics", None, Ok, Ok),
    ("ListApplicationTypes", None, Ok, Ok),
];

/// Methods whose every role must be listed (the public ones need only a sample).
const PUBLIC: &[&str] = &[
    "TrackApplication",
    "ListProvinces",
    "ListDistricts",
    "ListTopics",
    "ListApplicationTypes",
];

#[test]
fn every_served_method_is_in_the_matrix() {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(acikkapi_proto::FILE_DESCRIPTOR_SET).unwrap();
    let served = ["IntakeService", "CatalogService", "AuditService"];
    let mut checked = 0;
    for service in fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| served.contains(&s.name()))
    {
        for m in &service.method {
            let name = m.name();
            let path = format!("/acikkapi.v1.{}/{name}", service.name());
            assert!(
                acikkapi::policy(&path).is_some(),
                "{path} has no access policy"
            );
            let rows: Vec<_> = MATRIX.iter().filter(|r| r.0 == name).collect();
            assert!(!rows.is_empty(), "{path} is missing from the access matrix");
            if !PUBLIC.contains(&name) {
                for role in Role::ALL {
                    assert!(
                        rows.iter().any(|r| r.1 == Some(role)),
                        "{path}: no row for {}",
                        role.as_str()
                    );
                }
                assert!(
                    rows.iter().any(|r| r.1.is_none()),
                    "{path}: no row for an anonymous caller"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(
        checked, 11,
        "IntakeService, CatalogService and AuditService methods"
    );
}

/// A fresh application in Ankara/6010, routed to unit u-06 (routing itself is issue #4).
async fn fixture(n: &TestNode, i: u64) -> (String, String) {
    let res = n
        .intake()
        .await
        .submit_application(submission(i))
        .await
        .unwrap()
        .into_inner();
    acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query("UPDATE applications SET unit_id = 'u-06' WHERE number = $1")
            .bind(&res.application_number).execute(pool).await.unwrap();
    });
    (res.application_number, res.tracking_code)
}

fn classify(r: Result<bool, tonic::Status>) -> Result<Expect, String> {
    match r {
        Result::Ok(true) => Result::Ok(Ok),
        Result::Ok(false) => Result::Ok(Hidden),
        Err(s) => match s.code() {
            Code::NotFound => Result::Ok(Hidden),
            Code::PermissionDenied => Result::Ok(Denied),
            Code::Unauthenticated => Result::Ok(Unauth),
            other => Err(format!("{other:?}: {}", s.message())),
        },
    }
}

/// Calls `method` as `c` (or `audit`, with the same token); Ok(visible?) or the status.
#[allow(clippy::too_many_arguments)]
async fn call(
    method: &str,
    c: &mut IntakeClient,
    audit: &mut AuditClient,
    cat: &mut pb::catalog_service_client::CatalogServiceClient<tonic::transport::Channel>,
    number: &str,
    code: &str,
    i: u64,
) -> Result<bool, tonic::Status> {
    match method {
        "SubmitApplication" => c
            .submit_application(submission(10_000 + i))
            .await
            .map(|_| true),
        "GetApplication" => c
            .get_application(pb::GetApplicationRequest {
                application_number: number.into(),
            })
            .await
            .map(|_| true),
        "ListApplications" => c
            .list_applications(pb::ListApplicationsRequest::default())
            .await
            .map(|r| {
                r.into_inner()
                    .applications
                    .iter()
                    .any(|a| a.application_number == number)
            }),
        "AddNote" => c
            .add_note(pb::AddNoteRequest {
                application_number: number.into(),
                author: "Test".into(),
                text: "Not".into(),
            })
            .await
            .map(|_| true),
        "ConcludeApplication" => c
            .conclude_application(pb::ConcludeApplicationRequest {
                application_number: number.into(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Sonuçlandı.".into(),
                alternatives: vec![],
            })
            .await
            .map(|_| true),
        "TrackApplication" => c
            .track_application(pb::TrackApplicationRequest {
                application_number: number.into(),
                tracking_code: code.into(),
            })
            .await
            .map(|_| true),
        // Visible = the trail of the application under test can be read.
        "ListAuditEntries" => audit
            .list_audit_entries(pb::ListAuditEntriesRequest {
                target: number.into(),
                ..Default::default()
            })
            .await
            .map(|r| {
                r.into_inner()
                    .entries
                    .iter()
                    .any(|e| e.target == number && e.action == "application.submit")
            }),
        "ListProvinces" => cat
            .list_provinces(pb::ListProvincesRequest {})
            .await
            .map(|_| true),
        "ListDistricts" => cat
            .list_districts(pb::ListDistrictsRequest { province_code: 6 })
            .await
            .map(|_| true),
        "ListTopics" => cat
            .list_topics(pb::ListTopicsRequest {})
            .await
            .map(|_| true),
        "ListApplicationTypes" => cat
            .list_application_types(pb::ListApplicationTypesRequest::default())
            .await
            .map(|_| true),
        other => panic!("no call for {other}"),
    }
}

async fn every_role_every_method_in_and_out_of_scope(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut cat = n.catalog().await;
    let mut failures = Vec::new();
    for (i, (method, role, in_scope, out_scope)) in MATRIX.iter().enumerate() {
        for (inside, expected) in [(true, *in_scope), (false, *out_scope)] {
            // A fresh application per case: conclusions and notes change state.
            let (number, code) = fixture(&n, (i * 2 + usize::from(inside)) as u64).await;
            let token = role.map(|r| {
                let (p, d, u) = if inside {
                    (6, 6010, "u-06")
                } else {
                    (34, 34035, "u-34")
                };
                // Only a kaymakam is bound to a district here; desks are the governorship's.
                let d = if r == Kaymakam { d } else { 0 };
                n.token(r, p, d, u)
            });
            let mut c = n.intake_as(token.as_deref()).await;
            let mut audit = n.audit_as(token.as_deref()).await;
            let got = classify(
                call(
                    method, &mut c, &mut audit, &mut cat, &number, &code, i as u64,
                )
                .await,
            );
            if got != Result::Ok(expected) {
                let who = role.map(Role::as_str).unwrap_or("anonymous");
                failures.push(format!(
                    "{method} as {who} {}: expected {expected:?}, got {got:?}",
                    if inside { "in scope" } else { "out of scope" }
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        MATRIX.len() * 2,
        failures.join("\n")
    );
    n.stop_and_clean().await;
}

async fn tokens_are_checked(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s.clone()).await;
    let get = |c: IntakeClient| async move {
        let mut c = c;
        c.list_applications(pb::ListApplicationsRequest::default())
            .await
            .map(|_| ())
            .map_err(|s| s.code())
    };
    let good = n.token(MinistryOfficer, 0, 0, "");
    assert_eq!(get(n.intake_as(Some(&good)).await).await, Result::Ok(()));

    // Rotation: a token signed with the older key (second in the list) still verifies.
    let mut old = s.clone();
    old.auth.keys = acikkapi_platform::config::Secret::new(format!("test-1:{}", "b2".repeat(32)));
    let by_old_key = acikkapi_platform::auth::Keys::load(&old)
        .unwrap()
        .issue(claims(MinistryOfficer), 3600)
        .unwrap();
    assert_eq!(
        get(n.intake_as(Some(&by_old_key)).await).await,
        Result::Ok(())
    );

    // A key the server does not know, a forged key under a known id, an expired token, garbage.
    let mut stranger = s.clone();
    stranger.auth.keys =
        acikkapi_platform::config::Secret::new(format!("other:{}", "c3".repeat(32)));
    let unknown = acikkapi_platform::auth::Keys::load(&stranger)
        .unwrap()
        .issue(claims(MinistryOfficer), 3600)
        .unwrap();
    stranger.auth.keys =
        acikkapi_platform::config::Secret::new(format!("test-2:{}", "c3".repeat(32)));
    let forged = acikkapi_platform::auth::Keys::load(&stranger)
        .unwrap()
        .issue(claims(MinistryOfficer), 3600)
        .unwrap();
    for (what, token) in [
        ("unknown key", unknown),
        ("forged", forged),
        ("garbage", "not.a.token".to_owned()),
    ] {
        assert_eq!(
            get(n.intake_as(Some(&token)).await).await,
            Err(Code::Unauthenticated),
            "{what}"
        );
    }
    // Expiry is checked with 30 s of leeway for clock skew; a token that
    // expired longer ago than that is refused.
    let long_expired = {
        let mut c = claims(MinistryOfficer);
        c.iss = "acikkapi".into();
        c.aud = "acikkapi".into();
        c.iat = 1_000;
        c.exp = 2_000;
        let key = jsonwebtoken::EncodingKey::from_secret(
            &acikkapi_platform::config::hex_decode(&"a1".repeat(32)).unwrap(),
        );
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.kid = Some("test-2".into());
        jsonwebtoken::encode(&h, &c, &key).unwrap()
    };
    assert_eq!(
        get(n.intake_as(Some(&long_expired)).await).await,
        Err(Code::Unauthenticated),
        "expired"
    );
    n.stop_and_clean().await;
}

fn claims(role: Role) -> acikkapi_platform::auth::Claims {
    acikkapi_platform::auth::Claims {
        sub: "t".into(),
        role,
        province: 0,
        district: 0,
        unit: String::new(),
        iss: String::new(),
        aud: String::new(),
        iat: 0,
        exp: 0,
    }
}

backend_tests!(
    every_role_every_method_in_and_out_of_scope,
    tokens_are_checked
);
