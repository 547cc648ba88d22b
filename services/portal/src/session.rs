//! Sessions: a random id in a cookie, the state in the platform's cache
//! (Redis in production, so any replica serves the next page), sealed with
//! the privacy key because a half-filled application holds personal data.
//! A session unused for `portal.session_idle_secs` (a kiosk's for
//! `kiosk_idle_secs`) is gone, with its draft.

use crate::State;
use acikkapi_platform::Platform;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::time::Duration;

pub const COOKIE: &str = "ak_oturum";

/// The applicant's answers so far, as typed (validated page by page).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Draft {
    pub national_id: String,
    pub full_name: String,
    pub mobile_phone: String,
    pub email: String,
    pub province: u32,
    /// 0: none chosen yet; [`NO_DISTRICT`]: the province as a whole.
    pub district: u32,
    pub topic: String,
    pub type_code: String,
    pub kind: String,
    pub subject: String,
    pub text: String,
    pub vulnerability: Vec<String>,
    /// Sent with the submission: a second press of "Gönder" (or a retry
    /// after a lost answer) returns the first application.
    pub idempotency_key: String,
}

/// "The whole province" in the district question.
pub const NO_DISTRICT: u32 = u32::MAX;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submitted {
    pub number: String,
    pub code: String,
    pub received_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PhoneCheck {
    /// SHA-256 of the code sent, never the code.
    pub code_hash: String,
    pub phone: String,
    pub attempts: u32,
    pub sent_ms: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Session {
    #[serde(skip)]
    pub id: String,
    #[serde(skip)]
    pub is_new: bool,
    pub csrf: String,
    /// `web`, `mobile` (launched from the installed app) or `kiosk`.
    pub channel: String,
    pub draft: Draft,
    pub phone: Option<PhoneCheck>,
    /// The phone number that was confirmed (when confirmation is on).
    pub phone_confirmed: String,
    pub submitted: Option<Submitted>,
    /// Number and code of the last successful look-up, for the result page.
    pub tracked: Option<(String, String)>,
}

impl Session {
    pub fn kiosk(&self) -> bool {
        self.channel == "kiosk"
    }

    /// Whether the form's token is this session's.
    pub fn csrf_ok(&self, given: &str) -> bool {
        !self.is_new && constant_time_eq(self.csrf.as_bytes(), given.as_bytes())
    }
}

pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

pub fn random_token() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

pub struct Sessions {
    platform: Platform,
}

impl Sessions {
    pub fn new(platform: &Platform) -> Self {
        Self {
            platform: platform.clone(),
        }
    }

    /// The session of the request's cookie, or a new one.
    pub async fn load(&self, headers: &HeaderMap) -> Session {
        if let Some(id) = cookie(headers, COOKIE)
            && let Some(s) = self.read(&id).await
        {
            return s;
        }
        Session {
            id: random_token(),
            is_new: true,
            csrf: random_token(),
            channel: "web".into(),
            ..Default::default()
        }
    }

    async fn read(&self, id: &str) -> Option<Session> {
        let mut s: Session = Sealed::CITIZEN.read(&self.platform, id).await?;
        s.id = id.to_owned();
        Some(s)
    }

    pub async fn save(&self, s: &Session) {
        let p = &self.platform.settings.portal;
        let idle = if s.kiosk() {
            p.kiosk_idle_secs
        } else {
            p.session_idle_secs
        };
        Sealed::CITIZEN
            .write(&self.platform, &s.id, s, Duration::from_secs(idle))
            .await;
    }

    pub async fn erase(&self, s: &Session) {
        Sealed::CITIZEN.erase(&self.platform, &s.id).await;
    }

    /// Saves `s` and puts its cookie on `response`.
    pub async fn respond(&self, s: &Session, response: impl IntoResponse) -> Response {
        self.save(s).await;
        let mut r = response.into_response();
        let secure = if self.platform.settings.portal.cookie_secure {
            "; Secure"
        } else {
            ""
        };
        let cookie = format!("{COOKIE}={}; Path=/; HttpOnly; SameSite=Lax{secure}", s.id);
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }
}

/// Where a kind of session lives: sealed with the privacy key (a session
/// holds personal data or a person's token) in the platform's cache, under
/// its own key prefix, expiring when unused. Citizens' and staff sessions
/// are stored alike and never mixed.
pub struct Sealed {
    prefix: &'static str,
    /// The sealing context: one kind's sealed value does not open as another's.
    field: &'static str,
}

impl Sealed {
    pub const CITIZEN: Sealed = Sealed {
        prefix: "portal:session:",
        field: "portal_session",
    };
    pub const STAFF: Sealed = Sealed {
        prefix: "portal:staff:",
        field: "portal_staff",
    };

    /// The session `id` names, if it is there and opens.
    pub async fn read<T: serde::de::DeserializeOwned>(&self, p: &Platform, id: &str) -> Option<T> {
        if !valid_id(id) {
            return None;
        }
        let bytes = match p.cache.get(&format!("{}{id}", self.prefix)).await {
            Ok(b) => b?,
            Err(e) => {
                tracing::warn!(error = %e, "session store unavailable");
                return None;
            }
        };
        let sealed = String::from_utf8(bytes).ok()?;
        let json = p.vault.open(id, self.field, &sealed).ok()?;
        serde_json::from_str(&json).ok()
    }

    /// Stores `value` under `id` for `idle` from now.
    pub async fn write<T: Serialize>(&self, p: &Platform, id: &str, value: &T, idle: Duration) {
        let json = serde_json::to_string(value).expect("a session serialises");
        let sealed = p.vault.seal(id, self.field, &json);
        if let Err(e) = p
            .cache
            .set(&format!("{}{id}", self.prefix), sealed.as_bytes(), idle)
            .await
        {
            tracing::warn!(error = %e, "session not saved");
        }
    }

    pub async fn erase(&self, p: &Platform, id: &str) {
        let _ = p.cache.delete(&format!("{}{id}", self.prefix)).await;
    }
}

fn valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

/// The session of a request, for handlers: `let mut s = session(&state, &headers).await;`.
pub async fn session(state: &State, headers: &HeaderMap) -> Session {
    state.sessions.load(headers).await
}
