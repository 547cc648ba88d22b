//! SIGTERM during a burst of submissions, on the production backend, with
//! the real binary as Kubernetes runs it: readiness turns false at once,
//! the process drains and exits cleanly within the pod's grace period,
//! and nothing it acknowledged is lost: every application it answered is
//! in the store, and every application in the store (answered or not) is
//! routed and gets its receipt SMS once a replica runs again.

use acikkapi::testing::TestNode;
use acikkapi_platform::auth::ClientCredentials;
use acikkapi_platform::auth::Role::ChannelService;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, count, eventually, settings, submission};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// `terminationGracePeriodSeconds` in helm/acikkapi/values.yaml: after it
/// Kubernetes kills the pod.
const GRACE: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn status(port: u16, path: &str) -> Option<u16> {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let reply = tokio::time::timeout(
        Duration::from_secs(2),
        acikkapi_testkit::http_get_checked(addr, path),
    )
    .await
    .ok()??;
    reply.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigterm_during_a_burst_loses_nothing_and_exits_in_time() {
    let (mut s, _dir) = settings(Backend::Production);
    s.escalation.sweep_interval_ms = 0;
    let http = free_port();
    s.server.http_addr = format!("127.0.0.1:{http}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_acikkapi"))
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .envs(acikkapi_testkit::env_of(&s))
        .env("ACIKKAPI__SERVER__SHUTDOWN_DELAY_MS", "2000")
        .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
        // One token sends the whole burst: the per-client limit is not under test.
        .env("ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE", "0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start acikkapi serve");
    let addr = acikkapi_testkit::announced_addr(child.stdout.take().unwrap());
    assert_eq!(status(http, "/readyz").await, Some(200), "ready before");
    let token = acikkapi_testkit::token_for(&s, ChannelService, 0, 0, "");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();

    // The burst: 8 clients submitting as fast as they are answered.
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for c in 0..8u64 {
        let mut intake = pb::intake_service_client::IntakeServiceClient::with_interceptor(
            channel.clone(),
            ClientCredentials::new(Some(&token)).unwrap(),
        );
        let (acked, stop) = (acked.clone(), stop.clone());
        clients.push(tokio::spawn(async move {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                match intake.submit_application(submission(c * 100_000 + i)).await {
                    Ok(r) => acked.lock().await.push(r.into_inner().application_number),
                    // Refused or cut off while draining: not acknowledged.
                    Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                }
                i += 1;
            }
        }));
    }
    assert!(
        eventually(30, || async { acked.lock().await.len() >= 200 }).await,
        "the burst is under way"
    );

    // SIGTERM mid-burst.
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let signalled = Instant::now();
    // Readiness turns false as soon as the signal is handled, while the
    // process still serves (for `shutdown_delay_ms`).
    assert!(
        eventually(5, || async { status(http, "/readyz").await == Some(503) }).await,
        "not ready while draining"
    );
    let exited = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    assert!(exited.success(), "exit after SIGTERM: {exited:?}");
    // A bound, not a speed measurement: past it the pod would be killed.
    assert!(
        took < GRACE,
        "exited after {took:?}, beyond the grace period"
    );

    // A replica runs again on the same store and bus.
    let acked = acked.lock().await.clone();
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    let digits: Vec<String> = acked.iter().map(|a| a.replace('-', "")).collect();
    let stored = count(&p, "applications").await;
    let missing: Vec<&String> = {
        let mut missing = Vec::new();
        for d in &digits {
            if count(&p, &format!("applications WHERE number = '{d}'")).await != 1 {
                missing.push(d);
            }
        }
        missing
    };
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    assert!(stored >= acked.len() as i64);
    println!(
        "{} acknowledged, {stored} stored, exit {took:?} after SIGTERM",
        acked.len()
    );
    // Every stored application's events reach their consumers: routed, and
    // its receipt SMS sent, once each.
    assert!(
        eventually(120, || async {
            count(&p, "routing_assignments").await == stored
                && count(
                    &p,
                    "sms_messages WHERE template = 'receipt' AND status = 'sent'",
                )
                .await
                    == stored
        })
        .await,
        "{stored} stored; {} routed, {} receipts sent",
        count(&p, "routing_assignments").await,
        count(
            &p,
            "sms_messages WHERE template = 'receipt' AND status = 'sent'"
        )
        .await
    );
    assert_eq!(
        count(&p, "sms_messages WHERE template = 'receipt'").await,
        stored
    );
    assert!(
        eventually(30, || async { count(&p, "outbox").await == 0 }).await,
        "nothing left unpublished"
    );
    n.stop_and_clean().await;
}
