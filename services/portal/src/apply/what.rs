//! About what: the topic, then the type.

use super::*;

pub(super) fn topic_question(d: &Draft) -> Question {
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

pub(super) async fn topic(
    S(state): S<State>,
    headers: HeaderMap,
    Query(q): Query<ChangeQuery>,
) -> Response {
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

pub(super) async fn topic_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
        Step::Type,
        to_check && !s.draft.type_code.is_empty(),
    );
    state.sessions.respond(&s, next).await
}

pub(super) fn type_question(d: &Draft) -> Question {
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

pub(super) async fn app_type(
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

pub(super) async fn app_type_post(S(state): S<State>, Posted { mut s, f }: Posted) -> Response {
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
    let next = after(&s.draft, Step::Details, to_check);
    state.sessions.respond(&s, next).await
}
