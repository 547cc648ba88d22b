//! Check your answers.

use super::*;

pub struct Row {
    pub key: &'static str,
    pub value: String,
    pub change: &'static str,
    pub hidden: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "kontrol.html")]
pub(super) struct Check {
    l: Layout,
    rows: Vec<Row>,
    confirm_phone: bool,
}

pub(super) fn rows(d: &Draft) -> Vec<Row> {
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

pub(super) async fn check(S(state): S<State>, headers: HeaderMap) -> Response {
    let s = session(&state, &headers).await;
    let missing = first_missing(&s.draft);
    if missing != Step::Check {
        // After a submission the draft is gone: Back lands on the confirmation.
        if s.submitted.is_some() {
            return Redirect::to("/basvuru/tamam").into_response();
        }
        return Redirect::to(missing.path()).into_response();
    }
    let page = Check {
        l: Layout::new(&state, &s, "Başvurunuzu kontrol edin").back("/basvuru/ayrinti"),
        rows: rows(&s.draft),
        confirm_phone: needs_confirmation(&state, &s),
    };
    state.sessions.respond(&s, page).await
}

pub(super) fn needs_confirmation(state: &State, s: &Session) -> bool {
    state.platform.settings.portal.phone_confirmation && s.phone_confirmed != s.draft.mobile_phone
}
