//! Three replicas of every service on the production backend (one
//! PostgreSQL schema, one RabbitMQ prefix with quorum queues, one Redis)
//! compete for the same queues during a burst, and every effect happens
//! exactly once: one routing, one SLA clock, one receipt, conclusion and
//! survey SMS each (in the table and at the "gateway"), one reporting row,
//! one timeline line per routing. The work is shared: more than one
//! replica applies events.

use acikkapi_platform::Platform;
use acikkapi_proto::v1 as pb;
use acikkapi_testkit::{Backend, TestNode, count, eventually, metric, settings, submission};

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
