//! The cache and bus behave alike on both backends.

use acikkapi_platform::bus::Bus;
use acikkapi_platform::bus::Envelope;
use acikkapi_platform::cache::Cache;
use acikkapi_proto::EventKind;
use acikkapi_testkit::{Backend, backend_tests, settings};
use std::collections::BTreeMap;
use std::time::Duration;

async fn cache_gets_sets_expires_and_deletes(backend: Backend) {
    let (s, _dir) = settings(backend);
    let cache = Cache::connect(&s.cache).await.expect("cache");
    cache.ping().await.unwrap();
    assert_eq!(cache.get("a").await.unwrap(), None);
    cache
        .set("a", b"bir", Duration::from_secs(30))
        .await
        .unwrap();
    cache
        .set("b", b"iki", Duration::from_millis(50))
        .await
        .unwrap();
    assert_eq!(cache.get("a").await.unwrap().as_deref(), Some(&b"bir"[..]));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(cache.get("b").await.unwrap(), None, "expired");
    cache.delete("a").await.unwrap();
    assert_eq!(cache.get("a").await.unwrap(), None);
    // Counters read back what incr_many made of them, on either encoding.
    let key = format!("gen-{}", std::process::id());
    assert_eq!(cache.counter(&key).await.unwrap(), 0);
    let ttl = Duration::from_secs(30);
    assert_eq!(cache.incr_many(&[(key.clone(), ttl)]).await.unwrap(), [1]);
    assert_eq!(cache.incr_many(&[(key.clone(), ttl)]).await.unwrap(), [2]);
    assert_eq!(cache.counter(&key).await.unwrap(), 2);
    cache.delete(&key).await.unwrap();
}

fn envelope(i: u32, kind: &str) -> Envelope {
    Envelope {
        id: format!("ev-{i}"),
        kind: kind.into(),
        key: format!("k{i}"),
        payload: vec![i as u8],
        headers: BTreeMap::from([("traceparent".into(), "x".into())]),
    }
}

async fn bus_routes_by_kind_and_dead_letters_rejects(backend: Backend) {
    let (s, _dir) = settings(backend);
    let bus = Bus::connect(&s.bus).await.expect("bus");
    let mut received = bus
        .subscribe(
            "routing-test",
            const { &[EventKind::ApplicationReceived.as_str()] },
        )
        .await
        .unwrap();
    bus.publish(&[
        envelope(1, EventKind::ApplicationReceived.as_str()),
        envelope(2, EventKind::ApplicationNoteAdded.as_str()),
        envelope(3, EventKind::ApplicationReceived.as_str()),
    ])
    .await
    .unwrap();
    let first = tokio::time::timeout(Duration::from_secs(10), received.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        first.envelope,
        envelope(1, EventKind::ApplicationReceived.as_str()),
        "envelope round-trips whole"
    );
    first.ack().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), received.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(
        second.envelope.id, "ev-3",
        "the other kind was not routed here"
    );
    second.reject().await.unwrap();
    let mut dead = 0;
    for _ in 0..100 {
        dead = bus.dead_letter_count("routing-test").await.unwrap();
        if dead == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(dead, 1, "the rejected message is in the dead-letter queue");
    received.close().await.unwrap();
    bus.teardown().await.unwrap();
}

backend_tests!(
    cache_gets_sets_expires_and_deletes,
    bus_routes_by_kind_and_dead_letters_rejects
);
