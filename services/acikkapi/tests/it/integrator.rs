//! The contract as a provincial system's developer meets it, through a
//! generic gRPC client that knows nothing but what reflection tells it
//! (`generic.rs`).

use crate::generic::{Generic, messages, millis, string};
use acikkapi::testing::TestNode;
use acikkapi_platform::auth::Role;
use acikkapi_testkit::{Backend, backend_tests, settings};
use serde_json::json;
use tokio_stream::StreamExt;
use tonic_types::StatusExt;

/// `$name(node, symbol)`: the services reflection version `$v` lists, and
/// how many descriptors it gives for `symbol` (non-zero when found). The
/// two versions' generated types differ only in their module.
macro_rules! reflect {
    ($name:ident, $v:ident) => {
        async fn $name(n: &TestNode, symbol: &str) -> (Vec<String>, usize) {
            use tonic_reflection::pb::$v::ServerReflectionRequest;
            use tonic_reflection::pb::$v::server_reflection_client::ServerReflectionClient;
            use tonic_reflection::pb::$v::server_reflection_request::MessageRequest;
            use tonic_reflection::pb::$v::server_reflection_response::MessageResponse;
            let mut c = ServerReflectionClient::new(n.channel().await);
            let asks = [
                MessageRequest::ListServices(String::new()),
                MessageRequest::FileContainingSymbol(symbol.into()),
            ]
            .map(|m| ServerReflectionRequest {
                host: String::new(),
                message_request: Some(m),
            });
            let mut answers = c
                .server_reflection_info(tokio_stream::iter(asks))
                .await
                .expect(concat!("reflection ", stringify!($v)))
                .into_inner();
            let (mut services, mut files) = (Vec::new(), 0);
            while let Some(a) = answers.next().await {
                match a.expect("answer").message_response {
                    Some(MessageResponse::ListServicesResponse(l)) => {
                        services = l.service.into_iter().map(|s| s.name).collect()
                    }
                    Some(MessageResponse::FileDescriptorResponse(f)) => {
                        files = f.file_descriptor_proto.len()
                    }
                    other => panic!("unexpected reflection answer {other:?}"),
                }
            }
            (services, files)
        }
    };
}

reflect!(reflect_v1, v1);
// What Python's grpcio-reflection and grpcurl 1.8 ask.
reflect!(reflect_v1alpha, v1alpha);

async fn reflection_answers_in_both_versions(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    for (version, (services, files)) in [
        ("v1", reflect_v1(&n, "acikkapi.v1.IntakeService").await),
        (
            "v1alpha",
            reflect_v1alpha(&n, "acikkapi.v1.IntakeService").await,
        ),
    ] {
        for served in acikkapi::served_services() {
            assert!(
                services.iter().any(|s| s == served),
                "{version}: {served} not listed in {services:?}"
            );
        }
        assert!(files > 0, "{version}: no descriptor for IntakeService");
    }
    n.stop_and_clean().await;
}

const INTAKE: &str = "acikkapi.v1.IntakeService";
const ROUTING: &str = "acikkapi.v1.RoutingService";
const ESCALATION: &str = "acikkapi.v1.EscalationService";

/// A generic client calling as the Ministry centre (every scope).
async fn generic(n: &TestNode) -> Generic {
    Generic::connect(n, Some(n.token(Role::MinistryOfficer, 0, 0, ""))).await
}

/// A submission written as the JSON a caller sends, from the fixture.
fn submission(g: &Generic, i: u64) -> serde_json::Value {
    g.json_of(
        "acikkapi.v1.SubmitApplicationRequest",
        &acikkapi_testkit::submission(i),
    )
}

async fn submit(g: &Generic, request: serde_json::Value) -> String {
    let answer = g
        .call(&format!("{INTAKE}/SubmitApplication"), request)
        .await
        .expect("submitted");
    string(&answer, "application_number")
}

/// A refusal carries its field as data: a `google.rpc.BadRequest` field
/// violation in `grpc-status-details-bin` (read here with tonic's rich
/// error model, as any gRPC library reads it), beside the readable
/// message in the platform's `field: why` convention; nothing is written.
async fn a_refusal_names_its_field_as_data(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let g = generic(&n).await;
    let mut bad = submission(&g, 1);
    bad["applicant"]["mobilePhone"] = json!("0312 123 45 67");
    let e = g
        .call(&format!("{INTAKE}/SubmitApplication"), bad)
        .await
        .expect_err("a landline is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    let violations = |e: &tonic::Status| -> Vec<(String, String)> {
        e.get_error_details()
            .bad_request()
            .map(|b| {
                b.field_violations
                    .iter()
                    .map(|v| (v.field.clone(), v.description.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let v = violations(&e);
    assert_eq!(v.len(), 1, "{e:?}");
    assert_eq!(v[0].0, "applicant.mobile_phone");
    assert!(!v[0].1.is_empty());
    assert_eq!(e.message(), format!("{}: {}", v[0].0, v[0].1));
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        0
    );
    // Another service's refusal, the same shape.
    let e = g
        .call(
            &format!("{ROUTING}/ListInbox"),
            json!({"unitId": "il06-belediye", "page": {"pageToken": "not a token"}}),
        )
        .await
        .expect_err("a malformed page token is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert_eq!(violations(&e)[0].0, "page.page_token", "{e:?}");
    // A request over the service's size limit (64 KiB for intake): the
    // same convention, at the field `request`, nothing written.
    let mut huge = submission(&g, 2);
    huge["text"] = json!("ç".repeat(40_000));
    let e = g
        .call(&format!("{INTAKE}/SubmitApplication"), huge)
        .await
        .expect_err("80,000 bytes are refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let v = violations(&e);
    assert_eq!(v.len(), 1, "{e:?}");
    assert_eq!(v[0].0, "request", "{e:?}");
    assert!(v[0].1.contains("65536"), "{e:?}");
    assert_eq!(e.message(), format!("request: {}", v[0].1));
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        0
    );
    n.stop_and_clean().await;
}

/// A call that follows another at once is served, as a script would make
/// it: routing and escalation wait for the event that tells them, instead
/// of answering "not found" or "not concluded" while `GetApplication`
/// already shows it.
async fn a_call_right_after_another_is_served(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let g = generic(&n).await;
    for i in 0..5 {
        let number = submit(&g, submission(&g, 100 + i)).await;
        g.call(
            &format!("{ESCALATION}/GetSla"),
            json!({"applicationNumber": number}),
        )
        .await
        .unwrap_or_else(|e| panic!("GetSla right after the submission: {e:?}"));
        g.call(
            &format!("{ROUTING}/TransferApplication"),
            json!({
                "applicationNumber": number,
                "toUnitId": "il06-meb",
                "reason": "İl Milli Eğitim Müdürlüğünün görev alanında.",
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("TransferApplication right after the submission: {e:?}"));
        g.call(
            &format!("{INTAKE}/ConcludeApplication"),
            json!({
                "applicationNumber": number,
                "outcome": "OUTCOME_POSITIVE",
                "explanation": "Talep karşılandı.",
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("ConcludeApplication: {e:?}"));
        g.call(
            &format!("{ROUTING}/ReopenApplication"),
            json!({
                "applicationNumber": number,
                "reason": "Başvuru sahibi cevabın eksik olduğunu bildirdi.",
            }),
        )
        .await
        .unwrap_or_else(|e| panic!("ReopenApplication right after the conclusion: {e:?}"));
    }
    // What does not exist is still not found, after the short wait.
    let nobody = acikkapi_domain::application_number::ApplicationNumber::new(2026, 6, 9_999_999)
        .expect("a well-formed number")
        .digits();
    let e = g
        .call(
            &format!("{ROUTING}/TransferApplication"),
            json!({"applicationNumber": nobody, "toUnitId": "il06-meb", "reason": "Yok."}),
        )
        .await
        .expect_err("no such application");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    n.stop_and_clean().await;
}

/// A unit's inbox as `ListInbox` gives it, page by page: (number,
/// deadline) in the order given.
async fn inbox(g: &Generic, unit: &str, page_size: u32) -> Vec<(String, Option<i64>)> {
    let (mut items, mut token) = (Vec::new(), String::new());
    loop {
        let page = g
            .call(
                &format!("{ROUTING}/ListInbox"),
                json!({"unitId": unit, "page": {"pageSize": page_size, "pageToken": token}}),
            )
            .await
            .expect("inbox");
        for i in messages(&page, "items") {
            items.push((string(&i, "application_number"), millis(&i, "deadline")));
        }
        token = string(&page, "next_page_token");
        if token.is_empty() {
            return items;
        }
    }
}

/// `ListInbox` gives each application the deadline `GetSla` gives, and
/// orders by it: an elderly applicant's shorter budget comes first, a
/// paused clock (no deadline) last, in pages that follow each other.
async fn the_inbox_is_ordered_by_deadline(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let g = generic(&n).await;
    let mut numbers = Vec::new();
    for i in 0..4 {
        let mut req = submission(&g, 200 + i);
        if i == 2 {
            req["vulnerability"] = json!({"elderly": true});
        }
        numbers.push(submit(&g, req).await);
    }
    let [a, b, elderly, d] = numbers.clone().try_into().expect("four");
    // Pausing waits for escalation's clock (a call right after another).
    g.call(
        &format!("{ESCALATION}/PauseClock"),
        json!({"applicationNumber": b, "reason": "Tapu bilgisi bekleniyor."}),
    )
    .await
    .expect("paused");
    let sla = |number: String| {
        let g = &g;
        async move {
            let s = g
                .call(
                    &format!("{ESCALATION}/GetSla"),
                    json!({"applicationNumber": number}),
                )
                .await
                .expect("sla");
            millis(&s, "deadline")
        }
    };
    let mut want = Vec::new();
    for number in [&elderly, &a, &d, &b] {
        want.push((number.clone(), sla(number.clone()).await));
    }
    assert!(want[..3].iter().all(|(_, d)| d.is_some()), "{want:?}");
    assert_eq!(want[3].1, None, "a paused clock has no deadline");
    assert!(
        want[0].1 < want[1].1,
        "the elderly applicant's budget is shorter: {want:?}"
    );
    // Routing learns each deadline from escalation's event.
    let last = std::cell::RefCell::new(Vec::new());
    let same = acikkapi_testkit::eventually(30, || {
        let (g, want, last) = (&g, &want, &last);
        async move {
            let items = inbox(g, "il06-belediye", 1).await;
            let same = items == *want;
            *last.borrow_mut() = items;
            same
        }
    })
    .await;
    let last = last.into_inner();
    assert!(
        same,
        "inbox {last:?}, want {want:?} (receipt order {numbers:?})"
    );
    // Resumed, it has a deadline again, and comes before those due later.
    g.call(
        &format!("{ESCALATION}/ResumeClock"),
        json!({"applicationNumber": b}),
    )
    .await
    .expect("resumed");
    let resumed = sla(b.clone()).await.expect("a deadline again");
    let placed = acikkapi_testkit::eventually(30, || {
        let g = &g;
        let b = &b;
        async move {
            let items = inbox(g, "il06-belediye", 2).await;
            let deadlines: Vec<Option<i64>> = items.iter().map(|(_, d)| *d).collect();
            items.iter().any(|(x, d)| x == b && *d == Some(resumed))
                && deadlines.iter().all(Option::is_some)
                && deadlines.is_sorted()
        }
    })
    .await;
    assert!(placed, "{:?}", inbox(&g, "il06-belediye", 2).await);
    n.stop_and_clean().await;
}

backend_tests!(
    reflection_answers_in_both_versions,
    a_refusal_names_its_field_as_data,
    a_call_right_after_another_is_served,
    the_inbox_is_ordered_by_deadline,
);
