//! The application itself: kind, subject, text, vulnerability.

use super::*;

pub(super) const KINDS: &[(&str, &str)] = &[
    ("request", "Talep: bir işin yapılmasını istiyorum"),
    ("complaint", "Şikâyet: bir sorunu bildiriyorum"),
    ("suggestion", "Öneri: bir fikrim var"),
];

pub(super) const VULNERABILITIES: &[(&str, &str)] = &[
    ("martyr-relative", "Şehit yakınıyım"),
    ("veteran", "Gaziyim"),
    ("disabled", "Engelliyim"),
    ("elderly", "65 yaş ve üzerindeyim"),
    ("sick", "Hastayım"),
];

#[derive(Template, WebTemplate)]
#[template(path = "ayrinti.html")]
pub(super) struct Details {
    l: Layout,
    d: Draft,
    guidance: String,
    kinds: Vec<Choice>,
    vulnerabilities: Vec<Choice>,
}

pub(super) async fn render_details(
    state: &State,
    s: &Session,
    problems: Problems,
    d: Draft,
) -> Response {
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

pub(super) async fn details(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    if s.draft.type_code.is_empty() {
        return Redirect::to(first_missing(&s.draft).path()).into_response();
    }
    let d = s.draft.clone();
    render_details(&state, &s, Problems::default(), d).await
}

pub(super) async fn details_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
        .respond(&s, Redirect::to(first_missing(&s.draft).path()))
        .await
}
