//! SMS providers behind one trait: a file in the data folder for the
//! embedded default, and an HTTP bulk-SMS gateway (the Verimor v2 JSON
//! API, see `shared/data/sms_providers.md`) for production.
//!
//! **Idempotency.** Every message carries our own id, which the gateway
//! stores as its `custom_id`. Before (re)sending a message whose previous
//! attempt may have reached the gateway (a crash or a timeout between the
//! call and recording its result), the sender asks the gateway whether it
//! knows that id ([`Provider::lookup`]) and sends only if it does not. The
//! gateway's own duplicate block (same text, header and number on the same
//! day: `DOUBLE_SEND_ERROR`) is a second line, treated as "already sent".

use acikkapi_domain::sms::Encoding;
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// One SMS to one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Ours, unique per message: the idempotency key at the gateway.
    pub id: String,
    /// `+905XXXXXXXXX`.
    pub to: String,
    pub text: String,
    pub encoding: Encoding,
    /// The registered originator (başlık), 3-11 characters, no Turkish letters.
    pub originator: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// May work later (gateway down, slow, rate-limited): retry with back-off.
    Transient(String),
    /// Will never work (invalid number, text refused): dead-letter.
    Permanent(String),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Transient(m) => write!(f, "transient: {m}"),
            SendError::Permanent(m) => write!(f, "permanent: {m}"),
        }
    }
}

/// What the gateway knows of one of our ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Known {
    NotSeen,
    /// Accepted earlier, under the gateway's id.
    Accepted(String),
}

#[async_trait::async_trait]
pub trait Provider: Send + Sync {
    fn name(&self) -> &'static str;
    /// Hands the message to the gateway; the gateway's id on success.
    async fn send(&self, m: &Outgoing) -> Result<String, SendError>;
    /// Whether the gateway has a message with our id.
    async fn lookup(&self, id: &str) -> Result<Known, SendError>;
}

/// The embedded default: each message is a JSON line in `<data_dir>/sms.jsonl`.
pub struct FileProvider {
    path: PathBuf,
    /// The ids the file holds, read from it once (at the first send or
    /// look-up after start) and kept with every line written: one writer at
    /// a time, and no re-reading of the whole file for each message.
    ids: tokio::sync::Mutex<Option<HashSet<String>>>,
}

impl FileProvider {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self {
            path: data_dir.join("sms.jsonl"),
            ids: tokio::sync::Mutex::new(None),
        }
    }

    async fn ids(&self) -> Result<tokio::sync::MutexGuard<'_, Option<HashSet<String>>>, SendError> {
        let mut ids = self.ids.lock().await;
        if ids.is_none() {
            *ids = Some(
                self.lines()
                    .await?
                    .iter()
                    .filter_map(|l| l["id"].as_str().map(str::to_owned))
                    .collect(),
            );
        }
        Ok(ids)
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    async fn lines(&self) -> Result<Vec<serde_json::Value>, SendError> {
        match tokio::fs::read_to_string(&self.path).await {
            Ok(s) => Ok(s
                .lines()
                .filter_map(|l| serde_json::from_str(l).ok())
                .collect()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(SendError::Transient(format!(
                "read {}: {e}",
                self.path.display()
            ))),
        }
    }
}

#[async_trait::async_trait]
impl Provider for FileProvider {
    fn name(&self) -> &'static str {
        "file"
    }

    async fn send(&self, m: &Outgoing) -> Result<String, SendError> {
        let mut ids = self.ids().await?;
        let ids = ids.as_mut().expect("loaded");
        // The file is its own gateway: an id it holds is not written twice.
        if ids.contains(&m.id) {
            return Ok(format!("file:{}", m.id));
        }
        let line = serde_json::json!({
            "id": m.id,
            "to": m.to,
            "originator": m.originator,
            "encoding": m.encoding.as_str(),
            "text": m.text,
        });
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .await
            .map_err(|e| SendError::Transient(format!("open {}: {e}", self.path.display())))?;
        f.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| SendError::Transient(format!("write: {e}")))?;
        f.flush()
            .await
            .map_err(|e| SendError::Transient(format!("flush: {e}")))?;
        ids.insert(m.id.clone());
        Ok(format!("file:{}", m.id))
    }

    async fn lookup(&self, id: &str) -> Result<Known, SendError> {
        let ids = self.ids().await?;
        Ok(if ids.as_ref().expect("loaded").contains(id) {
            Known::Accepted(format!("file:{id}"))
        } else {
            Known::NotSeen
        })
    }
}

/// Where and as whom to reach the HTTP gateway.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// e.g. `https://sms.verimor.com.tr` (TLS by rustls, Mozilla's roots),
    /// or `http://…` for an egress proxy in the cluster or a test gateway.
    pub base_url: String,
    pub username: String,
    pub password: String,
    pub timeout: Duration,
}

/// A Verimor-style bulk-SMS gateway over HTTPS (JSON send, status by custom id).
pub struct HttpProvider {
    settings: HttpSettings,
    client: Client<HttpsConnector<HttpConnector>, Full<bytes::Bytes>>,
}

/// Answers of the gateway that no retry will change.
const PERMANENT: &[&str] = &[
    "INVALID_SOURCE_ADDRESS",
    "MISSING_MESSAGE",
    "MESSAGE_TOO_LONG",
    "INVALID_DATACODING",
    "MISSING_DESTINATION_ADDRESS",
    "INVALID_DESTINATION_ADDRESS",
    "FORBIDDEN_MESSAGE",
];

impl HttpProvider {
    pub fn new(settings: HttpSettings) -> Self {
        let mut http = HttpConnector::new();
        http.set_connect_timeout(Some(settings.timeout));
        http.enforce_http(false);
        // Mozilla's roots, compiled in: the runtime image needs no CA bundle.
        // Plain http:// stays possible for an egress proxy inside the
        // cluster and for the fake gateway of the tests.
        let connector = HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            settings,
        }
    }

    /// Verimor's `datacoding`: 0 normal, 1 Turkish, 2 Unicode.
    fn datacoding(e: Encoding) -> u8 {
        match e {
            Encoding::Gsm7 => 0,
            Encoding::Gsm7TurkishLocking | Encoding::Gsm7TurkishSingle => 1,
            Encoding::Ucs2 => 2,
        }
    }

    async fn call(
        &self,
        req: http::Request<Full<bytes::Bytes>>,
    ) -> Result<(u16, String), SendError> {
        let fut = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| SendError::Transient(format!("gateway unreachable: {e}")))?;
            let status = res.status().as_u16();
            let body = res
                .into_body()
                .collect()
                .await
                .map_err(|e| SendError::Transient(format!("gateway answer cut: {e}")))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&body).trim().to_owned()))
        };
        tokio::time::timeout(self.settings.timeout, fut)
            .await
            .map_err(|_| {
                SendError::Transient(format!("gateway silent for {:?}", self.settings.timeout))
            })?
    }
}

#[async_trait::async_trait]
impl Provider for HttpProvider {
    fn name(&self) -> &'static str {
        "http"
    }

    async fn send(&self, m: &Outgoing) -> Result<String, SendError> {
        let dest = m.to.trim_start_matches('+');
        let body = serde_json::json!({
            "username": self.settings.username,
            "password": self.settings.password,
            "source_addr": m.originator,
            "datacoding": Self::datacoding(m.encoding).to_string(),
            "custom_id": m.id,
            "messages": [{"msg": m.text, "dest": dest, "id": m.id}],
        });
        let req = http::Request::post(format!("{}/v2/send.json", self.settings.base_url))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes::Bytes::from(body.to_string())))
            .map_err(|e| SendError::Permanent(format!("request: {e}")))?;
        let (status, text) = self.call(req).await?;
        match status {
            200 if !text.is_empty() => Ok(text),
            400 if text.contains("DOUBLE_SEND_ERROR") => Ok(format!("duplicate:{}", m.id)),
            400 if PERMANENT.iter().any(|p| text.contains(p)) => Err(SendError::Permanent(text)),
            _ => Err(SendError::Transient(format!(
                "gateway answered {status}: {text}"
            ))),
        }
    }

    async fn lookup(&self, id: &str) -> Result<Known, SendError> {
        let url = format!(
            "{}/v2/status?username={}&password={}&custom_id={}",
            self.settings.base_url,
            encode(&self.settings.username),
            encode(&self.settings.password),
            encode(id)
        );
        let req = http::Request::get(url)
            .body(Full::new(bytes::Bytes::new()))
            .map_err(|e| SendError::Permanent(format!("request: {e}")))?;
        let (status, text) = self.call(req).await?;
        match status {
            200 => {
                let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
                Ok(match v.as_array().and_then(|a| a.first()) {
                    Some(first) => Known::Accepted(
                        first["campaign_id"]
                            .as_str()
                            .map_or_else(|| first["campaign_id"].to_string(), str::to_owned),
                    ),
                    None => Known::NotSeen,
                })
            }
            404 => Ok(Known::NotSeen),
            _ => Err(SendError::Transient(format!(
                "gateway answered {status}: {text}"
            ))),
        }
    }
}

/// Percent-encoding for a query value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
