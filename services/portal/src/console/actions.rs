//! What the desk and the unit do on an application's page: conclude, note,
//! answer, reopen, reclassify, transfer. Each is a POST checked for origin
//! and CSRF token, sent to the service as the signed-in person, and answered
//! by the application's page again: at once on success, with the error at
//! its field on `INVALID_ARGUMENT`.

use super::*;

/// `msg` sent by `call` as the signed-in person; the answer is not needed
/// (the page is read again after an action).
pub(super) async fn send<T, R, Fut>(
    s: &Staff,
    msg: T,
    call: impl FnOnce(tonic::Request<T>) -> Fut,
) -> Result<(), tonic::Status>
where
    Fut: Future<Output = Result<tonic::Response<R>, tonic::Status>>,
{
    call(as_person(s, msg)?).await.map(drop)
}

#[derive(Deserialize, Default)]
pub(super) struct ActionForm {
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
    #[serde(default)]
    reason: String,
    #[serde(default)]
    type_code: String,
    #[serde(default)]
    to_unit: String,
    #[serde(default)]
    transfer_reason: String,
}

impl ActionForm {
    fn typed(&self) -> Typed {
        Typed {
            outcome: self.outcome.clone(),
            explanation: self.explanation.clone(),
            alternatives: self.alternatives.clone(),
            note: self.note.clone(),
            answer: self.answer.clone(),
            reason: self.reason.clone(),
            type_code: self.type_code.clone(),
            to_unit: self.to_unit.clone(),
            transfer_reason: self.transfer_reason.clone(),
        }
    }
}

/// The person's POST, checked for origin and token; the session, or the
/// answer to give instead.
pub(super) async fn guard(
    state: &State,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Staff, Response> {
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
pub(super) enum Action {
    Conclude,
    Note,
    Answer,
    Reopen,
    Reclassify,
    Transfer,
}

pub(super) async fn after_action(
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
                (Action::Reclassify, "topic_code" | "type_code") => (
                    "type_code",
                    "Başvurunun şimdiki sınıflandırmasından farklı bir tür seçin",
                ),
                (Action::Transfer, "to_unit_id") => ("to_unit", "Aktarılacak birimi seçin"),
                (Action::Transfer, _) => (
                    "transfer_reason",
                    "Aktarma gerekçesini 1 ile 2.000 karakter arasında yazın",
                ),
                (Action::Reopen | Action::Reclassify, _) => {
                    ("reason", "Gerekçeyi 1 ile 2.000 karakter arasında yazın")
                }
            };
            let mut p = crate::fields::Problems::default();
            p.add(crate::fields::Problem {
                field: crate::fields::Field::Console(id),
                message: message.into(),
            });
            show_application(state, s, raw, p, f.typed()).await
        }
        Err(e) if e.code() == tonic::Code::FailedPrecondition => {
            let mut p = crate::fields::Problems::default();
            p.add(crate::fields::Problem {
                field: crate::fields::Field::Console("reason"),
                message: "Başvurunun şimdiki durumunda bu işlem yapılamaz; sayfayı yenileyin"
                    .into(),
            });
            show_application(state, s, raw, p, f.typed()).await
        }
        Err(e) if matches!(e.code(), tonic::Code::NotFound) => not_found(state, &s).await,
        Err(e) if e.code() == tonic::Code::Unauthenticated => expired(state, &s).await,
        Err(e) => staff_failure(state, &s, &e).await,
    }
}

pub(super) async fn conclude(
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
    let mut client = state.backend.intake();
    let done = send(&s, msg, |r| client.conclude_application(r)).await;
    after_action(&state, s, &raw, (Action::Conclude, &f), done).await
}

pub(super) async fn note(
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
    let mut client = state.backend.intake();
    let done = send(&s, msg, |r| client.add_note(r)).await;
    after_action(&state, s, &raw, (Action::Note, &f), done).await
}

pub(super) async fn respond_as_unit(
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
    let mut client = state.backend.routing();
    let done = send(&s, msg, |r| client.respond_to_application(r)).await;
    after_action(&state, s, &raw, (Action::Answer, &f), done).await
}

pub(super) async fn reopen(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let msg = pb::ReopenApplicationRequest {
        application_number: raw.chars().filter(char::is_ascii_digit).collect(),
        reason: f.reason.trim().replace("\r\n", "\n"),
    };
    let mut client = state.backend.routing();
    let done = send(&s, msg, |r| client.reopen_application(r)).await;
    after_action(&state, s, &raw, (Action::Reopen, &f), done).await
}

pub(super) async fn reclassify(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let topic = Catalog::builtin()
        .application_type(&f.type_code)
        .map(|t| t.topic.clone())
        .unwrap_or_default();
    let msg = pb::ReclassifyApplicationRequest {
        application_number: raw.chars().filter(char::is_ascii_digit).collect(),
        topic_code: topic,
        type_code: f.type_code.clone(),
        reason: f.reason.trim().replace("\r\n", "\n"),
    };
    let mut client = state.backend.routing();
    let done = send(&s, msg, |r| client.reclassify_application(r)).await;
    after_action(&state, s, &raw, (Action::Reclassify, &f), done).await
}

/// A holder hands the application to another unit, with a reason (routing
/// records it and tells the new unit; the clock does not start again).
pub(super) async fn transfer(
    S(state): S<State>,
    headers: HeaderMap,
    Path(raw): Path<String>,
    Form(f): Form<ActionForm>,
) -> Response {
    let s = match guard(&state, &headers, &f.csrf).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let msg = pb::TransferApplicationRequest {
        application_number: raw.clone(),
        to_unit_id: f.to_unit.trim().to_owned(),
        reason: f.transfer_reason.trim().replace("\r\n", "\n"),
    };
    let mut client = state.backend.routing();
    let done = send(&s, msg, |r| client.transfer_application(r)).await;
    after_action(&state, s, &raw, (Action::Transfer, &f), done).await
}
