//! The page frame every template shares, and the pages that are not a
//! journey: start, kiosk, accessibility statement, privacy notice, and the
//! error pages (not found, problem with the service, service unavailable,
//! too many attempts, session expired), which say what to do and nothing
//! about the inside.

use crate::fields::Problems;
use crate::session::{Session, session};
use crate::{State, assets};
use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

/// What the frame shows around a page.
pub struct Layout {
    pub title: String,
    pub csrf: String,
    pub kiosk: bool,
    pub idle_secs: u64,
    /// The Back link's target; empty: none.
    pub back: String,
    pub problems: Problems,
    pub css: String,
    pub js: String,
    pub icon: String,
    /// The signed-in staff member, shown with a sign-out button (console).
    pub staff: String,
    /// Where the header's name leads.
    pub home: String,
}

impl Layout {
    pub fn new(state: &State, s: &Session, title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            csrf: s.csrf.clone(),
            kiosk: s.kiosk(),
            idle_secs: state.platform.settings.portal.kiosk_idle_secs,
            back: String::new(),
            problems: Problems::default(),
            css: assets::url("app.css"),
            js: assets::url("app.js"),
            icon: assets::url("icon.svg"),
            staff: String::new(),
            home: if s.kiosk() {
                "/kiosk".into()
            } else {
                "/".into()
            },
        }
    }

    pub fn back(mut self, to: &str) -> Self {
        self.back = to.into();
        self
    }

    pub fn problems(mut self, p: Problems) -> Self {
        self.problems = p;
        self
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "start.html")]
struct Start {
    l: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "message.html")]
pub struct Message {
    pub l: Layout,
    pub panel: bool,
    pub paragraphs: Vec<String>,
    pub link_href: String,
    pub link_text: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "erisilebilirlik.html")]
struct Accessibility {
    l: Layout,
    kiosk_idle: u64,
}

#[derive(Template, WebTemplate)]
#[template(path = "gizlilik.html")]
struct Privacy {
    l: Layout,
}

#[derive(Deserialize)]
pub struct StartQuery {
    kaynak: Option<String>,
}

pub async fn start(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<StartQuery>,
) -> Response {
    let mut s = session(&state, &headers).await;
    // Launched from the installed web app: its applications are `mobile`.
    if q.kaynak.as_deref() == Some("uygulama") && !s.kiosk() {
        s.channel = "mobile".into();
    }
    let page = Start {
        l: Layout::new(&state, &s, "Valiliğe veya kaymakamlığa başvurun"),
    };
    state.sessions.respond(&s, page).await
}

/// A kiosk in a governorship's hall: this browser's session becomes a
/// kiosk session (short life, no autocomplete, channel `kiosk`).
pub async fn kiosk(S(state): S<State>, headers: HeaderMap) -> Response {
    let mut s = session(&state, &headers).await;
    if !s.kiosk() {
        // A fresh session: nothing of a browser's earlier use carries over.
        state.sessions.erase(&s).await;
        s = state.sessions.load(&HeaderMap::new()).await;
        s.channel = "kiosk".into();
    }
    let page = Start {
        l: Layout::new(&state, &s, "Valiliğe veya kaymakamlığa başvurun"),
    };
    state.sessions.respond(&s, page).await
}

/// The end of a kiosk visit (or its inactivity timer): everything erased,
/// and a new empty kiosk session for the next person.
pub async fn kiosk_end(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    state.sessions.erase(&s).await;
    let mut fresh = state.sessions.load(&HeaderMap::new()).await;
    fresh.channel = "kiosk".into();
    state.sessions.respond(&fresh, Redirect::to("/kiosk")).await
}

pub async fn accessibility(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let page = Accessibility {
        l: Layout::new(&state, &s, "Erişilebilirlik beyanı"),
        kiosk_idle: state.platform.settings.portal.kiosk_idle_secs,
    };
    state.sessions.respond(&s, page).await
}

pub async fn privacy(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let page = Privacy {
        l: Layout::new(&state, &s, "Kişisel verilerin korunması"),
    };
    state.sessions.respond(&s, page).await
}

pub async fn not_found(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let page = message(
        &state,
        &s,
        "Sayfa bulunamadı",
        &[
            "Adresi yazdıysanız doğru yazıp yazmadığınızı kontrol edin.",
            "Adresi yapıştırdıysanız adresin tamamını kopyaladığınızdan emin olun.",
        ],
        ("/", "Açık Kapı ana sayfasına gidin"),
    );
    (StatusCode::NOT_FOUND, page).into_response()
}

/// A page with a heading, some paragraphs and one link.
pub fn message(
    state: &State,
    s: &Session,
    title: &str,
    paragraphs: &[&str],
    link: (&str, &str),
) -> Message {
    Message {
        l: Layout::new(state, s, title),
        panel: false,
        paragraphs: paragraphs.iter().map(|p| p.to_string()).collect(),
        link_href: link.0.into(),
        link_text: link.1.into(),
    }
}

/// The answer to a failed call of the platform, as a page: what the
/// citizen can do, never what failed inside.
pub fn failure(state: &State, s: &Session, status: &tonic::Status) -> Response {
    use tonic::Code;
    match status.code() {
        Code::ResourceExhausted => {
            let p = message(
                state,
                s,
                "Çok fazla deneme yaptınız",
                &[
                    "Güvenliğiniz için kısa bir süre yeni sorgulama ve başvuru kabul etmiyoruz.",
                    "Bir dakika bekleyip yeniden deneyin. Acil durumlarda ALO 150'yi arayın.",
                ],
                ("/", "Ana sayfaya dönün"),
            );
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "60")], p).into_response()
        }
        Code::Unavailable | Code::DeadlineExceeded => {
            tracing::warn!(code = ?status.code(), "platform unavailable to the portal");
            let p = message(
                state,
                s,
                "Hizmet şu anda kullanılamıyor",
                &[
                    "Girdiğiniz bilgiler kaybolmadı. Birkaç dakika sonra yeniden deneyin.",
                    "Başvurunuzu ALO 150'yi arayarak ya da Açık Kapı bürolarına gelerek de yapabilirsiniz.",
                ],
                ("/", "Ana sayfaya dönün"),
            );
            (StatusCode::SERVICE_UNAVAILABLE, p).into_response()
        }
        code => {
            tracing::error!(?code, "portal call failed");
            let p = message(
                state,
                s,
                "Üzgünüz, hizmette bir sorun var",
                &[
                    "Lütfen daha sonra yeniden deneyin.",
                    "Başvurunuzu ALO 150'yi arayarak ya da Açık Kapı bürolarına gelerek de yapabilirsiniz.",
                ],
                ("/", "Ana sayfaya dönün"),
            );
            (StatusCode::INTERNAL_SERVER_ERROR, p).into_response()
        }
    }
}

/// A form posted without this session's token: an old tab, an expired
/// session, or another site's forgery. Nothing is done.
pub async fn expired(state: &State, s: &Session) -> Response {
    let p = message(
        state,
        s,
        "Oturumunuzun süresi doldu",
        &[
            "Güvenliğiniz için bir süre işlem yapılmayınca girdiğiniz bilgileri sileriz.",
            "Lütfen yeniden başlayın.",
        ],
        (if s.kiosk() { "/kiosk" } else { "/" }, "Baştan başlayın"),
    );
    state.sessions.respond(s, (StatusCode::FORBIDDEN, p)).await
}
