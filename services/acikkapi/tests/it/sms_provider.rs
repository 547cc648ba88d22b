//! The providers against a fake gateway: a real HTTP server started by the
//! test, speaking the gateway's API, that can accept, refuse, fail, answer
//! slowly or drop the connection. And the file provider of the embedded
//! default. Both are idempotent by our message id.

use acikkapi_domain::sms::Encoding;
use acikkapi_notification::provider::{
    FileProvider, HttpProvider, HttpSettings, Known, Outgoing, Provider, SendError,
};
use acikkapi_testkit::gateway::{FakeGateway, Mode};
use std::time::Duration;

fn message(id: &str) -> Outgoing {
    Outgoing {
        id: id.into(),
        to: "+905321234567".into(),
        text: "Ankara Valiliği Açık Kapı: başvurunuz alındı.".into(),
        encoding: Encoding::Gsm7TurkishLocking,
        originator: "ANKARAVALI".into(),
    }
}

fn provider(url: String) -> HttpProvider {
    HttpProvider::new(HttpSettings {
        base_url: url,
        username: "908501234567".into(),
        password: "p&ss word".into(),
        timeout: Duration::from_millis(500),
    })
}

#[tokio::test]
async fn the_gateway_gets_the_message_and_our_id() {
    let g = FakeGateway::start().await;
    let p = provider(g.url.clone());
    assert_eq!(p.lookup("m-1").await.unwrap(), Known::NotSeen);
    let campaign = p.send(&message("m-1")).await.unwrap();
    let sent = g.accepted()["m-1"].body.clone();
    assert_eq!(sent["messages"][0]["dest"], "905321234567");
    assert_eq!(
        sent["messages"][0]["msg"],
        "Ankara Valiliği Açık Kapı: başvurunuz alındı."
    );
    assert_eq!(sent["datacoding"], "1", "Turkish mode");
    assert_eq!(sent["source_addr"], "ANKARAVALI");
    assert_eq!(p.lookup("m-1").await.unwrap(), Known::Accepted(campaign));
    // The credentials arrive percent-encoded.
    assert!(
        g.last_lookup_query().contains("password=p%26ss%20word"),
        "{}",
        g.last_lookup_query()
    );
}

#[tokio::test]
async fn failures_are_told_apart() {
    let g = FakeGateway::start().await;
    let p = provider(g.url.clone());
    let set = |m| g.set(m);
    for (mode, transient) in [
        (Mode::Fail, true),
        (Mode::Slow(Duration::from_secs(5)), true),
        (Mode::Drop, true),
        (Mode::RefuseNumber, false),
    ] {
        set(mode);
        let err = p.send(&message("m-2")).await.unwrap_err();
        assert_eq!(
            matches!(err, SendError::Transient(_)),
            transient,
            "{mode:?}: {err}"
        );
    }
    // Down entirely: transient.
    let gone = provider("http://127.0.0.1:9".into());
    assert!(matches!(
        gone.send(&message("m-3")).await,
        Err(SendError::Transient(_))
    ));
    set(Mode::Accept);
    p.send(&message("m-2")).await.unwrap();
    assert_eq!(g.accepted().len(), 1);
}

/// A crash after the gateway accepted but before we recorded it: the next
/// attempt asks first, finds the id, and does not send again; and if it
/// sent anyway, the gateway's duplicate answer counts as sent.
#[tokio::test]
async fn a_message_the_gateway_has_is_not_sent_twice() {
    let g = FakeGateway::start().await;
    let p = provider(g.url.clone());
    let first = p.send(&message("m-4")).await.unwrap();
    assert_eq!(p.lookup("m-4").await.unwrap(), Known::Accepted(first));
    assert!(
        p.send(&message("m-4"))
            .await
            .unwrap()
            .starts_with("duplicate:")
    );
    assert_eq!(g.accepted().len(), 1);
}

#[tokio::test]
async fn the_file_provider_writes_each_message_once() {
    let dir = tempfile::tempdir().unwrap();
    let p = FileProvider::new(dir.path());
    assert_eq!(p.lookup("m-5").await.unwrap(), Known::NotSeen);
    let a = p.send(&message("m-5")).await.unwrap();
    let b = p.send(&message("m-5")).await.unwrap();
    assert_eq!(a, b);
    p.send(&message("m-6")).await.unwrap();
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(p.path())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["id"], "m-5");
    assert_eq!(lines[0]["encoding"], "gsm7-turkish-locking");
    assert_eq!(lines[1]["to"], "+905321234567");
}
