//! Who is applying: identity and contact.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "kisi.html")]
pub(super) struct Person {
    l: Layout,
    d: Draft,
    back_to_check: bool,
}

pub(super) async fn person(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<ChangeQuery>,
) -> Response {
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

pub(super) async fn render_person(
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

pub(super) async fn person_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
    let next = after(&s.draft, Step::Province, to_check);
    state.sessions.respond(&s, next).await
}
