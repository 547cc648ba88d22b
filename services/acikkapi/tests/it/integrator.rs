//! The contract as a provincial system's developer meets it, through a
//! generic gRPC client that knows nothing but what reflection tells it.

use acikkapi::testing::TestNode;
use acikkapi_testkit::{Backend, backend_tests, settings};
use tokio_stream::StreamExt;

/// The services reflection `v1` lists, and the descriptor it gives for
/// `symbol` (non-empty when found).
async fn reflect_v1(n: &TestNode, symbol: &str) -> (Vec<String>, usize) {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
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
        .expect("reflection v1")
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

/// The same through `v1alpha`, which Python's grpcio-reflection asks.
async fn reflect_v1alpha(n: &TestNode, symbol: &str) -> (Vec<String>, usize) {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;
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
        .expect("reflection v1alpha")
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

backend_tests!(reflection_answers_in_both_versions);
