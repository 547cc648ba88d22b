//! The confirmation page: the number and the tracking code.

use super::*;

#[derive(Template, WebTemplate)]
#[template(path = "tamam.html")]
pub(super) struct Done {
    l: Layout,
    number: String,
    code: String,
    due: String,
}

pub(super) async fn done(S(state): S<State>, headers: HeaderMap) -> Response {
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
