//! The application journey: question pages (who, where, about what, the
//! application itself), check your answers with Change links, optional
//! phone confirmation, submission to intake and the confirmation page.
//! Each page validates on the server with the same domain rules intake
//! uses; intake's own verdict, should it differ, is shown at its field.

use crate::State;
use crate::fields::{Field, Problem, Problems};
use crate::pages::{Layout, expired, failure};
use crate::security::client_address;
use crate::session::{Draft, NO_DISTRICT, PhoneCheck, Session, Submitted, random_token, session};
use acikkapi_domain::catalog::Catalog;
use acikkapi_domain::national_id::NationalId;
use acikkapi_domain::phone::MobilePhone;
use acikkapi_domain::text;
use acikkapi_proto::v1 as pb;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Query, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/basvuru", get(|| async { Redirect::to("/basvuru/kisi") }))
        .route("/basvuru/kisi", get(person).post(person_post))
        .route("/basvuru/il", get(province).post(province_post))
        .route("/basvuru/ilce", get(district).post(district_post))
        .route("/basvuru/konu", get(topic).post(topic_post))
        .route("/basvuru/tur", get(app_type).post(app_type_post))
        .route("/basvuru/ayrinti", get(details).post(details_post))
        .route("/basvuru/kontrol", get(check))
        .route("/basvuru/gonder", axum::routing::post(send))
        .route("/basvuru/telefon", get(phone).post(phone_post))
        .route("/basvuru/tamam", get(done))
}

type Pairs = Vec<(String, String)>;

fn value<'a>(form: &'a Pairs, name: &str) -> &'a str {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or("")
}

fn values(form: &Pairs, name: &str) -> Vec<String> {
    form.iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.clone())
        .collect()
}

#[derive(Deserialize, Default)]
pub struct ChangeQuery {
    /// `kontrol`: came from check-your-answers; go back there after.
    donus: Option<String>,
}

impl ChangeQuery {
    fn to_check(&self) -> bool {
        self.donus.as_deref() == Some("kontrol")
    }
}

fn catalog() -> &'static Catalog {
    Catalog::builtin()
}

/// The first page whose answer is still missing, or the check page.
fn first_missing(d: &Draft) -> &'static str {
    if d.national_id.is_empty() || d.full_name.is_empty() || d.mobile_phone.is_empty() {
        "/basvuru/kisi"
    } else if d.province == 0 {
        "/basvuru/il"
    } else if d.district == 0 {
        "/basvuru/ilce"
    } else if d.topic.is_empty() {
        "/basvuru/konu"
    } else if d.type_code.is_empty() {
        "/basvuru/tur"
    } else if d.kind.is_empty() || d.subject.is_empty() || d.text.is_empty() {
        "/basvuru/ayrinti"
    } else {
        "/basvuru/kontrol"
    }
}

/// Where a page's Continue leads: the next missing answer, or back to
/// check-your-answers when the citizen came from there and nothing is missing.
fn after(d: &Draft, next: &'static str, to_check: bool) -> Redirect {
    let missing = first_missing(d);
    if to_check || missing == "/basvuru/kontrol" {
        return Redirect::to(missing);
    }
    // Answering a page never skips a later question left unanswered.
    Redirect::to(if missing < next { missing } else { next })
}

async fn guard(state: &State, headers: &HeaderMap, form: &Pairs) -> Result<Session, Response> {
    let s = session(state, headers).await;
    if s.csrf_ok(value(form, "_csrf")) {
        Ok(s)
    } else {
        Err(expired(state, &s).await)
    }
}

// ---- who: identity and contact ------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "kisi.html")]
struct Person {
    l: Layout,
    d: Draft,
    back_to_check: bool,
}

async fn person(S(state): S<State>, headers: HeaderMap, Query(q): Query<ChangeQuery>) -> Response {
    let s = session(&state, &headers).await;
    render_person(
        &state,
        &s,
        q.to_check(),
        Problems::default(),
        s.draft.clone(),
    )
    .await
}

async fn render_person(
    state: &State,
    s: &Session,
    back_to_check: bool,
    problems: Problems,
    d: Draft,
) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = Person {
        l: Layout::new(state, s, "Kimlik ve iletişim bilgileriniz")
            .back(if back_to_check {
                "/basvuru/kontrol"
            } else {
                "/"
            })
            .problems(problems),
        d,
        back_to_check,
    };
    state.sessions.respond(s, (status, page)).await
}

async fn person_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let typed = Draft {
        national_id: value(&f, "national_id").trim().to_owned(),
        full_name: value(&f, "full_name").trim().to_owned(),
        mobile_phone: value(&f, "mobile_phone").trim().to_owned(),
        email: value(&f, "email").trim().to_owned(),
        ..s.draft.clone()
    };
    let mut p = Problems::default();
    if let Err(e) = NationalId::parse(&typed.national_id) {
        p.add(Problem::of(Field::NationalId, &e));
    }
    if let Err(e) = text::check_name("applicant.full_name", &typed.full_name) {
        p.add(Problem::of(Field::FullName, &e));
    }
    if let Err(e) = MobilePhone::parse(&typed.mobile_phone) {
        p.add(Problem::of(Field::MobilePhone, &e));
    }
    if let Err(e) = text::check_email("applicant.email", &typed.email) {
        p.add(Problem::of(Field::Email, &e));
    }
    let to_check = value(&f, "donus") == "kontrol";
    if !p.is_empty() {
        return render_person(&state, &s, to_check, p, typed).await;
    }
    if typed.mobile_phone != s.draft.mobile_phone {
        s.phone_confirmed.clear();
    }
    s.draft = typed;
    let next = after(&s.draft, "/basvuru/il", to_check);
    state.sessions.respond(&s, next).await
}

// ---- where: province, then district ---------------------------------------

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "choose.html")]
struct Choose {
    l: Layout,
    action: &'static str,
    field: &'static str,
    hint: String,
    guidance: String,
    options: Vec<Choice>,
    back_to_check: bool,
}

struct Question {
    action: &'static str,
    field: Field,
    title: String,
    hint: String,
    guidance: String,
    back: &'static str,
    options: Vec<Choice>,
}

async fn render_choice(
    state: &State,
    s: &Session,
    q: Question,
    back_to_check: bool,
    problems: Problems,
) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let page = Choose {
        l: Layout::new(state, s, q.title)
            .back(if back_to_check {
                "/basvuru/kontrol"
            } else {
                q.back
            })
            .problems(problems),
        action: q.action,
        field: q.field.id(),
        hint: q.hint,
        guidance: q.guidance,
        options: q.options,
        back_to_check,
    };
    state.sessions.respond(s, (status, page)).await
}

fn province_question(d: &Draft) -> Question {
    Question {
        action: "/basvuru/il",
        field: Field::Province,
        title: "Başvurunuz hangi ille ilgili?".into(),
        hint: "Başvurunuz bu ilin valiliğine iletilir.".into(),
        guidance: String::new(),
        back: "/basvuru/kisi",
        options: catalog()
            .provinces
            .iter()
            .map(|p| Choice {
                value: p.code.to_string(),
                label: p.name.clone(),
                selected: u32::from(p.code) == d.province,
            })
            .collect(),
    }
}

async fn province(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<ChangeQuery>,
) -> Response {
    let s = session(&state, &headers).await;
    render_choice(
        &state,
        &s,
        province_question(&s.draft),
        q.to_check(),
        Problems::default(),
    )
    .await
}

async fn province_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to_check = value(&f, "donus") == "kontrol";
    let chosen = value(&f, "province").parse::<u32>().ok();
    let Some(code) = chosen.filter(|c| catalog().province(*c).is_some()) else {
        let mut p = Problems::default();
        p.add(Problem::new(Field::Province, true));
        return render_choice(&state, &s, province_question(&s.draft), to_check, p).await;
    };
    if code != s.draft.province {
        s.draft.province = code;
        // The district belongs to the province: asked again.
        s.draft.district = 0;
    }
    let next = after(&s.draft, "/basvuru/ilce", to_check && s.draft.district != 0);
    state.sessions.respond(&s, next).await
}

fn district_question(d: &Draft) -> Question {
    let province = catalog()
        .province(d.province)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let mut options = vec![Choice {
        value: NO_DISTRICT.to_string(),
        label: format!("{province} ilinin geneli (belirli bir ilçe değil)"),
        selected: d.district == NO_DISTRICT,
    }];
    options.extend(catalog().districts_of(d.province as u8).map(|x| Choice {
        value: x.code.to_string(),
        label: x.name.clone(),
        selected: x.code == d.district,
    }));
    Question {
        action: "/basvuru/ilce",
        field: Field::District,
        title: format!("{province} ilinin hangi ilçesiyle ilgili?"),
        hint: "İlçeyle ilgili başvurular kaymakamlığa iletilir.".into(),
        guidance: String::new(),
        back: "/basvuru/il",
        options,
    }
}

async fn district(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<ChangeQuery>,
) -> Response {
    let s = session(&state, &headers).await;
    if s.draft.province == 0 {
        return Redirect::to("/basvuru/il").into_response();
    }
    render_choice(
        &state,
        &s,
        district_question(&s.draft),
        q.to_check(),
        Problems::default(),
    )
    .await
}

async fn district_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to_check = value(&f, "donus") == "kontrol";
    let raw = value(&f, "district");
    let chosen = raw.parse::<u32>().ok().filter(|c| {
        *c == NO_DISTRICT
            || catalog()
                .district(*c)
                .is_some_and(|d| u32::from(d.province) == s.draft.province)
    });
    let Some(code) = chosen else {
        let mut p = Problems::default();
        p.add(Problem::new(Field::District, raw.is_empty()));
        return render_choice(&state, &s, district_question(&s.draft), to_check, p).await;
    };
    s.draft.district = code;
    let next = after(&s.draft, "/basvuru/konu", to_check);
    state.sessions.respond(&s, next).await
}

// ---- about what: topic, then type -----------------------------------------

fn topic_question(d: &Draft) -> Question {
    Question {
        action: "/basvuru/konu",
        field: Field::Topic,
        title: "Başvurunuz hangi konuda?".into(),
        hint: "Emin değilseniz size en yakın konuyu seçin; gerekirse doğru birime aktarılır."
            .into(),
        guidance: String::new(),
        back: "/basvuru/ilce",
        options: catalog()
            .topics
            .iter()
            .map(|t| Choice {
                value: t.code.clone(),
                label: t.name.clone(),
                selected: t.code == d.topic,
            })
            .collect(),
    }
}

async fn topic(S(state): S<State>, headers: HeaderMap, Query(q): Query<ChangeQuery>) -> Response {
    let s = session(&state, &headers).await;
    render_choice(
        &state,
        &s,
        topic_question(&s.draft),
        q.to_check(),
        Problems::default(),
    )
    .await
}

async fn topic_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to_check = value(&f, "donus") == "kontrol";
    let code = value(&f, "topic");
    if catalog().topic(code).is_none() {
        let mut p = Problems::default();
        p.add(Problem::new(Field::Topic, true));
        return render_choice(&state, &s, topic_question(&s.draft), to_check, p).await;
    }
    if code != s.draft.topic {
        s.draft.topic = code.to_owned();
        s.draft.type_code.clear();
    }
    let next = after(
        &s.draft,
        "/basvuru/tur",
        to_check && !s.draft.type_code.is_empty(),
    );
    state.sessions.respond(&s, next).await
}

fn type_question(d: &Draft) -> Question {
    let topic = catalog().topic(&d.topic);
    Question {
        action: "/basvuru/tur",
        field: Field::Type,
        title: "Başvurunuzun türü nedir?".into(),
        hint: topic
            .map(|t| format!("{} konusundaki başvuru türleri", t.name))
            .unwrap_or_default(),
        guidance: crate::track::guidance(&d.topic).to_owned(),
        back: "/basvuru/konu",
        options: catalog()
            .types
            .iter()
            .filter(|t| t.topic == d.topic)
            .map(|t| Choice {
                value: t.code.clone(),
                label: t.name.clone(),
                selected: t.code == d.type_code,
            })
            .collect(),
    }
}

async fn app_type(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<ChangeQuery>,
) -> Response {
    let s = session(&state, &headers).await;
    if s.draft.topic.is_empty() {
        return Redirect::to("/basvuru/konu").into_response();
    }
    render_choice(
        &state,
        &s,
        type_question(&s.draft),
        q.to_check(),
        Problems::default(),
    )
    .await
}

async fn app_type_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let to_check = value(&f, "donus") == "kontrol";
    let code = value(&f, "type_code");
    let fits = catalog()
        .application_type(code)
        .is_some_and(|t| t.topic == s.draft.topic);
    if !fits {
        let mut p = Problems::default();
        p.add(Problem::new(Field::Type, true));
        return render_choice(&state, &s, type_question(&s.draft), to_check, p).await;
    }
    s.draft.type_code = code.to_owned();
    let next = after(&s.draft, "/basvuru/ayrinti", to_check);
    state.sessions.respond(&s, next).await
}

// ---- the application itself -------------------------------------------------

const KINDS: &[(&str, &str)] = &[
    ("request", "Talep: bir işin yapılmasını istiyorum"),
    ("complaint", "Şikâyet: bir sorunu bildiriyorum"),
    ("suggestion", "Öneri: bir fikrim var"),
];

const VULNERABILITIES: &[(&str, &str)] = &[
    ("martyr-relative", "Şehit yakınıyım"),
    ("veteran", "Gaziyim"),
    ("disabled", "Engelliyim"),
    ("elderly", "65 yaş ve üzerindeyim"),
    ("sick", "Hastayım"),
];

#[derive(Template, WebTemplate)]
#[template(path = "ayrinti.html")]
struct Details {
    l: Layout,
    d: Draft,
    guidance: String,
    kinds: Vec<Choice>,
    vulnerabilities: Vec<Choice>,
}

async fn render_details(state: &State, s: &Session, problems: Problems, d: Draft) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let type_name = catalog()
        .application_type(&d.type_code)
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let page = Details {
        l: Layout::new(state, s, "Başvurunuz")
            .back("/basvuru/tur")
            .problems(problems),
        guidance: if type_name.is_empty() {
            String::new()
        } else {
            format!(
                "Başvuru türü: {type_name}. {}",
                crate::track::guidance(&d.topic)
            )
        },
        kinds: KINDS
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).into(),
                label: (*l).into(),
                selected: d.kind == *v,
            })
            .collect(),
        vulnerabilities: VULNERABILITIES
            .iter()
            .map(|(v, l)| Choice {
                value: (*v).into(),
                label: (*l).into(),
                selected: d.vulnerability.iter().any(|x| x == v),
            })
            .collect(),
        d,
    };
    state.sessions.respond(s, (status, page)).await
}

async fn details(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    if s.draft.type_code.is_empty() {
        return Redirect::to(first_missing(&s.draft)).into_response();
    }
    let d = s.draft.clone();
    render_details(&state, &s, Problems::default(), d).await
}

async fn details_post(S(state): S<State>, headers: HeaderMap, Form(f): Form<Pairs>) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let typed = Draft {
        kind: value(&f, "kind").to_owned(),
        subject: value(&f, "subject").trim().to_owned(),
        text: value(&f, "text").trim().replace("\r\n", "\n"),
        vulnerability: values(&f, "vulnerability")
            .into_iter()
            .filter(|v| VULNERABILITIES.iter().any(|(k, _)| k == v))
            .collect(),
        ..s.draft.clone()
    };
    let mut p = Problems::default();
    if !KINDS.iter().any(|(k, _)| *k == typed.kind) {
        p.add(Problem::new(Field::Kind, true));
    }
    if let Err(e) = text::check("subject", &typed.subject, text::SUBJECT) {
        p.add(Problem::of(Field::Subject, &e));
    }
    if let Err(e) = text::check("text", &typed.text, text::TEXT) {
        p.add(Problem::of(Field::Text, &e));
    }
    if !p.is_empty() {
        return render_details(&state, &s, p, typed).await;
    }
    s.draft = typed;
    state
        .sessions
        .respond(&s, Redirect::to(first_missing(&s.draft)))
        .await
}

// ---- check your answers -------------------------------------------------------

pub struct Row {
    pub key: &'static str,
    pub value: String,
    pub change: &'static str,
    pub hidden: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "kontrol.html")]
struct Check {
    l: Layout,
    rows: Vec<Row>,
    confirm_phone: bool,
}

fn rows(d: &Draft) -> Vec<Row> {
    let c = catalog();
    let place = c
        .province(d.province)
        .map(|p| p.name.clone())
        .unwrap_or_default();
    let district = if d.district == NO_DISTRICT {
        "İlin geneli".to_owned()
    } else {
        c.district(d.district)
            .map(|x| x.name.clone())
            .unwrap_or_default()
    };
    let kind = KINDS
        .iter()
        .find(|(k, _)| *k == d.kind)
        .map(|(_, l)| l.split(':').next().unwrap_or(l).to_owned())
        .unwrap_or_default();
    let vulnerable: Vec<&str> = VULNERABILITIES
        .iter()
        .filter(|(k, _)| d.vulnerability.iter().any(|v| v == k))
        .map(|(_, l)| *l)
        .collect();
    let row = |key, value: String, change, hidden| Row {
        key,
        value,
        change,
        hidden,
    };
    vec![
        row(
            "Kimlik numarası",
            d.national_id.clone(),
            "/basvuru/kisi?donus=kontrol",
            "kimlik numarası",
        ),
        row(
            "Ad soyad",
            d.full_name.clone(),
            "/basvuru/kisi?donus=kontrol",
            "ad soyad",
        ),
        row(
            "Cep telefonu",
            d.mobile_phone.clone(),
            "/basvuru/kisi?donus=kontrol",
            "cep telefonu",
        ),
        row(
            "E-posta",
            if d.email.is_empty() {
                "Verilmedi".into()
            } else {
                d.email.clone()
            },
            "/basvuru/kisi?donus=kontrol",
            "e-posta",
        ),
        row("İl", place, "/basvuru/il?donus=kontrol", "il"),
        row("İlçe", district, "/basvuru/ilce?donus=kontrol", "ilçe"),
        row(
            "Konu başlığı",
            c.topic(&d.topic)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            "/basvuru/konu?donus=kontrol",
            "konu başlığı",
        ),
        row(
            "Başvuru türü",
            c.application_type(&d.type_code)
                .map(|t| t.name.clone())
                .unwrap_or_default(),
            "/basvuru/tur?donus=kontrol",
            "başvuru türü",
        ),
        row("Başvuru şekli", kind, "/basvuru/ayrinti", "başvuru şekli"),
        row("Konu", d.subject.clone(), "/basvuru/ayrinti", "konu"),
        row(
            "Başvurunuz",
            d.text.clone(),
            "/basvuru/ayrinti",
            "başvuru metni",
        ),
        row(
            "Refakat ve öncelik",
            if vulnerable.is_empty() {
                "Yok".into()
            } else {
                vulnerable.join(", ")
            },
            "/basvuru/ayrinti",
            "refakat ve öncelik",
        ),
    ]
}

async fn check(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let missing = first_missing(&s.draft);
    if missing != "/basvuru/kontrol" {
        // After a submission the draft is gone: Back lands on the confirmation.
        if s.submitted.is_some() {
            return Redirect::to("/basvuru/tamam").into_response();
        }
        return Redirect::to(missing).into_response();
    }
    let page = Check {
        l: Layout::new(&state, &s, "Başvurunuzu kontrol edin").back("/basvuru/ayrinti"),
        rows: rows(&s.draft),
        confirm_phone: needs_confirmation(&state, &s),
    };
    state.sessions.respond(&s, page).await
}

fn needs_confirmation(state: &State, s: &Session) -> bool {
    state.platform.settings.portal.phone_confirmation && s.phone_confirmed != s.draft.mobile_phone
}

// ---- submission -----------------------------------------------------------------

async fn send(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Form(f): Form<Pairs>,
) -> Response {
    let s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let missing = first_missing(&s.draft);
    if missing != "/basvuru/kontrol" {
        let to = if s.submitted.is_some() {
            "/basvuru/tamam"
        } else {
            missing
        };
        return state.sessions.respond(&s, Redirect::to(to)).await;
    }
    let client = client_address(&state, &headers, &peer);
    if needs_confirmation(&state, &s) {
        return send_code(&state, s, &client).await;
    }
    submit(&state, s, &client).await.unwrap_or_else(|r| r)
}

fn channel_of(s: &Session) -> pb::Channel {
    match s.channel.as_str() {
        "kiosk" => pb::Channel::Kiosk,
        "mobile" => pb::Channel::Mobile,
        _ => pb::Channel::Web,
    }
}

fn request_of(s: &Session) -> pb::SubmitApplicationRequest {
    let d = &s.draft;
    let v = |k: &str| d.vulnerability.iter().any(|x| x == k);
    pb::SubmitApplicationRequest {
        meeting_id: String::new(),
        applicant: Some(pb::Applicant {
            national_id: d.national_id.clone(),
            full_name: d.full_name.clone(),
            mobile_phone: d.mobile_phone.clone(),
            email: d.email.clone(),
        }),
        province_code: d.province,
        district_code: if d.district == NO_DISTRICT {
            0
        } else {
            d.district
        },
        channel: channel_of(s) as i32,
        kind: match d.kind.as_str() {
            "complaint" => pb::Kind::Complaint,
            "suggestion" => pb::Kind::Suggestion,
            _ => pb::Kind::Request,
        } as i32,
        topic_code: d.topic.clone(),
        type_code: d.type_code.clone(),
        subject: d.subject.clone(),
        text: d.text.clone(),
        vulnerability: Some(pb::Vulnerability {
            martyr_relative: v("martyr-relative"),
            veteran: v("veteran"),
            disabled: v("disabled"),
            elderly: v("elderly"),
            sick: v("sick"),
        }),
        idempotency_key: d.idempotency_key.clone(),
    }
}

/// Hands the draft to intake. On success the draft is erased and the
/// number kept for the confirmation page; on a field error the citizen is
/// taken to that field, with intake's verdict in Turkish.
async fn submit(state: &State, mut s: Session, client: &str) -> Result<Response, Response> {
    if s.draft.idempotency_key.is_empty() {
        s.draft.idempotency_key = uuid::Uuid::new_v4().to_string();
        // Kept before the call: a retry after a lost answer sends the same key.
        state.sessions.save(&s).await;
    }
    let req = state
        .backend
        .request(request_of(&s), client)
        .map_err(|e| failure(state, &s, &e))?;
    match state.backend.intake().submit_application(req).await {
        Ok(r) => {
            let r = r.into_inner();
            s.submitted = Some(Submitted {
                number: r.application_number,
                code: r.tracking_code,
                received_ms: r
                    .received_at
                    .map(|t| t.seconds * 1000)
                    .unwrap_or_else(acikkapi_platform::store::now_ms),
            });
            s.draft = Draft::default();
            s.phone = None;
            tracing::info!(
                channel = s.channel,
                "application submitted through the portal"
            );
            Ok(state
                .sessions
                .respond(&s, Redirect::to("/basvuru/tamam"))
                .await)
        }
        Err(e) if e.code() == tonic::Code::InvalidArgument => {
            let Some(problem) = Problem::of_intake(e.message()) else {
                return Err(failure(
                    state,
                    &s,
                    &tonic::Status::internal("unplaced field"),
                ));
            };
            let mut p = Problems::default();
            let field = problem.field;
            p.add(problem);
            let d = s.draft.clone();
            Ok(match field.page() {
                "/basvuru/kisi" => render_person(state, &s, true, p, d).await,
                "/basvuru/ayrinti" => render_details(state, &s, p, d).await,
                "/basvuru/il" => render_choice(state, &s, province_question(&d), true, p).await,
                "/basvuru/ilce" => render_choice(state, &s, district_question(&d), true, p).await,
                "/basvuru/konu" => render_choice(state, &s, topic_question(&d), true, p).await,
                _ => render_choice(state, &s, type_question(&d), true, p).await,
            })
        }
        Err(e) => Err(failure(state, &s, &e)),
    }
}

// ---- phone confirmation (optional) -------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "telefon.html")]
struct Phone {
    l: Layout,
    masked_phone: String,
}

const CODE_LIFETIME_MS: i64 = 10 * 60 * 1000;
const CODE_ATTEMPTS: u32 = 5;
/// A new code no sooner than this after the last.
const CODE_RESEND_MS: i64 = 30 * 1000;

fn hash_code(session_id: &str, code: &str) -> String {
    hex::encode(Sha256::digest(format!("{session_id}:{code}")))
}

/// Asks notification to send a new code (none if one went to this phone
/// in the last 30 s): the code goes out like every SMS, within the
/// account's rate, priced and audited; the portal keeps only its hash.
async fn send_code(state: &State, mut s: Session, client: &str) -> Response {
    let Ok(phone) = MobilePhone::parse(&s.draft.mobile_phone) else {
        return Redirect::to("/basvuru/kisi").into_response();
    };
    let now = acikkapi_platform::store::now_ms();
    let recent = s
        .phone
        .as_ref()
        .is_some_and(|p| p.phone == phone.e164() && now - p.sent_ms < CODE_RESEND_MS);
    if !recent {
        let code = format!("{:06}", rand::random::<u32>() % 1_000_000);
        let ask = pb::SendPhoneCodeRequest {
            mobile_phone: phone.e164().to_owned(),
            code: code.clone(),
            province_code: s.draft.province,
            idempotency_key: format!("portal-{}", random_token()),
        };
        let sent = match state.backend.request(ask, client) {
            Ok(req) => state.backend.notification().send_phone_code(req).await,
            Err(e) => Err(e),
        };
        if let Err(e) = sent {
            tracing::warn!(code = ?e.code(), "phone confirmation code not sent");
            return failure(state, &s, &e);
        }
        s.phone = Some(PhoneCheck {
            code_hash: hash_code(&s.id, &code),
            phone: phone.e164().to_owned(),
            attempts: 0,
            sent_ms: now,
        });
    }
    state
        .sessions
        .respond(&s, Redirect::to("/basvuru/telefon"))
        .await
}

async fn render_phone(state: &State, s: &Session, problems: Problems) -> Response {
    let status = if problems.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let masked = MobilePhone::parse(&s.draft.mobile_phone)
        .map(|p| acikkapi_domain::mask::phone(p.e164()))
        .unwrap_or_default();
    let page = Phone {
        l: Layout::new(state, s, "Telefonunuzu kontrol edin")
            .back("/basvuru/kontrol")
            .problems(problems),
        masked_phone: masked,
    };
    state.sessions.respond(s, (status, page)).await
}

async fn phone(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    if s.phone.is_none() {
        return Redirect::to("/basvuru/kontrol").into_response();
    }
    render_phone(&state, &s, Problems::default()).await
}

async fn phone_post(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Form(f): Form<Pairs>,
) -> Response {
    let mut s = match guard(&state, &headers, &f).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let Some(mut check) = s.phone.clone() else {
        return state
            .sessions
            .respond(&s, Redirect::to("/basvuru/kontrol"))
            .await;
    };
    let given: String = value(&f, "code")
        .chars()
        .filter(|c| c.is_ascii_digit())
        .collect();
    let now = acikkapi_platform::store::now_ms();
    let fresh = now - check.sent_ms < CODE_LIFETIME_MS && check.attempts < CODE_ATTEMPTS;
    check.attempts += 1;
    if !fresh || given.len() != 6 || hash_code(&s.id, &given) != check.code_hash {
        s.phone = fresh.then_some(check);
        let mut p = Problems::default();
        p.add(Problem::new(Field::PhoneCode, given.is_empty()));
        if s.phone.is_none() {
            // Used up or expired: a new code on the next press of Gönder.
            return state
                .sessions
                .respond(&s, Redirect::to("/basvuru/kontrol"))
                .await;
        }
        return render_phone(&state, &s, p).await;
    }
    s.phone = None;
    s.phone_confirmed = s.draft.mobile_phone.clone();
    let client = client_address(&state, &headers, &peer);
    submit(&state, s, &client).await.unwrap_or_else(|r| r)
}

// ---- confirmation -----------------------------------------------------------------

#[derive(Template, WebTemplate)]
#[template(path = "tamam.html")]
struct Done {
    l: Layout,
    number: String,
    code: String,
    due: String,
}

async fn done(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let Some(sub) = s.submitted.clone() else {
        return Redirect::to("/").into_response();
    };
    let number = acikkapi_domain::application_number::ApplicationNumber::parse(&sub.number)
        .map(|n| n.to_string())
        .unwrap_or(sub.number.clone());
    let page = Done {
        l: Layout::new(&state, &s, "Başvurunuz alındı"),
        number,
        code: sub.code,
        due: crate::track::due_date(sub.received_ms),
    };
    state.sessions.respond(&s, page).await
}
