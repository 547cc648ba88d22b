//! Who may see and do what: every role × every RPC × in scope / out of
//! scope, with the expected answer, on both backends. Every method the
//! binary serves must have rows here: `every_served_method_is_in_the_matrix`
//! fails the build for a method that has none.

use acikkapi::testing::{
    AuditClient, EscalationClient, IntakeClient, NotificationClient, ReportingClient,
    RoutingClient, TestNode,
};
use acikkapi_platform::auth::Role::{self, *};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, backend_tests, count, eventually, settings, submission};
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

/// In scope = bound to Ankara (6), district 6010 for a kaymakam, unit
/// il06-belediye; out of scope = İstanbul (34), district 34035, unit
/// il34-belediye. The application under test is in Ankara/6010 (a
/// pavement complaint, H07-01), routed by the default rules to il06-belediye.
///
/// One row per method: for each caller, what it gets in scope and out of
/// scope, two letters: O answered and visible, H hidden (NOT_FOUND, or a
/// list without it), D PERMISSION_DENIED, U UNAUTHENTICATED; `--` is not
/// checked (public methods, whose callers are listed where it matters).
/// Callers, in order: no token (an), then `Role::ALL`: desk (de), unit
/// (un), deputy governor (dg), governor (go), kaymakam (ka), ministry
/// officer (mo), ministry analyst (ma), operator (op), provincial instance
/// (pi), channel service (ch).
#[rustfmt::skip]
const MATRIX: &[(&str, &str)] = &[
    //                         an de un dg go ka mo ma op pi ch
    ("SubmitApplication",     "UU OD DD DD DD DD OO DD DD OD OO"),
    ("GetApplication",        "UU OH OH OH OH OH OO DD DD OH DD"),
    ("ListApplications",      "UU OH OH OH OH OH OO DD DD OH DD"),
    ("AddNote",               "UU OH OH OH OH OH OO DD DD OH DD"),
    ("ConcludeApplication",   "UU OH DD DD DD DD OO DD DD OH DD"),
    // The registry is configuration: operators and the Ministry centre, country-wide.
    ("UpsertUnit",            "UU DD DD DD DD DD OO DD OO DD DD"),
    // The registry and the rules are readable by everyone who works with them.
    ("ListUnits",             "UU OO OO OO OO OO OO OO OO OO DD"),
    // Rules: nationally operators and the Ministry; a place's overrides its governor or kaymakam.
    ("UpsertRule",            "UU DD DD OD OD OD OO DD OO DD DD"),
    ("ListRules",             "UU OO OO OO OO OO OO OO OO OO DD"),
    ("DeleteRule",            "UU DD DD OD OD OD OO DD OO DD DD"),
    // A channel may show the citizen where the application will go.
    ("ExplainRoute",          "UU OO OO OO OO OO OO OO OO OO OO"),
    // Applications at a unit: scoped like reads, out of scope NOT_FOUND.
    ("TransferApplication",   "UU OH OH DD DD DD OO DD DD OH DD"),
    ("ListResponses",         "UU OH OH OH OH OH OO DD DD OH DD"),
    ("ScheduleMeeting",       "UU OD DD OD OD OD OO DD DD OD DD"),
    ("ListMeetings",          "UU OH DD OH OH OH OO OO DD OH DD"),
    ("GetMeetingReport",      "UU OH DD OH OH OH OO OO DD OH DD"),
    ("ListInbox",             "UU OH OH OH OH OH OO DD DD OH DD"),
    ("RespondToApplication",  "UU OH OH DD DD DD OO DD DD OH DD"),
    // The desk reopens and reclassifies.
    ("ReopenApplication",     "UU OH DD DD DD DD OO DD DD OH DD"),
    ("ReclassifyApplication", "UU OH DD DD DD DD OO DD DD OH DD"),
    // The audit trail: operators and the Ministry centre, country-wide.
    ("ListAuditEntries",      "UU DD DD DD DD DD OO DD OO DD DD"),
    // Public: the tracking code protects the citizen's view.
    ("TrackApplication",      "OO -- -- -- -- -- -- OO OO -- --"),
    // The survey's code is the credential: the applicant has no token.
    ("SendPhoneCode",         "UU DD DD DD DD DD DD DD DD DD OO"),
    ("AnswerSurvey",          "OO -- OO -- -- -- -- -- -- -- OO"),
    // Public reference data.
    ("ListProvinces",         "OO -- -- -- -- -- -- -- -- -- --"),
    ("ListDistricts",         "OO -- -- -- -- -- -- -- -- -- --"),
    ("ListTopics",            "OO -- -- -- -- -- -- -- -- -- --"),
    ("ListApplicationTypes",  "OO -- -- -- -- -- -- -- -- -- --"),
    // What was sent to an applicant: the governorship's staff in scope, the centre, operators; never the answering unit.
    ("ListMessages",          "UU OH DD OH OH OH OO DD OO OH DD"),
    // The same readers, one message.
    ("GetMessageStatus",      "UU OH DD OH OH OH OO DD OO OH DD"),
    // Dead letters and their re-drive are country-wide operations.
    ("ListDeadLetters",       "UU DD DD DD DD DD OO DD OO DD DD"),
    // Re-drive: the same operators.
    ("RedriveDeadLetter",     "UU DD DD DD DD DD OO DD OO DD DD"),
    // Previews show no personal data: management and desks may try a wording.
    ("PreviewTemplate",       "UU OO DD OO OO OO OO DD OO DD DD"),
    // Templates are national configuration.
    ("UpsertTemplate",        "UU DD DD DD DD DD OO DD OO DD DD"),
    // An SLA carries no personal data: analysts and operators read it too.
    ("GetSla",                "UU OH OH OH OH OH OO OO OO OH DD"),
    // Lists: the caller's own scope; out of it, the application is not listed.
    ("ListOverdue",           "UU OH OH OH OH OH OO OO OO OH DD"),
    // As ListOverdue.
    ("ListApproaching",       "UU OH OH OH OH OH OO OO OO OH DD"),
    // Policies are no secret to staff.
    ("ListPolicies",          "UU OO OO OO OO OO OO OO OO OO DD"),
    // Policies are national configuration.
    ("UpsertPolicy",          "UU DD DD DD DD DD OO DD OO DD DD"),
    // A governorship closes its own province (Ankara here); national days are the centre's.
    ("AddCalendarDay",        "UU DD DD OD OD DD OO DD OO DD DD"),
    // As AddCalendarDay.
    ("RemoveCalendarDay",     "UU DD DD OD OD DD OO DD OO DD DD"),
    // Staff holding the application stop its clock.
    ("PauseClock",            "UU OH OH DD DD DD OO DD DD OH DD"),
    // As PauseClock.
    ("ResumeClock",           "UU OH OH DD DD DD OO DD DD OH DD"),
    // Which days count is public to every authenticated caller.
    ("ListCalendarDays",      "UU -- OO -- -- -- -- -- -- -- OO"),
    // Reports: each caller sees its own scope's figures (asked with no scope).
    ("GetTotals",             "UU OH OH OH OH OH OO OO DD OH DD"),
    // As GetTotals.
    ("GetTimeSeries",         "UU OH OH OH OH OH OO OO DD OH DD"),
    // As GetTotals.
    ("GetTopTypes",           "UU OH OH OH OH OH OO OO DD OH DD"),
    // As GetTotals.
    ("GetProblemAreas",       "UU OH OH OH OH OH OO OO DD OH DD"),
    // As GetTotals.
    ("GetRanking",            "UU OH OH OH OH OH OO OO DD OH DD"),
    // As GetTotals.
    ("GetSatisfaction",       "UU OH OH OH OH OH OO OO DD OH DD"),
    // A bulk export is management's and the Ministry's, not a desk's or a unit's.
    ("ExportApplications",    "UU DD DD OH OH OH OO OO DD OH DD"),
];

/// The matrix a case a line: (method, caller, expected in scope, out of scope).
fn matrix() -> Vec<(&'static str, Option<Role>, Expect, Expect)> {
    let expect = |c: u8| match c {
        b'O' => Ok,
        b'H' => Hidden,
        b'D' => Denied,
        b'U' => Unauth,
        other => panic!("matrix: no expectation {:?}", other as char),
    };
    let callers = std::iter::once(None).chain(Role::ALL.map(Some));
    MATRIX
        .iter()
        .flat_map(|(method, cells)| {
            let cells: Vec<&str> = cells.split(' ').collect();
            assert_eq!(cells.len(), 11, "{method}: a cell per caller");
            callers
                .clone()
                .zip(cells)
                .filter(|(_, c)| *c != "--")
                .map(move |(role, c)| {
                    let c = c.as_bytes();
                    (*method, role, expect(c[0]), expect(c[1]))
                })
        })
        .collect()
}

/// Methods whose every role must be listed (the public ones need only a sample).
const PUBLIC: &[&str] = &[
    "TrackApplication",
    "ListProvinces",
    "ListDistricts",
    "ListTopics",
    "ListApplicationTypes",
    "ListCalendarDays",
    "AnswerSurvey",
];

#[test]
fn every_served_method_is_in_the_matrix() {
    use prost::Message;
    let fds = prost_types::FileDescriptorSet::decode(acikkapi_proto::FILE_DESCRIPTOR_SET).unwrap();
    // What the binary mounts, from the same list the node mounts from: a
    // service made servable joins the matrix, or this test fails.
    let served = acikkapi::served_services();
    let mut checked = 0;
    for service in fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .filter(|s| served.contains(&format!("acikkapi.v1.{}", s.name()).as_str()))
    {
        for m in &service.method {
            let name = m.name();
            let path = format!("/acikkapi.v1.{}/{name}", service.name());
            assert!(
                acikkapi::policy(&path).is_some(),
                "{path} has no access policy"
            );
            let rows: Vec<_> = matrix().into_iter().filter(|r| r.0 == name).collect();
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
    // Intake 9, catalogue 4, routing 12, notification 8, escalation 10,
    // reporting 7, audit 1.
    assert_eq!(checked, 51, "served methods");
}

/// A fresh application in Ankara/6010, routed to il06-belediye. For a
/// reopening, concluded first (and seen concluded by routing).
async fn fixture(n: &TestNode, i: u64, concluded: bool) -> (String, String) {
    let res = n
        .intake()
        .await
        .submit_application(submission(i))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(n.routed(&res.application_number).await, "il06-belediye");
    if concluded {
        n.intake()
            .await
            .conclude_application(pb::ConcludeApplicationRequest {
                application_number: res.application_number.clone(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Sonuçlandı.".into(),
                alternatives: vec![],
            })
            .await
            .unwrap();
        let p = n.platform().clone();
        let number = res.application_number.clone();
        assert!(
            acikkapi_testkit::eventually(20, || {
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
    }
    (res.application_number, res.tracking_code)
}

/// Marks the application's sent receipt SMS dead (a fixture: the gateway
/// failing for good is tested in notification.rs); returns its id.
async fn dead_receipt(n: &TestNode, number: &str) -> String {
    let m = n.sms_in(number, "receipt", "sent").await;
    acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query("UPDATE sms_messages SET status = 'dead', last_error = 'test' WHERE id = $1")
            .bind(&m.id).execute(pool).await.map(|_| ()).expect("mark dead")
    });
    m.id
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

struct Clients<'a> {
    intake: IntakeClient,
    routing: RoutingClient,
    audit: AuditClient,
    notification: NotificationClient,
    escalation: EscalationClient,
    reporting: ReportingClient,
    catalog: pb::catalog_service_client::CatalogServiceClient<tonic::transport::Channel>,
    /// The Ministry centre, to set up and clean up around a call.
    admin: RoutingClient,
    /// The node, for notification's fixtures (its receipt SMS).
    node: &'a TestNode,
}

impl Clients<'_> {
    fn escalation_call(&self, method: &str) -> bool {
        acikkapi::policy(&format!("/acikkapi.v1.EscalationService/{method}")).is_some()
    }

    fn reporting_call(&self, method: &str) -> bool {
        acikkapi::policy(&format!("/acikkapi.v1.ReportingService/{method}")).is_some()
    }
}

/// Concludes the application and returns its survey's code.
async fn survey_of(n: &TestNode, number: &str) -> String {
    n.intake()
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.into(),
            outcome: pb::Outcome::Positive as i32,
            explanation: "Sonuçlandı.".into(),
            alternatives: vec![],
        })
        .await
        .expect("conclude");
    let p = n.platform().clone();
    let digits = number.replace('-', "");
    let code: Option<String> = acikkapi_testkit::eventually_some(30, || {
        let (p, digits) = (p.clone(), digits.clone());
        async move {
            acikkapi_platform::db!(&p.db, pool => {
                sqlx::query_scalar("SELECT code FROM sms_surveys WHERE number = $1")
                    .bind(&digits).fetch_optional(pool).await.expect("survey")
            })
        }
    })
    .await;
    code.expect("a survey after conclusion")
}

/// A reporting call in the caller's own scope (no scope asked): Ok(true)
/// when the scope's figures count applications (the fixtures are all in
/// Ankara/6010, routed to il06-belediye), Ok(false) when they count none.
async fn reporting_call(
    method: &str,
    k: &mut Clients<'_>,
    number: &str,
) -> Result<bool, tonic::Status> {
    let p = k.node.platform().clone();
    let digits = number.replace('-', "");
    // Concluded (with its survey sent) and folded into the read model first.
    k.node
        .intake()
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.into(),
            outcome: pb::Outcome::Negative as i32,
            explanation: "Sonuçlandı.".into(),
            alternatives: vec![],
        })
        .await
        .expect("conclude");
    let folded = format!(
        "rpt_applications WHERE number = '{digits}' AND status = {} AND survey_sent",
        pb::Status::Concluded as i32
    );
    assert!(
        eventually(30, || {
            let (p, folded) = (p.clone(), folded.clone());
            async move { count(&p, &folded).await == 1 }
        })
        .await,
        "{number} folded, concluded, surveyed"
    );
    let report = pb::ReportRequest::default();
    let c = &mut k.reporting;
    match method {
        "GetTotals" => c
            .get_totals(report)
            .await
            .map(|r| r.into_inner().received > 0),
        "GetTimeSeries" => c
            .get_time_series(pb::TimeSeriesRequest {
                report: Some(report),
                granularity: pb::Granularity::Month as i32,
            })
            .await
            .map(|r| r.into_inner().points.iter().any(|p| p.received > 0)),
        "GetTopTypes" => c
            .get_top_types(report)
            .await
            .map(|r| r.into_inner().types.iter().any(|t| t.key == "H07-01")),
        "GetProblemAreas" => c
            .get_problem_areas(pb::ProblemAreasRequest {
                report: Some(report),
                min_concluded: 1,
            })
            .await
            .map(|r| !r.into_inner().entries.is_empty()),
        "GetRanking" => c
            .get_ranking(pb::RankingRequest {
                report: Some(report),
                by: "unit".into(),
                ..Default::default()
            })
            .await
            .map(|r| {
                r.into_inner()
                    .entries
                    .iter()
                    .any(|e| e.key == "il06-belediye")
            }),
        "GetSatisfaction" => c
            .get_satisfaction(report)
            .await
            .map(|r| r.into_inner().surveys_sent > 0),
        "ExportApplications" => {
            let mut stream = c.export_applications(report).await?.into_inner();
            let mut csv = Vec::new();
            while let Some(chunk) = stream.message().await? {
                csv.extend(chunk.csv);
            }
            Result::Ok(String::from_utf8(csv).unwrap().contains(&digits))
        }
        other => panic!("no reporting call for {other}"),
    }
}

/// A date of its own for case `i` (a week apart, never an official holiday).
fn case_day(i: u64) -> String {
    use acikkapi_domain::calendar::{Calendar, Date};
    let cal = Calendar::builtin();
    let mut d = Date::parse("2033-01-03").unwrap().days() + i as i64 * 7;
    while cal.day_off(Date::from_days(d)).is_some() {
        d += 1;
    }
    Date::from_days(d).to_string()
}

async fn escalation_call(
    method: &str,
    k: &mut Clients<'_>,
    number: &str,
    i: u64,
) -> Result<bool, tonic::Status> {
    let clock = k.node.clock(&number.replace('-', "")).await;
    let in_list = |r: pb::ListSlaResponse| r.items.iter().any(|s| s.application_number == number);
    let c = &mut k.escalation;
    match method {
        "GetSla" => c
            .get_sla(pb::GetSlaRequest {
                application_number: number.into(),
            })
            .await
            .map(|r| r.into_inner().deadline == clock.deadline_ms.map(ts)),
        // Overdue as seen just after its deadline; both lists paged to the end.
        "ListOverdue" | "ListApproaching" => {
            if method == "ListOverdue" {
                k.node.platform().clock.set(clock.deadline_ms.unwrap() + 1);
            }
            let mut token = String::new();
            let found = loop {
                let page = Some(pb::PageRequest {
                    page_size: 500,
                    page_token: token.clone(),
                });
                let r = if method == "ListOverdue" {
                    c.list_overdue(pb::ListOverdueRequest { scope: None, page })
                        .await
                } else {
                    c.list_approaching(pb::ListApproachingRequest {
                        scope: None,
                        within_working_days: 10,
                        page,
                    })
                    .await
                };
                match r {
                    Err(e) => break Err(e),
                    Result::Ok(r) => {
                        let r = r.into_inner();
                        token = r.next_page_token.clone();
                        if in_list(r) {
                            break Result::Ok(true);
                        }
                        if token.is_empty() {
                            break Result::Ok(false);
                        }
                    }
                }
            };
            k.node.platform().clock.set(0);
            found
        }
        "ListPolicies" => c.list_policies(pb::ListPoliciesRequest {}).await.map(|r| {
            r.into_inner()
                .policies
                .iter()
                .any(|p| p.topic_code.is_empty())
        }),
        "UpsertPolicy" => c
            .upsert_policy(pb::UpsertPolicyRequest {
                policy: Some(pb::EscalationPolicy {
                    topic_code: "H09".into(),
                    ..acikkapi_escalation::policy::Policy::default_policy().to_proto()
                }),
            })
            .await
            .map(|_| true),
        // The in-scope and out-of-scope cases share the day: each leaves it as it found it.
        "AddCalendarDay" | "RemoveCalendarDay" => {
            let date = case_day(i);
            let day = pb::CalendarDay {
                date: date.clone(),
                name: "Kar nedeniyle idari izin".into(),
                half_day: false,
                province_code: 6,
                official: false,
            };
            let mut admin = k.node.escalation().await;
            let remove = pb::RemoveCalendarDayRequest {
                date,
                province_code: 6,
            };
            if method == "AddCalendarDay" {
                let r = c
                    .add_calendar_day(pb::AddCalendarDayRequest { day: Some(day) })
                    .await
                    .map(|_| true);
                if r.is_ok() {
                    admin.remove_calendar_day(remove).await.expect("clean up");
                }
                r
            } else {
                admin
                    .add_calendar_day(pb::AddCalendarDayRequest { day: Some(day) })
                    .await
                    .expect("add the day to remove");
                let r = c.remove_calendar_day(remove.clone()).await.map(|_| true);
                if r.is_err() {
                    admin.remove_calendar_day(remove).await.expect("clean up");
                }
                r
            }
        }
        "ListCalendarDays" => c
            .list_calendar_days(pb::ListCalendarDaysRequest {
                year: 2026,
                province_code: 6,
            })
            .await
            .map(|r| r.into_inner().days.iter().any(|d| d.date == "2026-10-29")),
        "PauseClock" => c
            .pause_clock(pb::PauseClockRequest {
                application_number: number.into(),
                reason: "Başvurucudan ek bilgi bekleniyor".into(),
            })
            .await
            .map(|r| r.into_inner().paused),
        "ResumeClock" => {
            k.node
                .escalation()
                .await
                .pause_clock(pb::PauseClockRequest {
                    application_number: number.into(),
                    reason: "Başvurucudan ek bilgi bekleniyor".into(),
                })
                .await
                .expect("pause to resume");
            c.resume_clock(pb::ResumeClockRequest {
                application_number: number.into(),
            })
            .await
            .map(|r| !r.into_inner().paused)
        }
        other => panic!("no escalation call for {other}"),
    }
}

fn ts(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A rule in Ankara/6010 for H09 (environment), which no other case uses.
fn test_rule(id: &str) -> pb::RoutingRule {
    pb::RoutingRule {
        id: id.into(),
        topic_code: "H09".into(),
        province_code: 6,
        district_code: 6010,
        institution: "csb".into(),
        ..Default::default()
    }
}

/// Calls `method` with the caller's clients; Ok(visible?) or the status.
fn ankara_meeting() -> pb::ScheduleMeetingRequest {
    pb::ScheduleMeetingRequest {
        province_code: 6,
        district_code: 6010,
        date: "2026-12-15".into(),
        place: "Etimesgut Kaymakamlığı toplantı salonu".into(),
        chair: "Kaymakam Ali Veli".into(),
    }
}

/// A meeting scheduled by the Ministry centre in Ankara / Etimesgut; its id.
async fn meeting_fixture(n: &TestNode) -> String {
    let token = n.token(MinistryOfficer, 0, 0, "");
    n.intake_as(Some(&token))
        .await
        .schedule_meeting(ankara_meeting())
        .await
        .expect("schedule")
        .into_inner()
        .id
}

async fn call(
    method: &str,
    k: &mut Clients<'_>,
    number: &str,
    code: &str,
    i: u64,
) -> Result<bool, tonic::Status> {
    let c = &mut k.intake;
    let cat = &mut k.catalog;
    let audit = &mut k.audit;
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
        // A meeting in Ankara / Etimesgut (6010), where the application is.
        "ScheduleMeeting" => c.schedule_meeting(ankara_meeting()).await.map(|_| true),
        "ListMeetings" => {
            let id = meeting_fixture(k.node).await;
            k.intake
                .list_meetings(pb::ListMeetingsRequest::default())
                .await
                .map(|r| r.into_inner().meetings.iter().any(|m| m.id == id))
        }
        "GetMeetingReport" => {
            let id = meeting_fixture(k.node).await;
            k.intake
                .get_meeting_report(pb::GetMeetingReportRequest { id })
                .await
                .map(|_| true)
        }
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
        "UpsertUnit" => k
            .routing
            .upsert_unit(pb::UpsertUnitRequest {
                unit: Some(pb::Unit {
                    id: format!("test-unit-{i}"),
                    name: "Ankara Test Birimi".into(),
                    r#type: pb::UnitType::Other as i32,
                    province_code: 6,
                    institution: "test".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(|_| true),
        "ListUnits" => k
            .routing
            .list_units(pb::ListUnitsRequest {
                scope: Some(pb::Scope {
                    province_code: 6,
                    ..Default::default()
                }),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().units.iter().any(|u| u.id == "il06-belediye")),
        // Created by the caller, then removed (so every case starts alike).
        "UpsertRule" => {
            let made = k
                .routing
                .upsert_rule(pb::UpsertRuleRequest {
                    rule: Some(test_rule("")),
                })
                .await?
                .into_inner();
            k.admin
                .delete_rule(pb::DeleteRuleRequest { id: made.id })
                .await
                .expect("clean up");
            Result::Ok(true)
        }
        "ListRules" => k
            .routing
            .list_rules(pb::ListRulesRequest::default())
            .await
            .map(|r| r.into_inner().rules.iter().any(|x| x.id == "national-h07")),
        // Created by the Ministry, deleted by the caller (else by the Ministry).
        "DeleteRule" => {
            let id = format!("test-rule-{i}");
            k.admin
                .upsert_rule(pb::UpsertRuleRequest {
                    rule: Some(test_rule(&id)),
                })
                .await
                .expect("set up");
            let r = k
                .routing
                .delete_rule(pb::DeleteRuleRequest { id: id.clone() })
                .await;
            if r.is_err() {
                k.admin
                    .delete_rule(pb::DeleteRuleRequest { id })
                    .await
                    .expect("clean up");
            }
            r.map(|_| true)
        }
        "ExplainRoute" => k
            .routing
            .explain_route(pb::ExplainRouteRequest {
                topic_code: "H07".into(),
                type_code: "H07-01".into(),
                province_code: 6,
                district_code: 6010,
            })
            .await
            .map(|r| r.into_inner().unit.is_some_and(|u| u.id == "il06-belediye")),
        "TransferApplication" => k
            .routing
            .transfer_application(pb::TransferApplicationRequest {
                application_number: number.into(),
                to_unit_id: "il06-csb".into(),
                reason: "Çevre konusu.".into(),
            })
            .await
            .map(|_| true),
        // Visible = the application is in the unit's inbox (all pages read).
        "ListInbox" => {
            let mut token = String::new();
            loop {
                let page = k
                    .routing
                    .list_inbox(pb::ListInboxRequest {
                        unit_id: "il06-belediye".into(),
                        page: Some(pb::PageRequest {
                            page_size: 500,
                            page_token: token,
                        }),
                    })
                    .await?
                    .into_inner();
                if page.items.iter().any(|x| x.application_number == number) {
                    return Result::Ok(true);
                }
                if page.next_page_token.is_empty() {
                    return Result::Ok(false);
                }
                token = page.next_page_token;
            }
        }
        "ListResponses" => k
            .routing
            .list_responses(pb::ListResponsesRequest {
                application_number: number.into(),
            })
            .await
            .map(|_| true),
        "RespondToApplication" => k
            .routing
            .respond_to_application(pb::RespondToApplicationRequest {
                application_number: number.into(),
                unit_id: "il06-belediye".into(),
                text: "Kaldırım onarım programına alındı.".into(),
                proposed_outcome: pb::Outcome::Positive as i32,
                alternatives: vec![],
            })
            .await
            .map(|_| true),
        "ReopenApplication" => k
            .routing
            .reopen_application(pb::ReopenApplicationRequest {
                application_number: number.into(),
                reason: "Başvuru sahibi memnun kalmadı.".into(),
            })
            .await
            .map(|_| true),
        "ReclassifyApplication" => k
            .routing
            .reclassify_application(pb::ReclassifyApplicationRequest {
                application_number: number.into(),
                topic_code: "H07".into(),
                type_code: "H07-02".into(),
                reason: "Tür yanlış seçilmiş.".into(),
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
        // Visible = the application's receipt SMS is listed.
        "ListMessages" => {
            k.node.sms_in(number, "receipt", "sent").await;
            k.notification
                .list_messages(pb::ListMessagesRequest {
                    application_number: number.into(),
                })
                .await
                .map(|r| {
                    r.into_inner()
                        .messages
                        .iter()
                        .any(|m| m.application_number == number && m.template == "receipt")
                })
        }
        "GetMessageStatus" => {
            let m = k.node.sms_in(number, "receipt", "sent").await;
            k.notification
                .get_message_status(pb::GetMessageStatusRequest { id: m.id })
                .await
                .map(|_| true)
        }
        // The receipt, once sent, is made a dead letter for the case.
        "ListDeadLetters" => {
            let id = dead_receipt(k.node, number).await;
            k.notification
                .list_dead_letters(pb::ListDeadLettersRequest { limit: 1000 })
                .await
                .map(|r| r.into_inner().messages.iter().any(|m| m.id == id))
        }
        "RedriveDeadLetter" => {
            let id = dead_receipt(k.node, number).await;
            k.notification
                .redrive_dead_letter(pb::RedriveDeadLetterRequest { id })
                .await
                .map(|_| true)
        }
        "AnswerSurvey" => {
            let code = survey_of(k.node, number).await;
            k.notification
                .answer_survey(pb::AnswerSurveyRequest {
                    code,
                    score: 4,
                    reply: String::new(),
                })
                .await
                .map(|r| r.into_inner().recorded)
        }
        "PreviewTemplate" => k
            .notification
            .preview_template(pb::PreviewTemplateRequest {
                name: "receipt".into(),
                values: Default::default(),
            })
            .await
            .map(|_| true),
        // A template of the case's own, so the receipts of later cases are unchanged.
        // No application yet, so no scope: the channel may, nobody else.
        "SendPhoneCode" => k
            .notification
            .send_phone_code(pb::SendPhoneCodeRequest {
                mobile_phone: "0532 123 45 67".into(),
                code: "123456".into(),
                province_code: 6,
                idempotency_key: format!("access-{i}-{}", uuid::Uuid::new_v4()),
            })
            .await
            .map(|_| true),
        "UpsertTemplate" => k
            .notification
            .upsert_template(pb::UpsertTemplateRequest {
                template: Some(pb::SmsTemplate {
                    name: format!("test_{i}"),
                    body: "{governorship}: başvurunuz {number} alındı.".into(),
                    ..Default::default()
                }),
            })
            .await
            .map(|_| true),
        _ if k.escalation_call(method) => escalation_call(method, k, number, i).await,
        _ if k.reporting_call(method) => reporting_call(method, k, number).await,
        other => panic!("no call for {other}"),
    }
}

async fn every_role_every_method_in_and_out_of_scope(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut failures = Vec::new();
    let cases = matrix();
    for (i, (method, role, in_scope, out_scope)) in cases.iter().enumerate() {
        for (inside, expected) in [(true, *in_scope), (false, *out_scope)] {
            // A fresh application per case: conclusions and notes change state.
            let (number, code) = fixture(
                &n,
                (i * 2 + usize::from(inside)) as u64,
                *method == "ReopenApplication",
            )
            .await;
            let token = role.map(|r| {
                let (p, d, u) = if inside {
                    (6, 6010, "il06-belediye")
                } else {
                    (34, 34035, "il34-belediye")
                };
                // Only a kaymakam is bound to a district here; desks are the governorship's.
                let d = if r == Kaymakam { d } else { 0 };
                n.token(r, p, d, u)
            });
            let mut clients = Clients {
                intake: n.intake_as(token.as_deref()).await,
                routing: n.routing_as(token.as_deref()).await,
                audit: n.audit_as(token.as_deref()).await,
                notification: n.notification_as(token.as_deref()).await,
                escalation: n.escalation_as(token.as_deref()).await,
                reporting: n.reporting_as(token.as_deref()).await,
                catalog: n.catalog().await,
                admin: n.routing().await,
                node: &n,
            };
            let got = classify(call(method, &mut clients, &number, &code, i as u64).await);
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
        cases.len() * 2,
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
