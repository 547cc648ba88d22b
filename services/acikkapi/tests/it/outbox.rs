//! Nothing lost, nothing twice: the outbox across crashes, on both backends.
//!
//! A crash is reproduced at the exact point it would interrupt: a node
//! whose relay does not run (committed, never published), and a publish
//! whose rows are never deleted (published, then the process died).
//! Consumers apply their deliveries in batches; one that holds a duplicate
//! and a poison event applies every other event once.

use acikkapi::testing::TestNode;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::config::Settings;
use acikkapi_platform::metrics::ConsumerLabels;
use acikkapi_platform::service::Service;
use acikkapi_platform::store::OutboxEvent;
use acikkapi_platform::{Platform, relay};
use acikkapi_proto::EventKind;
use acikkapi_testkit::{
    AFTER, Backend, POISON, backend_tests, count, effects, eventually, settings,
    start_recording_consumer, start_recording_consumer_of, submission,
};
use tokio_util::sync::CancellationToken;

const CONSUMER: &str = "test-recorder";

/// `count` applications submitted one after another; their numbers.
async fn submit_several(node: &TestNode, count: u64) -> Vec<String> {
    let mut numbers = Vec::new();
    for i in 0..count {
        numbers.push(node.submit(submission(i)).await);
    }
    numbers
}

async fn crash_between_commit_and_publish_loses_no_event(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;

    // First life: five applications committed, none published.
    let a = TestNode::start(s.clone()).await;
    let numbers = submit_several(&a, 5).await;
    assert_eq!(count(a.platform(), "outbox").await, 5);
    a.stop().await;

    // Second life on the same store and bus: the relay finds and publishes them.
    let b = TestNode::start(s).await;
    let p = b.platform().clone();
    start_recording_consumer(&p, CONSUMER).await;
    assert_eq!(
        count(&p, "outbox").await,
        5,
        "the rows survived the restart"
    );
    let stop = CancellationToken::new();
    let mut relay_platform = p.clone();
    relay_platform.shutdown = stop.clone();
    let relay_task = tokio::spawn(relay::run(relay_platform));

    assert!(
        eventually(20, || async { effects(&p, "").await.len() >= 5 }).await,
        "every event arrived"
    );
    assert!(
        eventually(5, || async { count(&p, "outbox").await == 0 }).await,
        "published rows are deleted"
    );
    for n in &numbers {
        assert_eq!(
            effects(&p, n).await.len(),
            1,
            "application {n} applied exactly once"
        );
    }
    stop.cancel();
    relay_task.await.unwrap();
    b.stop_and_clean().await;
}

async fn crash_between_publish_and_delete_applies_once(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;
    // Intake's outbox alone: routing would add its ApplicationRouted events.
    s.services = vec![Service::Intake];
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    start_recording_consumer(&p, CONSUMER).await;
    let numbers = submit_several(&n, 3).await;

    // Published and confirmed, then "the process died" before deleting.
    let rows = p.db.outbox_peek(100).await.unwrap();
    assert_eq!(rows.len(), 3);
    relay::publish(&p, &rows).await.unwrap();
    assert!(eventually(20, || async { effects(&p, "").await.len() >= 3 }).await);
    assert_eq!(
        count(&p, "outbox").await,
        3,
        "nothing deleted: the crash came first"
    );

    // The restarted relay publishes the same events again.
    assert_eq!(relay::round(&p).await.unwrap(), 3);
    let duplicates = || {
        let p = p.clone();
        async move {
            let labels = acikkapi_platform::metrics::ConsumerLabels {
                consumer: CONSUMER.into(),
                result: "duplicate".into(),
            };
            p.metrics.events_consumed.get_or_create(&labels).get() >= 3
        }
    };
    assert!(
        eventually(20, duplicates).await,
        "the redelivered events reached the consumer"
    );
    for number in &numbers {
        assert_eq!(
            effects(&p, number).await.len(),
            1,
            "application {number} applied once despite two deliveries"
        );
    }
    assert_eq!(count(&p, "outbox").await, 0);
    n.stop_and_clean().await;
}

/// A store put back to an earlier moment (a point-in-time restore) lacks
/// the effects of events published before it and applied after it: here
/// the events are published while no consumer is bound, so the bus drops
/// them. Kept as sent, a replay delivers them again; a second replay
/// finds them applied (duplicates), and forgetting empties the keep.
async fn events_published_but_never_applied_are_replayed_once(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;
    s.services = vec![Service::Intake];
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    let numbers = submit_several(&n, 3).await;
    assert_eq!(relay::round(&p).await.unwrap(), 3, "published");
    assert_eq!(count(&p, "outbox").await, 0);
    assert_eq!(p.db.outbox_sent_len().await.unwrap(), 3, "kept as sent");
    start_recording_consumer(&p, CONSUMER).await;
    assert!(
        effects(&p, "").await.is_empty(),
        "nobody was there to apply them"
    );

    assert_eq!(p.db.outbox_replay(0).await.unwrap(), 3);
    assert_eq!(relay::round(&p).await.unwrap(), 3, "published again");
    assert!(
        eventually(20, || async { effects(&p, "").await.len() >= 3 }).await,
        "the replayed events were applied"
    );
    assert_eq!(
        p.db.outbox_sent_len().await.unwrap(),
        3,
        "a replayed event is kept once, as first sent"
    );

    // A second replay (an operator repeating the step) doubles nothing.
    let since = acikkapi_platform::store::now_ms() - 60_000;
    assert_eq!(p.db.outbox_replay(since).await.unwrap(), 3);
    assert_eq!(relay::round(&p).await.unwrap(), 3);
    assert!(
        eventually(20, || async { consumed(&p, CONSUMER, "duplicate") >= 3 }).await,
        "the second replay reached the consumer"
    );
    for number in &numbers {
        assert_eq!(
            effects(&p, number).await.len(),
            1,
            "application {number} applied once"
        );
    }
    let later = acikkapi_platform::store::now_ms() + 1;
    assert_eq!(
        p.db.outbox_replay(later).await.unwrap(),
        0,
        "nothing sent since"
    );
    assert_eq!(p.db.outbox_forget_sent(later).await.unwrap(), 3);
    assert_eq!(p.db.outbox_sent_len().await.unwrap(), 0);
    n.stop_and_clean().await;
}

/// The in-process bus dies with its process: an event it took (published,
/// the row gone from the outbox) but no consumer applied is lost with it,
/// unless the next start delivers the events kept as sent again. Here
/// routing is absent in the first life, so nobody takes intake's event.
async fn a_restart_delivers_what_the_in_process_bus_lost() {
    let (mut s, _dir) = settings(Backend::Embedded);
    let every = std::mem::replace(&mut s.services, vec![Service::Intake]);
    let a = TestNode::start(s.clone()).await;
    let number = a.submit(submission(7)).await;
    assert!(
        eventually(20, || async { count(a.platform(), "outbox").await == 0 }).await,
        "published to the in-process bus"
    );
    a.stop().await;

    s.services = every;
    let b = TestNode::start(s).await;
    let unit = b.routed(&number).await;
    assert!(!unit.is_empty(), "routed after the restart");
    assert_eq!(count(b.platform(), "routing_assignments").await, 1);
    b.stop_and_clean().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_restart_delivers_what_the_in_process_bus_lost() {
    a_restart_delivers_what_the_in_process_bus_lost().await
}

async fn events_carry_no_personal_data(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;
    let n = TestNode::start(s).await;
    let req = submission(42);
    let applicant = req.applicant.clone().unwrap();
    n.intake().await.submit_application(req).await.unwrap();
    let rows = n.platform().db.outbox_peek(10).await.unwrap();
    assert_eq!(rows.len(), 1);
    let e = &rows[0].envelope;
    assert_eq!(e.kind, EventKind::ApplicationReceived.as_str());
    let mut everything = e.payload.clone();
    everything.extend(format!("{:?}{}", e.headers, e.key).into_bytes());
    let haystack = String::from_utf8_lossy(&everything);
    for secret in [
        applicant.national_id.as_str(),
        "5321234567",
        "Ayşe",
        "Yılmaz",
    ] {
        assert!(!haystack.contains(secret), "event contains {secret:?}");
    }
    let decoded: acikkapi_proto::v1::ApplicationReceived =
        prost::Message::decode(e.payload.as_slice()).unwrap();
    assert_eq!(decoded.application_number, e.key);
    assert_eq!(decoded.province_code, 6);
    n.stop_and_clean().await;
}

/// What the consumer `queue` counted as `result` (applied, duplicate, dead…).
fn consumed(p: &Platform, queue: &str, result: &str) -> u64 {
    p.metrics
        .events_consumed
        .get_or_create(&ConsumerLabels {
            consumer: queue.into(),
            result: result.into(),
        })
        .get()
}

const KINDS: &[&str] = &["BatchTest"];

/// A node whose consumers wait long enough (300 ms) that the deliveries a
/// test publishes at once are taken as one batch; no relay.
async fn batching_node(backend: Backend) -> (TestNode, Platform, tempfile::TempDir) {
    let (mut s, dir) = settings(backend);
    s.relay.enabled = false;
    s.services = vec![Service::Intake];
    s.bus.batch_wait_ms = 300;
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    (n, p, dir)
}

/// A test event `id` with key `key-{id}`.
fn event(id: &str, payload: &[u8]) -> Envelope {
    Envelope {
        id: id.into(),
        kind: "BatchTest".into(),
        key: format!("key-{id}"),
        payload: payload.to_vec(),
        headers: Default::default(),
    }
}

async fn a_batch_with_a_duplicate_and_a_poison_event_applies_the_rest_once(backend: Backend) {
    const QUEUE: &str = "batch-recorder";
    // The six deliveries below are taken as one batch.
    let (n, p, _dir) = batching_node(backend).await;
    let good = ["b1", "b2", "b3", "b4"];
    // b1 twice (a republished event), the poison between the good ones.
    let batch = [
        event("b1", b"1"),
        event("b2", b"2"),
        event("b1", b"1"),
        event("bad", POISON),
        event("b3", b"3"),
        event("b4", b"4"),
    ];
    p.bus.declare(QUEUE, KINDS).await.unwrap();
    p.bus.publish(&batch).await.unwrap();
    start_recording_consumer_of(&p, QUEUE, KINDS).await;

    let dead = || {
        let p = p.clone();
        async move { p.bus.dead_letter_count(QUEUE).await.unwrap() >= 1 }
    };
    assert!(
        eventually(20, dead).await,
        "the poison event was dead-lettered"
    );
    let settled = || {
        let p = p.clone();
        async move { consumed(&p, QUEUE, "applied") + consumed(&p, QUEUE, "duplicate") >= 5 }
    };
    assert!(eventually(20, settled).await, "every good delivery settled");
    for id in good {
        let rows = effects(&p, &format!("key-{id}")).await;
        assert_eq!(rows.len(), 1, "event {id} applied exactly once");
        assert_eq!(rows[0].0, id);
    }
    assert!(
        effects(&p, "key-bad").await.is_empty(),
        "the poison left no effect"
    );
    assert_eq!(
        p.bus.dead_letter_count(QUEUE).await.unwrap(),
        1,
        "only the poison is dead"
    );
    assert_eq!(consumed(&p, QUEUE, "applied"), 4);
    assert_eq!(consumed(&p, QUEUE, "duplicate"), 1);
    assert_eq!(consumed(&p, QUEUE, "dead"), 1);
    // It was one batch, split around the poison (not six single events).
    let split = p
        .metrics
        .consumer_batches
        .get_or_create(&ConsumerLabels {
            consumer: QUEUE.into(),
            result: "split".into(),
        })
        .get();
    assert_eq!(split, 1, "the batch was split once, around the poison");
    n.stop_and_clean().await;
}

/// An event that must wait for another (escalation's "no clock yet") is
/// left out of its batch and delivered again, its inbox claim taken back;
/// the rest of the batch commits at once, not split around it.
async fn an_event_that_waits_is_left_out_and_applied_once_its_turn_comes(backend: Backend) {
    const QUEUE: &str = "batch-waiter";
    let (n, p, _dir) = batching_node(backend).await;
    let waits = format!("{AFTER}first");
    let batch = [
        event("w1", b"1"),
        event("waiting", waits.as_bytes()),
        event("w2", b"2"),
        event("w1", b"1"),
    ];
    p.bus.declare(QUEUE, KINDS).await.unwrap();
    p.bus.publish(&batch).await.unwrap();
    start_recording_consumer_of(&p, QUEUE, KINDS).await;

    let others = || {
        let p = p.clone();
        async move { effects(&p, "key-w1").await.len() + effects(&p, "key-w2").await.len() == 2 }
    };
    assert!(
        eventually(20, others).await,
        "the rest of the batch applied"
    );
    // Delivered again (at least once) while what it waits for is missing.
    let retried = || {
        let p = p.clone();
        async move { consumed(&p, QUEUE, "retried") >= 2 }
    };
    assert!(eventually(20, retried).await, "the waiting event came back");
    assert!(effects(&p, "key-waiting").await.is_empty());

    p.bus.publish(&[event("first", b"0")]).await.unwrap();
    let all = || {
        let p = p.clone();
        async move { effects(&p, "key-waiting").await.len() == 1 }
    };
    assert!(eventually(20, all).await, "applied once its turn came");
    for id in ["w1", "w2", "first", "waiting"] {
        assert_eq!(
            effects(&p, &format!("key-{id}")).await.len(),
            1,
            "event {id} applied exactly once"
        );
    }
    assert_eq!(consumed(&p, QUEUE, "dead"), 0);
    assert_eq!(p.bus.dead_letter_count(QUEUE).await.unwrap(), 0);
    let split = p
        .metrics
        .consumer_batches
        .get_or_create(&ConsumerLabels {
            consumer: QUEUE.into(),
            result: "split".into(),
        })
        .get();
    assert_eq!(split, 0, "no batch was split around the waiting event");
    n.stop_and_clean().await;
}

/// `n` outbox rows of kind `BatchTest`, committed (ids `r0`, `r1`, …).
async fn outbox_rows(p: &Platform, n: usize) {
    let events: Vec<OutboxEvent> = (0..n)
        .map(|i| OutboxEvent {
            event_id: format!("r{i}"),
            kind: "BatchTest".into(),
            key: format!("key-r{i}"),
            payload: b"x".to_vec(),
            headers: Default::default(),
        })
        .collect();
    let mut tx = p.db.begin().await.unwrap();
    tx.insert_outbox(&events).await.unwrap();
    tx.commit().await.unwrap();
}

/// Another process beside `p` on `s`'s store and bus: its own pool, its
/// own metrics, its own broker connection (on the embedded default, `p`'s
/// in-process bus: there is no other).
async fn another_process(p: &Platform, s: &Settings) -> Platform {
    let mut other = Platform::connect(s.clone(), &[], CancellationToken::new())
        .await
        .expect("a second platform on the same store");
    if matches!(other.bus, acikkapi_platform::bus::Bus::Memory(_)) {
        other.bus = p.bus.clone();
    }
    other
}

/// Three relays (as in three pods, each with its own connections) drain one
/// outbox: every row published, and none by more than one of them.
async fn three_relays_publish_each_row_once(backend: Backend) {
    const QUEUE: &str = "relay-sink";
    const ROWS: usize = 3000;
    let (s, _dir, n, p) = {
        let (mut s, dir) = settings(backend);
        s.relay.enabled = false;
        s.services = vec![Service::Intake];
        let n = TestNode::start(s.clone()).await;
        let p = n.platform().clone();
        (s, dir, n, p)
    };
    start_recording_consumer_of(&p, QUEUE, KINDS).await;
    outbox_rows(&p, ROWS).await;
    let relays = [
        p.clone(),
        another_process(&p, &s).await,
        another_process(&p, &s).await,
    ];
    let stop = CancellationToken::new();
    let tasks: Vec<_> = relays
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.shutdown = stop.clone();
            tokio::spawn(relay::run(r))
        })
        .collect();
    assert!(
        eventually(60, || async {
            consumed(&p, QUEUE, "applied") >= ROWS as u64 && count(&p, "outbox").await == 0
        })
        .await,
        "every row published and applied"
    );
    stop.cancel();
    for t in tasks {
        t.await.unwrap();
    }
    let published: u64 = relays
        .iter()
        .map(|r| r.metrics.outbox_published.get())
        .sum();
    let by: Vec<u64> = relays
        .iter()
        .map(|r| r.metrics.outbox_published.get())
        .collect();
    assert!(published >= ROWS as u64, "every row published: {by:?}");
    assert!(
        published as f64 <= 1.05 * ROWS as f64,
        "{published} publishes for {ROWS} rows (by relay: {by:?})"
    );
    let delivered = consumed(&p, QUEUE, "applied") + consumed(&p, QUEUE, "duplicate");
    assert!(
        delivered as f64 <= 1.05 * ROWS as f64,
        "{delivered} deliveries for {ROWS} events"
    );
    assert_eq!(effects(&p, "").await.len(), ROWS, "each applied once");
    n.stop_and_clean().await;
}

/// Rows a relay claimed are skipped by the others while it holds them; a
/// relay that dies mid-batch (its claim dropped, never done) gives them
/// back, and the next relay publishes them.
async fn rows_of_a_relay_that_dies_mid_batch_are_taken_over(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;
    s.services = vec![Service::Intake];
    let n = TestNode::start(s.clone()).await;
    let p = n.platform().clone();
    outbox_rows(&p, 5).await;
    let other = another_process(&p, &s).await;

    let claim = p.db.outbox_claim(100).await.unwrap();
    assert_eq!(claim.rows().len(), 5);
    let ids: Vec<&str> = claim
        .rows()
        .iter()
        .map(|r| r.envelope.id.as_str())
        .collect();
    assert_eq!(ids, ["r0", "r1", "r2", "r3", "r4"], "oldest first");
    if backend == Backend::Production {
        // SQLite's relays take turns in their one process instead.
        assert_eq!(
            relay::round(&other).await.unwrap(),
            0,
            "claimed rows are skipped by the other relay"
        );
    }
    drop(claim); // the relay died before the broker confirmed
    assert_eq!(count(&p, "outbox").await, 5, "the rows are back");
    // A dropped transaction is rolled back by the pool in the background
    // (a dead process's, by PostgreSQL with its connection): the rows are
    // free moments later, not at once.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut taken = 0;
    while taken < 5 && tokio::time::Instant::now() < deadline {
        taken += relay::round(&other).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(taken, 5, "taken over");
    assert_eq!(count(&p, "outbox").await, 0);
    assert_eq!(other.metrics.outbox_published.get(), 5);
    n.stop_and_clean().await;
}

/// Two loops holding the same deliveries in opposite orders claim them in
/// the inbox at once: both finish (no `deadlock detected`), and each event
/// is claimed by exactly one of them.
async fn two_loops_claiming_one_batch_in_opposite_orders_do_not_deadlock(backend: Backend) {
    let (mut s, _dir) = settings(backend);
    s.relay.enabled = false;
    s.services = vec![Service::Intake];
    let n = TestNode::start(s).await;
    let p = n.platform().clone();
    for round in 0..10 {
        let ids: Vec<String> = (0..2000).map(|i| format!("{round}-{i:05}")).collect();
        let mut reversed = ids.clone();
        reversed.reverse();
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(2));
        let claim = |ids: Vec<String>| {
            let p = p.clone();
            let barrier = barrier.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                let mut tx = p.db.begin().await?;
                let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
                let claimed = tx.claim_inbox_many("opposite", &refs).await?;
                tx.commit().await?;
                Ok::<_, acikkapi_platform::PlatformError>(claimed)
            })
        };
        let (a, b) = tokio::join!(claim(ids.clone()), claim(reversed));
        let a = a.unwrap().expect("the first loop finished");
        let b = b.unwrap().expect("the second loop finished");
        assert!(a.is_disjoint(&b), "no event claimed by both");
        assert_eq!(a.len() + b.len(), ids.len(), "every event claimed once");
    }
    n.stop_and_clean().await;
}

backend_tests!(
    three_relays_publish_each_row_once,
    rows_of_a_relay_that_dies_mid_batch_are_taken_over,
    two_loops_claiming_one_batch_in_opposite_orders_do_not_deadlock,
    a_batch_with_a_duplicate_and_a_poison_event_applies_the_rest_once,
    an_event_that_waits_is_left_out_and_applied_once_its_turn_comes,
    crash_between_commit_and_publish_loses_no_event,
    crash_between_publish_and_delete_applies_once,
    events_carry_no_personal_data,
    events_published_but_never_applied_are_replayed_once,
);
