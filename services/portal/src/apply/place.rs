//! Where: the province, then the district.

use super::*;

pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

#[derive(Template, WebTemplate)]
#[template(path = "choose.html")]
pub(super) struct Choose {
    l: Layout,
    action: &'static str,
    field: &'static str,
    hint: String,
    guidance: String,
    options: Vec<Choice>,
    back_to_check: bool,
}

pub(super) struct Question {
    pub(super) action: &'static str,
    pub(super) field: Field,
    pub(super) title: String,
    pub(super) hint: String,
    pub(super) guidance: String,
    pub(super) back: &'static str,
    pub(super) options: Vec<Choice>,
}

pub(super) async fn render_choice(
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

pub(super) fn province_question(d: &Draft) -> Question {
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

pub(super) async fn province(
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

pub(super) async fn province_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
    let next = after(&s.draft, Step::District, to_check && s.draft.district != 0);
    state.sessions.respond(&s, next).await
}

pub(super) fn district_question(d: &Draft) -> Question {
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

pub(super) async fn district(
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

pub(super) async fn district_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
    let next = after(&s.draft, Step::Topic, to_check);
    state.sessions.respond(&s, next).await
}
