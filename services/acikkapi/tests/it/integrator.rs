//! The contract as a provincial system's developer meets it, through a
//! generic gRPC client that knows nothing but what reflection tells it.

use acikkapi::testing::TestNode;
use acikkapi_testkit::{Backend, backend_tests, settings};
use tokio_stream::StreamExt;

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

/// A refusal carries its field as data: a `google.rpc.BadRequest` field
/// violation in `grpc-status-details-bin`, beside the readable message in
/// the platform's `field: why` convention; nothing is written.
async fn a_refusal_names_its_field_as_data(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut bad = acikkapi_testkit::submission(1);
    bad.applicant.as_mut().unwrap().mobile_phone = "0312 123 45 67".into();
    let e = n
        .intake()
        .await
        .submit_application(bad)
        .await
        .expect_err("a landline is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    // `grpc-status-details-bin`, which tonic hands over as `details()`.
    assert!(
        !e.details().is_empty(),
        "the details travel in the standard trailer"
    );
    let violations = acikkapi_platform::error::field_violations(&e);
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].0, "applicant.mobile_phone");
    assert!(!violations[0].1.is_empty());
    assert_eq!(
        e.message(),
        format!("{}: {}", violations[0].0, violations[0].1)
    );
    assert_eq!(
        acikkapi_testkit::count(n.platform(), "applications").await,
        0
    );
    // Another service's refusal, the same shape.
    let e = n
        .routing()
        .await
        .list_inbox(acikkapi_proto::v1::ListInboxRequest {
            unit_id: "il06-belediye".into(),
            page: Some(acikkapi_proto::v1::PageRequest {
                page_token: "not a token".into(),
                ..Default::default()
            }),
        })
        .await
        .expect_err("a malformed page token is refused");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    assert_eq!(
        acikkapi_platform::error::field_violations(&e)[0].0,
        "page.page_token",
        "{e:?}"
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
    for i in 0..5 {
        let number = n.submit(acikkapi_testkit::submission(100 + i)).await;
        n.escalation()
            .await
            .get_sla(acikkapi_proto::v1::GetSlaRequest {
                application_number: number.clone(),
            })
            .await
            .unwrap_or_else(|e| panic!("GetSla right after the submission: {e:?}"));
        n.routing()
            .await
            .transfer_application(acikkapi_proto::v1::TransferApplicationRequest {
                application_number: number.clone(),
                to_unit_id: "il06-meb".into(),
                reason: "İl Milli Eğitim Müdürlüğünün görev alanında.".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("TransferApplication right after the submission: {e:?}"));
        n.conclude(&number).await;
        n.routing()
            .await
            .reopen_application(acikkapi_proto::v1::ReopenApplicationRequest {
                application_number: number.clone(),
                reason: "Başvuru sahibi cevabın eksik olduğunu bildirdi.".into(),
            })
            .await
            .unwrap_or_else(|e| panic!("ReopenApplication right after the conclusion: {e:?}"));
    }
    // What does not exist is still not found, after the short wait.
    let e = n
        .routing()
        .await
        .transfer_application(acikkapi_proto::v1::TransferApplicationRequest {
            application_number: acikkapi_domain::application_number::ApplicationNumber::new(
                2026, 6, 9_999_999,
            )
            .expect("a well-formed number")
            .digits(),
            to_unit_id: "il06-meb".into(),
            reason: "Yok.".into(),
        })
        .await
        .expect_err("no such application");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    n.stop_and_clean().await;
}

backend_tests!(
    reflection_answers_in_both_versions,
    a_refusal_names_its_field_as_data,
    a_call_right_after_another_is_served,
);
