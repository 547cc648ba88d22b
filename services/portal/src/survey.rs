//! The satisfaction survey's page, `/anket/<code>` (and `/takip/anket/<code>`,
//! where the survey SMS points when `notification.tracking_url` ends in
//! `/takip`): one question, no sign-in, the code in the link is the
//! credential. Answering twice is harmless: the first answer counts and
//! the second is thanked the same way.

use crate::State;
use crate::fields::{Field, Problem, Problems};
use crate::pages::{Layout, expired, failure, message};
use crate::security::client_address;
use crate::session::session;
use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State as S};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use std::net::SocketAddr;

pub fn routes() -> Router<State> {
    Router::new()
        .route("/anket/{code}", get(form).post(answer))
        .route("/takip/anket/{code}", get(form).post(answer))
}

pub struct Score {
    pub value: u32,
    pub label: &'static str,
}

const SCORES: &[(u32, &str)] = &[
    (5, "5 – Çok memnun kaldım"),
    (4, "4 – Memnun kaldım"),
    (3, "3 – Ne memnun kaldım ne memnun kalmadım"),
    (2, "2 – Memnun kalmadım"),
    (1, "1 – Hiç memnun kalmadım"),
];

#[derive(Template, WebTemplate)]
#[template(path = "anket.html")]
struct SurveyForm {
    l: Layout,
    code: String,
    scores: Vec<Score>,
}

#[derive(Deserialize)]
struct Given {
    #[serde(default, rename = "_csrf")]
    csrf: String,
    #[serde(default)]
    score: String,
}

/// The code as it came in the link, if it could be one: 8 letters or
/// digits. Anything else is not looked up at all.
fn code_of(raw: &str) -> Option<String> {
    let code: String = raw.trim().chars().flat_map(char::to_uppercase).collect();
    (code.len() == 8 && code.chars().all(|c| c.is_ascii_alphanumeric())).then_some(code)
}

fn page(
    state: &State,
    s: &crate::session::Session,
    code: String,
    problems: Problems,
) -> SurveyForm {
    SurveyForm {
        l: Layout::new(state, s, "Memnuniyet anketi").problems(problems),
        code,
        scores: SCORES
            .iter()
            .map(|(value, label)| Score {
                value: *value,
                label,
            })
            .collect(),
    }
}

async fn form(S(state): S<State>, headers: HeaderMap, Path(raw): Path<String>) -> Response {
    let s = session(&state, &headers).await;
    let Some(code) = code_of(&raw) else {
        return unknown(&state, &s).await;
    };
    let p = page(&state, &s, code, Problems::default());
    state.sessions.respond(&s, p).await
}

async fn answer(
    S(state): S<State>,
    headers: HeaderMap,
    peer: ConnectInfo<SocketAddr>,
    Path(raw): Path<String>,
    Form(g): Form<Given>,
) -> Response {
    let s = session(&state, &headers).await;
    if !s.csrf_ok(&g.csrf) {
        return expired(&state, &s).await;
    }
    let Some(code) = code_of(&raw) else {
        return unknown(&state, &s).await;
    };
    let Some(score) = g.score.parse::<u32>().ok().filter(|v| (1..=5).contains(v)) else {
        let mut problems = Problems::default();
        problems.add(Problem::new(Field::Score, g.score.is_empty()));
        let p = page(&state, &s, code, problems);
        return state
            .sessions
            .respond(&s, (StatusCode::BAD_REQUEST, p))
            .await;
    };
    let client = client_address(&state, &headers, &peer);
    let req = match state.backend.request(
        acikkapi_proto::v1::AnswerSurveyRequest {
            code,
            score,
            reply: String::new(),
        },
        &client,
    ) {
        Ok(r) => r,
        Err(e) => return failure(&state, &s, &e),
    };
    match state.backend.notification().answer_survey(req).await {
        // Recorded now or before: the citizen is thanked either way, and a
        // second press of the button changes nothing.
        Ok(_) => {
            let mut p = message(
                &state,
                &s,
                "Teşekkür ederiz",
                &[
                    "Cevabınız kaydedildi. Anketi bir kez cevaplamanız yeterlidir.",
                    "Görüşleriniz Açık Kapı hizmetini iyileştirmek için kullanılır.",
                ],
                ("/", "Açık Kapı ana sayfasına gidin"),
            );
            p.panel = true;
            state.sessions.respond(&s, p).await
        }
        Err(e)
            if matches!(
                e.code(),
                tonic::Code::NotFound | tonic::Code::InvalidArgument
            ) =>
        {
            unknown(&state, &s).await
        }
        Err(e) => failure(&state, &s, &e),
    }
}

/// A link that names no survey: the same page whatever was wrong with it.
async fn unknown(state: &State, s: &crate::session::Session) -> Response {
    let p = message(
        state,
        s,
        "Anket bulunamadı",
        &[
            "Bu bağlantıyla bir anket bulunamadı. SMS'teki bağlantıyı eksiksiz açtığınızdan emin olun.",
            "Anket, başvurunuz sonuçlandıktan sonra gönderilir.",
        ],
        ("/", "Açık Kapı ana sayfasına gidin"),
    );
    state.sessions.respond(s, (StatusCode::NOT_FOUND, p)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_eight_character_code_is_looked_up() {
        assert_eq!(code_of("ab12cd34").as_deref(), Some("AB12CD34"));
        assert_eq!(code_of("AB12CD3"), None);
        assert_eq!(code_of("AB12CD3!"), None);
        assert_eq!(code_of("AB12CD345"), None);
    }
}
