//! Traces leave by OTLP to whatever collector the operator names (Jaeger,
//! Tempo, an OpenTelemetry collector), and what is still buffered when the
//! pod is stopped goes out before the process exits. The real binary, on
//! the production backend, exports to a collector the test starts; the
//! exporter's batch interval is set longer than the test, so the spans
//! arrive by the flush at SIGTERM.

use acikkapi_platform::auth::ClientCredentials;
use acikkapi_platform::auth::Role::{ChannelService, MinistryOfficer};
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::collector::FakeCollector;
use acikkapi_testkit::{Backend, eventually, settings, submission};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_reach_the_collector_and_the_last_ones_are_flushed_at_sigterm() {
    let collector = FakeCollector::start().await;
    let (mut s, _dir) = settings(Backend::Production);
    s.escalation.sweep_interval_ms = 0;
    let mut child = Command::new(env!("CARGO_BIN_EXE_acikkapi"))
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .envs(acikkapi_testkit::env_of(&s))
        .env("ACIKKAPI__TELEMETRY__OTLP_ENDPOINT", &collector.url)
        .env("ACIKKAPI__TELEMETRY__SERVICE_NAME", "acikkapi-otlp-test")
        .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "info")
        .env("ACIKKAPI__SERVER__SHUTDOWN_DELAY_MS", "0")
        // The SDK's batch interval: longer than the test, so only the
        // flush at shutdown can deliver the spans.
        .env("OTEL_BSP_SCHEDULE_DELAY", "120000")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start acikkapi serve");
    let addr = acikkapi_testkit::announced_addr(child.stdout.take().unwrap());
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let as_role = |role| {
        let token = acikkapi_testkit::token_for(&s, role, 0, 0, "");
        pb::intake_service_client::IntakeServiceClient::with_interceptor(
            channel.clone(),
            ClientCredentials::new(Some(&token)).unwrap(),
        )
    };
    let req = submission(31);
    let national_id = req.applicant.as_ref().unwrap().national_id.clone();
    let number = as_role(ChannelService)
        .submit_application(req)
        .await
        .unwrap()
        .into_inner()
        .application_number;
    // Routed, and intake has followed: the routing's spans have ended.
    let staff = as_role(MinistryOfficer);
    let routed = eventually(20, || {
        let (mut staff, number) = (staff.clone(), number.clone());
        async move {
            staff
                .get_application(pb::GetApplicationRequest {
                    application_number: number,
                })
                .await
                .is_ok_and(|r| !r.into_inner().unit_id.is_empty())
        }
    })
    .await;
    assert!(routed, "the application was routed");
    assert_eq!(
        collector.exports(),
        0,
        "nothing exported before the stop (batch interval of two minutes)"
    );

    let stopped = Instant::now();
    assert!(
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success()
    );
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert!(exit.success(), "clean exit: {exit:?}");
    assert!(stopped.elapsed() < Duration::from_secs(30));

    let sent = collector.received();
    assert!(
        collector.exports() > 0,
        "the spans still buffered were exported at shutdown"
    );
    for expected in [
        "acikkapi-otlp-test",
        "/acikkapi.v1.IntakeService/SubmitApplication",
        "consume ApplicationReceived",
        "consume ApplicationRouted",
        "application_number",
        number.as_str(),
        "province",
        "topic",
        "unit",
    ] {
        assert!(
            contains(&sent, expected),
            "the collector has no {expected:?}"
        );
    }
    for secret in [national_id.as_str(), "5321234567", "Ayşe", "Yılmaz"] {
        assert!(!contains(&sent, secret), "exported spans carry {secret:?}");
    }
}
