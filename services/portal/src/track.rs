//! Başvuru sorgulama: number and tracking code in, every stage, the unit,
//! the deadline and the outcome out. An unknown number and a wrong code get
//! the same page; guesses are counted per client address by intake's
//! rate limits (the portal vouches for the browser's address).

use crate::State;
use crate::fields::{Field, Problems};
use crate::pages::{Layout, expired, failure};
use crate::security::client_address;
use crate::session::session;
use acikkapi_domain::application_number::ApplicationNumber;
use acikkapi_domain::calendar::{Arife, Calendar, Date};
use acikkapi_domain::catalog::Catalog;
use acikkapi_proto::v1 as pb;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::LazyLock;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/takip", get(form).post(look_up))
        .route("/takip/sonuc", get(result))
}

#[derive(Template, WebTemplate)]
#[template(path = "takip.html")]
struct TrackForm {
    l: Layout,
    number: String,
    not_found: bool,
}

#[derive(Deserialize)]
struct Given {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    code: String,
}

async fn form(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let page = TrackForm {
        l: Layout::new(&state, &s, "Başvuru sorgulama").back("/"),
        number: String::new(),
        not_found: false,
    };
    state.sessions.respond(&s, page).await
}

/// The code as the citizen may type or paste it: lower case, spaces, dashes.
fn normalise_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

async fn look_up(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Form(g): Form<Given>,
) -> Response {
    let mut s = session(&state, &headers).await;
    if !s.csrf_ok(&g.csrf) {
        return expired(&state, &s).await;
    }
    let mut problems = Problems::default();
    let number = ApplicationNumber::parse(g.number.trim());
    if number.is_err() {
        problems.add(problem(
            "number",
            if g.number.trim().is_empty() {
                "Başvuru numaranızı girin"
            } else {
                "Başvuru numarası 12 rakamdan oluşur; SMS'teki gibi girin, örneğin 26-34-0000001-0"
            },
        ));
    }
    let code = normalise_code(&g.code);
    if code.is_empty() {
        problems.add(problem("code", "Takip kodunuzu girin"));
    } else if code.len() != 8 {
        problems.add(problem(
            "code",
            "Takip kodu 8 karakterden oluşur; SMS'teki gibi girin",
        ));
    }
    let render = |s, problems: Problems, not_found: bool| TrackForm {
        l: Layout::new(&state, s, "Başvuru sorgulama")
            .back("/")
            .problems(problems),
        number: g.number.trim().to_owned(),
        not_found,
    };
    let Ok(number) = number.map(|n| n.digits()) else {
        let page = render(&s, problems, false);
        return state
            .sessions
            .respond(&s, (StatusCode::BAD_REQUEST, page))
            .await;
    };
    if !problems.is_empty() {
        let page = render(&s, problems, false);
        return state
            .sessions
            .respond(&s, (StatusCode::BAD_REQUEST, page))
            .await;
    }
    let client = client_address(&state, &headers, &peer);
    match fetch(&state, &number, &code, &client).await {
        Ok(_) => {
            s.tracked = Some((number, code));
            state
                .sessions
                .respond(&s, Redirect::to("/takip/sonuc"))
                .await
        }
        Err(e) if e.code() == tonic::Code::NotFound || e.code() == tonic::Code::InvalidArgument => {
            let page = render(&s, Problems::default(), true);
            state
                .sessions
                .respond(&s, (StatusCode::NOT_FOUND, page))
                .await
        }
        Err(e) => failure(&state, &s, &e),
    }
}

/// A problem at a tracking field (these are not application fields).
fn problem(id: &'static str, message: &str) -> crate::fields::Problem {
    crate::fields::Problem {
        field: if id == "number" {
            Field::TrackNumber
        } else {
            Field::TrackCode
        },
        message: message.to_owned(),
    }
}

async fn fetch(
    state: &State,
    number: &str,
    code: &str,
    client: &str,
) -> Result<pb::TrackApplicationResponse, tonic::Status> {
    let req = state.backend.request(
        pb::TrackApplicationRequest {
            application_number: number.to_owned(),
            tracking_code: code.to_owned(),
        },
        client,
    )?;
    Ok(state
        .backend
        .intake()
        .track_application(req)
        .await?
        .into_inner())
}

pub struct Stage {
    pub at: String,
    pub status: &'static str,
    pub description: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "sonuc.html")]
struct TrackResult {
    l: Layout,
    number: String,
    status: &'static str,
    topic: String,
    type_name: String,
    received: String,
    unit: String,
    due: String,
    concluded: bool,
    outcome: &'static str,
    outcome_class: &'static str,
    explanation: String,
    timeline: Vec<Stage>,
}

pub fn status_name(s: i32) -> &'static str {
    match pb::Status::try_from(s).unwrap_or(pb::Status::Unspecified) {
        pb::Status::Received => "Başvurunuz alındı",
        pb::Status::Routed => "İlgili birimde inceleniyor",
        pb::Status::Responded => "Birimin cevabı değerlendiriliyor",
        pb::Status::Concluded => "Başvurunuz sonuçlandı",
        pb::Status::Reopened => "Yeniden inceleniyor",
        pb::Status::Unspecified => "Durum bilinmiyor",
    }
}

fn outcome_name(o: i32) -> (&'static str, &'static str) {
    match pb::Outcome::try_from(o).unwrap_or(pb::Outcome::Unspecified) {
        pb::Outcome::Positive => ("Olumlu", "green"),
        pb::Outcome::Negative => ("Olumsuz", "red"),
        pb::Outcome::Partial => ("Kısmen olumlu, kısmen olumsuz", "yellow"),
        pb::Outcome::Unanswerable => ("Cevaplanamadı; size seçenekler sunuldu", "grey"),
        pb::Outcome::Unspecified => ("", "grey"),
    }
}

async fn result(S(state): S<State>, headers: HeaderMap, peer: ConnectInfo<SocketAddr>) -> Response {
    let s = session(&state, &headers).await;
    let Some((number, code)) = s.tracked.clone() else {
        return Redirect::to("/takip").into_response();
    };
    let client = client_address(&state, &headers, &peer);
    let view = match fetch(&state, &number, &code, &client).await {
        Ok(v) => v,
        Err(e) if e.code() == tonic::Code::NotFound => {
            return Redirect::to("/takip").into_response();
        }
        Err(e) => return failure(&state, &s, &e),
    };
    let catalog = Catalog::builtin();
    let received_ms = view.received_at.map(|t| t.seconds * 1000).unwrap_or(0);
    let concluded = view.status == pb::Status::Concluded as i32;
    let (outcome, outcome_class) = outcome_name(view.outcome);
    let explanation = if concluded {
        view.timeline
            .iter()
            .rev()
            .find(|t| t.status == pb::Status::Concluded as i32)
            .map(|t| t.description.clone())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let pretty = ApplicationNumber::parse(&view.application_number)
        .map(|n| n.to_string())
        .unwrap_or(view.application_number.clone());
    let page = TrackResult {
        l: Layout::new(&state, &s, format!("Başvuru {pretty}")).back("/takip"),
        number: pretty,
        status: status_name(view.status),
        topic: catalog
            .topic(&view.topic_code)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        type_name: catalog
            .application_type(&view.type_code)
            .map(|t| t.name.clone())
            .unwrap_or_default(),
        received: local_time(received_ms),
        unit: view.unit_name.clone(),
        due: due_date(received_ms),
        concluded,
        outcome,
        outcome_class,
        explanation,
        timeline: view.timeline.iter().map(stage).collect(),
    };
    state.sessions.respond(&s, page).await
}

/// A timeline entry as a page shows it (citizen's and staff's alike).
pub fn stage(t: &pb::TimelineEntry) -> Stage {
    let status = status_name(t.status);
    Stage {
        at: local_time(t.at.map(|a| a.seconds * 1000).unwrap_or(0)),
        status,
        // "Başvurunuz alındı" twice in a row says nothing more.
        description: if t.description == status {
            String::new()
        } else {
            t.description.clone()
        },
    }
}

/// Türkiye time (UTC+3 all year), as citizens read it.
pub fn local_time(ms: i64) -> String {
    let d = Date::of_instant(ms);
    let minute = (ms / 60_000 + 3 * 60).rem_euclid(24 * 60);
    format!(
        "{:02}.{:02}.{} {:02}:{:02}",
        d.day,
        d.month,
        d.year,
        minute / 60,
        minute % 60
    )
}

static CALENDAR: LazyLock<Calendar> = LazyLock::new(Calendar::builtin);

/// The last of the 7 working days after receipt (official holidays and
/// weekends skipped, by the platform's calendar): the date by which the
/// governorship concludes, as the law promises it. Escalation's clock may
/// pause for a transfer; this is the date the citizen was promised.
pub fn due_date(received_ms: i64) -> String {
    let mut day = Date::of_instant(received_ms).days();
    let mut left = 7;
    while left > 0 {
        day += 1;
        if CALENDAR.working_minutes(Date::from_days(day), Arife::Morning) > 0 {
            left -= 1;
        }
    }
    let d = Date::from_days(day);
    format!("{:02}.{:02}.{}", d.day, d.month, d.year)
}

/// A line of help with the types of a topic, shown when the type is chosen.
pub fn guidance(topic: &str) -> &'static str {
    match topic {
        "H01" => {
            "Valilik ve kaymakamlık işlemleri için işlemin adını ve varsa dosya numarasını yazın."
        }
        "H02" => {
            "Sosyal yardım başvurularında hanenizde kaç kişi yaşadığını ve daha önce yardım alıp almadığınızı belirtin."
        }
        "H03" => {
            "Bakım, koruma ve danışmanlık taleplerinde kimin için istendiğini belirtin; kişisel sağlık bilgisi yazmak zorunda değilsiniz."
        }
        "H04" => "İş ve sosyal güvenlik konularında işyerinin adını ve ilgili dönemi yazın.",
        "H05" => "Eğitim konularında okulun adını ve ilçesini yazın.",
        "H06" => "Sağlık konularında hastanenin ya da sağlık merkezinin adını ve tarihi yazın.",
        "H07" => "Belediye hizmetlerinde sokak, mahalle gibi yeri olabildiğince açık yazın.",
        "H08" => "Acil durumlarda 112'yi arayın. Güvenlik konularında yeri ve zamanı yazın.",
        "H09" => "Çevre ve imar konularında yeri (ada/parsel biliyorsanız onu da) yazın.",
        "H10" => "Ulaşım konularında hattı, güzergâhı ya da yolun adını yazın.",
        "H11" => "Gıda, tarım ve hayvancılık konularında işletmenin ya da arazinin yerini yazın.",
        "H12" => {
            "Orman ve su konularında yeri ve ne gördüğünüzü yazın. Orman yangınında 112'yi arayın."
        }
        "H13" => "Tapu ve kadastro konularında ada/parsel numarasını yazın.",
        "H14" => "Din hizmetleri konularında caminin ya da kurumun adını yazın.",
        "H15" => "Gençlik ve spor konularında tesisin adını yazın.",
        "H16" => "Elektrik, doğalgaz kesintilerinde abone numaranızı ve adresinizi yazın.",
        "H17" => "Ekonomi ve ticaret konularında işletmenin adını ve adresini yazın.",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_read_as_typed_or_pasted() {
        assert_eq!(normalise_code(" 9r2z dg3t "), "9R2ZDG3T");
        assert_eq!(normalise_code("9R2Z-DG3T"), "9R2ZDG3T");
    }

    #[test]
    fn the_deadline_skips_weekends_and_holidays() {
        // Received Friday 2026-10-23 (Türkiye); 29 October (Cumhuriyet
        // Bayramı, a Thursday) and the weekend are off.
        let fri = Date::parse("2026-10-23").unwrap().at_minute(10 * 60);
        // Mon 26, Tue 27, Wed 28, (28 afternoon is arife: counts), Fri 30,
        // Mon 2, Tue 3, Wed 4.
        assert_eq!(due_date(fri), "04.11.2026");
    }
}
