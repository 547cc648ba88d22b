//! A fake bulk-SMS gateway: a real HTTP server on 127.0.0.1:0 speaking the
//! part of the Verimor v2 API the HTTP provider uses (`POST /v2/send.json`,
//! `GET /v2/status?custom_id=`), that the test can make accept, fail,
//! answer slowly, drop the connection, refuse the number, or take the
//! message and then never answer. It is what lies outside the platform;
//! everything inside runs for real.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the gateway answers the sends from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// 500, nothing taken.
    Fail,
    /// Takes nothing and answers nothing for this long.
    Slow(Duration),
    /// Closes the connection unanswered, nothing taken.
    Drop,
    /// 400 `INVALID_DESTINATION_ADDRESS`: no retry will help.
    RefuseNumber,
    /// Takes the message, then closes the connection unanswered: the
    /// sender cannot know it went out.
    AcceptThenDrop,
    /// Takes the message, then never answers.
    AcceptThenHang,
}

#[derive(Debug, Clone)]
pub struct Accepted {
    pub campaign_id: String,
    /// The JSON the gateway received.
    pub body: serde_json::Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    mode: Mutex<Option<Mode>>,
    /// custom_id → what was taken, in arrival order in `order`.
    accepted: Mutex<HashMap<String, Accepted>>,
    order: Mutex<Vec<String>>,
    sends: AtomicUsize,
    lookups: AtomicUsize,
    last_lookup_query: Mutex<String>,
}

#[derive(Clone)]
pub struct FakeGateway {
    /// `http://127.0.0.1:<port>`
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeGateway {
    /// Starts the gateway accepting everything.
    pub async fn start() -> Self {
        let inner = Arc::new(Inner::default());
        let app = axum::Router::new()
            .route("/v2/send.json", post(send))
            .route("/v2/status", get(status))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake gateway");
        let addr = listener.local_addr().expect("gateway address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("fake gateway") });
        Self {
            url: format!("http://{addr}"),
            inner,
        }
    }

    pub fn set(&self, mode: Mode) {
        *self.inner.mode.lock().unwrap() = Some(mode);
    }

    /// Send requests received, taken or not.
    pub fn sends(&self) -> usize {
        self.inner.sends.load(Ordering::SeqCst)
    }

    /// Status lookups received.
    pub fn lookups(&self) -> usize {
        self.inner.lookups.load(Ordering::SeqCst)
    }

    /// The query string of the last lookup (credentials arrive in it).
    pub fn last_lookup_query(&self) -> String {
        self.inner.last_lookup_query.lock().unwrap().clone()
    }

    /// The messages taken, by our id.
    pub fn accepted(&self) -> HashMap<String, Accepted> {
        self.inner.accepted.lock().unwrap().clone()
    }

    /// Our ids of the messages taken, in arrival order.
    pub fn order(&self) -> Vec<String> {
        self.inner.order.lock().unwrap().clone()
    }

    /// Waits until `n` send requests have arrived (at most 30 s).
    pub async fn wait_sends(&self, n: usize) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while self.sends() < n {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the gateway got {} sends, not {n}",
                self.sends()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

fn take(g: &Inner, body: &serde_json::Value) -> Result<String, (StatusCode, &'static str)> {
    let id = body["custom_id"].as_str().unwrap_or_default().to_owned();
    if id.is_empty() {
        return Err((StatusCode::BAD_REQUEST, "MISSING_CUSTOM_ID"));
    }
    let mut accepted = g.accepted.lock().unwrap();
    if accepted.contains_key(&id) {
        // The real gateway's block on the same message twice.
        return Err((StatusCode::BAD_REQUEST, "DOUBLE_SEND_ERROR"));
    }
    let campaign_id = format!("{}", 1000 + accepted.len());
    accepted.insert(
        id.clone(),
        Accepted {
            campaign_id: campaign_id.clone(),
            body: body.clone(),
            at: Instant::now(),
        },
    );
    g.order.lock().unwrap().push(id);
    Ok(campaign_id)
}

async fn send(State(g): State<Arc<Inner>>, body: String) -> Response {
    g.sends.fetch_add(1, Ordering::SeqCst);
    let mode = g.mode.lock().unwrap().unwrap_or(Mode::Accept);
    let Ok(v) = serde_json::from_str::<serde_json::Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "INVALID_JSON").into_response();
    };
    match mode {
        Mode::Accept => match take(&g, &v) {
            Ok(campaign) => campaign.into_response(),
            Err(refused) => refused.into_response(),
        },
        Mode::Fail => (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response(),
        Mode::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::SERVICE_UNAVAILABLE, "too slow").into_response()
        }
        // A panicking handler makes the server close the connection unanswered.
        Mode::Drop => panic!("fake gateway: the connection drops"),
        Mode::RefuseNumber => {
            (StatusCode::BAD_REQUEST, "INVALID_DESTINATION_ADDRESS").into_response()
        }
        Mode::AcceptThenDrop => {
            let _ = take(&g, &v);
            panic!("fake gateway: taken, then the connection drops")
        }
        Mode::AcceptThenHang => {
            let _ = take(&g, &v);
            std::future::pending::<Response>().await
        }
    }
}

async fn status(State(g): State<Arc<Inner>>, RawQuery(q): RawQuery) -> String {
    g.lookups.fetch_add(1, Ordering::SeqCst);
    let q = q.unwrap_or_default();
    *g.last_lookup_query.lock().unwrap() = q.clone();
    let id = q
        .split('&')
        .find_map(|kv| kv.strip_prefix("custom_id="))
        .unwrap_or_default();
    match g.accepted.lock().unwrap().get(id) {
        Some(a) => {
            serde_json::json!([{"campaign_id": a.campaign_id, "status": "DELIVERED"}]).to_string()
        }
        None => "[]".to_owned(),
    }
}
