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

use crate::pages::Layout;
use crate::{State, assets};
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
        .route("/konsol/basvuru/{number}/cevap", post(respond_as_unit))
        .route("/konsol/gelen", get(inbox))
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

fn key(id: &str) -> String {
    format!("portal:staff:{id}")
}

async fn load(state: &State, headers: &HeaderMap) -> Staff {
    let Some(id) = crate::session::cookie(headers, COOKIE)
        .filter(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return Staff::fresh();
    };
    let p = &state.platform;
    let sealed = match p.cache.get(&key(&id)).await {
        Ok(Some(b)) => b,
        Ok(None) => return Staff::fresh(),
        Err(e) => {
            tracing::warn!(error = %e, "staff session store unavailable");
            return Staff::fresh();
        }
    };
    let opened = String::from_utf8(sealed)
        .ok()
        .and_then(|s| p.vault.open(&id, "portal_staff", &s).ok())
        .and_then(|json| serde_json::from_str::<Staff>(&json).ok());
    match opened {
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
    let json = serde_json::to_string(s).expect("a staff session serialises");
    let sealed = p.vault.seal(&s.id, "portal_staff", &json);
    let idle = Duration::from_secs(p.settings.portal.console_idle_secs);
    if let Err(e) = p.cache.set(&key(&s.id), sealed.as_bytes(), idle).await {
        tracing::warn!(error = %e, "staff session not saved");
    }
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
    let _ = state.platform.cache.delete(&key(&s.id)).await;
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
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn layout(state: &State, s: &Staff, title: &str) -> Layout {
    let mut l = Layout::new(state, &crate::session::Session::default(), title);
    l.csrf = s.csrf.clone();
    if s.signed_in() {
        l.staff = format!("{} ({})", s.sub, role_name(&s.role));
    }
    l.home = "/konsol".into();
    l.css = assets::url("app.css");
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

// ---- sign-in ---------------------------------------------------------------

pub struct RoleChoice {
    pub value: &'static str,
    pub label: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_giris.html")]
struct SignIn {
    l: Layout,
    oidc: bool,
    local: bool,
    roles: Vec<RoleChoice>,
    signed_out: bool,
}

#[derive(Deserialize, Default)]
struct SignInQuery {
    cikis: Option<String>,
}

const STAFF_ROLES: &[Role] = &[
    Role::DeskOfficer,
    Role::UnitOfficer,
    Role::Kaymakam,
    Role::DeputyGovernor,
    Role::Governor,
    Role::MinistryOfficer,
    Role::MinistryAnalyst,
    Role::PlatformOperator,
];

async fn sign_in_page(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    let s = load(&state, &headers).await;
    if s.signed_in() {
        return Redirect::to("/konsol").into_response();
    }
    render_sign_in(
        &state,
        &s,
        crate::fields::Problems::default(),
        q.cikis.is_some(),
    )
    .await
}

async fn render_sign_in(
    state: &State,
    s: &Staff,
    problems: crate::fields::Problems,
    signed_out: bool,
) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = SignIn {
        l: layout(state, s, "Personel girişi").problems(problems),
        oidc: state.oidc_enabled(),
        local: state.keys.local_issuer,
        roles: STAFF_ROLES
            .iter()
            .map(|r| RoleChoice {
                value: r.as_str(),
                label: role_name(r.as_str()),
            })
            .collect(),
        signed_out,
    };
    respond(state, s, (status, page)).await
}

/// Starts the identity provider's sign-in: state, nonce and a PKCE
/// verifier kept in the (not yet signed-in) session.
async fn sign_in_start(S(state): S<State>, headers: HeaderMap) -> Response {
    let (Some(idp), true) = (state.keys.idp(), state.oidc_enabled()) else {
        return Redirect::to("/konsol/giris").into_response();
    };
    let endpoints = match idp.endpoints().await {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "identity provider unreachable");
            return unavailable(&state).await;
        }
    };
    let mut s = load(&state, &headers).await;
    let pending = Pending {
        state: crate::session::random_token(),
        nonce: crate::session::random_token(),
        verifier: format!(
            "{}{}",
            crate::session::random_token(),
            crate::session::random_token()
        ),
    };
    let challenge = acikkapi_platform::idp::pkce_challenge(&pending.verifier);
    let q = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair(
            "client_id",
            &state.platform.settings.portal.console_client_id,
        )
        .append_pair("redirect_uri", &state.redirect_uri())
        .append_pair("scope", "openid")
        .append_pair("state", &pending.state)
        .append_pair("nonce", &pending.nonce)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .finish();
    s.pending = Some(pending);
    let to = format!("{}?{q}", endpoints.authorization);
    respond(&state, &s, Redirect::to(&to)).await
}

#[derive(Deserialize)]
struct Return {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
}

async fn sign_in_return(
    S(state): S<State>,
    headers: HeaderMap,
    Query(r): Query<Return>,
) -> Response {
    let s = load(&state, &headers).await;
    let Some(pending) = s.pending.clone() else {
        return refused(
            &state,
            &s,
            "Oturum açma isteği bulunamadı; yeniden deneyin.",
        )
        .await;
    };
    if r.code.is_empty() || !constant_time_eq(&pending.state, &r.state) {
        return refused(
            &state,
            &s,
            "Oturum açma isteği doğrulanamadı; yeniden deneyin.",
        )
        .await;
    }
    let Some(idp) = state.keys.idp() else {
        return refused(&state, &s, "Kimlik sağlayıcı tanımlı değil.").await;
    };
    let p = &state.platform.settings.portal;
    let answer = idp
        .exchange(&[
            ("grant_type", "authorization_code"),
            ("code", &r.code),
            ("redirect_uri", &state.redirect_uri()),
            ("client_id", &p.console_client_id),
            ("client_secret", p.console_client_secret.expose()),
            ("code_verifier", &pending.verifier),
        ])
        .await;
    let answer = match answer {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "code exchange refused");
            return refused(
                &state,
                &s,
                "Kimlik sağlayıcı girişi onaylamadı; yeniden deneyin.",
            )
            .await;
        }
    };
    let access = answer["access_token"].as_str().unwrap_or("");
    let id_token = answer["id_token"].as_str().unwrap_or("");
    // The ID token must be this sign-in's (its nonce) and for this client.
    let nonce_ok = match jsonwebtoken::decode_header(id_token) {
        Ok(h) => idp
            .decode(id_token, &h, &p.console_client_id)
            .await
            .is_ok_and(|c| c["nonce"].as_str() == Some(pending.nonce.as_str())),
        Err(_) => false,
    };
    if !nonce_ok {
        return refused(&state, &s, "Kimlik doğrulanamadı; yeniden deneyin.").await;
    }
    match state.keys.verify_any(access).await {
        Ok(claims) => begin(&state, s, access.to_owned(), claims).await,
        Err(e) => {
            tracing::warn!(error = %e, "the provider's access token was refused");
            refused(&state, &s, "Bu hesapla Açık Kapı'ya giriş yetkiniz yok.").await
        }
    }
}

#[derive(Deserialize)]
struct Local {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    province: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    unit: String,
    #[serde(default)]
    sub: String,
}

/// The embedded default's sign-in: a role and scope picked on the page,
/// signed with the laptop's own key. Refused wherever keys are configured.
async fn sign_in_local(S(state): S<State>, headers: HeaderMap, Form(f): Form<Local>) -> Response {
    let s = load(&state, &headers).await;
    if cross_origin(&state, &headers) || !constant_time_eq(&s.csrf, &f.csrf) {
        return forbidden(&state, &s).await;
    }
    if !state.keys.local_issuer {
        return refused(
            &state,
            &s,
            "Yerel giriş yalnızca dizüstü kurulumunda açıktır.",
        )
        .await;
    }
    let mut problems = crate::fields::Problems::default();
    let role = Role::parse(&f.role).filter(|r| STAFF_ROLES.contains(r));
    if role.is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Role,
            message: "Rolünüzü seçin".into(),
        });
    }
    let province = f.province.trim().parse::<u32>().unwrap_or(0);
    let district = f.district.trim().parse::<u32>().unwrap_or(0);
    let needs_province = matches!(
        role,
        Some(
            Role::DeskOfficer
                | Role::UnitOfficer
                | Role::Kaymakam
                | Role::DeputyGovernor
                | Role::Governor
        )
    );
    if needs_province && Catalog::builtin().province(province).is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Province,
            message: "Bu rol için ilinizi seçin".into(),
        });
    }
    let sub = f.sub.trim();
    if sub.is_empty()
        || sub.len() > 64
        || !sub
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::StaffId,
            message:
                "Personel kimliğinizi harf, rakam ve tire ile girin (T.C. kimlik numarası değil)"
                    .into(),
        });
    }
    let Some(role) = role.filter(|_| problems.is_empty()) else {
        return render_sign_in(&state, &s, problems, false).await;
    };
    let claims = Claims {
        sub: sub.to_owned(),
        role,
        province: if needs_province { province } else { 0 },
        district: if role == Role::Kaymakam || role == Role::DeskOfficer {
            district
        } else {
            0
        },
        unit: if role == Role::UnitOfficer {
            f.unit.trim().to_owned()
        } else {
            String::new()
        },
        iss: String::new(),
        aud: String::new(),
        iat: 0,
        exp: 0,
    };
    let ttl = state.platform.settings.portal.console_idle_secs.max(3_600);
    match state.keys.issue(claims.clone(), ttl) {
        Ok(token) => begin(&state, s, token, claims).await,
        Err(e) => {
            tracing::error!(error = %e, "local sign-in could not sign");
            unavailable(&state).await
        }
    }
}

/// Signed in: the session before sign-in is erased and a new one, with a
/// new id and token, takes its place (a planted session id gains nothing).
async fn begin(state: &State, before: Staff, token: String, c: Claims) -> Response {
    erase(state, &before).await;
    let mut s = Staff::fresh();
    s.token = token;
    s.sub = c.sub;
    s.role = c.role.as_str().to_owned();
    s.province = c.province;
    s.district = c.district;
    s.unit = c.unit;
    tracing::info!(role = %s.role, "staff signed in");
    respond(state, &s, Redirect::to("/konsol")).await
}

#[derive(Deserialize)]
struct Token {
    #[serde(default, rename = "_csrf")]
    csrf: String,
}

async fn sign_out(S(state): S<State>, headers: HeaderMap, Form(f): Form<Token>) -> Response {
    let s = load(&state, &headers).await;
    if cross_origin(&state, &headers) || !constant_time_eq(&s.csrf, &f.csrf) {
        return forbidden(&state, &s).await;
    }
    erase(&state, &s).await;
    with_cookie(
        &state,
        Redirect::to("/konsol/giris?cikis=1"),
        &format!("{COOKIE}=; Max-Age=0"),
    )
}

// ---- pages ---------------------------------------------------------------------

pub struct Row {
    pub number: String,
    pub href: String,
    pub place: String,
    pub topic: String,
    pub status: &'static str,
    pub received: String,
    pub priority: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol.html")]
struct Home {
    l: Layout,
    who: String,
    scope: String,
    rows: Vec<Row>,
    can_list: bool,
    unit_officer: bool,
    can_record: bool,
    /// The scope's figures for the last 12 months (management roles).
    tiles: Vec<(&'static str, String)>,
}

/// Figures of the person's scope over the last 12 months, from reporting,
/// for governors, kaymakams and the Ministry; none for other roles.
async fn tiles(state: &State, s: &Staff) -> Result<Vec<(&'static str, String)>, tonic::Status> {
    let management = matches!(
        Role::parse(&s.role),
        Some(
            Role::Governor
                | Role::DeputyGovernor
                | Role::Kaymakam
                | Role::MinistryOfficer
                | Role::MinistryAnalyst
        )
    );
    if !management {
        return Ok(Vec::new());
    }
    let now = acikkapi_platform::store::now_ms() / 1000;
    let at = |secs: i64| prost_types::Timestamp {
        seconds: secs,
        nanos: 0,
    };
    let msg = pb::ReportRequest {
        scope: Some(pb::Scope {
            province_code: s.province,
            district_code: s.district,
            unit_id: String::new(),
        }),
        period: Some(pb::TimeRange {
            from: Some(at(now - 365 * 86_400)),
            to: Some(at(now + 60)),
        }),
        limit: 0,
    };
    let t = state
        .backend
        .reporting()
        .get_totals(as_person(s, msg)?)
        .await?
        .into_inner();
    let pct = |x: f64| format!("%{:.0}", x * 100.0);
    Ok(vec![
        ("Alınan", t.received.to_string()),
        ("Açık", t.open.to_string()),
        ("Sonuçlanan", t.concluded.to_string()),
        (
            "Olumlu",
            format!("{} ({})", t.positive, pct(t.positive_rate)),
        ),
        (
            "Olumsuz",
            format!("{} ({})", t.negative, pct(t.negative_rate)),
        ),
        ("Süresinde sonuçlanan", pct(t.concluded_within_sla_rate)),
        (
            "Ortanca sonuçlanma süresi",
            format!("{:.1} saat", t.median_resolution_hours),
        ),
    ])
}

fn scope_name(s: &Staff) -> String {
    let c = Catalog::builtin();
    let province = c.province(s.province).map(|p| p.name.clone());
    let district = c.district(s.district).map(|d| d.name.clone());
    match (province, district) {
        (Some(p), Some(d)) => format!("{p} / {d}"),
        (Some(p), None) => p,
        _ => "Türkiye".into(),
    }
}

/// The request with the signed-in person's token, never a super-token.
fn as_person<T>(s: &Staff, msg: T) -> Result<tonic::Request<T>, tonic::Status> {
    use tonic::service::Interceptor;
    let mut req =
        acikkapi_platform::telemetry::TraceContextInterceptor.call(tonic::Request::new(()))?;
    let bearer = format!("Bearer {}", s.token)
        .parse()
        .map_err(|_| tonic::Status::unauthenticated("token"))?;
    req.metadata_mut().insert("authorization", bearer);
    let (metadata, extensions, ()) = req.into_parts();
    Ok(tonic::Request::from_parts(metadata, extensions, msg))
}

async fn home(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let role = Role::parse(&s.role);
    let can_list = !matches!(role, Some(Role::MinistryAnalyst | Role::PlatformOperator));
    let mut rows = Vec::new();
    if can_list {
        let req = as_person(
            &s,
            pb::ListApplicationsRequest {
                province_code: s.province,
                district_code: s.district,
                ..Default::default()
            },
        );
        let listed = match req {
            Ok(r) => state.backend.intake().list_applications(r).await,
            Err(e) => Err(e),
        };
        match listed {
            Ok(r) => rows = r.into_inner().applications.iter().map(row).collect(),
            Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
            Err(e) => return staff_failure(&state, &s, &e).await,
        }
    }
    let page = Home {
        l: layout(&state, &s, "Başvurular"),
        who: format!("{} · {}", role_name(&s.role), s.sub),
        scope: scope_name(&s),
        rows,
        can_list,
        unit_officer: role == Some(Role::UnitOfficer),
        can_record: role == Some(Role::DeskOfficer) && s.province != 0,
        tiles: match tiles(&state, &s).await {
            Ok(t) => t,
            Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
            Err(e) => return staff_failure(&state, &s, &e).await,
        },
    };
    respond(&state, &s, page).await
}

fn row(a: &pb::ApplicationSummary) -> Row {
    let c = Catalog::builtin();
    let number = ApplicationNumber::parse(&a.application_number)
        .map(|n| n.to_string())
        .unwrap_or(a.application_number.clone());
    let province = c
        .province(a.province_code)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let place = match c.district(a.district_code) {
        Some(d) => format!("{province} / {}", d.name),
        None => province,
    };
    Row {
        href: format!("/konsol/basvuru/{}", a.application_number),
        number,
        place,
        topic: c
            .topic(&a.topic_code)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        status: crate::track::status_name(a.status),
        received: crate::track::local_time(a.received_at.map(|t| t.seconds * 1000).unwrap_or(0)),
        priority: a.priority,
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_basvuru.html")]
struct ApplicationPage {
    l: Layout,
    number: String,
    digits: String,
    status: &'static str,
    rows: Vec<(&'static str, String)>,
    text: String,
    notes: Vec<(String, String)>,
    timeline: Vec<crate::track::Stage>,
    /// Which forms the person's role has (the service decides again).
    can_conclude: bool,
    can_answer: bool,
    open: bool,
    typed: Typed,
}

/// What was typed into a form that came back with an error.
#[derive(Default, Clone)]
pub struct Typed {
    pub outcome: String,
    pub explanation: String,
    pub alternatives: String,
    pub note: String,
    pub answer: String,
}

pub struct OutcomeChoice {
    pub value: &'static str,
    pub label: &'static str,
}

pub const OUTCOMES: &[(&str, &str)] = &[
    ("positive", "Olumlu"),
    ("negative", "Olumsuz"),
    ("partial", "Kısmen olumlu, kısmen olumsuz"),
    ("unanswerable", "Cevaplanamıyor (seçenekler sunulur)"),
];

impl ApplicationPage {
    pub fn outcomes(&self) -> Vec<OutcomeChoice> {
        OUTCOMES
            .iter()
            .map(|(value, label)| OutcomeChoice { value, label })
            .collect()
    }
}

fn outcome_of(v: &str) -> pb::Outcome {
    match v {
        "positive" => pb::Outcome::Positive,
        "negative" => pb::Outcome::Negative,
        "partial" => pb::Outcome::Partial,
        "unanswerable" => pb::Outcome::Unanswerable,
        _ => pb::Outcome::Unspecified,
    }
}

async fn application(S(state): S<State>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let s = load(&state, &headers).await;
    show_application(
        &state,
        s,
        &raw,
        crate::fields::Problems::default(),
        Typed::default(),
    )
    .await
}

async fn show_application(
    state: &State,
    s: Staff,
    raw: &str,
    problems: crate::fields::Problems,
    typed: Typed,
) -> Response {
    let state = state.clone();
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let Ok(number) = ApplicationNumber::parse(raw) else {
        return not_found(&state, &s).await;
    };
    let req = match as_person(
        &s,
        pb::GetApplicationRequest {
            application_number: number.digits(),
        },
    ) {
        Ok(r) => r,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let a = match state.backend.intake().get_application(req).await {
        Ok(a) => a.into_inner(),
        // Outside the person's scope reads exactly as not there at all.
        Err(e)
            if matches!(
                e.code(),
                tonic::Code::NotFound
                    | tonic::Code::PermissionDenied
                    | tonic::Code::InvalidArgument
            ) =>
        {
            return not_found(&state, &s).await;
        }
        Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let c = Catalog::builtin();
    let applicant = a.applicant.clone().unwrap_or_default();
    let province = c
        .province(a.province_code)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let district = c
        .district(a.district_code)
        .map(|d| d.name.clone())
        .unwrap_or("İlin geneli".into());
    let role = Role::parse(&s.role);
    let open = a.status != pb::Status::Concluded as i32;
    let status_code = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = ApplicationPage {
        l: layout(&state, &s, &format!("Başvuru {number}"))
            .back("/konsol")
            .problems(problems),
        number: number.to_string(),
        digits: number.digits(),
        can_conclude: matches!(role, Some(Role::DeskOfficer | Role::MinistryOfficer)),
        can_answer: role == Some(Role::UnitOfficer),
        open,
        typed,
        notes: a
            .notes
            .iter()
            .map(|n| {
                (
                    format!(
                        "{} · {}",
                        crate::track::local_time(n.added_at.map(|x| x.seconds * 1000).unwrap_or(0)),
                        n.author
                    ),
                    n.text.clone(),
                )
            })
            .collect(),
        status: crate::track::status_name(a.status),
        rows: vec![
            ("Başvuru sahibi", applicant.full_name),
            ("Kimlik numarası", applicant.national_id),
            ("Cep telefonu", applicant.mobile_phone),
            ("Yer", format!("{province} / {district}")),
            (
                "Konu başlığı",
                c.topic(&a.topic_code)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            ),
            (
                "Başvuru türü",
                c.application_type(&a.type_code)
                    .map(|t| t.name.clone())
                    .unwrap_or_default(),
            ),
            ("Konu", a.subject.clone()),
            ("Birim", a.unit_id.clone()),
            (
                "Öncelik",
                if a.priority {
                    "Öncelikli (refakat)".into()
                } else {
                    "Yok".into()
                },
            ),
        ],
        text: a.text.clone(),
        timeline: a.timeline.iter().map(crate::track::stage).collect(),
    };
    respond(&state, &s, (status_code, page)).await
}

#[derive(Deserialize, Default)]
struct ActionForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    explanation: String,
    #[serde(default)]
    alternatives: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    answer: String,
}

impl ActionForm {
    fn typed(&self) -> Typed {
        Typed {
            outcome: self.outcome.clone(),
            explanation: self.explanation.clone(),
            alternatives: self.alternatives.clone(),
            note: self.note.clone(),
            answer: self.answer.clone(),
        }
    }
}

/// The person's POST, checked for origin and token; the session, or the
/// answer to give instead.
async fn guard(state: &State, headers: &HeaderMap, csrf: &str) -> Result<Staff, Response> {
    let s = load(state, headers).await;
    if cross_origin(state, headers) || !constant_time_eq(&s.csrf, csrf) {
        return Err(forbidden(state, &s).await);
    }
    if !s.signed_in() {
        return Err(Redirect::to("/konsol/giris").into_response());
    }
    Ok(s)
}

/// A service's verdict on a form: back to the page with the error at the
/// field it names, the page of a refusal, or the application again.
/// Which of the application page's forms was posted.
#[derive(Clone, Copy)]
enum Action {
    Conclude,
    Note,
    Answer,
}

async fn after_action(
    state: &State,
    s: Staff,
    raw: &str,
    (form, f): (Action, &ActionForm),
    done: Result<(), tonic::Status>,
) -> Response {
    match done {
        Ok(()) => respond(state, &s, Redirect::to(&format!("/konsol/basvuru/{raw}"))).await,
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let field = e.message().split(':').next().unwrap_or("").trim();
            let (id, message) = match (form, field) {
                (Action::Conclude, "outcome") => ("outcome", "Sonucu seçin"),
                (Action::Conclude, "alternatives") => (
                    "alternatives",
                    "Cevaplanamayan başvuruda vatandaşa sunulan seçenekleri her satıra bir tane yazın",
                ),
                (Action::Conclude, _) => (
                    "explanation",
                    "Vatandaşın okuyacağı açıklamayı 1 ile 2.000 karakter arasında yazın",
                ),
                (Action::Note, _) => ("note", "Notu 1 ile 2.000 karakter arasında yazın"),
                (Action::Answer, "proposed_outcome") => ("outcome", "Önerilen sonucu seçin"),
                (Action::Answer, _) => ("answer", "Cevabı 1 ile 2.000 karakter arasında yazın"),
            };
            let mut p = crate::fields::Problems::default();
            p.add(crate::fields::Problem {
                field: crate::fields::Field::Console(id),
                message: message.into(),
            });
            show_application(state, s, raw, p, f.typed()).await
        }
        Err(e) if matches!(e.code(), tonic::Code::NotFound) => not_found(state, &s).await,
        Err(e) if e.code() == tonic::Code::Unauthenticated => expired(state, &s).await,
        Err(e) => staff_failure(state, &s, &e).await,
    }
}

async fn conclude(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let alternatives: Vec<String> = f
        .alternatives
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let msg = pb::ConcludeApplicationRequest {
        application_number: raw.clone(),
        outcome: outcome_of(&f.outcome) as i32,
        explanation: f.explanation.trim().replace("\r\n", "\n"),
        alternatives,
    };
    let done = match as_person(&s, msg) {
        Ok(r) => state
            .backend
            .intake()
            .conclude_application(r)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    after_action(&state, s, &raw, (Action::Conclude, &f), done).await
}

async fn note(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let msg = pb::AddNoteRequest {
        application_number: raw.clone(),
        author: s.sub.clone(),
        text: f.note.trim().replace("\r\n", "\n"),
    };
    let done = match as_person(&s, msg) {
        Ok(r) => state.backend.intake().add_note(r).await.map(drop),
        Err(e) => Err(e),
    };
    after_action(&state, s, &raw, (Action::Note, &f), done).await
}

async fn respond_as_unit(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let msg = pb::RespondToApplicationRequest {
        application_number: raw.chars().filter(char::is_ascii_digit).collect(),
        unit_id: s.unit.clone(),
        text: f.answer.trim().replace("\r\n", "\n"),
        proposed_outcome: outcome_of(&f.outcome) as i32,
        alternatives: vec![],
    };
    let done = match as_person(&s, msg) {
        Ok(r) => state
            .backend
            .routing()
            .respond_to_application(r)
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    after_action(&state, s, &raw, (Action::Answer, &f), done).await
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_gelen.html")]
struct Inbox {
    l: Layout,
    unit: String,
    rows: Vec<InboxRow>,
}

pub struct InboxRow {
    pub number: String,
    pub href: String,
    pub topic: String,
    pub status: &'static str,
    pub deadline: String,
    pub overdue: bool,
    pub priority: bool,
}

/// The unit's inbox, soonest deadline first, overdue marked.
async fn inbox(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let msg = pb::ListInboxRequest {
        unit_id: s.unit.clone(),
        page: None,
    };
    let listed = match as_person(&s, msg) {
        Ok(r) => state.backend.routing().list_inbox(r).await,
        Err(e) => Err(e),
    };
    let items = match listed {
        Ok(r) => r.into_inner().items,
        Err(e) if e.code() == tonic::Code::Unauthenticated => return expired(&state, &s).await,
        Err(e) => return staff_failure(&state, &s, &e).await,
    };
    let c = Catalog::builtin();
    let now = acikkapi_platform::store::now_ms();
    let mut rows: Vec<(i64, InboxRow)> = items
        .iter()
        .map(|i| {
            let due = i.deadline.map(|d| d.seconds * 1000).unwrap_or(i64::MAX);
            let number = ApplicationNumber::parse(&i.application_number)
                .map(|n| n.to_string())
                .unwrap_or(i.application_number.clone());
            (
                due,
                InboxRow {
                    href: format!("/konsol/basvuru/{}", i.application_number),
                    number,
                    topic: c
                        .topic(&i.topic_code)
                        .map(|t| t.name.clone())
                        .unwrap_or_default(),
                    status: crate::track::status_name(i.status),
                    deadline: if due == i64::MAX {
                        "Henüz yok".into()
                    } else {
                        crate::track::local_time(due)
                    },
                    overdue: due < now,
                    priority: i.priority,
                },
            )
        })
        .collect();
    rows.sort_by_key(|(due, _)| *due);
    let page = Inbox {
        l: layout(&state, &s, "Birimin gelen kutusu").back("/konsol"),
        unit: s.unit.clone(),
        rows: rows.into_iter().map(|(_, r)| r).collect(),
    };
    respond(&state, &s, page).await
}

// ---- recording an application at the desk ------------------------------------

pub struct Pick {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "konsol_yeni.html")]
struct Record {
    l: Layout,
    key: String,
    channels: Vec<Pick>,
    districts: Vec<Pick>,
    types: Vec<Pick>,
    kinds: Vec<Pick>,
    vulnerabilities: Vec<Pick>,
    f: RecordForm,
}

/// The desk's form, as typed.
#[derive(Deserialize, Default, Clone)]
struct RecordForm {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    /// The submission's idempotency key, made when the form was shown: a
    /// second press records nothing twice.
    #[serde(default)]
    key: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    full_name: String,
    #[serde(default)]
    mobile_phone: String,
    #[serde(default)]
    district: String,
    #[serde(default)]
    type_code: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    vulnerability: Vec<String>,
}

const CHANNELS: &[(&str, &str, pb::Channel)] = &[
    ("desk", "Büroya gelerek (yüz yüze)", pb::Channel::Desk),
    (
        "call-centre",
        "Telefonla (ALO 150)",
        pb::Channel::CallCentre,
    ),
    (
        "written-petition",
        "Yazılı dilekçeyle",
        pb::Channel::WrittenPetition,
    ),
    (
        "public-day",
        "Halk günü toplantısında",
        pb::Channel::PublicDay,
    ),
];

const KINDS: &[(&str, &str, pb::Kind)] = &[
    ("request", "Talep", pb::Kind::Request),
    ("complaint", "Şikâyet", pb::Kind::Complaint),
    ("suggestion", "Öneri", pb::Kind::Suggestion),
];

const VULNERABLE: &[(&str, &str)] = &[
    ("martyr-relative", "Şehit yakını"),
    ("veteran", "Gazi"),
    ("disabled", "Engelli"),
    ("elderly", "65 yaş ve üzeri"),
    ("sick", "Hasta"),
];

fn record_page(
    state: &State,
    s: &Staff,
    f: RecordForm,
    problems: crate::fields::Problems,
) -> Record {
    let c = Catalog::builtin();
    let pick = |value: &str, label: String, chosen: &str| Pick {
        value: value.to_owned(),
        label,
        selected: value == chosen,
    };
    let mut districts = vec![pick("0", "İlin geneli".into(), &f.district)];
    districts.extend(
        c.districts_of(s.province as u8)
            .filter(|d| s.district == 0 || d.code == s.district)
            .map(|d| pick(&d.code.to_string(), d.name.clone(), &f.district)),
    );
    Record {
        l: layout(state, s, "Başvuru kaydı")
            .back("/konsol")
            .problems(problems),
        key: if f.key.is_empty() {
            uuid::Uuid::new_v4().to_string()
        } else {
            f.key.clone()
        },
        channels: CHANNELS
            .iter()
            .map(|(v, l, _)| pick(v, (*l).into(), &f.channel))
            .collect(),
        districts,
        types: c
            .types
            .iter()
            .map(|t| {
                let topic = c.topic(&t.topic).map(|x| x.name.as_str()).unwrap_or("");
                pick(&t.code, format!("{topic}: {}", t.name), &f.type_code)
            })
            .collect(),
        kinds: KINDS
            .iter()
            .map(|(v, l, _)| pick(v, (*l).into(), &f.kind))
            .collect(),
        vulnerabilities: VULNERABLE
            .iter()
            .map(|(v, l)| Pick {
                value: (*v).into(),
                label: (*l).into(),
                selected: f.vulnerability.iter().any(|x| x == v),
            })
            .collect(),
        f,
    }
}

async fn record_form(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = load(&state, &headers).await;
    if !s.signed_in() {
        return Redirect::to("/konsol/giris").into_response();
    }
    let page = record_page(
        &state,
        &s,
        RecordForm::default(),
        crate::fields::Problems::default(),
    );
    respond(&state, &s, page).await
}

async fn record(S(state): S<State>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    // Checkbox lists repeat their name: read the pairs, not a struct.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let f = RecordForm {
        csrf: get("_csrf"),
        key: get("key"),
        channel: get("channel"),
        national_id: get("national_id").trim().to_owned(),
        full_name: get("full_name").trim().to_owned(),
        mobile_phone: get("mobile_phone").trim().to_owned(),
        district: get("district"),
        type_code: get("type_code"),
        kind: get("kind"),
        subject: get("subject").trim().to_owned(),
        text: get("text").trim().replace("\r\n", "\n"),
        vulnerability: pairs
            .iter()
            .filter(|(n, _)| n == "vulnerability")
            .map(|(_, v)| v.clone())
            .collect(),
    };
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut problems = crate::fields::Problems::default();
    let channel = CHANNELS
        .iter()
        .find(|(v, _, _)| *v == f.channel)
        .map(|(_, _, c)| *c);
    if channel.is_none() {
        problems.add(crate::fields::Problem {
            field: crate::fields::Field::Console("channel"),
            message: "Başvurunun nasıl geldiğini seçin".into(),
        });
    }
    let kind = KINDS
        .iter()
        .find(|(v, _, _)| *v == f.kind)
        .map(|(_, _, k)| *k);
    if kind.is_none() {
        problems.add(crate::fields::Problem::new(
            crate::fields::Field::Kind,
            true,
        ));
    }
    let c = Catalog::builtin();
    let topic = c.application_type(&f.type_code).map(|t| t.topic.clone());
    if topic.is_none() {
        problems.add(crate::fields::Problem::new(
            crate::fields::Field::Type,
            true,
        ));
    }
    if !problems.is_empty() {
        let page = record_page(&state, &s, f, problems);
        return respond(&state, &s, (StatusCode::BAD_REQUEST, page)).await;
    }
    let v = |k: &str| f.vulnerability.iter().any(|x| x == k);
    let msg = pb::SubmitApplicationRequest {
        applicant: Some(pb::Applicant {
            national_id: f.national_id.clone(),
            full_name: f.full_name.clone(),
            mobile_phone: f.mobile_phone.clone(),
            email: String::new(),
        }),
        province_code: s.province,
        district_code: f.district.parse().unwrap_or(0),
        channel: channel.unwrap_or(pb::Channel::Desk) as i32,
        kind: kind.unwrap_or(pb::Kind::Request) as i32,
        topic_code: topic.unwrap_or_default(),
        type_code: f.type_code.clone(),
        subject: f.subject.clone(),
        text: f.text.clone(),
        vulnerability: Some(pb::Vulnerability {
            martyr_relative: v("martyr-relative"),
            veteran: v("veteran"),
            disabled: v("disabled"),
            elderly: v("elderly"),
            sick: v("sick"),
        }),
        idempotency_key: f.key.clone(),
    };
    let sent = match as_person(&s, msg) {
        Ok(r) => state.backend.intake().submit_application(r).await,
        Err(e) => Err(e),
    };
    match sent {
        Ok(r) => {
            let number = r.into_inner().application_number;
            tracing::info!(channel = %f.channel, "application recorded at the desk");
            respond(
                &state,
                &s,
                Redirect::to(&format!("/konsol/basvuru/{number}")),
            )
            .await
        }
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let mut p = crate::fields::Problems::default();
            match crate::fields::Problem::of_intake(e.message()) {
                Some(problem) => p.add(problem),
                None => p.add(crate::fields::Problem {
                    field: crate::fields::Field::Console("type_code"),
                    message: "Başvuru türünü seçin".into(),
                }),
            }
            let page = record_page(&state, &s, f, p);
            respond(&state, &s, (StatusCode::BAD_REQUEST, page)).await
        }
        Err(e) if e.code() == tonic::Code::Unauthenticated => expired(&state, &s).await,
        Err(e) => staff_failure(&state, &s, &e).await,
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
