//! Three replicas of every service on the production backend (one
//! PostgreSQL schema, one RabbitMQ prefix with quorum queues, one Redis)
//! compete for the same queues during a burst, and every effect happens
//! exactly once: one routing, one SLA clock, one receipt, conclusion and
//! survey SMS each (in the table and at the "gateway"), one reporting row,
//! one timeline line per routing. The work is shared: more than one
//! replica applies events.

use acikkapi::testing::TestNode;
use acikkapi_platform::Platform;
use acikkapi_platform::store::Db;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, count, eventually, metric, settings, submission};

const BURST: u64 = 150;

fn applied(p: &Platform) -> f64 {
    [
        "routing",
        "notification",
        "escalation",
        "reporting",
        "intake",
    ]
    .iter()
    .map(|c| {
        metric(
            p,
            "acikkapi_events_consumed_total",
            &[&format!("consumer=\"{c}\""), "result=\"applied\""],
        )
    })
    .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_replicas_of_every_service_apply_each_effect_once() {
    let (mut s, _dir) = settings(Backend::Production);
    s.escalation.sweep_interval_ms = 0;
    assert_eq!(s.bus.queue_type, "quorum", "the default, as in production");
    let replicas = [
        TestNode::start(s.clone()).await,
        TestNode::start(s.clone()).await,
        TestNode::start(s.clone()).await,
    ];
    let p = replicas[0].platform().clone();

    // A burst through all three, concurrently.
    let mut tasks = Vec::new();
    for (r, node) in replicas.iter().enumerate() {
        let mut intake = node.intake().await;
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for i in 0..BURST / 3 {
                let res = intake
                    .submit_application(submission(1_000 * r as u64 + i))
                    .await
                    .expect("submit");
                numbers.push(res.into_inner().application_number);
            }
            numbers
        }));
    }
    let mut numbers = Vec::new();
    for t in tasks {
        numbers.extend(t.await.unwrap());
    }
    assert_eq!(numbers.len() as u64, BURST);
    let n = BURST as i64;
    assert!(
        eventually(60, || async {
            count(&p, "routing_assignments").await == n
                && count(&p, "sla_clocks WHERE unit_id <> ''").await == n
        })
        .await,
        "every application routed and clocked"
    );
    // Then every one concluded, again through all three.
    for (i, number) in numbers.iter().enumerate() {
        replicas[i % 3]
            .intake()
            .await
            .conclude_application(pb::ConcludeApplicationRequest {
                application_number: number.clone(),
                outcome: pb::Outcome::Positive as i32,
                explanation: "Sonuçlandı.".into(),
                alternatives: vec![],
            })
            .await
            .expect("conclude");
    }
    let sent = "sms_messages WHERE status = 'sent' AND template IN ('receipt', 'concluded_positive', 'survey_reply')";
    assert!(
        eventually(120, || async {
            count(&p, sent).await == 3 * n
                && count(
                    &p,
                    "rpt_applications WHERE status = 4 AND survey_sent AND within_sla IS NOT NULL",
                )
                .await
                    == n
        })
        .await,
        "every SMS sent and every application reported: {} SMS, {} reported",
        count(&p, sent).await,
        count(&p, "rpt_applications WHERE status = 4 AND survey_sent").await
    );

    // Exactly once, effect by effect.
    assert_eq!(count(&p, "routing_assignments").await, n);
    assert_eq!(count(&p, "routing_hops WHERE kind = 'routed'").await, n);
    assert_eq!(count(&p, "sla_clocks").await, n);
    assert_eq!(count(&p, "sms_surveys").await, n);
    assert_eq!(count(&p, "rpt_applications").await, n);
    for template in ["receipt", "concluded_positive", "survey_reply"] {
        assert_eq!(
            count(&p, &format!("sms_messages WHERE template = '{template}'")).await,
            n,
            "{template}"
        );
    }
    // One timeline line per routing (intake follows routing's events).
    let doubled = count(
        &p,
        "(SELECT number FROM application_history GROUP BY number, description HAVING COUNT(*) > 1) AS d",
    )
    .await;
    assert_eq!(doubled, 0, "a timeline line written twice");
    // The gateway got each message once: every replica appends to the same file.
    let lines = std::fs::read_to_string(s.data_dir.join("sms.jsonl")).unwrap_or_default();
    assert_eq!(lines.lines().count() as i64, 3 * n);

    // The replicas shared the work.
    let per_replica: Vec<f64> = replicas.iter().map(|r| applied(r.platform())).collect();
    println!("events applied per replica: {per_replica:?}");
    assert!(
        per_replica.iter().filter(|a| **a > 0.0).count() >= 2,
        "events applied per replica: {per_replica:?}"
    );
    let [a, b, c] = replicas;
    a.stop().await;
    b.stop().await;
    c.stop_and_clean().await;
}

/// The chaos harness's verdict (`load-tests/chaos-check.sql`), shared with
/// `make chaos`: one row an effect, (effect, lost, doubled).
const CHAOS_CHECK: &str = include_str!("../../../../load-tests/chaos-check.sql");

/// The services, each its own process as the chart deploys them.
const SERVICES: [&str; 5] = [
    "intake",
    "routing",
    "notification",
    "escalation",
    "reporting",
];

/// The service processes, killed if the test ends early (a failed
/// assertion must not leave them running).
struct Fleet(std::collections::BTreeMap<&'static str, std::process::Child>);

impl Drop for Fleet {
    fn drop(&mut self) {
        for child in self.0.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One `acikkapi serve --services <service>` process on the test's store,
/// bus and cache; returns it and its gRPC address.
fn spawn_service(service: &str, env: &[(String, String)]) -> (std::process::Child, String) {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_acikkapi"))
        .args(["serve", "--services", service, "--grpc-addr", "127.0.0.1:0"])
        .envs(env.iter().cloned())
        .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
        .env(
            "ACIKKAPI__LIMITS__SUBMIT_PER_CLIENT_PER_MINUTE",
            "100000000",
        )
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start acikkapi serve");
    let addr = acikkapi_testkit::announced_addr(child.stdout.take().unwrap());
    (child, addr)
}

/// Submits `req` to whichever intake process is up (its address in
/// `intake`) until one answers, retrying a failure that is not the
/// request's fault with the same idempotency key, as a channel does.
async fn submit_until_answered(
    intake: &std::sync::Mutex<String>,
    token: &str,
    req: pb::SubmitApplicationRequest,
) -> String {
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        let addr = intake.lock().unwrap().clone();
        let sent = async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?
                .connect_timeout(std::time::Duration::from_secs(2))
                .timeout(std::time::Duration::from_secs(10))
                .connect()
                .await
                .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
            pb::intake_service_client::IntakeServiceClient::with_interceptor(
                channel,
                acikkapi_platform::auth::ClientCredentials::new(Some(token)).unwrap(),
            )
            .submit_application(req.clone())
            .await
        };
        match sent.await {
            Ok(r) => return r.into_inner().application_number,
            Err(s)
                if !matches!(
                    s.code(),
                    tonic::Code::InvalidArgument
                        | tonic::Code::AlreadyExists
                        | tonic::Code::PermissionDenied
                        | tonic::Code::Unauthenticated
                ) && std::time::Instant::now() < give_up =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(s) => panic!("submission refused for good: {s}"),
        }
    }
}

/// The bounded chaos round of `make test` (the full one, with RabbitMQ and
/// PostgreSQL restarted too, is `make chaos`): every service in its own
/// process on the production backend, a burst submitted through intake,
/// and each of the five processes killed with SIGKILL mid-burst and
/// started again. Every number handed to a client then has each effect
/// exactly once: its application, routing assignment and routed hop,
/// timeline line, SLA clock, receipt SMS (in the table and at the
/// gateway, a real HTTP server), reporting row; and no application exists
/// that no client was told of. PostgreSQL and RabbitMQ are shared with
/// the other tests and never restarted here.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_service_killed_mid_burst_loses_and_doubles_nothing() {
    use acikkapi_testkit::gateway::FakeGateway;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    const BURST: usize = 300;
    const SUBMITTERS: usize = 6;

    let g = FakeGateway::start().await;
    let (mut s, _dir) = settings(Backend::Production);
    s.notification.provider = "http".into();
    s.notification.http_url = g.url.clone();
    s.notification.http_username = "908501234567".into();
    s.notification.http_password =
        acikkapi_platform::config::Secret::new("gateway-password".to_owned());
    s.notification.http_timeout_ms = 1_000;
    // A message a killed sender held is taken over after this.
    s.notification.lease_ms = 3_000;
    s.notification.poll_ms = 50;
    s.notification.rate_per_second = 0;
    let env = acikkapi_testkit::env_of(&s);
    let token =
        acikkapi_testkit::token_for(&s, acikkapi_platform::auth::Role::ChannelService, 0, 0, "");

    // Intake first: the others read the tables it makes.
    let mut fleet = Fleet(Default::default());
    let (child, intake_addr) = spawn_service("intake", &env);
    fleet.0.insert("intake", child);
    let intake = Arc::new(std::sync::Mutex::new(intake_addr));
    for service in &SERVICES[1..] {
        fleet.0.insert(*service, spawn_service(service, &env).0);
    }

    // The burst, and the kills while it runs: service k is killed once
    // (k + 1) / 6 of the burst has been handed out, then started again.
    let handed = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut submitters = Vec::new();
    for _ in 0..SUBMITTERS {
        let (intake, token, handed, next) =
            (intake.clone(), token.clone(), handed.clone(), next.clone());
        submitters.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= BURST {
                    return numbers;
                }
                let mut req = submission(50_000 + i as u64);
                req.province_code = [6, 34, 35][i % 3];
                req.district_code = 0;
                numbers.push(submit_until_answered(&intake, &token, req).await);
                handed.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    let mut killed = Vec::new();
    for (k, service) in SERVICES.iter().enumerate() {
        while handed.load(Ordering::SeqCst) < (k + 1) * BURST / 6 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut child = fleet.0.remove(service).unwrap();
        child.kill().expect("SIGKILL");
        killed.push((*service, handed.load(Ordering::SeqCst)));
        // Waiting for the child and for its address block: not on a
        // worker the submitters need.
        let (child, addr) = tokio::task::block_in_place(|| {
            child.wait().unwrap();
            spawn_service(service, &env)
        });
        if *service == "intake" {
            *intake.lock().unwrap() = addr;
        }
        fleet.0.insert(service, child);
    }
    let mut numbers = Vec::new();
    for t in submitters {
        numbers.extend(t.await.unwrap());
    }
    println!("killed (service, applications handed out by then): {killed:?}");
    assert_eq!(numbers.len(), BURST);
    assert!(
        killed.iter().all(|(_, at)| *at < BURST),
        "every kill came mid-burst: {killed:?}"
    );

    // The verdict, over the numbers handed out and the gateway's messages.
    let p = Platform::connect(s.clone(), &[], tokio_util::sync::CancellationToken::new())
        .await
        .unwrap();
    let verdict = || {
        let (p, numbers, gateway) = (p.clone(), numbers.clone(), g.order());
        async move {
            let Db::Postgres(pool) = &p.db else {
                unreachable!("production backend")
            };
            let mut t = pool.begin().await.unwrap();
            for sql in [
                "CREATE TABLE IF NOT EXISTS chaos_numbers (number TEXT PRIMARY KEY)",
                "CREATE TABLE IF NOT EXISTS chaos_gateway (id TEXT NOT NULL)",
                "DELETE FROM chaos_numbers",
                "DELETE FROM chaos_gateway",
            ] {
                sqlx::query(sql).execute(&mut *t).await.unwrap();
            }
            sqlx::query("INSERT INTO chaos_numbers SELECT unnest($1::text[])")
                .bind(&numbers)
                .execute(&mut *t)
                .await
                .unwrap();
            sqlx::query("INSERT INTO chaos_gateway SELECT unnest($1::text[])")
                .bind(&gateway)
                .execute(&mut *t)
                .await
                .unwrap();
            let rows: Vec<(String, i64, i64)> = sqlx::query_as(CHAOS_CHECK)
                .fetch_all(&mut *t)
                .await
                .unwrap();
            t.commit().await.unwrap();
            rows
        }
    };
    let drained = eventually(150, || async {
        verdict().await.iter().all(|(_, lost, _)| *lost == 0)
    })
    .await;
    // Stopped as Kubernetes stops a pod (SIGTERM, drained), then judged.
    for child in fleet.0.values() {
        let _ = std::process::Command::new("kill")
            .arg(child.id().to_string())
            .status();
    }
    for child in fleet.0.values_mut() {
        child.wait().unwrap();
    }
    let rows = verdict().await;
    println!("effect, lost, doubled: {rows:?}");
    assert!(drained, "not every effect arrived: {rows:?}");
    for (effect, lost, doubled) in &rows {
        assert_eq!((*lost, *doubled), (0, 0), "{effect}: lost, doubled");
    }
    assert_eq!(rows.len(), 9, "every effect judged");
    let p = p.clone();
    if let Db::Postgres(pool) = &p.db {
        sqlx::query(&format!("DROP SCHEMA IF EXISTS {} CASCADE", s.store.schema))
            .execute(pool)
            .await
            .ok();
    }
}
