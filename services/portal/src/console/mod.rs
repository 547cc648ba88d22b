//! The staff console (`/konsol`): desks, units, governors and the Ministry
//! in a browser. Sign-in is OpenID Connect's authorization-code flow with
//! PKCE against the platform's identity provider (`auth.oidc_issuer`,
//! `portal.console_client_*`); on the embedded default, whose keys are the
//! laptop's own, a local page picks a role and scope instead (as
//! `acikkapi token` does), and it is refused wherever keys are configured.
//!
//! Every page calls the services with the signed-in person's own token, so
//! the console enforces exactly the gRPC services' role × scope matrix; an
//! application outside the person's scope is "not found", like one that
//! does not exist.
//!
//! Staff sessions are apart from citizens': their own cookie
//! (`ak_personel`, path `/konsol`, `SameSite=Strict`, `HttpOnly`, `Secure`
//! as configured), a new id at sign-in (no fixation), erased at sign-out
//! and after `portal.console_idle_secs` unused; a POST from another origin
//! is refused before anything else.

use crate::State;
use crate::pages::Layout;
use crate::session::Sealed;
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::catalog::Catalog;
use acikkapi_platform::auth::{Claims, Role};
use acikkapi_proto::v1 as pb;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{Path, Query, State as S};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use std::time::Duration;

mod actions;
mod applications;
mod charts;
mod filters;
mod inbox;
mod meetings;
mod monitor;
mod operations;
mod overdue;
mod record;
mod sign_in;

use actions::*;
use applications::*;
use inbox::*;
use meetings::{meetings, report as meeting_report, schedule};
use monitor::*;
use operations::*;
use overdue::*;
use record::*;
use sign_in::*;

pub const COOKIE: &str = "ak_personel";

pub fn routes() -> Router<State> {
    Router::new()
        .route("/konsol", get(home))
        .route("/konsol/giris", get(sign_in_page).post(sign_in_local))
        .route("/konsol/giris/baslat", get(sign_in_start))
        .route("/konsol/giris/donus", get(sign_in_return))
        .route("/konsol/cikis", post(sign_out))
        .route("/konsol/basvuru/{number}", get(application))
        .route("/konsol/basvuru/{number}/sonuclandir", post(conclude))
        .route("/konsol/basvuru/{number}/not", post(note))
        .route("/konsol/basvuru/{number}/aktar", post(transfer))
        .route("/konsol/basvuru/{number}/cevap", post(respond_as_unit))
        .route("/konsol/basvuru/{number}/yeniden-ac", post(reopen))
        .route(
            "/konsol/basvuru/{number}/yeniden-siniflandir",
            post(reclassify),
        )
        .route("/konsol/gelen", get(inbox))
        .route("/konsol/izleme", get(monitor))
        .route("/konsol/izleme/csv", get(export))
        .route("/konsol/geciken", get(overdue))
        .route("/konsol/halk-gunu", get(meetings).post(schedule))
        .route("/konsol/halk-gunu/{id}", get(meeting_report))
        .route("/konsol/birimler", get(units))
        .route("/konsol/kurallar", get(rules))
        .route("/konsol/sms", get(dead_letters))
        .route("/konsol/sms/{id}/yeniden", post(redrive))
        .route("/konsol/yeni", get(record_form).post(record))
}

/// A sign-in under way at the identity provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Staff {
    #[serde(skip)]
    id: String,
    csrf: String,
    /// The person's access token; empty: not signed in.
    token: String,
    sub: String,
    role: String,
    province: u32,
    district: u32,
    unit: String,
    pending: Option<Pending>,
}

impl Staff {
    fn signed_in(&self) -> bool {
        !self.token.is_empty()
    }

    fn fresh() -> Self {
        Self {
            id: crate::session::random_token(),
            csrf: crate::session::random_token(),
            ..Default::default()
        }
    }
}

async fn load(state: &State, headers: &HeaderMap) -> Staff {
    let Some(id) = crate::session::cookie(headers, COOKIE) else {
        return Staff::fresh();
    };
    match Sealed::STAFF.read::<Staff>(&state.platform, &id).await {
        Some(mut s) => {
            s.id = id;
            s
        }
        None => Staff::fresh(),
    }
}

/// Saves `s` (its life starts again) and sets its cookie on `response`.
async fn respond(state: &State, s: &Staff, response: impl IntoResponse) -> Response {
    let p = &state.platform;
    let idle = Duration::from_secs(p.settings.portal.console_idle_secs);
    Sealed::STAFF.write(p, &s.id, s, idle).await;
    with_cookie(state, response, &format!("{COOKIE}={}", s.id))
}

fn with_cookie(state: &State, response: impl IntoResponse, value: &str) -> Response {
    let mut r = response.into_response();
    let secure = if state.platform.settings.portal.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!("{value}; Path=/konsol; HttpOnly; SameSite=Strict{secure}");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

async fn erase(state: &State, s: &Staff) {
    Sealed::STAFF.erase(&state.platform, &s.id).await;
}

/// A POST another site made the browser send: refused whatever it carries.
fn cross_origin(state: &State, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site")
    {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let own = state.public_url.trim_end_matches('/');
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    origin != own && origin != format!("http://{host}") && origin != format!("https://{host}")
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    crate::session::constant_time_eq(a.as_bytes(), b.as_bytes())
}

fn layout(state: &State, s: &Staff, title: &str) -> Layout {
    let mut l = Layout::new(state, &crate::session::Session::default(), title);
    l.csrf = s.csrf.clone();
    if s.signed_in() {
        l.staff = format!("{} ({})", s.sub, role_name(&s.role));
    }
    l.home = "/konsol".into();
    l
}

fn role_name(role: &str) -> &'static str {
    match Role::parse(role) {
        Some(Role::DeskOfficer) => "Açık Kapı bürosu",
        Some(Role::UnitOfficer) => "Birim",
        Some(Role::DeputyGovernor) => "Vali yardımcısı",
        Some(Role::Governor) => "Vali",
        Some(Role::Kaymakam) => "Kaymakam",
        Some(Role::MinistryOfficer) => "Bakanlık merkezi",
        Some(Role::MinistryAnalyst) => "Bakanlık analisti",
        Some(Role::PlatformOperator) => "Platform işletmecisi",
        _ => "Bilinmeyen rol",
    }
}

// ---- answers that are not pages of their own ----------------------------------

async fn message_page(
    state: &State,
    s: &Staff,
    status: StatusCode,
    title: &str,
    text: &str,
    link: (&str, &str),
) -> Response {
    let mut m = crate::pages::message(
        state,
        &crate::session::Session::default(),
        title,
        &[text],
        link,
    );
    m.l = layout(state, s, title);
    respond(state, s, (status, m)).await
}

async fn not_found(state: &State, s: &Staff) -> Response {
    message_page(
        state,
        s,
        StatusCode::NOT_FOUND,
        "Başvuru bulunamadı",
        "Bu numarayla görebileceğiniz bir başvuru yok. Numarayı kontrol edin.",
        ("/konsol", "Başvurulara dönün"),
    )
    .await
}

async fn refused(state: &State, s: &Staff, why: &str) -> Response {
    message_page(
        state,
        s,
        StatusCode::FORBIDDEN,
        "Giriş yapılamadı",
        why,
        ("/konsol/giris", "Giriş sayfasına dönün"),
    )
    .await
}

async fn forbidden(state: &State, s: &Staff) -> Response {
    message_page(
        state,
        s,
        StatusCode::FORBIDDEN,
        "İstek reddedildi",
        "Bu istek Açık Kapı'nın kendi sayfalarından gelmedi ya da oturumunuz değişti. Sayfayı yenileyip yeniden deneyin.",
        ("/konsol", "Konsola dönün"),
    )
    .await
}

async fn expired(state: &State, s: &Staff) -> Response {
    erase(state, s).await;
    let fresh = Staff::fresh();
    message_page(
        state,
        &fresh,
        StatusCode::UNAUTHORIZED,
        "Oturumunuzun süresi doldu",
        "Güvenliğiniz için yeniden giriş yapın.",
        ("/konsol/giris", "Giriş yapın"),
    )
    .await
}

async fn unavailable(state: &State) -> Response {
    let s = Staff::fresh();
    message_page(
        state,
        &s,
        StatusCode::SERVICE_UNAVAILABLE,
        "Hizmet şu anda kullanılamıyor",
        "Birkaç dakika sonra yeniden deneyin.",
        ("/konsol/giris", "Giriş sayfasına dönün"),
    )
    .await
}

/// A page or action that is not the person's role's.
async fn not_yours(state: &State, s: &Staff) -> Response {
    staff_failure(
        state,
        s,
        &tonic::Status::permission_denied("not this role's page"),
    )
    .await
}

async fn staff_failure(state: &State, s: &Staff, e: &tonic::Status) -> Response {
    tracing::warn!(code = ?e.code(), "console call failed");
    let (status, title) = if e.code() == tonic::Code::PermissionDenied {
        (StatusCode::FORBIDDEN, "Bu sayfayı görme yetkiniz yok")
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Hizmet şu anda kullanılamıyor",
        )
    };
    message_page(
        state,
        s,
        status,
        title,
        "Yetkiniz olduğunu düşünüyorsanız sistem yöneticinize başvurun.",
        ("/konsol", "Konsola dönün"),
    )
    .await
}
