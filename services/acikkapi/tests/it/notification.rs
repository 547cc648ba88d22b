//! Notification end to end, on both backends: one event → one SMS, also
//! when the event arrives twice, when the gateway fails, drops or hangs,
//! and when the process is killed between the gateway call and recording
//! it. The gateway is the only fake: a real HTTP server this test starts
//! (`acikkapi_testkit::gateway`).

use acikkapi::testing::TestNode;
use acikkapi_notification::messages::{self, NewMessage, PRIORITY_BULK, PRIORITY_RECEIPT};
use acikkapi_platform::auth::Role::*;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::config::{Secret, Settings};
use acikkapi_platform::service::Service;
use acikkapi_proto::EventKind;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::gateway::{FakeGateway, Mode};
use acikkapi_testkit::{
    Backend, backend_tests, effects, eventually, metric, settings, start_recording_consumer,
    submission,
};
use prost::Message as _;
use std::time::Duration;
use tonic::Code;

/// Settings sending through `g`, retrying fast.
fn via_gateway(backend: Backend, g: &FakeGateway) -> (Settings, tempfile::TempDir) {
    let (mut s, dir) = settings(backend);
    let n = &mut s.notification;
    n.provider = "http".into();
    n.http_url = g.url.clone();
    n.http_username = "908501234567".into();
    n.http_password = Secret::new("gateway-password".to_owned());
    n.http_timeout_ms = 500;
    n.lease_ms = 1_500;
    n.retry_base_ms = 10;
    n.retry_max_ms = 50;
    n.poll_ms = 20;
    n.rate_per_second = 0;
    (s, dir)
}

async fn submit(n: &TestNode, i: u64) -> String {
    n.intake()
        .await
        .submit_application(submission(i))
        .await
        .unwrap()
        .into_inner()
        .application_number
}

/// The lines of the file provider's `sms.jsonl`.
fn file_lines(s: &Settings) -> Vec<serde_json::Value> {
    std::fs::read_to_string(s.data_dir.join("sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

fn received(number: &str, id: String) -> Envelope {
    Envelope {
        id,
        kind: EventKind::ApplicationReceived.as_str().into(),
        key: number.into(),
        payload: pb::ApplicationReceived {
            application_number: number.into(),
            province_code: 6,
            ..Default::default()
        }
        .encode_to_vec(),
        headers: Default::default(),
    }
}

async fn one_event_one_sms_even_when_delivered_twice(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s.clone()).await;
    let p = n.platform().clone();
    // A second consumer of the same events tells us the original event id.
    start_recording_consumer(&p, "spy").await;
    let number = submit(&n, 1).await;

    let receipt = n.sms_in(&number, "receipt", "sent").await;
    // Hand-checked: "Ankara Valiliği Açık Kapı: başvurunuz alındı. Başvuru no:
    // 26-06-NNNNNNN-C Takip kodu: XXXXXXXX Takip: acikkapi.gov.tr/takip" is 123
    // characters, every one a single septet with the Turkish locking shift
    // (ş ğ ı ç İ are in it): one SMS.
    assert_eq!(receipt.body.chars().count(), 123, "{}", receipt.body);
    assert_eq!(receipt.encoding, "gsm7-turkish-locking");
    assert_eq!(receipt.segments, 1);
    assert_eq!(receipt.cost_micros, 20_000);
    assert!(
        receipt
            .body
            .starts_with("Ankara Valiliği Açık Kapı: başvurunuz alındı.")
    );
    let shown = acikkapi_domain::application_number::ApplicationNumber::parse(&number)
        .unwrap()
        .to_string();
    assert!(receipt.body.contains(&shown), "{}", receipt.body);
    assert_eq!(receipt.masked_recipient, "+90********67");

    let lines = file_lines(&s);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["id"], receipt.id.as_str());
    assert_eq!(lines[0]["to"], "+905321234567");
    assert_eq!(lines[0]["text"], receipt.body.as_str());

    // The same event again, and the same fact under a new event id. (The
    // spy may apply the event after notification sent the receipt: wait.)
    assert!(
        acikkapi_testkit::eventually(20, || {
            let (p, number) = (p.clone(), number.clone());
            async move { !effects(&p, &number).await.is_empty() }
        })
        .await
    );
    let original = effects(&p, &number).await;
    assert_eq!(original.len(), 1);
    let fresh = uuid::Uuid::now_v7().to_string();
    p.bus
        .publish(&[
            received(&number, original[0].0.clone()),
            received(&number, fresh.clone()),
        ])
        .await
        .unwrap();
    let dup = ["consumer=\"notification\"", "result=\"duplicate\""];
    let p2 = p.clone();
    assert!(
        eventually(20, || {
            let (p, fresh) = (p2.clone(), fresh.clone());
            async move {
                let applied: i64 = acikkapi_platform::db!(&p.db, pool => {
                    sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE consumer = 'notification' AND event_id = $1")
                        .bind(&fresh).fetch_one(pool).await.unwrap()
                });
                applied == 1 && metric(&p, "acikkapi_events_consumed", &dup) >= 1.0
            }
        })
        .await,
        "both copies reached notification"
    );

    n.intake()
        .await
        .conclude_application(pb::ConcludeApplicationRequest {
            application_number: number.clone(),
            outcome: pb::Outcome::Partial as i32,
            explanation: "Kısmen yapıldı.".into(),
            alternatives: vec![],
        })
        .await
        .unwrap();
    let concluded = n.sms_in(&number, "concluded_partial", "sent").await;
    assert!(concluded.body.contains("KISMEN OLUMLU, KISMEN OLUMSUZ"));
    assert!(concluded.body.contains("acikkapi.gov.tr/takip"));
    // Then the satisfaction survey, answered by reply (the default).
    let survey = n.sms_in(&number, "survey_reply", "sent").await;
    let code: String = acikkapi_platform::db!(&n.platform().db, pool => {
        sqlx::query_scalar("SELECT code FROM sms_surveys WHERE number = $1")
            .bind(&number).fetch_one(pool).await.unwrap()
    });
    assert!(
        survey.body.contains(&format!("{code} 5")),
        "{}",
        survey.body
    );

    // Staff see all three, masked, with encoding, segments and cost.
    let desk = n.token(DeskOfficer, 6, 0, "");
    let listed = n
        .notification_as(Some(&desk))
        .await
        .list_messages(pb::ListMessagesRequest {
            application_number: shown.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .messages;
    let got: Vec<_> = listed
        .iter()
        .map(|m| {
            (
                m.template.as_str(),
                m.status(),
                m.encoding(),
                m.segments,
                m.cost_micros,
                m.masked_recipient.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "receipt",
                pb::SmsStatus::Sent,
                pb::SmsEncoding::Gsm7Turkish,
                1,
                20_000,
                "+90********67"
            ),
            (
                "concluded_partial",
                pb::SmsStatus::Sent,
                pb::SmsEncoding::Gsm7Turkish,
                concluded.segments as u32,
                concluded.segments as u64 * 20_000,
                "+90********67"
            ),
            (
                "survey_reply",
                pb::SmsStatus::Sent,
                pb::SmsEncoding::Gsm7Turkish,
                survey.segments as u32,
                survey.segments as u64 * 20_000,
                "+90********67"
            ),
        ]
    );
    let bad = n
        .notification_as(Some(&desk))
        .await
        .list_messages(pb::ListMessagesRequest {
            application_number: "12".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(bad.message().starts_with("application_number: "), "{bad:?}");

    // Graceful stop, then count: exactly one SMS per cause, in the table and at the "gateway".
    n.stop_and_clean().await;
    assert_eq!(file_lines(&s).len(), 3);
}

async fn a_failing_gateway_is_retried_then_dead_lettered_and_a_redrive_sends_once(
    backend: Backend,
) {
    let g = FakeGateway::start().await;
    let (mut s, _dir) = via_gateway(backend, &g);
    s.notification.max_attempts = 4;
    let n = TestNode::start(s).await;
    let p = n.platform().clone();

    g.set(Mode::Fail);
    let number = submit(&n, 2).await;
    let dead = n.sms_in(&number, "receipt", "dead").await;
    assert_eq!(dead.attempts, 4);
    assert_eq!(g.sends(), 4);
    assert!(g.accepted().is_empty());
    assert!(dead.last_error.contains("500"), "{}", dead.last_error);
    assert_eq!(
        metric(&p, "acikkapi_sms_attempts", &["result=\"retried\""]),
        3.0
    );
    assert_eq!(
        metric(&p, "acikkapi_sms_attempts", &["result=\"dead\""]),
        1.0
    );

    // A number the gateway refuses is dead at once: no retry would help.
    g.set(Mode::RefuseNumber);
    let refused = submit(&n, 3).await;
    let refused = n.sms_in(&refused, "receipt", "dead").await;
    assert_eq!(refused.attempts, 1);
    assert!(refused.last_error.contains("INVALID_DESTINATION_ADDRESS"));

    let mut ops = n.notification().await;
    let letters = ops
        .list_dead_letters(pb::ListDeadLettersRequest { limit: 10 })
        .await
        .unwrap()
        .into_inner()
        .messages;
    let mut ids: Vec<_> = letters.iter().map(|m| m.id.as_str()).collect();
    ids.sort();
    let mut want = vec![dead.id.as_str(), refused.id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    assert!(letters.iter().all(|m| m.status() == pb::SmsStatus::Dead));
    let too_many = ops
        .list_dead_letters(pb::ListDeadLettersRequest { limit: 100_000 })
        .await
        .unwrap_err();
    assert!(too_many.message().starts_with("limit: "));

    // The gateway is back; the operator re-drives the first one: sent once.
    g.set(Mode::Accept);
    let before = g.sends();
    let redriven = ops
        .redrive_dead_letter(pb::RedriveDeadLetterRequest {
            id: dead.id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .message
        .unwrap();
    assert_ne!(redriven.status(), pb::SmsStatus::Dead);
    let sent = n.sms_in(&number, "receipt", "sent").await;
    assert_eq!(sent.provider_id, g.accepted()[&dead.id].campaign_id);
    // Re-driving what is not dead is refused, and says why.
    let again = ops
        .redrive_dead_letter(pb::RedriveDeadLetterRequest {
            id: dead.id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("not dead-lettered"), "{again:?}");
    let unknown = ops
        .redrive_dead_letter(pb::RedriveDeadLetterRequest { id: "nope".into() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);

    // On the trail: who re-drove which message.
    let trail = n
        .audit()
        .await
        .list_audit_entries(pb::ListAuditEntriesRequest {
            action: "sms.redrive".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .entries;
    assert_eq!(trail.len(), 1);
    assert_eq!(trail[0].target, number);
    assert_eq!(trail[0].actor, "test-platform-operator");

    n.stop_and_clean().await;
    assert_eq!(g.sends() - before, 1, "the re-drive sent exactly once");
    assert_eq!(g.accepted().len(), 1);
}

/// The gateway takes the message and the connection drops before its
/// answer: the sender cannot know. The retry asks first and finds it.
async fn a_send_whose_answer_is_lost_is_looked_up_not_repeated(backend: Backend) {
    let g = FakeGateway::start().await;
    let (s, _dir) = via_gateway(backend, &g);
    g.set(Mode::AcceptThenDrop);
    let n = TestNode::start(s).await;
    let number = submit(&n, 4).await;
    g.wait_sends(1).await;
    g.set(Mode::Accept);
    let m = n.sms_in(&number, "receipt", "sent").await;
    assert_eq!(m.tries, 2, "one lost answer, then the lookup");
    assert_eq!(m.provider_id, g.accepted()[&m.id].campaign_id);
    n.stop_and_clean().await;
    assert_eq!(g.sends(), 1, "not sent a second time");
    assert!(g.lookups() >= 1);
}

/// The real binary is SIGKILLed while the gateway holds the request it has
/// already taken. A node started on the same database finds the message
/// `sending` when the lease runs out, looks it up, and records it sent
/// without a second send.
async fn a_crash_between_send_and_record_sends_nothing_twice(backend: Backend) {
    use std::process::{Command, Stdio};
    let g = FakeGateway::start().await;
    let (mut s, _dir) = via_gateway(backend, &g);
    s.notification.http_timeout_ms = 2_000;
    s.notification.lease_ms = 5_000;
    g.set(Mode::AcceptThenHang);

    let mut child = Command::new(env!("CARGO_BIN_EXE_acikkapi"))
        .args(["serve", "--grpc-addr", "127.0.0.1:0"])
        .envs(acikkapi_testkit::env_of(&s))
        .env("ACIKKAPI__TELEMETRY__LOG_FILTER", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start acikkapi serve");
    let addr = acikkapi_testkit::announced_addr(child.stdout.take().unwrap());
    let token = acikkapi_testkit::token_for(&s, MinistryOfficer, 0, 0, "");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let number = pb::intake_service_client::IntakeServiceClient::with_interceptor(
        channel,
        acikkapi_platform::auth::ClientCredentials::new(Some(&token)).unwrap(),
    )
    .submit_application(submission(5))
    .await
    .unwrap()
    .into_inner()
    .application_number;

    g.wait_sends(1).await;
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    assert_eq!(g.accepted().len(), 1, "the gateway has it");

    g.set(Mode::Accept);
    let n = TestNode::start(s).await;
    let m = n.sms_in(&number, "receipt", "sent").await;
    assert_eq!(
        m.tries, 2,
        "claimed by the dead process, then by the new one"
    );
    assert_eq!(m.provider_id, g.accepted()[&m.id].campaign_id);
    n.stop_and_clean().await;
    assert_eq!(g.sends(), 1, "not sent a second time");
    assert!(g.lookups() >= 1);
}

/// Queues `count` messages of `priority` for made-up applications, straight
/// into the table (as a bulk campaign would).
async fn queue(
    p: &acikkapi_platform::Platform,
    prefix: &str,
    count: usize,
    priority: i64,
) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..count {
        let mut t = p.db.begin().await.unwrap();
        let id = messages::enqueue(
            &mut t,
            &p.vault,
            20_000,
            &NewMessage {
                dedup_key: format!("{prefix}:{i}"),
                number: format!("2606{i:08}"),
                province: 6,
                district: 6010,
                template: prefix.into(),
                phone: "+905321234567".into(),
                body: format!("Ankara Valiliği: duyuru {i}"),
                priority,
            },
        )
        .await
        .unwrap()
        .expect("queued");
        t.commit().await.unwrap();
        ids.push(id);
    }
    ids
}

/// With one sender, receipts queued after a bulk campaign still go first.
async fn receipts_go_before_bulk_messages(backend: Backend) {
    let g = FakeGateway::start().await;
    let (mut s, _dir) = via_gateway(backend, &g);
    s.notification.senders = 1;
    // Queue with no sender running: intake alone on the same database.
    let mut quiet = s.clone();
    quiet.services = vec![Service::Intake];
    let n = TestNode::start(quiet).await;
    let bulk = queue(n.platform(), "bulk", 20, PRIORITY_BULK).await;
    let receipts = queue(n.platform(), "receipt", 3, PRIORITY_RECEIPT).await;
    n.stop().await;

    let n = TestNode::start(s).await;
    assert!(eventually(30, || async { g.accepted().len() == 23 }).await);
    let order = g.order();
    assert_eq!(order[..3], receipts[..], "receipts first");
    let mut rest = order[3..].to_vec();
    rest.sort();
    let mut bulk_sorted = bulk.clone();
    bulk_sorted.sort();
    assert_eq!(rest, bulk_sorted);
    n.stop_and_clean().await;
}

/// At 20 a second, 30 messages cannot all go in the first second: the
/// account's budget is 2 per tenth of a second, so the last leaves at least
/// 14 tenths after the first. (A lower bound the limiter guarantees, not a
/// speed: a slow machine only makes it longer.)
async fn the_account_rate_is_kept(backend: Backend) {
    let g = FakeGateway::start().await;
    let (mut s, _dir) = via_gateway(backend, &g);
    s.notification.rate_per_second = 20;
    s.notification.senders = 8;
    let mut quiet = s.clone();
    quiet.services = vec![Service::Intake];
    let n = TestNode::start(quiet).await;
    queue(n.platform(), "bulk", 30, PRIORITY_BULK).await;
    n.stop().await;

    let n = TestNode::start(s).await;
    assert!(eventually(30, || async { g.accepted().len() == 30 }).await);
    let times: Vec<_> = g.accepted().values().map(|a| a.at).collect();
    let first = times.iter().min().unwrap();
    let last = times.iter().max().unwrap();
    assert!(
        last.duration_since(*first) >= Duration::from_millis(1_300),
        "30 messages left within {:?}",
        last.duration_since(*first)
    );
    assert!(
        metric(
            n.platform(),
            "acikkapi_rate_limits",
            &["sms_per_account", "waited"]
        ) >= 1.0
    );
    n.stop_and_clean().await;
}

async fn delivery_reports_update_the_status(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.notification.callback_token = Secret::new("cb-0123456789abcdef".to_owned());
    let n = TestNode::start(s).await;
    let http = n.node.http_addr.expect("http port");
    let a = n.sms_in(&submit(&n, 6).await, "receipt", "sent").await;
    let b = n.sms_in(&submit(&n, 7).await, "receipt", "sent").await;
    let path = "/notification/v1/delivery-reports/cb-0123456789abcdef";
    let body = format!(
        r#"[{{"campaign_id":1,"message_custom_id":"{}","status":"DELIVERED"}},
            {{"campaign_id":1,"message_custom_id":"{}","status":"EXPIRED"}},
            {{"campaign_id":1,"message_custom_id":"not-ours","status":"DELIVERED"}}]"#,
        a.id, b.id
    );
    let wrong =
        acikkapi_testkit::http_post(http, "/notification/v1/delivery-reports/guess", &body).await;
    assert!(wrong.starts_with("HTTP/1.0 404"), "{wrong}");
    let bad = acikkapi_testkit::http_post(http, path, r#"[{"status":"DELIVERED"}]"#).await;
    assert!(bad.starts_with("HTTP/1.0 400"), "{bad}");
    assert!(bad.contains("report 0: message_custom_id"), "{bad}");
    assert_eq!(
        messages::get(&n.platform().db, &a.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "sent"
    );

    let ok = acikkapi_testkit::http_post(http, path, &body).await;
    assert!(
        ok.starts_with("HTTP/1.0 200") && ok.ends_with("OK 2"),
        "{ok}"
    );
    // The gateway repeats reports; a later one does not overturn a final state.
    let late = format!(
        r#"[{{"message_custom_id":"{}","status":"NOT_DELIVERED"}}]"#,
        a.id
    );
    let repeated = acikkapi_testkit::http_post(http, path, &late).await;
    assert!(repeated.ends_with("OK 0"), "{repeated}");

    let mut c = n.notification().await;
    let status = |id: &str| pb::GetMessageStatusRequest { id: id.into() };
    let got_a = c
        .get_message_status(status(&a.id))
        .await
        .unwrap()
        .into_inner();
    let got_b = c
        .get_message_status(status(&b.id))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got_a.status(), pb::SmsStatus::Delivered);
    assert_eq!(got_b.status(), pb::SmsStatus::Failed);
    n.stop_and_clean().await;
}

/// Templates are data: previewed for given values, refused when they could
/// need more than two SMS, and used for the next message once saved.
async fn templates_preview_refuse_and_apply(backend: Backend) {
    let (s, _dir) = settings(backend);
    let n = TestNode::start(s).await;
    let mut c = n.notification().await;
    let preview = c
        .preview_template(pb::PreviewTemplateRequest {
            name: "concluded_positive".into(),
            values: [
                ("governorship".to_owned(), "İzmir Valiliği".to_owned()),
                ("number".to_owned(), "26-35-0000042-7".to_owned()),
            ]
            .into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        preview
            .body
            .starts_with("İzmir Valiliği Açık Kapı: 26-35-0000042-7 numaralı başvurunuz OLUMLU"),
        "{}",
        preview.body
    );
    assert_eq!(preview.encoding(), pb::SmsEncoding::Gsm7Turkish);
    assert_eq!(preview.segments, 1);
    let unknown = c
        .preview_template(pb::PreviewTemplateRequest {
            name: "receipt".into(),
            values: [("tc_kimlik".to_owned(), "x".to_owned())].into(),
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(
        unknown.message().starts_with("values.tc_kimlik: "),
        "{unknown:?}"
    );

    // Three SMS worth of text: refused, naming the field, nothing saved.
    let long = format!("{{governorship}} {{number}} {}", "ş".repeat(300));
    let refused = c
        .upsert_template(pb::UpsertTemplateRequest {
            template: Some(pb::SmsTemplate {
                name: "receipt".into(),
                body: long,
                ..Default::default()
            }),
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("template.body: "),
        "{refused:?}"
    );

    // An emoji makes it UCS-2. Hand-checked: "Ankara Valiliği: " (17) +
    // "26-06-NNNNNNN-C" (15) + " alındı 🙏" (8 + 2 UTF-16 units) = 42 units: one SMS.
    let saved = c
        .upsert_template(pb::UpsertTemplateRequest {
            template: Some(pb::SmsTemplate {
                name: "receipt".into(),
                body: "{governorship}: {number} alındı 🙏".into(),
                ..Default::default()
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(saved.encoding(), pb::SmsEncoding::Ucs2);
    let number = submit(&n, 8).await;
    let m = n.sms_in(&number, "receipt", "sent").await;
    assert!(m.body.ends_with(" alındı 🙏"), "{}", m.body);
    assert_eq!(m.body.encode_utf16().count(), 42);
    assert_eq!((m.encoding.as_str(), m.segments), ("ucs2", 1));
    n.stop_and_clean().await;
}

backend_tests!(
    one_event_one_sms_even_when_delivered_twice,
    a_failing_gateway_is_retried_then_dead_lettered_and_a_redrive_sends_once,
    a_send_whose_answer_is_lost_is_looked_up_not_repeated,
    a_crash_between_send_and_record_sends_nothing_twice,
    receipts_go_before_bulk_messages,
    the_account_rate_is_kept,
    delivery_reports_update_the_status,
    templates_preview_refuse_and_apply,
);
