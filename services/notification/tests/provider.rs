//! The providers against a fake gateway: a real HTTP server started by the
//! test, speaking the gateway's API, that can accept, refuse, fail, answer
//! slowly or drop the connection. And the file provider of the embedded
//! default. Both are idempotent by our message id.

use acikkapi_domain::sms::Encoding;
use acikkapi_notification::provider::{
    FileProvider, HttpProvider, HttpSettings, Known, Outgoing, Provider, SendError,
};
use axum::extract::{RawQuery, State};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the fake gateway answers the next sends.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Accept,
    Fail,
    Slow,
    Drop,
    RefuseNumber,
}

#[derive(Clone)]
struct Gateway {
    mode: Arc<Mutex<Mode>>,
    /// custom_id → (campaign id, the JSON body received)
    accepted: Arc<Mutex<HashMap<String, (String, serde_json::Value)>>>,
}

async fn send(State(g): State<Gateway>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let mode = *g.mode.lock().unwrap();
    match mode {
        Mode::Fail => {
            return (axum::http::StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
        }
        Mode::Slow => tokio::time::sleep(Duration::from_secs(5)).await,
        Mode::Drop => panic!("the connection drops"), // axum closes it unanswered
        Mode::RefuseNumber => {
            return (
                axum::http::StatusCode::BAD_REQUEST,
                "INVALID_DESTINATION_ADDRESS",
            )
                .into_response();
        }
        Mode::Accept => {}
    }
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let id = v["custom_id"].as_str().unwrap().to_owned();
    let mut accepted = g.accepted.lock().unwrap();
    if accepted.contains_key(&id) {
        return (axum::http::StatusCode::BAD_REQUEST, "DOUBLE_SEND_ERROR").into_response();
    }
    let campaign = format!("{}", 1000 + accepted.len());
    accepted.insert(id, (campaign.clone(), v));
    campaign.into_response()
}

async fn status(State(g): State<Gateway>, RawQuery(q): RawQuery) -> String {
    let q = q.unwrap_or_default();
    let id = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("custom_id="))
        .unwrap_or_default();
    // The credentials arrive percent-encoded.
    assert!(q.contains("password=p%26ss%20word"), "{q}");
    let accepted = g.accepted.lock().unwrap();
    match accepted.get(id) {
        Some((campaign, _)) => {
            serde_json::json!([{"campaign_id": campaign, "status": "DELIVERED"}]).to_string()
        }
        None => "[]".to_owned(),
    }
}

async fn start_gateway() -> (Gateway, String) {
    let g = Gateway {
        mode: Arc::new(Mutex::new(Mode::Accept)),
        accepted: Arc::default(),
    };
    let app = axum::Router::new()
        .route("/v2/send.json", post(send))
        .route("/v2/status", get(status))
        .with_state(g.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (g, format!("http://{addr}"))
}

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
    let (g, url) = start_gateway().await;
    let p = provider(url);
    assert_eq!(p.lookup("m-1").await.unwrap(), Known::NotSeen);
    let campaign = p.send(&message("m-1")).await.unwrap();
    let sent = g.accepted.lock().unwrap()["m-1"].1.clone();
    assert_eq!(sent["messages"][0]["dest"], "905321234567");
    assert_eq!(
        sent["messages"][0]["msg"],
        "Ankara Valiliği Açık Kapı: başvurunuz alındı."
    );
    assert_eq!(sent["datacoding"], "1", "Turkish mode");
    assert_eq!(sent["source_addr"], "ANKARAVALI");
    assert_eq!(p.lookup("m-1").await.unwrap(), Known::Accepted(campaign));
}

#[tokio::test]
async fn failures_are_told_apart() {
    let (g, url) = start_gateway().await;
    let p = provider(url);
    let set = |m| *g.mode.lock().unwrap() = m;
    for (mode, transient) in [
        (Mode::Fail, true),
        (Mode::Slow, true),
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
    assert_eq!(g.accepted.lock().unwrap().len(), 1);
}

/// A crash after the gateway accepted but before we recorded it: the next
/// attempt asks first, finds the id, and does not send again; and if it
/// sent anyway, the gateway's duplicate answer counts as sent.
#[tokio::test]
async fn a_message_the_gateway_has_is_not_sent_twice() {
    let (g, url) = start_gateway().await;
    let p = provider(url);
    let first = p.send(&message("m-4")).await.unwrap();
    assert_eq!(p.lookup("m-4").await.unwrap(), Known::Accepted(first));
    assert!(
        p.send(&message("m-4"))
            .await
            .unwrap()
            .starts_with("duplicate:")
    );
    assert_eq!(g.accepted.lock().unwrap().len(), 1);
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
